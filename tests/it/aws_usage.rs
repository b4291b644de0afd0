//! Usage and inventory straight from "AWS" (moto, with the Access Advisor extension), through the
//! library: jobs polled to completion, result pages followed, action-level data, a failing job
//! reported for its role only, and roles read through AssumeRole in the right account.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::moto::{self, MotoAccount};
use repokid::aws::access_advisor::{AccessAdvisor, Granularity};
use repokid::aws::{Aws, AwsSettings};
use repokid::engine::usage::LastAccessed;
use repokid::sources::{InventorySource, UsageSource};
use serde_json::json;

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","sqs:SendMessage"],"Resource":"*"}]}"#;

fn connect() -> Aws {
    let settings = AwsSettings {
        endpoint_url: Some(moto::endpoint().to_string()),
        max_attempts: 2,
        access_advisor_jobs: 3,
        access_advisor_timeout_seconds: 30,
        ..AwsSettings::default()
    };
    let creds = aws_sdk_iam::config::Credentials::new(
        moto::ACCESS_KEY,
        moto::SECRET_KEY,
        Some(moto::SESSION_TOKEN.into()),
        None,
        "test",
    );
    Aws::connect_with(&settings, Some(creds)).unwrap()
}

fn fast(aws: &Aws, granularity: Granularity) -> AccessAdvisor<'_> {
    let mut aa = AccessAdvisor::new(aws, granularity);
    aa.first_poll = Duration::from_millis(20);
    aa.max_poll_interval = Duration::from_millis(100);
    aa
}

#[test]
fn inventory_comes_from_the_assumed_account_and_usage_from_polled_jobs() {
    let (a, b) = (MotoAccount::fresh(), MotoAccount::fresh());
    for i in 0..5 {
        a.create_role(&format!("app-{i}"), &[("inline", DOC)]);
    }
    b.create_role("other", &[]);
    let services: Vec<_> = ["s3", "sqs", "sns", "kms", "ec2"]
        .iter()
        .map(|ns| json!({"ServiceNamespace": ns, "ServiceName": ns, "LastAuthenticated": if *ns == "s3" { json!("2026-11-01T00:00:00Z") } else { json!(null) }}))
        .collect();
    let seed: serde_json::Map<_, _> = (0..5)
        .map(|i| (a.arn(&format!("app-{i}")), json!(services)))
        .chain([(b.arn("other"), json!([]))])
        .collect();
    moto::seed_access_advisor(&json!(seed));

    let aws = connect();
    let inv = aws.inventory(&[a.id.clone(), b.id.clone()]).unwrap();
    assert_eq!(inv.roles[&a.id].len(), 5);
    assert_eq!(inv.roles[&b.id].len(), 1);
    let role = &inv.roles[&a.id][0];
    assert_eq!(role.arn, a.arn("app-0"));
    assert!(role.id.as_deref().unwrap().starts_with("AROA"));
    assert!(role.create_date.is_some());
    assert_eq!(
        role.trust_policy["Statement"][0]["Principal"]["Service"],
        "ec2.amazonaws.com"
    );
    // moto URL-encodes inline documents; they arrive decoded.
    assert_eq!(
        role.policies["inline"].to_value(),
        serde_json::from_str::<serde_json::Value>(DOC).unwrap()
    );

    // Two services per page: every job needs three pages, and each job's first poll is
    // IN_PROGRESS, so this also covers polling.
    let mut aa = fast(&aws, Granularity::Service);
    aa.page_size = 2;
    let usage = aa.usage(&inv, chrono::Utc::now()).unwrap();
    assert!(usage.failures.is_empty(), "{:?}", usage.failures);
    assert_eq!(usage.by_arn.len(), 6);
    let u = &usage.by_arn[&a.arn("app-3")];
    assert_eq!(u.services.len(), 5);
    assert!(matches!(
        u.services["s3"].last_accessed,
        LastAccessed::At(_)
    ));
    assert_eq!(u.services["kms"].last_accessed, LastAccessed::Never);
    assert!(u.collected_at.is_some());
    assert!(usage.by_arn[&b.arn("other")].services.is_empty());

    let calls = aws.calls.snapshot();
    assert_eq!(calls["iam:GetAccountAuthorizationDetails"], 2, "{calls:?}");
    assert_eq!(
        calls["iam:GenerateServiceLastAccessedDetails"], 6,
        "{calls:?}"
    );
    // Per job: one IN_PROGRESS poll plus one call per page (3 pages of 5 services, 1 of none).
    assert_eq!(
        calls["iam:GetServiceLastAccessedDetails"],
        5 * 4 + 2,
        "{calls:?}"
    );
}

#[test]
fn action_level_data_is_kept_per_action() {
    let a = MotoAccount::fresh();
    a.create_role("app", &[("inline", DOC)]);
    moto::seed_access_advisor(&json!({
        a.arn("app"): [{"ServiceNamespace": "s3", "ServiceName": "Amazon S3", "LastAuthenticated": "2026-11-01T00:00:00Z",
                        "TrackedActionsLastAccessed": [{"ActionName": "GetObject", "LastAccessedTime": "2026-11-01T00:00:00Z"},
                                                       {"ActionName": "PutObject"}]}]
    }));
    let aws = connect();
    let inv = aws.inventory(std::slice::from_ref(&a.id)).unwrap();
    let usage = fast(&aws, Granularity::Action)
        .usage(&inv, chrono::Utc::now())
        .unwrap();
    let s3 = &usage.by_arn[&a.arn("app")].services["s3"];
    let actions = s3.actions.as_ref().expect("action-level data");
    assert!(matches!(actions["getobject"], LastAccessed::At(_)));
    assert_eq!(actions["putobject"], LastAccessed::Never);
}

#[test]
fn a_failing_job_is_reported_for_its_role_and_the_others_go_on() {
    let a = MotoAccount::fresh();
    a.create_role("ok", &[("inline", DOC)]);
    a.create_role("broken", &[("inline", DOC)]);
    moto::seed_access_advisor(&json!({
        a.arn("ok"): [{"ServiceNamespace": "s3", "ServiceName": "Amazon S3", "LastAuthenticated": null}],
        a.arn("broken"): {"JobStatus": "FAILED", "Message": "entity is being deleted"},
    }));
    let aws = connect();
    let inv = aws.inventory(std::slice::from_ref(&a.id)).unwrap();
    let usage = fast(&aws, Granularity::Service)
        .usage(&inv, chrono::Utc::now())
        .unwrap();
    assert!(usage.by_arn.contains_key(&a.arn("ok")));
    assert!(!usage.by_arn.contains_key(&a.arn("broken")));
    let why = &usage.failures[&a.arn("broken")];
    assert!(
        why.contains("FAILED") && why.contains("entity is being deleted"),
        "{why}"
    );
}

#[test]
fn a_missing_assume_role_account_or_endpoint_is_a_clear_error() {
    let aws = connect();
    let err = aws.inventory(&[]).unwrap_err().to_string();
    assert!(err.contains("--account"), "{err}");
    let err = aws.inventory(&["12345".into()]).unwrap_err().to_string();
    assert!(err.contains("12345"), "{err}");

    let dead = AwsSettings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_attempts: 1,
        ..AwsSettings::default()
    };
    let creds =
        aws_sdk_iam::config::Credentials::new("AKIDEXAMPLE", "s3cr3t-value", None, None, "t");
    let aws = Aws::connect_with(&dead, Some(creds)).unwrap();
    let err = aws
        .inventory(&["111122223333".into()])
        .unwrap_err()
        .to_string();
    assert!(err.contains("account 111122223333"), "{err}");
    assert!(!err.contains("s3cr3t-value"), "{err}");
}
