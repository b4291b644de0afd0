//! Roles from `GetAccountAuthorizationDetails` (Filter `Role`, MaxItems 1000, `Marker` paging).
//!
//! Each page is turned back into the JSON the AWS CLI prints and read by the same parser as an
//! inventory file ([`crate::sources::inventory_file::parse_inventory`]), so a live account and an
//! exported snapshot are validated alike (names, ARNs, URL-encoded or plain documents).

use serde_json::{Value, json};

use super::{Aws, AwsError, chrono_date};
use crate::sources::inventory_file::{Inventory, parse_inventory};
use crate::sources::{InventorySource, SourceError};

/// Roles per `GetAccountAuthorizationDetails` page (IAM's maximum).
pub const PAGE_SIZE: i32 = 1000;

const CALL: &str = "iam:GetAccountAuthorizationDetails";

impl InventorySource for Aws {
    fn describe(&self) -> String {
        "aws (GetAccountAuthorizationDetails)".into()
    }

    fn inventory(&self, accounts: &[String]) -> Result<Inventory, SourceError> {
        if accounts.is_empty() {
            return Err(AwsError::other(
                None,
                CALL,
                "no account given: pass --account ID or set `accounts` in repokid.toml",
            )
            .into());
        }
        let mut out = Inventory::default();
        for account in accounts {
            let roles = self.account_role_details(account)?;
            let doc = json!({ "RoleDetailList": roles, "IsTruncated": false });
            let source = format!("account {account} ({CALL})");
            let bytes = serde_json::to_vec(&doc)
                .map_err(|e| AwsError::other(Some(account), CALL, e.to_string()))?;
            let mut inv = parse_inventory(&source, &bytes)?;
            let mut roles = inv.roles.remove(account).unwrap_or_default();
            if let Some(other) = inv.roles.keys().next() {
                return Err(AwsError::other(
                    Some(account),
                    CALL,
                    format!(
                        "returned roles of account {other}: is assume-role pointing at the right account?"
                    ),
                )
                .into());
            }
            roles.sort_by(|a, b| a.name.cmp(&b.name));
            tracing::info!(account = %account, roles = roles.len(), "inventory read");
            out.roles.insert(account.clone(), roles);
        }
        Ok(out)
    }
}

impl Aws {
    /// Every role of `account` as `RoleDetailList` entries in the AWS CLI's JSON shape, following
    /// `Marker` until `IsTruncated` is false.
    pub fn account_role_details(&self, account: &str) -> Result<Vec<Value>, AwsError> {
        let iam = self.iam(account)?;
        self.block_on(async {
            let mut roles = Vec::new();
            let mut marker: Option<String> = None;
            loop {
                self.calls.record(CALL);
                let page = iam
                    .get_account_authorization_details()
                    .filter(aws_sdk_iam::types::EntityType::Role)
                    .max_items(PAGE_SIZE)
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(Some(account), CALL, &e))?;
                roles.extend(page.role_detail_list().iter().map(role_detail_json));
                tracing::debug!(account, page_roles = page.role_detail_list().len(), truncated = page.is_truncated(), "inventory page");
                match (page.is_truncated(), page.marker()) {
                    (true, Some(m)) if Some(m) != marker.as_deref() => marker = Some(m.to_string()),
                    (true, _) => {
                        return Err(AwsError::other(
                            Some(account),
                            CALL,
                            "IsTruncated is true but no new Marker was given; the role list would be incomplete",
                        ));
                    }
                    (false, _) => break,
                }
            }
            Ok(roles)
        })
    }
}

/// One role in the AWS CLI's JSON shape.
fn role_detail_json(r: &aws_sdk_iam::types::RoleDetail) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put("Path", r.path().map(Value::from));
    put("RoleName", r.role_name().map(Value::from));
    put("RoleId", r.role_id().map(Value::from));
    put("Arn", r.arn().map(Value::from));
    put(
        "CreateDate",
        r.create_date()
            .and_then(chrono_date)
            .map(|d| Value::from(d.to_rfc3339())),
    );
    put(
        "AssumeRolePolicyDocument",
        r.assume_role_policy_document().map(Value::from),
    );
    put(
        "RolePolicyList",
        Some(Value::Array(
            r.role_policy_list()
                .iter()
                .map(|p| {
                    json!({
                        "PolicyName": p.policy_name(),
                        "PolicyDocument": p.policy_document(),
                    })
                })
                .collect(),
        )),
    );
    put(
        "AttachedManagedPolicies",
        Some(Value::Array(
            r.attached_managed_policies()
                .iter()
                .map(|p| json!({"PolicyName": p.policy_name(), "PolicyArn": p.policy_arn()}))
                .collect(),
        )),
    );
    put(
        "Tags",
        Some(Value::Array(
            r.tags()
                .iter()
                .map(|t| json!({"Key": t.key(), "Value": t.value()}))
                .collect(),
        )),
    );
    Value::Object(m)
}
