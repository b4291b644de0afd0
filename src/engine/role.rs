//! An IAM role as the engine sees it: identity, trust policy, tags and inline policies.

use chrono::{DateTime, Utc};

use super::policy::PolicyMap;

/// A role and everything the engine needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// 12-digit account id.
    pub account: String,
    /// Role name (no path).
    pub name: String,
    /// IAM's unique id (`AROA…`), when known.
    pub id: Option<String>,
    /// Full ARN, partition-aware (`arn:aws-cn:iam::…:role/path/name`).
    pub arn: String,
    /// Path, `/` unless the role was created with one.
    pub path: String,
    /// When the role was created; `None` when the source did not say (fails closed in the age filter).
    pub create_date: Option<DateTime<Utc>>,
    /// The trust (assume-role) policy document, as JSON.
    pub trust_policy: serde_json::Value,
    /// Tags in the order IAM returned them.
    pub tags: Vec<(String, String)>,
    /// Inline policies by name.
    pub policies: PolicyMap,
    /// ARNs of attached managed policies (reported, never rewritten).
    pub managed_policy_arns: Vec<String>,
}

impl Role {
    /// A role with the given identity and inline policies and nothing else known; handy in tests
    /// and examples.
    pub fn new(account: &str, name: &str, policies: PolicyMap) -> Role {
        Role {
            account: account.to_string(),
            name: name.to_string(),
            id: None,
            arn: format!("arn:aws:iam::{account}:role/{name}"),
            path: "/".to_string(),
            create_date: None,
            trust_policy: serde_json::Value::Object(Default::default()),
            tags: Vec::new(),
            policies,
            managed_policy_arns: Vec::new(),
        }
    }

    /// The value of a tag, matched case-sensitively as IAM does.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
