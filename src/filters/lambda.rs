//! `lambda`: roles that a Lambda service principal may assume are out of scope; Access Advisor
//! data for function roles is too bursty to rightsize from.
//!
//! The trust policy is parsed: a role is excluded when some `Statement[*].Principal.Service`
//! (a string or an array of strings) equals or ends in `lambda.amazonaws.com` (this covers
//! `edgelambda.amazonaws.com`, and the `.cn` forms of the China partitions), compared
//! case-insensitively. Repokid instead searched the policy text for `lambda`, so a `Sid` or a
//! condition mentioning it was enough, and never stored the trust policy at all (W7).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::Filter;
use crate::engine::Role;

/// This filter's id and `filters.toml` table name (it has no settings).
pub const ID: &str = "lambda";

/// Service principals are matched against these suffixes, lowercased.
const LAMBDA_SUFFIXES: [&str; 2] = ["lambda.amazonaws.com", "lambda.amazonaws.com.cn"];

/// Excludes roles whose trust policy names a Lambda service principal.
#[derive(Debug, Clone, Copy, Default)]
pub struct LambdaFilter;

impl Filter for LambdaFilter {
    fn id(&self) -> &'static str {
        ID
    }

    fn check(&self, role: &Role, _now: DateTime<Utc>) -> Option<String> {
        let parsed;
        let doc = match &role.trust_policy {
            // A document kept as its JSON text: parse it; unreadable fails closed.
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => {
                    parsed = value;
                    &parsed
                }
                Err(e) => {
                    return Some(format!(
                        "trust policy is not valid JSON ({e}), so Lambda use cannot be ruled out"
                    ));
                }
            },
            value => value,
        };
        lambda_principal(doc).map(|principal| {
            format!("trust policy lets the Lambda service principal {principal} assume the role")
        })
    }
}

/// The first Lambda service principal in the trust policy, if any.
fn lambda_principal(doc: &Value) -> Option<&str> {
    let statements = get_ci(doc.as_object()?, "Statement")?;
    one_or_many(statements)
        .filter_map(|s| get_ci(s.as_object()?, "Principal"))
        .filter_map(|p| get_ci(p.as_object()?, "Service"))
        .flat_map(one_or_many)
        .filter_map(Value::as_str)
        .find(|service| is_lambda(service))
}

fn is_lambda(service: &str) -> bool {
    let service = service.trim().to_ascii_lowercase();
    LAMBDA_SUFFIXES
        .iter()
        .any(|suffix| service.ends_with(suffix))
}

/// A policy element that may be a single value or an array of them.
fn one_or_many(value: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match value {
        Value::Array(items) => Box::new(items.iter()),
        other => Box::new(std::iter::once(other)),
    }
}

/// A key looked up case-insensitively, so an oddly cased element cannot hide a principal.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::tests::{now, role};
    use serde_json::json;

    fn check(trust: Value) -> Option<String> {
        let mut r = role("fn");
        r.trust_policy = trust;
        LambdaFilter.check(&r, now())
    }

    fn trust(principal: Value) -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": principal,
                "Action": "sts:AssumeRole"
            }]
        })
    }

    #[test]
    fn lambda_service_principal_is_excluded() {
        assert_eq!(
            check(trust(json!({"Service": "lambda.amazonaws.com"}))).as_deref(),
            Some(
                "trust policy lets the Lambda service principal lambda.amazonaws.com assume the role"
            )
        );
        assert!(
            check(trust(
                json!({"Service": ["ec2.amazonaws.com", "Lambda.AmazonAWS.com"]})
            ))
            .is_some()
        );
    }

    #[test]
    fn edgelambda_is_excluded() {
        let reason =
            check(trust(json!({"Service": ["edgelambda.amazonaws.com"]}))).expect("excluded");
        assert!(reason.contains("edgelambda.amazonaws.com"));
    }

    #[test]
    fn single_statement_object_and_text_document_are_parsed() {
        let doc = json!({"Statement": {"Principal": {"Service": "lambda.amazonaws.com"}}});
        assert!(check(doc.clone()).is_some());
        assert!(check(Value::String(doc.to_string())).is_some());
        assert!(
            check(Value::String("{not json".into())).is_some(),
            "fails closed"
        );
    }

    #[test]
    fn non_lambda_principal_is_kept() {
        assert_eq!(check(trust(json!({"Service": "ec2.amazonaws.com"}))), None);
        assert_eq!(
            check(trust(json!({"AWS": "arn:aws:iam::123456789012:root"}))),
            None
        );
        assert_eq!(check(trust(json!("*"))), None);
        assert_eq!(check(json!({})), None);
    }

    #[test]
    fn lambda_mentioned_only_in_a_sid_is_kept_unlike_repokid() {
        let doc = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "FormerlyUsedByLambdaDeployer",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:role/lambda-deployer"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceArn": "lambda.amazonaws.com"}}
            }]
        });
        assert_eq!(check(doc), None);
    }
}
