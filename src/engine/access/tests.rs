//! Named regression tests: one per widening class verify must catch, and the removals it must
//! let through.

use serde_json::{Value, json};

use super::{Comparison, FindingKind, compare};
use crate::engine::catalog::Catalog;
use crate::engine::policy::{PolicyMap, policy_map_from_value};

fn map(v: Value) -> PolicyMap {
    policy_map_from_value("test", v).unwrap()
}

/// One policy `p` holding these statements.
fn role(statements: Value) -> PolicyMap {
    map(json!({"p": {"Version": "2012-10-17", "Statement": statements}}))
}

fn cmp(base: Value, head: Value) -> Comparison {
    compare(&role(base), &role(head), Catalog::embedded())
}

#[track_caller]
fn widens(base: Value, head: Value) -> String {
    let c = cmp(base, head);
    assert!(!c.grants_nothing_new(), "not reported as a widening");
    c.findings[0].message.clone()
}

#[track_caller]
fn passes(base: Value, head: Value) {
    let c = cmp(base, head);
    assert!(
        c.grants_nothing_new(),
        "reported as a widening: {:#?}",
        c.findings
    );
}

fn allow(action: Value, resource: &str) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

const LOGS: &str = "arn:aws:s3:::logs/*";

#[test]
fn resource_widened_to_star() {
    let m = widens(
        json!([allow(json!("s3:GetObject"), LOGS)]),
        json!([allow(json!("s3:GetObject"), "arn:aws:s3:::*")]),
    );
    assert_eq!(
        m,
        "head allows s3:GetObject on arn:aws:s3:::*; base allowed it only on arn:aws:s3:::logs/*"
    );
}

#[test]
fn action_moved_into_a_broader_statement() {
    let m = widens(
        json!([
            allow(json!("s3:PutObject"), LOGS),
            allow(json!("s3:GetObject"), "*")
        ]),
        json!([allow(json!(["s3:GetObject", "s3:PutObject"]), "*")]),
    );
    assert!(m.starts_with("head allows s3:PutObject on *;"), "{m}");
}

#[test]
fn action_moved_into_a_statement_without_the_condition() {
    let cond = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}});
    let m = widens(
        json!([
            {"Effect": "Allow", "Action": "iam:DeleteRole", "Resource": "*", "Condition": cond},
            allow(json!("iam:GetRole"), "*")
        ]),
        json!([allow(json!(["iam:GetRole", "iam:DeleteRole"]), "*")]),
    );
    assert!(
        m.contains("only with Condition Bool aws:MultiFactorAuthPresent"),
        "{m}"
    );
}

#[test]
fn condition_dropped() {
    let stmt = |c: Option<Value>| {
        let mut s = allow(json!("s3:GetObject"), LOGS);
        if let Some(c) = c {
            s["Condition"] = c;
        }
        s
    };
    let c = cmp(
        json!([stmt(Some(
            json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}})
        ))]),
        json!([stmt(None)]),
    );
    assert!(!c.grants_nothing_new());
    assert!(
        c.findings[0]
            .request
            .context
            .as_deref()
            .is_some_and(|x| x.contains("aws:SourceVpc")),
        "{:?}",
        c.findings[0]
    );
}

fn with_cond(cond: Value) -> Value {
    json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": LOGS, "Condition": cond}])
}

#[test]
fn condition_loosened_with_more_values() {
    widens(
        with_cond(json!({"StringEquals": {"aws:SourceVpc": "vpc-1"}})),
        with_cond(json!({"StringEquals": {"aws:SourceVpc": ["vpc-1", "vpc-2"]}})),
    );
}

#[test]
fn condition_loosened_to_a_wider_cidr() {
    widens(
        with_cond(json!({"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}})),
        with_cond(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    );
}

#[test]
fn condition_loosened_from_equals_to_like() {
    widens(
        with_cond(json!({"StringEquals": {"aws:PrincipalTag/team": "web"}})),
        with_cond(json!({"StringLike": {"aws:PrincipalTag/team": "web*"}})),
    );
}

#[test]
fn condition_loosened_with_if_exists_or_a_set_qualifier() {
    let eq = json!({"StringEquals": {"aws:PrincipalTag/team": "web"}});
    widens(
        with_cond(eq.clone()),
        with_cond(json!({"StringEqualsIfExists": {"aws:PrincipalTag/team": "web"}})),
    );
    widens(
        with_cond(json!({"ForAnyValue:StringEquals": {"aws:TagKeys": "web"}})),
        with_cond(json!({"ForAllValues:StringEquals": {"aws:TagKeys": "web"}})),
    );
}

fn deny(action: Value, resource: &str) -> Value {
    json!({"Effect": "Deny", "Action": action, "Resource": resource})
}

#[test]
fn deny_removed() {
    let c = cmp(
        json!([
            allow(json!("iam:*"), "*"),
            deny(json!("iam:DeleteRole"), "*")
        ]),
        json!([allow(json!("iam:*"), "*")]),
    );
    assert_eq!(c.findings.len(), 1);
    assert_eq!(c.findings[0].kind, FindingKind::Deny);
    assert_eq!(
        c.findings[0].message,
        "base denied iam:DeleteRole on *; head no longer denies it"
    );
}

#[test]
fn deny_removed_even_when_its_allows_are_gone() {
    // The role may hold managed policies the file does not show; the Deny restricts them too.
    widens(
        json!([allow(json!("iam:GetRole"), "*"), deny(json!("iam:*"), "*")]),
        json!([]),
    );
}

#[test]
fn deny_narrowed_to_fewer_actions() {
    widens(
        json!([deny(json!(["iam:DeleteRole", "iam:PutRolePolicy"]), "*")]),
        json!([deny(json!("iam:DeleteRole"), "*")]),
    );
}

#[test]
fn deny_narrowed_to_fewer_resources() {
    let m = widens(
        json!([deny(json!("s3:DeleteObject"), "*")]),
        json!([deny(json!("s3:DeleteObject"), LOGS)]),
    );
    assert!(
        m.contains("head denies it only on arn:aws:s3:::logs/*"),
        "{m}"
    );
}

#[test]
fn deny_given_a_condition() {
    let mut d = deny(json!("s3:DeleteObject"), "*");
    d["Condition"] = json!({"Bool": {"aws:MultiFactorAuthPresent": "false"}});
    let m = widens(json!([deny(json!("s3:DeleteObject"), "*")]), json!([d]));
    assert!(m.contains("only with Condition"), "{m}");
}

#[test]
fn not_resource_allowing_more() {
    let nr = |ex: Value| json!([{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": ex}]);
    widens(
        nr(json!(["arn:aws:s3:::secret/*", "arn:aws:s3:::keys/*"])),
        nr(json!(["arn:aws:s3:::secret/*"])),
    );
    passes(
        nr(json!(["arn:aws:s3:::secret/*"])),
        nr(json!(["arn:aws:s3:::secret/*", "arn:aws:s3:::keys/*"])),
    );
    passes(
        nr(json!("arn:aws:s3:::secret/*")),
        json!([allow(json!("s3:GetObject"), LOGS)]),
    );
}

#[test]
fn not_action_allowing_more() {
    let na = |ex: Value| json!([{"Effect": "Allow", "NotAction": ex, "Resource": "*"}]);
    widens(na(json!(["iam:*", "organizations:*"])), na(json!("iam:*")));
    passes(na(json!("iam:*")), na(json!(["iam:*", "organizations:*"])));
    // Listing actions out of a NotAction is a narrowing, future actions included.
    passes(
        na(json!("iam:*")),
        json!([allow(json!(["s3:*", "ec2:Describe*"]), "*")]),
    );
    let m = widens(
        na(json!("iam:*")),
        json!([allow(json!("iam:PassRole"), "*")]),
    );
    assert!(m.contains("iam:PassRole"), "{m}");
}

#[test]
fn wildcards_reach_beyond_the_catalog() {
    // Every catalog action s3:Get* matches is listed in base, but s3:Get* also grants the
    // actions AWS adds tomorrow.
    let catalog = Catalog::embedded();
    let crate::engine::Expansion::Known(set) = catalog.expand("s3:Get*") else {
        panic!("s3:Get* is in the catalog");
    };
    let names: Vec<String> = set.iter().map(|id| catalog.name(id).to_string()).collect();
    let m = widens(
        json!([allow(json!(names), "*")]),
        json!([allow(json!("s3:Get*"), "*")]),
    );
    assert!(m.contains("does not list yet"), "{m}");
    passes(
        json!([allow(json!("s3:*"), "*")]),
        json!([allow(json!("s3:Get*"), "*")]),
    );
}

#[test]
fn unknown_actions_need_a_base_entry_that_matches_them() {
    widens(
        json!([allow(json!("s3:GetObject"), "*")]),
        json!([allow(json!(["s3:GetObject", "newsvc:DoThing"]), "*")]),
    );
    passes(
        json!([allow(json!("newsvc:*"), "*")]),
        json!([allow(json!("NewSvc:DoThing"), "*")]),
    );
}

#[test]
fn removals_pass() {
    let base = json!([
        {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::a", "arn:aws:s3:::a/*"]},
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
        deny(json!("ec2:TerminateInstances"), "*")
    ]);
    passes(base.clone(), base.clone());
    // Drop an action, narrow a resource, add a condition, add a Deny, delete a statement.
    passes(
        base.clone(),
        json!([
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::a/x/*"], "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            deny(json!("ec2:TerminateInstances"), "*"),
            deny(json!("s3:*"), "arn:aws:s3:::a/secret/*")
        ]),
    );
    // A partly removed wildcard becomes the actions that remain (what the rewrite does).
    passes(
        base.clone(),
        json!([
            base[0].clone(),
            {"Effect": "Allow", "Action": ["ec2:DescribeInstances", "ec2:RunInstances"], "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}},
            deny(json!("ec2:TerminateInstances"), "*")
        ]),
    );
}

#[test]
fn moving_a_statement_between_policies_of_the_role_is_not_a_widening() {
    let s = allow(json!("s3:GetObject"), LOGS);
    let base = map(json!({
        "a": {"Version": "2012-10-17", "Statement": [s.clone()]},
        "b": {"Version": "2012-10-17", "Statement": [allow(json!("sqs:SendMessage"), "*")]}
    }));
    let head = map(json!({
        "b": {"Version": "2012-10-17", "Statement": [allow(json!("sqs:SendMessage"), "*"), s]}
    }));
    assert!(compare(&base, &head, Catalog::embedded()).grants_nothing_new());
}

#[test]
fn a_resource_list_is_covered_entry_by_entry() {
    passes(
        json!([
            allow(json!("s3:GetObject"), "arn:aws:s3:::a/*"),
            allow(json!("s3:GetObject"), "arn:aws:s3:::b/*")
        ]),
        json!([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::a/x", "arn:aws:s3:::b/*"]}]),
    );
}

#[test]
fn policy_variables_depend_on_the_version() {
    let s = allow(json!("s3:GetObject"), "arn:aws:s3:::home/${aws:username}/*");
    let v2012 = map(json!({"p": {"Version": "2012-10-17", "Statement": [s.clone()]}}));
    let v2008 = map(json!({"p": {"Version": "2008-10-17", "Statement": [s]}}));
    let catalog = Catalog::embedded();
    assert!(compare(&v2012, &v2012, catalog).grants_nothing_new());
    // In 2008-10-17 the text is literal; turning it into a variable grants other users' homes.
    assert!(!compare(&v2008, &v2012, catalog).grants_nothing_new());
}

#[test]
fn added_actions_are_counted() {
    let c = cmp(
        json!([allow(json!("s3:GetObject"), "*")]),
        json!([allow(
            json!(["s3:GetObject", "s3:PutObject", "sqs:SendMessage"]),
            "*"
        )]),
    );
    assert_eq!(c.added_actions, 2);
    assert_eq!(c.added_sample, ["s3:PutObject", "sqs:SendMessage"]);
}
