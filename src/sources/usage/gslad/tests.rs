//! Tests of the GetServiceLastAccessedDetails reader.

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::sources::usage::test_support::arb_json;

const WEB: &str = "arn:aws:iam::123456789012:role/web";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn at(s: &str) -> LastAccessed {
    LastAccessed::At(time(s))
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// `aws iam get-service-last-accessed-details --job-id …` for a service-level job.
const SERVICE_LEVEL: &str = r#"{
        "JobStatus": "COMPLETED",
        "JobType": "SERVICE_LEVEL",
        "JobCreationDate": "2026-11-20T10:00:00.123000+00:00",
        "ServicesLastAccessed": [
            {
                "ServiceName": "Amazon S3",
                "LastAuthenticated": "2026-11-01T12:00:00+00:00",
                "ServiceNamespace": "s3",
                "LastAuthenticatedEntity": "arn:aws:iam::123456789012:role/web",
                "LastAuthenticatedRegion": "us-east-1",
                "TotalAuthenticatedEntities": 1
            },
            {
                "ServiceName": "Amazon Simple Queue Service",
                "ServiceNamespace": "sqs",
                "TotalAuthenticatedEntities": 0
            },
            {
                "ServiceName": "AWS Key Management Service",
                "LastAuthenticated": "2099-01-01T00:00:00+00:00",
                "ServiceNamespace": "KMS",
                "TotalAuthenticatedEntities": 1
            }
        ],
        "JobCompletionDate": "2026-11-20T10:00:04.456000+00:00",
        "IsTruncated": false
    }"#;

/// An action-level job: S3 and IAM track actions, SNS does not.
const ACTION_LEVEL: &str = r#"{
        "JobStatus": "COMPLETED",
        "JobType": "ACTION_LEVEL",
        "JobCreationDate": "2026-11-20T10:00:00+00:00",
        "ServicesLastAccessed": [
            {
                "ServiceName": "Amazon S3",
                "LastAuthenticated": "2026-11-01T12:00:00+00:00",
                "ServiceNamespace": "s3",
                "LastAuthenticatedEntity": "arn:aws:iam::123456789012:role/web",
                "LastAuthenticatedRegion": "us-east-1",
                "TotalAuthenticatedEntities": 1,
                "TrackedActionsLastAccessed": [
                    {
                        "ActionName": "CreateBucket",
                        "LastAccessedEntity": "arn:aws:iam::123456789012:role/web",
                        "LastAccessedRegion": "us-east-1",
                        "LastAccessedTime": "2026-11-01T12:00:00+00:00"
                    },
                    { "ActionName": "DeleteBucket" },
                    { "ActionName": "PutBucketPolicy", "LastAccessedTime": 1762000000.75 }
                ]
            },
            {
                "ServiceName": "AWS Identity and Access Management",
                "ServiceNamespace": "iam",
                "TotalAuthenticatedEntities": 0,
                "TrackedActionsLastAccessed": [ { "ActionName": "CreateRole" } ]
            },
            {
                "ServiceName": "Amazon SNS",
                "LastAuthenticated": 1762000000,
                "ServiceNamespace": "sns",
                "TotalAuthenticatedEntities": 1
            }
        ],
        "JobCompletionDate": "2026-11-20T10:00:05+00:00",
        "IsTruncated": false
    }"#;

#[test]
fn reads_a_service_level_response() {
    let role = parse_gslad(SERVICE_LEVEL, now()).unwrap();
    assert_eq!(role.collected_at, Some(time("2026-11-20T10:00:04.456Z")));
    assert_eq!(role.services.len(), 3);
    assert_eq!(
        role.services["s3"].last_accessed,
        at("2026-11-01T12:00:00Z")
    );
    assert_eq!(role.services["s3"].actions, None);
    assert_eq!(role.services["sqs"].last_accessed, LastAccessed::Never);
    assert!(
        matches!(
            role.services["kms"].last_accessed,
            LastAccessed::Malformed(_)
        ),
        "future: malformed, hence used; namespace lowercased"
    );
}

#[test]
fn reads_an_action_level_response() {
    let role = parse_gslad(ACTION_LEVEL, now()).unwrap();
    assert_eq!(role.collected_at, Some(time("2026-11-20T10:00:05Z")));
    let s3 = &role.services["s3"];
    assert_eq!(s3.last_accessed, at("2026-11-01T12:00:00Z"));
    let actions = s3.actions.as_ref().unwrap();
    assert_eq!(actions.len(), 3);
    assert_eq!(actions["createbucket"], at("2026-11-01T12:00:00Z"));
    assert_eq!(
        actions["deletebucket"],
        LastAccessed::Never,
        "tracked but never used"
    );
    assert_eq!(
        actions["putbucketpolicy"],
        at("2025-11-01T12:26:40Z"),
        "epoch seconds, fraction dropped"
    );
    let iam = &role.services["iam"];
    assert_eq!(iam.last_accessed, LastAccessed::Never);
    assert_eq!(
        iam.actions.as_ref().unwrap()["createrole"],
        LastAccessed::Never
    );
    let sns = &role.services["sns"];
    assert_eq!(sns.last_accessed, at("2025-11-01T12:26:40Z"));
    assert_eq!(
        sns.actions, None,
        "no action-level tracking for this service"
    );
}

#[test]
fn service_level_ignores_tracked_actions() {
    let text = ACTION_LEVEL.replace("\"ACTION_LEVEL\"", "\"SERVICE_LEVEL\"");
    let role = parse_gslad(&text, now()).unwrap();
    assert!(role.services.values().all(|s| s.actions.is_none()));
    let text = ACTION_LEVEL.replace("\"JobType\": \"ACTION_LEVEL\",", "");
    let role = parse_gslad(&text, now()).unwrap();
    assert!(
        role.services.values().all(|s| s.actions.is_none()),
        "no JobType: service level"
    );
}

fn last_authenticated(v: &str) -> LastAccessed {
    let text = format!(
        r#"{{"JobStatus":"COMPLETED","ServicesLastAccessed":[{{"ServiceNamespace":"s3","LastAuthenticated":{v}}}]}}"#
    );
    parse_gslad(&text, now()).unwrap().services["s3"]
        .last_accessed
        .clone()
}

#[test]
fn timestamp_forms() {
    assert_eq!(
        last_authenticated("1545787620000"),
        at("2018-12-26T01:27:00Z")
    );
    assert_eq!(last_authenticated("1545787620"), at("2018-12-26T01:27:00Z"));
    assert_eq!(
        last_authenticated("1545787620.999"),
        at("2018-12-26T01:27:00Z")
    );
    assert_eq!(
        last_authenticated("154578762"),
        LastAccessed::Malformed("154578762".into())
    );
    assert_eq!(last_authenticated("0"), LastAccessed::Never);
    assert_eq!(last_authenticated("null"), LastAccessed::Never);
    assert_eq!(
        last_authenticated("0.25"),
        LastAccessed::Malformed("0.25".into())
    );
    assert_eq!(
        last_authenticated("\"2026-11-01T12:00:00Z\""),
        at("2026-11-01T12:00:00Z")
    );
    assert!(matches!(
        last_authenticated("\"2026-11-20T12:00:01Z\""),
        LastAccessed::Malformed(_)
    ));
    assert!(
        matches!(last_authenticated("1795176001"), LastAccessed::Malformed(_)),
        "future"
    );
    assert!(matches!(
        last_authenticated("\"Nov 1\""),
        LastAccessed::Malformed(_)
    ));
    assert!(matches!(
        last_authenticated("true"),
        LastAccessed::Malformed(_)
    ));
}

#[test]
fn collection_time_falls_back_to_creation_then_none() {
    let text = SERVICE_LEVEL.replace(
        "\"JobCompletionDate\": \"2026-11-20T10:00:04.456000+00:00\",",
        "",
    );
    assert_eq!(
        parse_gslad(&text, now()).unwrap().collected_at,
        Some(time("2026-11-20T10:00:00.123Z"))
    );
    let text = text.replace(
        "\"JobCreationDate\": \"2026-11-20T10:00:00.123000+00:00\",",
        "",
    );
    assert_eq!(parse_gslad(&text, now()).unwrap().collected_at, None);
    let text =
        r#"{"JobStatus":"COMPLETED","JobCompletionDate":1795168800,"ServicesLastAccessed":[]}"#;
    assert_eq!(
        parse_gslad(text, now()).unwrap().collected_at,
        Some(time("2026-11-20T10:00:00Z"))
    );
    let text = r#"{"JobStatus":"COMPLETED","JobCompletionDate":"2027-01-01T00:00:00Z","ServicesLastAccessed":[]}"#;
    assert_eq!(
        parse_gslad(text, now()).unwrap().collected_at,
        None,
        "future: stale"
    );
}

#[test]
fn truncated_responses_are_rejected() {
    let text = SERVICE_LEVEL.replace(
        "\"IsTruncated\": false",
        "\"IsTruncated\": true, \"Marker\": \"abc\"",
    );
    let err = parse_gslad(&text, now()).unwrap_err();
    assert_eq!(err.place, "IsTruncated");
    assert!(
        err.message.contains("truncated response: fetch all pages"),
        "{err}"
    );

    let by_arn = format!(r#"{{"{WEB}": {text}}}"#);
    let err = parse_gslad_by_arn(&by_arn, now()).unwrap_err();
    assert_eq!(err.place, format!("{WEB}.IsTruncated"));

    let pages = format!(r#"{{"{WEB}": [{SERVICE_LEVEL}, {text}]}}"#);
    let err = parse_gslad_by_arn(&pages, now()).unwrap_err();
    assert_eq!(
        err.place,
        format!("{WEB}[1].IsTruncated"),
        "the last page must not be truncated"
    );
}

#[test]
fn pages_are_merged() {
    let page1 = r#"{"JobStatus":"COMPLETED","JobType":"ACTION_LEVEL","JobCompletionDate":"2026-11-20T10:00:05Z",
            "ServicesLastAccessed":[
              {"ServiceNamespace":"s3","LastAuthenticated":"2026-11-01T12:00:00Z",
               "TrackedActionsLastAccessed":[{"ActionName":"CreateBucket","LastAccessedTime":"2026-11-01T12:00:00Z"}]},
              {"ServiceNamespace":"ec2"}],
            "IsTruncated":true,"Marker":"page2"}"#;
    let page2 = r#"{"JobStatus":"COMPLETED","JobType":"ACTION_LEVEL","JobCompletionDate":"2026-11-20T10:00:06Z",
            "ServicesLastAccessed":[
              {"ServiceNamespace":"sqs","LastAuthenticated":"2026-10-01T00:00:00Z"},
              {"ServiceNamespace":"ec2","LastAuthenticated":"2026-09-01T00:00:00Z"}],
            "IsTruncated":false}"#;
    let text = format!(
        r#"{{"{WEB}": [{page1}, {page2}], "arn:aws:iam::123456789012:role/batch": {SERVICE_LEVEL}}}"#
    );
    let usage = parse_gslad_by_arn(&text, now()).unwrap();
    assert_eq!(usage.len(), 2);
    let web = &usage[WEB];
    assert_eq!(
        web.collected_at,
        Some(time("2026-11-20T10:00:05Z")),
        "oldest page"
    );
    assert_eq!(web.services.len(), 3);
    assert_eq!(
        web.services["ec2"].last_accessed,
        at("2026-09-01T00:00:00Z"),
        "most recent use kept"
    );
    assert_eq!(
        web.services["sqs"].last_accessed,
        at("2026-10-01T00:00:00Z")
    );
    assert_eq!(
        web.services["s3"].actions.as_ref().unwrap()["createbucket"],
        at("2026-11-01T12:00:00Z")
    );
    assert_eq!(
        usage["arn:aws:iam::123456789012:role/batch"],
        parse_gslad(SERVICE_LEVEL, now()).unwrap()
    );

    // parse_gslad takes the same array of pages.
    assert_eq!(
        &parse_gslad(&format!("[{page1}, {page2}]"), now()).unwrap(),
        web
    );
}

#[test]
fn unfinished_jobs_are_rejected() {
    let failed = r#"{"JobStatus":"FAILED","JobType":"SERVICE_LEVEL","JobCreationDate":"2026-11-20T10:00:00Z",
            "ServicesLastAccessed":[],"Error":{"Message":"Rate exceeded","Code":"Throttling"}}"#;
    let err = parse_gslad(failed, now()).unwrap_err();
    assert_eq!(err.place, "JobStatus");
    assert_eq!(err.message, "job FAILED: Throttling: Rate exceeded");

    let err = parse_gslad(r#"{"JobStatus":"FAILED"}"#, now()).unwrap_err();
    assert!(err.message.starts_with("job FAILED"), "{err}");

    let text = format!(
        r#"{{"{WEB}": {{"JobStatus":"IN_PROGRESS","JobCreationDate":"2026-11-20T10:00:00Z"}}}}"#
    );
    let err = parse_gslad_by_arn(&text, now()).unwrap_err();
    assert_eq!(err.place, format!("{WEB}.JobStatus"));
    assert!(err.message.contains("\"IN_PROGRESS\""), "{err}");
}

#[test]
fn duplicate_json_keys_are_rejected() {
    let text = r#"{"JobStatus":"COMPLETED","ServicesLastAccessed":[{"ServiceNamespace":"s3","ServiceNamespace":"ec2"}]}"#;
    let err = parse_gslad(text, now()).unwrap_err();
    assert_eq!(err.place, "$");
    assert!(
        err.message.contains("duplicate key \"ServiceNamespace\""),
        "{err}"
    );
}

#[test]
fn structural_errors_carry_a_place() {
    let single = |s: &str| parse_gslad(s, now()).unwrap_err();
    let by_arn = |s: &str| parse_gslad_by_arn(s, now()).unwrap_err();
    let cases = [
        (
            single("\"COMPLETED\""),
            "$",
            "expected a GetServiceLastAccessedDetails response",
        ),
        (single("[]"), "$", "no response pages"),
        (
            single(r#"{"ServicesLastAccessed":[]}"#),
            "JobStatus",
            "missing JobStatus",
        ),
        (
            single(r#"{"JobStatus":"COMPLETED"}"#),
            "ServicesLastAccessed",
            "missing ServicesLastAccessed",
        ),
        (
            single(
                r#"{"JobStatus":"COMPLETED","JobType":"RESOURCE_LEVEL","ServicesLastAccessed":[]}"#,
            ),
            "JobType",
            "unknown JobType",
        ),
        (
            single(r#"{"JobStatus":"COMPLETED","IsTruncated":"no","ServicesLastAccessed":[]}"#),
            "IsTruncated",
            "expected a boolean",
        ),
        (
            by_arn(&format!(
                r#"{{"{WEB}": {{"JobStatus":"COMPLETED","ServicesLastAccessed":[{{"ServiceNamespace":"s3"}},{{"ServiceName":"Amazon EC2"}}]}}}}"#
            )),
            "arn:aws:iam::123456789012:role/web.ServicesLastAccessed[1].ServiceNamespace",
            "missing ServiceNamespace",
        ),
        (
            by_arn(&format!(
                r#"{{"{WEB}": [{{"JobStatus":"COMPLETED","JobType":"ACTION_LEVEL","ServicesLastAccessed":[{{"ServiceNamespace":"s3","TrackedActionsLastAccessed":[{{"LastAccessedTime":null}}]}}]}}]}}"#
            )),
            "arn:aws:iam::123456789012:role/web[0].ServicesLastAccessed[0].TrackedActionsLastAccessed[0].ActionName",
            "missing ActionName",
        ),
        (
            by_arn(SERVICE_LEVEL),
            "$",
            "single GetServiceLastAccessedDetails response",
        ),
        (by_arn("[]"), "$", "expected an object keyed by role ARN"),
        (
            by_arn(&format!(r#"{{"web": {SERVICE_LEVEL}}}"#)),
            "web",
            "expected a role ARN",
        ),
        (
            by_arn(&format!(r#"{{"{WEB}": []}}"#)),
            WEB,
            "no response pages",
        ),
        (
            by_arn(&format!(r#"{{"{WEB}": [1]}}"#)),
            "arn:aws:iam::123456789012:role/web[0]",
            "expected a response page",
        ),
    ];
    for (err, place, message) in cases {
        assert_eq!(err.place, place, "{err}");
        assert!(err.message.contains(message), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = parse_gslad(&text, now());
        let _ = parse_gslad_by_arn(&text, now());
    }

    #[test]
    fn never_panics_on_arbitrary_json(value in arb_json()) {
        let text = value.to_string();
        let _ = parse_gslad(&text, now());
        let _ = parse_gslad_by_arn(&text, now());
        let service = serde_json::json!({
            "JobStatus": "COMPLETED", "JobType": "ACTION_LEVEL", "ServicesLastAccessed": [value.clone()]
        });
        let _ = parse_gslad(&service.to_string(), now());
        let _ = parse_gslad_by_arn(&serde_json::json!({ WEB: [value] }).to_string(), now());
    }
}
