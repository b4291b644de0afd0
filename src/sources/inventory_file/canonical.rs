//! Writing roles back as a `get-account-authorization-details` response: the canonical form the
//! parser reads (tests, the demo, and `repokid` commands that export an inventory).

use chrono::SecondsFormat;
use serde_json::{Map, Value};

use super::At;
use super::role::trust_document;
use crate::engine::Role;

/// Writes roles in the format [`parse_inventory`](super::parse_inventory) reads: one `get-account-authorization-details`
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
