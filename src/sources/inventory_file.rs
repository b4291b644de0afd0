//! A role inventory from a file: the JSON that `aws iam get-account-authorization-details` prints
//! (GAAD), turned into [`Role`]s.
//!
//! Accepted shapes:
//!
//! * the CLI's single merged object `{"RoleDetailList": [...], "UserDetailList": [...],
//!   "GroupDetailList": [...], "Policies": [...], "IsTruncated": false}`;
//! * an array of such objects (the pages of a paginated call, or several accounts), merged.
//!
//! Only `RoleDetailList` is read; the other lists are ignored. A last (or only) page with
//! `IsTruncated: true` or a `NextToken` is an error: the file holds only part of the account, and
//! the missing roles would silently drop out of the store.
//!
//! Per role: `RoleName`, `Arn` (the account is its 5th `:` field, in any partition), `Path`,
//! `RoleId`, `CreateDate` (RFC 3339, as the CLI prints it: `2019-01-01T00:00:00+00:00`),
//! `AssumeRolePolicyDocument`, `Tags`, `RolePolicyList` and `AttachedManagedPolicies`. Policy
//! documents may be JSON objects (as the CLI prints them) or strings, URL-encoded as IAM's API
//! returns them (reference §12.3) or plain JSON. Other keys (`InstanceProfileList`,
//! `RoleLastUsed`, …) are ignored.
//!
//! Everything that becomes a path (account id, role name) and every policy name is validated; a
//! role name that appears twice in an account (compared case-insensitively, as IAM does) and a
//! policy name that appears twice in a role are errors. Every error names the file, the place
//! (`RoleDetailList[3].RolePolicyList[1].PolicyDocument`) and, once known, the role.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::engine::Role;
use crate::engine::json::parse_strict;
use crate::engine::policy::{PolicyDocument, PolicyError, PolicyMap};
use crate::store::names::{
    NameError, validate_account_id, validate_policy_name, validate_role_name,
};

/// Roles read from an inventory, by account.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Inventory {
    /// Account id → its roles, sorted by name.
    pub roles: BTreeMap<String, Vec<Role>>,
}

impl Inventory {
    /// How many roles, over all accounts.
    pub fn len(&self) -> usize {
        self.roles.values().map(Vec::len).sum()
    }

    /// Whether there are no roles at all.
    pub fn is_empty(&self) -> bool {
        self.roles.values().all(Vec::is_empty)
    }

    /// Every role, account by account, each account's roles by name.
    pub fn iter(&self) -> impl Iterator<Item = &Role> {
        self.roles.values().flatten()
    }
}

/// An inventory file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {place}{}: {kind}", RoleNote(.role.as_deref()))]
pub struct InventoryError {
    /// The file (as the caller named it).
    pub file: String,
    /// Where in it: `RoleDetailList[3].RolePolicyList[1].PolicyDocument`, `[1].IsTruncated` for
    /// the second page of an array, or `line 12 column 5` for text that is not JSON.
    pub place: String,
    /// The role the place belongs to, once its name is known.
    pub role: Option<String>,
    /// What is wrong (boxed: the error travels through every `?` of the parser).
    pub kind: Box<InventoryErrorKind>,
}

/// ` (role x)` when the role is known.
struct RoleNote<'a>(Option<&'a str>);

impl fmt::Display for RoleNote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(role) => write!(f, " (role {role})"),
            None => Ok(()),
        }
    }
}

/// What is wrong with an inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryErrorKind {
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(String),
    /// The file is not JSON, or has a duplicated object key.
    #[error("{0}")]
    Json(String),
    /// A value is missing or of the wrong type.
    #[error("{0}")]
    Shape(String),
    /// The last page says there is more: the file holds only part of the account.
    #[error(
        "the response is truncated (IsTruncated: true or a NextToken on the last page), so the \
         file holds only part of the account's roles; re-run `aws iam \
         get-account-authorization-details` without --max-items and without --no-paginate, so \
         the CLI fetches every page"
    )]
    Truncated,
    /// A role ARN that cannot be read, or that does not match the role's name or path.
    #[error("{0}")]
    Arn(String),
    /// An account id, role name or policy name that is not valid.
    #[error(transparent)]
    Name(NameError),
    /// Two roles of one account with the same name (compared case-insensitively, as IAM does).
    #[error("role {name:?} appears twice in account {account} (also at {other})")]
    DuplicateRole {
        /// The account.
        account: String,
        /// The role name.
        name: String,
        /// Where the other one is.
        other: String,
    },
    /// Two inline policies of one role with the same name.
    #[error("inline policy {name:?} appears twice (also at {other})")]
    DuplicatePolicy {
        /// The policy name.
        name: String,
        /// Where the other one is.
        other: String,
    },
    /// An inline policy document that cannot be read.
    #[error(transparent)]
    Policy(PolicyError),
}

/// Builds errors for one file and, once known, one role.
#[derive(Clone, Copy)]
struct At<'a> {
    file: &'a str,
    role: Option<&'a str>,
}

impl<'a> At<'a> {
    fn fail(self, place: impl Into<String>, kind: InventoryErrorKind) -> InventoryError {
        InventoryError {
            file: self.file.to_string(),
            place: place.into(),
            role: self.role.map(str::to_string),
            kind: Box::new(kind),
        }
    }

    fn shape(self, place: impl Into<String>, message: impl Into<String>) -> InventoryError {
        self.fail(place, InventoryErrorKind::Shape(message.into()))
    }

    fn for_role(self, role: &'a str) -> At<'a> {
        At {
            role: Some(role),
            ..self
        }
    }
}

/// Parses an inventory (the output of `aws iam get-account-authorization-details`, or an array of
/// its pages). `source` names the file in every error.
pub fn parse_inventory(source: &str, bytes: &[u8]) -> Result<Inventory, InventoryError> {
    let at = At {
        file: source,
        role: None,
    };
    let text = utf8_text(at, bytes)?;
    // The text is known to be UTF-8, so the `&str` parser (which skips re-validating it) is used;
    // duplicate keys are rejected as by `parse_strict_slice`.
    let value = parse_strict(text).map_err(|e| json_error(at, text, &e))?;
    let pages: Vec<(String, Map<String, Value>)> = match value {
        Value::Object(page) => vec![(String::new(), page)],
        Value::Array(items) => {
            if items.is_empty() {
                return Err(at.shape(
                    "$",
                    "an empty array: expected the pages of a get-account-authorization-details \
                     response",
                ));
            }
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(page) => Ok((format!("[{i}]."), page)),
                    other => Err(at.shape(
                        format!("[{i}]"),
                        format!(
                            "a page must be a get-account-authorization-details response object, \
                             found {}",
                            kind(&other)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        other => {
            return Err(at.shape(
                "$",
                format!(
                    "expected a get-account-authorization-details response (an object) or an \
                     array of them, found {}",
                    kind(&other)
                ),
            ));
        }
    };
    // Truncation first: it makes the whole file unusable, whatever else is wrong with it.
    for (i, (prefix, page)) in pages.iter().enumerate() {
        check_truncation(at, prefix, page, i + 1 == pages.len())?;
    }
    let mut accounts: BTreeMap<String, AccountRoles> = BTreeMap::new();
    // The accounts of the previous page, when it said more pages follow: the next page must be
    // of the same account, or that account's remaining pages are missing.
    let mut continued: Option<(String, BTreeSet<String>)> = None;
    for (prefix, mut page) in pages {
        let truncated = matches!(page.get("IsTruncated"), Some(Value::Bool(true)));
        let mut page_accounts = BTreeSet::new();
        let list_place = format!("{prefix}RoleDetailList");
        let list = match page.remove("RoleDetailList") {
            Some(Value::Array(list)) => list,
            Some(other) => {
                return Err(at.shape(
                    list_place,
                    format!("must be an array of roles, found {}", kind(&other)),
                ));
            }
            None => {
                return Err(at.shape(
                    list_place,
                    "missing RoleDetailList: not a get-account-authorization-details response",
                ));
            }
        };
        for (j, item) in list.into_iter().enumerate() {
            let place = format!("{list_place}[{j}]");
            let role = parse_role(at, &place, item)?;
            if let Some((previous, expected)) = &continued
                && !expected.is_empty()
                && !expected.contains(&role.account)
            {
                return Err(at.for_role(&role.name).fail(
                    &place,
                    InventoryErrorKind::Shape(format!(
                        "account {} follows a truncated page of account(s) {} \
                             ({previous}IsTruncated: true): that account's remaining pages are \
                             missing",
                        role.account,
                        expected.iter().cloned().collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
            page_accounts.insert(role.account.clone());
            let roles = accounts.entry(role.account.clone()).or_default();
            match roles.places.get(&role.name.to_ascii_lowercase()) {
                Some(other) => {
                    return Err(at.for_role(&role.name).fail(
                        &place,
                        InventoryErrorKind::DuplicateRole {
                            account: role.account.clone(),
                            name: role.name.clone(),
                            other: other.clone(),
                        },
                    ));
                }
                None => {
                    roles.places.insert(role.name.to_ascii_lowercase(), place);
                    roles.roles.push(role);
                }
            }
        }
        continued = match continued {
            // A page without roles says nothing about the account: carry the expectation on.
            Some(c) if page_accounts.is_empty() && truncated => Some(c),
            _ if truncated => Some((prefix, page_accounts)),
            _ => None,
        };
    }
    Ok(Inventory {
        roles: accounts
            .into_iter()
            .map(|(account, mut a)| {
                a.roles.sort_by(|x, y| x.name.cmp(&y.name));
                (account, a.roles)
            })
            .collect(),
    })
}

/// One account's roles while reading, with where each name was found.
#[derive(Default)]
struct AccountRoles {
    roles: Vec<Role>,
    /// Lowercase role name → its place.
    places: HashMap<String, String>,
}

/// The file as text: UTF-8, with a byte-order mark (as PowerShell writes) skipped.
fn utf8_text<'b>(at: At<'_>, bytes: &'b [u8]) -> Result<&'b str, InventoryError> {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return Err(at.fail(
            "byte 0",
            InventoryErrorKind::NotUtf8(
                "the file is UTF-16 (PowerShell's `>` writes UTF-16); save it as UTF-8, e.g. \
                 `aws iam get-account-authorization-details | Out-File -Encoding utf8 FILE`"
                    .to_string(),
            ),
        ));
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        // The prefix is valid UTF-8, so the column counts characters.
        let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
        let byte = bytes.get(e.valid_up_to()).copied().unwrap_or(0);
        at.fail(
            format!("line {line} column {column}"),
            InventoryErrorKind::NotUtf8(format!(
                "invalid byte 0x{byte:02x} at byte offset {}",
                e.valid_up_to()
            )),
        )
    })
}

/// A JSON error, placed by line and column. Text that looks like UTF-16 without a byte-order mark
/// gets a hint.
fn json_error(at: At<'_>, text: &str, e: &serde_json::Error) -> InventoryError {
    let mut message = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    if text.as_bytes().get(1) == Some(&0) || text.as_bytes().first() == Some(&0) {
        message.push_str(" (the file looks like UTF-16; save it as UTF-8)");
    }
    at.fail(
        format!("line {} column {}", e.line(), e.column()),
        InventoryErrorKind::Json(message),
    )
}

/// `IsTruncated` must be a boolean; on the last page it must not be `true`, and there must be no
/// `NextToken` (the CLI's token for resuming after `--max-items`).
fn check_truncation(
    at: At<'_>,
    prefix: &str,
    page: &Map<String, Value>,
    last: bool,
) -> Result<(), InventoryError> {
    let truncated = match page.get("IsTruncated") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(at.shape(
                format!("{prefix}IsTruncated"),
                format!("must be true or false, found {}", kind(other)),
            ));
        }
    };
    if !last {
        return Ok(());
    }
    if truncated {
        return Err(at.fail(
            format!("{prefix}IsTruncated"),
            InventoryErrorKind::Truncated,
        ));
    }
    match page.get("NextToken") {
        None | Some(Value::Null) => Ok(()),
        Some(_) => Err(at.fail(format!("{prefix}NextToken"), InventoryErrorKind::Truncated)),
    }
}

fn parse_role(at: At<'_>, place: &str, value: Value) -> Result<Role, InventoryError> {
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
fn trust_document(at: At<'_>, place: &str, value: Value) -> Result<Value, InventoryError> {
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

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Writes roles in the format [`parse_inventory`] reads: one `get-account-authorization-details`
/// response as the CLI prints it (pretty, documents as JSON objects, the other lists empty,
/// `IsTruncated: false`, trailing newline). Roles are written in the order given.
pub fn inventory_to_json(roles: &[Role]) -> String {
    let mut top = Map::new();
    top.insert(
        "RoleDetailList".to_string(),
        Value::Array(roles.iter().map(role_to_value).collect()),
    );
    for key in ["UserDetailList", "GroupDetailList", "Policies"] {
        top.insert(key.to_string(), Value::Array(Vec::new()));
    }
    top.insert("IsTruncated".to_string(), Value::Bool(false));
    format!("{:#}\n", Value::Object(top))
}

/// One `RoleDetailList` entry, keys in the CLI's order.
fn role_to_value(role: &Role) -> Value {
    let mut out = Map::new();
    out.insert("Path".to_string(), Value::String(role.path.clone()));
    out.insert("RoleName".to_string(), Value::String(role.name.clone()));
    if let Some(id) = &role.id {
        out.insert("RoleId".to_string(), Value::String(id.clone()));
    }
    out.insert("Arn".to_string(), Value::String(role.arn.clone()));
    if let Some(t) = role.create_date {
        out.insert(
            "CreateDate".to_string(),
            Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, false)),
        );
    }
    // A trust policy held as text is written as the object it holds, when it holds one.
    let trust = match &role.trust_policy {
        Value::String(text) => trust_document(
            At {
                file: "",
                role: None,
            },
            "",
            Value::String(text.clone()),
        )
        .unwrap_or_else(|_| role.trust_policy.clone()),
        other => other.clone(),
    };
    out.insert("AssumeRolePolicyDocument".to_string(), trust);
    out.insert("InstanceProfileList".to_string(), Value::Array(Vec::new()));
    let policies = role
        .policies
        .iter()
        .map(|(name, doc)| {
            let mut entry = Map::new();
            entry.insert("PolicyName".to_string(), Value::String(name.clone()));
            entry.insert("PolicyDocument".to_string(), doc.to_value());
            Value::Object(entry)
        })
        .collect();
    out.insert("RolePolicyList".to_string(), Value::Array(policies));
    let managed = role
        .managed_policy_arns
        .iter()
        .map(|arn| {
            let mut entry = Map::new();
            let name = arn.rsplit('/').next().unwrap_or(arn);
            entry.insert("PolicyName".to_string(), Value::String(name.to_string()));
            entry.insert("PolicyArn".to_string(), Value::String(arn.clone()));
            Value::Object(entry)
        })
        .collect();
    out.insert("AttachedManagedPolicies".to_string(), Value::Array(managed));
    if !role.tags.is_empty() {
        let tags = role
            .tags
            .iter()
            .map(|(k, v)| {
                let mut tag = Map::new();
                tag.insert("Key".to_string(), Value::String(k.clone()));
                tag.insert("Value".to_string(), Value::String(v.clone()));
                Value::Object(tag)
            })
            .collect();
        out.insert("Tags".to_string(), Value::Array(tags));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Two pages of one account (the first truncated, as a paginated API call returns them) and a
    /// page of a second account in the China partition, as the CLI and raw API print them.
    const FIXTURE: &str = r#"[
  {
    "UserDetailList": [{"UserName": "alice", "Path": "/", "UserPolicyList": []}],
    "GroupDetailList": [],
    "RoleDetailList": [
      {
        "Path": "/service-role/",
        "RoleName": "orders-api",
        "RoleId": "AROAEXAMPLEORDERSAPI1",
        "Arn": "arn:aws:iam::111122223333:role/service-role/orders-api",
        "CreateDate": "2019-03-14T09:26:53+00:00",
        "AssumeRolePolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ecs-tasks.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D",
        "InstanceProfileList": [],
        "RolePolicyList": [
          {
            "PolicyName": "orders-table",
            "PolicyDocument": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Sid%22%3A%22ReadOrders%22%2C%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%5B%22dynamodb%3AGetItem%22%2C%22dynamodb%3AQuery%22%5D%2C%22Resource%22%3A%22arn%3Aaws%3Adynamodb%3Aus-east-1%3A111122223333%3Atable%2Forders%22%7D%5D%7D"
          },
          {
            "PolicyName": "assets-read",
            "PolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"arn:aws:s3:::orders-assets/*\"}}"
          }
        ],
        "AttachedManagedPolicies": [
          {"PolicyName": "AmazonSSMReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"}
        ],
        "Tags": [
          {"Key": "team", "Value": "orders"},
          {"Key": "repokid-opt-out", "Value": "owner=payments; until 2027-03-01"}
        ],
        "RoleLastUsed": {"LastUsedDate": "2026-11-19T22:01:07+00:00", "Region": "us-east-1"}
      }
    ],
    "Policies": [],
    "IsTruncated": true,
    "Marker": "AAEXAMPLEMARKER"
  },
  {
    "RoleDetailList": [
      {
        "Path": "/",
        "RoleName": "billing-batch",
        "RoleId": "AROAEXAMPLEBILLING001",
        "Arn": "arn:aws:iam::111122223333:role/billing-batch",
        "CreateDate": "2021-07-01T00:00:00Z",
        "AssumeRolePolicyDocument": {
          "Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Principal": {"Service": "batch.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        },
        "InstanceProfileList": [],
        "RolePolicyList": [
          {
            "PolicyName": "billing",
            "PolicyDocument": {
              "Version": "2012-10-17",
              "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::billing-exports/*"},
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
              ]
            }
          }
        ],
        "AttachedManagedPolicies": []
      },
      {
        "Path": "/",
        "RoleName": "ci-deployer",
        "Arn": "arn:aws:iam::111122223333:role/ci-deployer",
        "AssumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"sts:AssumeRole\"}]}",
        "RolePolicyList": []
      }
    ],
    "IsTruncated": false
  },
  {
    "RoleDetailList": [
      {
        "Path": "/",
        "RoleName": "data-lake-reader",
        "RoleId": "AROAEXAMPLECNREADER1",
        "Arn": "arn:aws-cn:iam::444455556666:role/data-lake-reader",
        "CreateDate": "2022-02-02 10:00:00+08:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [
          {"PolicyName": "lake", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}
        ],
        "AttachedManagedPolicies": [
          {"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"}
        ]
      }
    ],
    "UserDetailList": [],
    "GroupDetailList": [],
    "Policies": [],
    "IsTruncated": false
  }
]"#;

    fn parse(value: &Value) -> Result<Inventory, InventoryError> {
        parse_inventory("inv.json", value.to_string().as_bytes())
    }

    /// A one-page response holding `roles`.
    fn page(roles: Vec<Value>) -> Value {
        json!({"RoleDetailList": roles, "UserDetailList": [], "GroupDetailList": [],
               "Policies": [], "IsTruncated": false})
    }

    fn role(name: &str) -> Value {
        json!({
            "Path": "/",
            "RoleName": name,
            "RoleId": format!("AROA{}", name.to_uppercase()),
            "Arn": format!("arn:aws:iam::111122223333:role/{name}"),
            "CreateDate": "2020-01-01T00:00:00+00:00",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
            "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}}],
            "AttachedManagedPolicies": []
        })
    }

    fn err(value: &Value) -> InventoryError {
        match parse(value) {
            Ok(inv) => panic!("expected an error, got {inv:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn reads_pages_accounts_and_both_document_encodings() {
        let inv = parse_inventory("inv.json", FIXTURE.as_bytes()).unwrap();
        assert_eq!(
            inv.roles.keys().collect::<Vec<_>>(),
            ["111122223333", "444455556666"]
        );
        assert_eq!(inv.len(), 4);
        let names: Vec<&str> = inv.roles["111122223333"]
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["billing-batch", "ci-deployer", "orders-api"]);

        let orders = &inv.roles["111122223333"][2];
        assert_eq!(orders.path, "/service-role/");
        assert_eq!(orders.id.as_deref(), Some("AROAEXAMPLEORDERSAPI1"));
        assert_eq!(
            orders.create_date.map(|t| t.to_rfc3339()),
            Some("2019-03-14T09:26:53+00:00".to_string())
        );
        assert_eq!(
            orders.trust_policy["Statement"][0]["Principal"]["Service"],
            "ecs-tasks.amazonaws.com"
        );
        assert_eq!(
            orders.policies.keys().collect::<Vec<_>>(),
            ["assets-read", "orders-table"]
        );
        let table = &orders.policies["orders-table"].statements()[0];
        assert_eq!(table.entries(), ["dynamodb:GetItem", "dynamodb:Query"]);
        assert_eq!(table.sid(), Some("ReadOrders"));
        assert_eq!(
            orders.policies["assets-read"].statements()[0].entries(),
            ["s3:Get*"]
        );
        assert_eq!(
            orders.managed_policy_arns,
            ["arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess"]
        );
        assert_eq!(orders.tags.len(), 2);
        assert_eq!(
            orders.tag("repokid-opt-out"),
            Some("owner=payments; until 2027-03-01")
        );

        let billing = &inv.roles["111122223333"][0];
        assert_eq!(billing.policies["billing"].statements().len(), 2);
        assert_eq!(
            billing.create_date.map(|t| t.to_rfc3339()),
            Some("2021-07-01T00:00:00+00:00".to_string())
        );
        let ci = &inv.roles["111122223333"][1];
        assert!(ci.policies.is_empty() && ci.create_date.is_none() && ci.id.is_none());
        assert_eq!(
            ci.trust_policy["Statement"][0]["Principal"]["AWS"],
            "arn:aws:iam::111122223333:root"
        );
        assert!(ci.tags.is_empty() && ci.managed_policy_arns.is_empty());

        let lake = &inv.roles["444455556666"][0];
        assert_eq!(
            lake.arn,
            "arn:aws-cn:iam::444455556666:role/data-lake-reader"
        );
        assert_eq!(
            lake.create_date.map(|t| t.to_rfc3339()),
            Some("2022-02-02T02:00:00+00:00".to_string())
        );
    }

    #[test]
    fn reads_the_single_merged_object_and_other_partitions() {
        let mut gov = role("gov-reader");
        gov["Arn"] = json!("arn:aws-us-gov:iam::111122223333:role/teams/data/gov-reader");
        gov["Path"] = json!("/teams/data/");
        let inv = parse(&page(vec![role("web"), gov])).unwrap();
        let roles = &inv.roles["111122223333"];
        assert_eq!(roles[0].name, "gov-reader");
        assert_eq!(roles[0].path, "/teams/data/");
        assert_eq!(roles[1].arn, "arn:aws:iam::111122223333:role/web");
        // With Path missing, the path comes from the ARN.
        let mut no_path = role("web");
        no_path["Arn"] = json!("arn:aws:iam::111122223333:role/svc/web");
        no_path.as_object_mut().map(|o| o.remove("Path"));
        assert_eq!(
            parse(&page(vec![no_path])).unwrap().roles["111122223333"][0].path,
            "/svc/"
        );
        // An account with no roles is no account; a UTF-8 byte-order mark is skipped.
        assert!(parse(&page(vec![])).unwrap().is_empty());
        let mut bom = b"\xef\xbb\xbf".to_vec();
        bom.extend_from_slice(page(vec![role("web")]).to_string().as_bytes());
        assert_eq!(parse_inventory("inv.json", &bom).unwrap().len(), 1);
    }

    #[test]
    fn invalid_names_are_errors_naming_file_role_and_place() {
        let mut bad_account = role("web");
        bad_account["Arn"] = json!("arn:aws:iam::12345:role/web");
        let e = err(&page(vec![role("a"), bad_account]));
        assert_eq!(e.place, "RoleDetailList[1].Arn");
        assert_eq!(e.role.as_deref(), Some("web"));
        assert!(matches!(&*e.kind, InventoryErrorKind::Name(n) if n.what == "account id"));
        assert!(
            e.to_string().starts_with(
                "inv.json: RoleDetailList[1].Arn (role web): invalid account id \"12345\""
            ),
            "{e}"
        );

        let mut dots = role("x");
        dots["RoleName"] = json!("..");
        dots["Arn"] = json!("arn:aws:iam::111122223333:role/..");
        let e = err(&page(vec![dots]));
        assert_eq!(e.place, "RoleDetailList[0].RoleName");
        assert!(
            matches!(&*e.kind, InventoryErrorKind::Name(n) if n.what == "role name" && n.value == "..")
        );

        let mut slash = role("web");
        slash["RolePolicyList"][0]["PolicyName"] = json!("a/b");
        let e = err(&page(vec![slash]));
        assert_eq!(e.place, "RoleDetailList[0].RolePolicyList[0].PolicyName");
        assert_eq!(e.role.as_deref(), Some("web"));
        assert!(matches!(&*e.kind, InventoryErrorKind::Name(n) if n.what == "policy name"));
        assert!(e.to_string().contains("contains '/'"), "{e}");
    }

    #[test]
    fn arns_must_be_iam_role_arns_matching_the_role() {
        for (arn, needle) in [
            (
                "arn:aws:iam::111122223333:role/other",
                "does not end in the role name",
            ),
            (
                "arn:aws:iam::111122223333:role/xweb",
                "does not end in the role name",
            ),
            ("arn:aws:iam::111122223333:user/web", "not a role ARN"),
            ("arn:aws:s3:::111122223333:role/web", "not an IAM ARN"),
            (
                "arn:aws:iam:us-east-1:111122223333:role/web",
                "not an IAM ARN",
            ),
            ("arn:gcp:iam::111122223333:role/web", "unknown partition"),
            ("111122223333/web", "not a role ARN"),
        ] {
            let mut r = role("web");
            r["Arn"] = json!(arn);
            let e = err(&page(vec![r]));
            assert_eq!(e.place, "RoleDetailList[0].Arn", "{arn}");
            assert!(e.to_string().contains(needle), "{arn}: {e}");
        }
        let mut r = role("web");
        r["Path"] = json!("/svc/");
        let e = err(&page(vec![r]));
        assert_eq!(e.place, "RoleDetailList[0].Path");
        assert!(matches!(*e.kind, InventoryErrorKind::Arn(_)));
    }

    #[test]
    fn duplicates_are_errors() {
        // The same name twice, across pages, compared as IAM does (case-insensitively: on a
        // case-insensitive file system `Web.json` and `web.json` are one file).
        let mut upper = role("Web");
        upper["Arn"] = json!("arn:aws:iam::111122223333:role/Web");
        let e = err(&json!([page(vec![role("web")]), page(vec![upper])]));
        assert_eq!(e.place, "[1].RoleDetailList[0]");
        assert_eq!(
            *e.kind,
            InventoryErrorKind::DuplicateRole {
                account: "111122223333".into(),
                name: "Web".into(),
                other: "[0].RoleDetailList[0]".into(),
            }
        );
        // The same name in two accounts is two roles.
        let mut other_account = role("web");
        other_account["Arn"] = json!("arn:aws:iam::444455556666:role/web");
        assert_eq!(
            parse(&page(vec![role("web"), other_account]))
                .unwrap()
                .len(),
            2
        );

        let mut twice = role("web");
        let p = twice["RolePolicyList"][0].clone();
        twice["RolePolicyList"] = json!([p.clone(), p]);
        let e = err(&page(vec![twice]));
        assert_eq!(e.place, "RoleDetailList[0].RolePolicyList[1].PolicyName");
        assert!(
            matches!(&*e.kind, InventoryErrorKind::DuplicatePolicy { name, other }
            if name == "p" && other == "RoleDetailList[0].RolePolicyList[0].PolicyName")
        );
    }

    #[test]
    fn truncated_files_fail_closed() {
        let mut last = page(vec![role("web")]);
        last["IsTruncated"] = json!(true);
        last["Marker"] = json!("abc");
        let e = err(&last);
        assert_eq!(e.place, "IsTruncated");
        assert_eq!(*e.kind, InventoryErrorKind::Truncated);
        assert!(e.to_string().contains("without --max-items"), "{e}");

        // The last page of an array; earlier pages may (must) say more follow.
        let e = err(&json!([page(vec![role("a")]), last]));
        assert_eq!(e.place, "[1].IsTruncated");
        let mut first = page(vec![role("a")]);
        first["IsTruncated"] = json!(true);
        assert_eq!(
            parse(&json!([first.clone(), page(vec![role("b")])]))
                .unwrap()
                .len(),
            2
        );

        // The CLI's --max-items resumption token.
        let mut max_items = page(vec![role("web")]);
        max_items["NextToken"] = json!("eyJNYXJrZXIiOiBudWxsfQ==");
        assert_eq!(*err(&max_items).kind, InventoryErrorKind::Truncated);

        // A truncated page followed by another account's page: the first account is incomplete.
        let mut other = role("b");
        other["Arn"] = json!("arn:aws:iam::444455556666:role/b");
        let e = err(&json!([first, page(vec![other])]));
        assert_eq!(e.place, "[1].RoleDetailList[0]");
        assert!(e.to_string().contains("remaining pages are missing"), "{e}");

        let mut odd = page(vec![]);
        odd["IsTruncated"] = json!("false");
        assert_eq!(err(&odd).place, "IsTruncated");
    }

    #[test]
    fn bytes_that_are_not_utf8_or_not_json() {
        let e =
            parse_inventory("inv.json", b"{\n  \"RoleDetailList\": [\"caf\xe9\"]}").unwrap_err();
        assert_eq!(e.place, "line 2 column 26");
        assert!(matches!(*e.kind, InventoryErrorKind::NotUtf8(_)));
        assert_eq!(
            e.to_string(),
            "inv.json: line 2 column 26: not UTF-8 text: invalid byte 0xe9 at byte offset 27"
        );
        let e = parse_inventory("inv.json", b"\xff\xfe{\x00}\x00").unwrap_err();
        assert!(e.to_string().contains("UTF-16"), "{e}");

        let e =
            parse_inventory("inv.json", b"{\n  \"RoleDetailList\": [\n    {,\n  ]\n}").unwrap_err();
        assert_eq!(e.place, "line 3 column 6");
        assert!(matches!(*e.kind, InventoryErrorKind::Json(_)));
        assert!(
            e.to_string()
                .starts_with("inv.json: line 3 column 6: key must be a string"),
            "{e}"
        );

        let text = r#"{"RoleDetailList": [{"RoleName": "a", "RoleName": "b"}]}"#;
        let e = parse_inventory("inv.json", text.as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .contains("duplicate key \"RoleName\" at $.RoleDetailList[0]"),
            "{e}"
        );
        assert_eq!(e.place, "line 1 column 48");

        for (doc, needle) in [
            (json!([]), "empty array"),
            (json!(7), "found a number"),
            (json!([7]), "found a number"),
            (json!({"UserDetailList": []}), "missing RoleDetailList"),
        ] {
            assert!(err(&doc).to_string().contains(needle), "{doc}");
        }
    }

    #[test]
    fn role_fields_of_the_wrong_shape() {
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "RolePolicyList",
                Value::Null,
                "RoleDetailList[0].RolePolicyList",
            ),
            (
                "RolePolicyList",
                json!({}),
                "RoleDetailList[0].RolePolicyList",
            ),
            (
                "AssumeRolePolicyDocument",
                Value::Null,
                "RoleDetailList[0].AssumeRolePolicyDocument",
            ),
            (
                "AssumeRolePolicyDocument",
                json!("%7B%22a"),
                "RoleDetailList[0].AssumeRolePolicyDocument",
            ),
            (
                "AssumeRolePolicyDocument",
                json!("[1]"),
                "RoleDetailList[0].AssumeRolePolicyDocument",
            ),
            (
                "CreateDate",
                json!("yesterday"),
                "RoleDetailList[0].CreateDate",
            ),
            (
                "CreateDate",
                json!(1_600_000_000),
                "RoleDetailList[0].CreateDate",
            ),
            ("RoleId", json!(5), "RoleDetailList[0].RoleId"),
            (
                "Tags",
                json!([{"Key": "k"}]),
                "RoleDetailList[0].Tags[0].Value",
            ),
            ("Tags", json!({"k": "v"}), "RoleDetailList[0].Tags"),
            (
                "AttachedManagedPolicies",
                json!([{"PolicyArn": "ReadOnly"}]),
                "RoleDetailList[0].AttachedManagedPolicies[0].PolicyArn",
            ),
            ("RoleName", json!(1), "RoleDetailList[0].RoleName"),
        ];
        for (key, value, place) in cases {
            let mut r = role("web");
            if value.is_null() {
                r.as_object_mut().map(|o| o.remove(key));
            } else {
                r[key] = value.clone();
            }
            let e = err(&page(vec![r]));
            assert_eq!(e.place, place, "{key} = {value}: {e}");
        }
        assert_eq!(err(&page(vec![json!("web")])).place, "RoleDetailList[0]");
        // A missing CreateDate is unknown, not an error.
        let mut r = role("web");
        r["CreateDate"] = Value::Null;
        assert_eq!(
            parse(&page(vec![r])).unwrap().roles["111122223333"][0].create_date,
            None
        );
    }

    #[test]
    fn policy_document_errors_name_the_policy_and_the_place_inside() {
        let mut r = role("web");
        r["RolePolicyList"][0]["PolicyDocument"]["Statement"][0]["Effect"] = json!("Maybe");
        let e = err(&page(vec![role("a"), r]));
        assert_eq!(
            e.place,
            "RoleDetailList[1].RolePolicyList[0].PolicyDocument"
        );
        assert_eq!(
            e.to_string(),
            "inv.json: RoleDetailList[1].RolePolicyList[0].PolicyDocument (role web): policy \"p\": \
             Statement[0].Effect: must be \"Allow\" or \"Deny\", found \"Maybe\""
        );
        let mut r = role("web");
        r["RolePolicyList"][0]["PolicyDocument"] = json!(
            "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22a%22%2C%22Action%22%3A%22b%22%7D%5D%7D"
        );
        let e = err(&page(vec![r]));
        assert!(
            matches!(&*e.kind, InventoryErrorKind::Policy(p) if p.message.contains("duplicate key")),
            "{e}"
        );
        let mut r = role("web");
        r["RolePolicyList"][0]["PolicyDocument"] = json!(3);
        assert_eq!(
            err(&page(vec![r])).place,
            "RoleDetailList[0].RolePolicyList[0].PolicyDocument"
        );
    }

    #[test]
    fn round_trip() {
        let inv = parse_inventory("inv.json", FIXTURE.as_bytes()).unwrap();
        let roles: Vec<Role> = inv.iter().cloned().collect();
        let text = inventory_to_json(&roles);
        assert!(text.ends_with("  \"IsTruncated\": false\n}\n"), "{text}");
        let again = parse_inventory("out.json", text.as_bytes()).unwrap();
        assert_eq!(again, inv);
        // Documents are written as objects, dates as the CLI prints them.
        let v: Value = serde_json::from_str(&text).unwrap();
        let orders = &v["RoleDetailList"][2];
        assert_eq!(orders["RoleName"], "orders-api");
        assert_eq!(orders["CreateDate"], "2019-03-14T09:26:53+00:00");
        assert!(orders["AssumeRolePolicyDocument"].is_object());
        assert!(orders["RolePolicyList"][0]["PolicyDocument"].is_object());
        assert_eq!(
            orders["AttachedManagedPolicies"][0]["PolicyName"],
            "AmazonSSMReadOnlyAccess"
        );
        // A role built in code round-trips too.
        let plain = Role::new("111122223333", "web", PolicyMap::new());
        let again = parse_inventory(
            "x",
            inventory_to_json(std::slice::from_ref(&plain)).as_bytes(),
        )
        .unwrap();
        assert_eq!(again.roles["111122223333"], [plain]);
    }

    #[test]
    fn the_bundled_demo_parses_and_has_usage_for_every_role_but_one() {
        // Written by examples/demo/make_demo.py; see examples/demo/README.md.
        let inventory_text = include_str!("../../examples/demo/inventory.json");
        let usage_text = include_str!("../../examples/demo/usage.json");
        let inv =
            parse_inventory("examples/demo/inventory.json", inventory_text.as_bytes()).unwrap();
        assert_eq!(inv.roles.keys().collect::<Vec<_>>(), ["111122223333"]);
        assert_eq!(inv.len(), 36);
        let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let usage = crate::sources::usage::native::parse_native(usage_text, now).unwrap();
        let missing: Vec<&str> = inv
            .iter()
            .filter(|r| !usage.contains_key(&r.arn))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(missing, ["vendor-sync"]);
        // Every usage entry belongs to a role of the inventory, and all were collected at once.
        assert!(usage.keys().all(|arn| inv.iter().any(|r| &r.arn == arn)));
        let collected = DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(usage.values().all(|u| u.collected_at == Some(collected)));
        // The generator writes both files exactly as repokid does.
        let roles: Vec<Role> = inv.iter().cloned().collect();
        assert!(
            inventory_to_json(&roles) == inventory_text,
            "inventory.json is not canonical"
        );
        assert!(
            crate::sources::usage::native::to_native_json(&usage) == usage_text,
            "usage.json is not canonical"
        );
    }
}
