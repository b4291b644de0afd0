//! One `RoleDetailList` entry, read and validated: the name, ARN, account and path agree and are
//! valid as paths, the trust policy and inline policies are documents, policy names are unique.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{At, InventoryError, InventoryErrorKind};
use crate::engine::Role;
use crate::engine::json::parse_strict;
use crate::engine::policy::{PolicyDocument, PolicyMap};
use crate::store::names::{validate_account_id, validate_policy_name, validate_role_name};

/// Reads the role at `place` (`RoleDetailList[3]`).
pub(super) fn parse_role(at: At<'_>, place: &str, value: Value) -> Result<Role, InventoryError> {
    let Value::Object(mut obj) = value else {
        return Err(at.shape(
            place,
            format!("a role must be a JSON object, found {}", kind(&value)),
        ));
    };
    let name_place = format!("{place}.RoleName");
    let name = required_string(at, &name_place, obj.remove("RoleName"))?;
    validate_role_name(&name).map_err(|e| at.fail(&name_place, InventoryErrorKind::Name(e)))?;
    let at = at.for_role(&name);

    let arn_place = format!("{place}.Arn");
    let arn = required_string(at, &arn_place, obj.remove("Arn"))?;
    let (account, arn_path) =
        split_role_arn(&arn, &name).map_err(|m| at.fail(&arn_place, InventoryErrorKind::Arn(m)))?;
    validate_account_id(account).map_err(|e| at.fail(&arn_place, InventoryErrorKind::Name(e)))?;
    let (account, arn_path) = (account.to_string(), arn_path.to_string());

    let path = match optional_string(at, &format!("{place}.Path"), obj.remove("Path"))? {
        None => arn_path,
        Some(path) if path == arn_path => path,
        Some(path) => {
            return Err(at.fail(
                format!("{place}.Path"),
                InventoryErrorKind::Arn(format!(
                    "Path {path:?} does not match the Arn {arn:?} (path {arn_path:?})"
                )),
            ));
        }
    };
    let id = optional_string(at, &format!("{place}.RoleId"), obj.remove("RoleId"))?;
    let create_date = create_date(at, &format!("{place}.CreateDate"), obj.remove("CreateDate"))?;
    let trust_place = format!("{place}.AssumeRolePolicyDocument");
    let trust_policy = match obj.remove("AssumeRolePolicyDocument") {
        None | Some(Value::Null) => return Err(at.shape(trust_place, "missing trust policy")),
        Some(value) => trust_document(at, &trust_place, value)?,
    };
    let tags = tags(at, &format!("{place}.Tags"), obj.remove("Tags"))?;
    let policies = inline_policies(
        at,
        &format!("{place}.RolePolicyList"),
        obj.remove("RolePolicyList"),
    )?;
    let managed_policy_arns = managed_policies(
        at,
        &format!("{place}.AttachedManagedPolicies"),
        obj.remove("AttachedManagedPolicies"),
    )?;
    Ok(Role {
        account,
        name,
        id,
        arn,
        path,
        create_date,
        trust_policy,
        tags,
        policies,
        managed_policy_arns,
    })
}

/// Splits `arn:<partition>:iam::<account>:role<path><name>` into the account and the path, and
/// checks the name is `name`.
fn split_role_arn<'a>(arn: &'a str, name: &str) -> Result<(&'a str, &'a str), String> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = fields[..] else {
        return Err(format!(
            "{arn:?} is not a role ARN (arn:<partition>:iam::<account>:role/<path/><name>)"
        ));
    };
    if prefix != "arn" || service != "iam" || !region.is_empty() {
        return Err(format!(
            "{arn:?} is not an IAM ARN (arn:<partition>:iam::<account>:role/<path/><name>)"
        ));
    }
    if !partition.starts_with("aws")
        || !partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
    {
        return Err(format!(
            "{arn:?} names an unknown partition {partition:?} (aws, aws-cn, aws-us-gov, …)"
        ));
    }
    let Some(path_and_name) = resource.strip_prefix("role").filter(|r| r.starts_with('/')) else {
        return Err(format!(
            "{arn:?} is not a role ARN (its resource is not role/…)"
        ));
    };
    let path = path_and_name
        .strip_suffix(name)
        .filter(|p| p.ends_with('/'))
        .ok_or_else(|| format!("{arn:?} does not end in the role name {name:?}"))?;
    Ok((account, path))
}

fn create_date(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<Option<DateTime<Utc>>, InventoryError> {
    let Some(text) = optional_string(at, place, value)? else {
        return Ok(None);
    };
    // The CLI prints `2019-01-01T00:00:00+00:00`; scripts that dump boto3 results with
    // `default=str` print `2019-01-01 00:00:00+00:00`.
    DateTime::parse_from_rfc3339(text.trim())
        .or_else(|_| DateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| {
            at.shape(
                place,
                format!("{text:?} is not an RFC 3339 time like 2019-01-01T00:00:00+00:00 ({e})"),
            )
        })
}

/// The trust policy: an object, or a string holding one (URL-encoded or plain).
pub(super) fn trust_document(
    at: At<'_>,
    place: &str,
    value: Value,
) -> Result<Value, InventoryError> {
    let doc = match value {
        Value::String(text) => {
            let trimmed = text.trim_start();
            let decoded;
            let json = if trimmed.starts_with('{') {
                trimmed
            } else {
                decoded = percent_encoding::percent_decode_str(trimmed)
                    .decode_utf8()
                    .map_err(|e| {
                        at.shape(place, format!("URL-encoded document is not UTF-8: {e}"))
                    })?;
                decoded.as_ref()
            };
            parse_strict(json).map_err(|e| at.shape(place, format!("not a JSON document: {e}")))?
        }
        other => other,
    };
    if doc.is_object() {
        Ok(doc)
    } else {
        Err(at.shape(
            place,
            format!("a trust policy must be a JSON object, found {}", kind(&doc)),
        ))
    }
}

fn tags(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<Vec<(String, String)>, InventoryError> {
    let mut out = Vec::new();
    for (i, tag) in optional_array(at, place, value)?.into_iter().enumerate() {
        let place = format!("{place}[{i}]");
        let mut tag = object(at, &place, tag, "a tag")?;
        let key = required_string(at, &format!("{place}.Key"), tag.remove("Key"))?;
        let value = required_string(at, &format!("{place}.Value"), tag.remove("Value"))?;
        out.push((key, value));
    }
    Ok(out)
}

fn inline_policies(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<PolicyMap, InventoryError> {
    // Required: a role without the list would look like a role without inline policies.
    let list = match value {
        Some(Value::Array(list)) => list,
        None => {
            return Err(at.shape(
                place,
                "missing RolePolicyList (a role without inline policies has [])",
            ));
        }
        Some(other) => {
            return Err(at.shape(
                place,
                format!(
                    "must be an array of inline policies, found {}",
                    kind(&other)
                ),
            ));
        }
    };
    let mut out = PolicyMap::new();
    let mut places: HashMap<String, String> = HashMap::new();
    for (i, entry) in list.into_iter().enumerate() {
        let place = format!("{place}[{i}]");
        let mut entry = object(at, &place, entry, "an inline policy")?;
        let name_place = format!("{place}.PolicyName");
        let name = required_string(at, &name_place, entry.remove("PolicyName"))?;
        validate_policy_name(&name)
            .map_err(|e| at.fail(&name_place, InventoryErrorKind::Name(e)))?;
        if let Some(other) = places.get(&name) {
            return Err(at.fail(
                &name_place,
                InventoryErrorKind::DuplicatePolicy {
                    name,
                    other: other.clone(),
                },
            ));
        }
        let doc_place = format!("{place}.PolicyDocument");
        let doc = match entry.remove("PolicyDocument") {
            Some(Value::String(text)) => PolicyDocument::parse(&name, &text),
            Some(value @ Value::Object(_)) => PolicyDocument::from_value(&name, value),
            Some(other) => {
                return Err(at.shape(
                    doc_place,
                    format!(
                        "must be a policy document (an object or a string), found {}",
                        kind(&other)
                    ),
                ));
            }
            None => return Err(at.shape(doc_place, "missing PolicyDocument")),
        }
        .map_err(|e| at.fail(&doc_place, InventoryErrorKind::Policy(e)))?;
        places.insert(name.clone(), name_place);
        out.insert(name, doc);
    }
    Ok(out)
}

fn managed_policies(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<Vec<String>, InventoryError> {
    let mut out = Vec::new();
    for (i, entry) in optional_array(at, place, value)?.into_iter().enumerate() {
        let place = format!("{place}[{i}]");
        let mut entry = object(at, &place, entry, "an attached managed policy")?;
        let arn_place = format!("{place}.PolicyArn");
        let arn = required_string(at, &arn_place, entry.remove("PolicyArn"))?;
        if !arn.starts_with("arn:") {
            return Err(at.fail(
                arn_place,
                InventoryErrorKind::Arn(format!("{arn:?} is not an ARN")),
            ));
        }
        out.push(arn);
    }
    Ok(out)
}

fn required_string(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<String, InventoryError> {
    match value {
        Some(Value::String(s)) => Ok(s),
        None => Err(at.shape(place, "missing")),
        Some(other) => Err(at.shape(place, format!("must be a string, found {}", kind(&other)))),
    }
}

fn optional_string(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<Option<String>, InventoryError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(at.shape(place, format!("must be a string, found {}", kind(&other)))),
    }
}

fn optional_array(
    at: At<'_>,
    place: &str,
    value: Option<Value>,
) -> Result<Vec<Value>, InventoryError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(at.shape(place, format!("must be an array, found {}", kind(&other)))),
    }
}

fn object(
    at: At<'_>,
    place: &str,
    value: Value,
    what: &str,
) -> Result<Map<String, Value>, InventoryError> {
    match value {
        Value::Object(map) => Ok(map),
        other => Err(at.shape(
            place,
            format!("{what} must be a JSON object, found {}", kind(&other)),
        )),
    }
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
