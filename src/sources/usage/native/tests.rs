//! Tests of the native usage format: the documented example, timestamp forms, errors naming
//! their place, and the writer's round trip.

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::sources::usage::test_support::arb_json;

const WEB: &str = "arn:aws:iam::123456789012:role/web";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn at(s: &str) -> LastAccessed {
    LastAccessed::At(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const EXAMPLE: &str = r#"{
      "version": 1,
      "collected_at": "2026-11-20T06:00:00Z",
      "roles": {
        "arn:aws:iam::123456789012:role/web": {
          "collected_at": "2026-11-19T06:00:00Z",
          "services": {
            "s3":  { "last_accessed": "2026-11-01T12:00:00Z",
                     "actions": { "GetObject": "2026-11-01T12:00:00Z", "s3:PutObject": null } },
            "EC2": { "last_accessed": null },
            "sqs": { "last_accessed": 1545787620000 },
            "sns": { "last_accessed": 1545787620.9 }
          }
        },
        "arn:aws:iam::123456789012:role/batch": {
          "services": { "dynamodb": { "last_accessed": "2026-10-01T00:00:00+02:00", "actions": null } }
        },
        "arn:aws:iam::123456789012:role/unknown-age": { "collected_at": null, "services": {} }
      }
    }"#;

#[test]
fn reads_the_documented_example() {
    let usage = parse_native(EXAMPLE, now()).unwrap();
    assert_eq!(usage.len(), 3);

    let web = &usage[WEB];
    assert_eq!(
        web.collected_at,
        Some(time("2026-11-19T06:00:00Z")),
        "per-role value wins"
    );
    let s3 = &web.services["s3"];
    assert_eq!(s3.last_accessed, at("2026-11-01T12:00:00Z"));
    let actions = s3.actions.as_ref().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions["getobject"], at("2026-11-01T12:00:00Z"));
    assert_eq!(actions["putobject"], LastAccessed::Never);
    let ec2 = &web.services["ec2"];
    assert_eq!(ec2.last_accessed, LastAccessed::Never);
    assert_eq!(ec2.actions, None);
    assert_eq!(
        web.services["sqs"].last_accessed,
        at("2018-12-26T01:27:00Z")
    );
    assert_eq!(
        web.services["sns"].last_accessed,
        at("2018-12-26T01:27:00Z"),
        "fraction truncated"
    );

    let batch = &usage["arn:aws:iam::123456789012:role/batch"];
    assert_eq!(
        batch.collected_at,
        Some(time("2026-11-20T06:00:00Z")),
        "inherits the top level"
    );
    assert_eq!(
        batch.services["dynamodb"].last_accessed,
        at("2026-09-30T22:00:00Z")
    );
    assert_eq!(batch.services["dynamodb"].actions, None);

    let unknown = &usage["arn:aws:iam::123456789012:role/unknown-age"];
    assert_eq!(unknown.collected_at, None, "explicit null does not inherit");
    assert!(unknown.services.is_empty());
}

fn one_service(last: &str) -> Result<LastAccessed, UsageError> {
    let text = format!(
        r#"{{"version":1,"roles":{{"{WEB}":{{"services":{{"s3":{{"last_accessed":{last}}}}}}}}}}}"#
    );
    parse_native(&text, now()).map(|u| u[WEB].services["s3"].last_accessed.clone())
}

#[test]
fn repokid_timestamp_vectors_and_future_values() {
    assert_eq!(
        one_service("1545787620000").unwrap(),
        at("2018-12-26T01:27:00Z")
    );
    assert_eq!(
        one_service("1545787620").unwrap(),
        at("2018-12-26T01:27:00Z")
    );
    assert_eq!(
        one_service("154578762").unwrap(),
        LastAccessed::Malformed("154578762".into())
    );
    assert_eq!(one_service("0").unwrap(), LastAccessed::Never);
    assert_eq!(one_service("null").unwrap(), LastAccessed::Never);
    assert_eq!(
        one_service("0.4").unwrap(),
        LastAccessed::Malformed("0.4".into())
    );
    assert_eq!(
        one_service("-3").unwrap(),
        LastAccessed::Malformed("-3".into())
    );
    assert_eq!(
        one_service("18446744073709551615").unwrap(),
        LastAccessed::Malformed("18446744073709551615".into())
    );
    // The future is malformed, hence used.
    assert!(matches!(
        one_service("1800000000000").unwrap(),
        LastAccessed::Malformed(_)
    ));
    assert!(matches!(
        one_service("\"2026-11-21T00:00:00Z\"").unwrap(),
        LastAccessed::Malformed(_)
    ));
    assert!(matches!(
        one_service("\"last tuesday\"").unwrap(),
        LastAccessed::Malformed(_)
    ));
    // A string of digits is not read as an epoch: malformed, hence used.
    assert!(matches!(
        one_service("\"1545787620\"").unwrap(),
        LastAccessed::Malformed(_)
    ));
    let err = one_service("true").unwrap_err();
    assert_eq!(err.place, format!("roles[{WEB}].services.s3.last_accessed"));
}

#[test]
fn unknown_keys_are_errors_naming_them() {
    let cases = [
        (
            r#"{"version":1,"roles":{},"colected_at":null}"#,
            "colected_at",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{},"service":{}}}}"#,
            "roles[arn:aws:iam::1:role/a].service",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{"last_acessed":null}}}}}"#,
            "roles[arn:aws:iam::1:role/a].services.s3.last_acessed",
        ),
    ];
    for (text, place) in cases {
        let err = parse_native(text, now()).unwrap_err();
        assert_eq!(err.place, place, "{err}");
        assert!(err.message.starts_with("unknown key"), "{err}");
    }
}

#[test]
fn structural_errors_carry_a_place() {
    let cases = [
        (r#"{"roles":{}}"#, "version", "missing version"),
        (
            r#"{"version":2,"roles":{}}"#,
            "version",
            "unsupported version 2",
        ),
        (
            r#"{"version":2,"roles":{},"sources":[]}"#,
            "version",
            "unsupported version 2",
        ),
        (
            r#"{"version":"1","roles":{}}"#,
            "version",
            "unsupported version \"1\"",
        ),
        (
            r#"{"version":1.0,"roles":{}}"#,
            "version",
            "unsupported version",
        ),
        (r#"{"version":1}"#, "roles", "missing roles"),
        (r#"[]"#, "$", "expected a usage document object"),
        (r#"{"version":1,"roles":[]}"#, "roles", "expected an object"),
        (
            r#"{"version":1,"roles":{"web":{"services":{}}}}"#,
            "roles[web]",
            "expected a role ARN",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{}}}"#,
            "roles[arn:aws:iam::1:role/a].services",
            "missing services",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{}}}}}"#,
            "roles[arn:aws:iam::1:role/a].services.s3.last_accessed",
            "missing last_accessed",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{"last_accessed":null},"S3":{"last_accessed":null}}}}}"#,
            "roles[arn:aws:iam::1:role/a].services.S3",
            "service listed twice",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{"last_accessed":null,"actions":{"ec2:RunInstances":null}}}}}}"#,
            "roles[arn:aws:iam::1:role/a].services.s3.actions.ec2:RunInstances",
            "action of service \"ec2\"",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{"last_accessed":null,"actions":{"GetObject":null,"getobject":null}}}}}}"#,
            "roles[arn:aws:iam::1:role/a].services.s3.actions.getobject",
            "action listed twice",
        ),
        (
            r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{"last_accessed":null,"actions":[]}}}}}"#,
            "roles[arn:aws:iam::1:role/a].services.s3.actions",
            "expected an object",
        ),
        (
            r#"{"version":1,"collected_at":"yesterday","roles":{}}"#,
            "collected_at",
            "not an RFC 3339 timestamp",
        ),
    ];
    for (text, place, message) in cases {
        let err = parse_native(text, now()).unwrap_err();
        assert_eq!(err.place, place, "{text}: {err}");
        assert!(err.message.contains(message), "{text}: {err}");
    }
}

#[test]
fn duplicate_json_keys_are_rejected() {
    let text = r#"{"version":1,"roles":{"arn:aws:iam::1:role/a":{"services":{"s3":{"last_accessed":null},"s3":{"last_accessed":"2026-01-01T00:00:00Z"}}}}}"#;
    let err = parse_native(text, now()).unwrap_err();
    assert_eq!(err.place, "$");
    assert!(err.message.contains("duplicate key \"s3\""), "{err}");
}

#[test]
fn collected_at_forms() {
    let collected = |v: &str| {
        let text = format!(
            r#"{{"version":1,"collected_at":{v},"roles":{{"{WEB}":{{"services":{{}}}}}}}}"#
        );
        parse_native(&text, now()).unwrap()[WEB].collected_at
    };
    assert_eq!(
        collected("\"2026-11-20T06:00:00Z\""),
        Some(time("2026-11-20T06:00:00Z"))
    );
    assert_eq!(collected("1795154400"), Some(time("2026-11-20T06:00:00Z")));
    assert_eq!(
        collected("1795154400000"),
        Some(time("2026-11-20T06:00:00Z"))
    );
    assert_eq!(collected("null"), None);
    assert_eq!(collected("0"), None);
    // A little clock skew is tolerated; a collection time further in the future is stale.
    assert_eq!(
        collected("\"2026-11-20T12:03:00Z\""),
        Some(time("2026-11-20T12:03:00Z"))
    );
    assert_eq!(collected("\"2026-11-21T00:00:00Z\""), None);
    assert_eq!(collected("1795240800"), None);
}

#[test]
fn round_trips_through_the_writer() {
    let mut actions = BTreeMap::new();
    actions.insert("getobject".to_string(), at("2026-11-01T12:00:00.250Z"));
    actions.insert("putobject".to_string(), LastAccessed::Never);
    actions.insert(
        "createbucket".to_string(),
        LastAccessed::Malformed("154578762".into()),
    );
    let mut services = BTreeMap::new();
    services.insert(
        "s3".to_string(),
        ServiceUsage {
            last_accessed: at("2026-11-01T12:00:00Z"),
            actions: Some(actions),
        },
    );
    services.insert(
        "ec2".to_string(),
        ServiceUsage {
            last_accessed: LastAccessed::Never,
            actions: None,
        },
    );
    services.insert(
        "sqs".to_string(),
        ServiceUsage {
            last_accessed: LastAccessed::Malformed("2099-01-01T00:00:00Z".into()),
            actions: None,
        },
    );
    services.insert(
        "kms".to_string(),
        ServiceUsage {
            last_accessed: LastAccessed::Never,
            actions: Some(BTreeMap::new()),
        },
    );
    let mut usage = UsageByArn::new();
    usage.insert(
        WEB.to_string(),
        RoleUsage {
            collected_at: Some(time("2026-11-20T06:00:00Z")),
            services,
        },
    );
    usage.insert(
        "arn:aws:iam::123456789012:role/empty".to_string(),
        RoleUsage::default(),
    );

    let text = to_native_json(&usage);
    assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
    assert!(
        text.contains("\"getobject\": \"2026-11-01T12:00:00.250Z\""),
        "{text}"
    );
    assert!(text.contains("\"createbucket\": \"154578762\""), "{text}");
    assert_eq!(parse_native(&text, now()).unwrap(), usage);
    assert_eq!(to_native_json(&parse_native(&text, now()).unwrap()), text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_native(&text, now());
    }

    #[test]
    fn never_panics_on_arbitrary_json(value in arb_json()) {
        let _ = parse_native(&value.to_string(), now());
        let role = serde_json::json!({"version": 1, "roles": {WEB: value.clone()}});
        let _ = parse_native(&role.to_string(), now());
        let service = serde_json::json!({"version": 1, "roles": {WEB: {"services": {"s3": value}}}});
        let _ = parse_native(&service.to_string(), now());
    }
}
