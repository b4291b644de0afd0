//! IAM's `GetServiceLastAccessedDetails` response, as the AWS CLI prints it (PascalCase keys).
//!
//! ```json
//! {
//!   "JobStatus": "COMPLETED", "JobType": "ACTION_LEVEL",
//!   "JobCreationDate": "2026-11-20T10:00:00+00:00", "JobCompletionDate": "2026-11-20T10:00:05+00:00",
//!   "ServicesLastAccessed": [
//!     {"ServiceName": "Amazon S3", "ServiceNamespace": "s3", "LastAuthenticated": "2026-11-01T12:00:00+00:00",
//!      "TotalAuthenticatedEntities": 1,
//!      "TrackedActionsLastAccessed": [{"ActionName": "CreateBucket", "LastAccessedTime": "2026-11-01T12:00:00+00:00"}]}
//!   ],
//!   "IsTruncated": false
//! }
//! ```
//!
//! Only a `COMPLETED` job is accepted, and only a complete one: a response whose last page says
//! `IsTruncated: true` is an error, since the services on the missing pages would otherwise read as
//! never used. Absent `LastAuthenticated` / `LastAccessedTime` mean never; timestamps are RFC 3339
//! strings or (from some SDKs) epoch numbers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::native::{
    add_service, check_arn, collected_at_from_epoch, epoch_number, join, kind, merge_last,
    parse_json, plausible_collected_at, short,
};
use super::{LastAccessed, RoleUsage, ServiceUsage, UsageByArn, UsageError};

/// Parses one role's `GetServiceLastAccessedDetails` response: a response object, or an array of
/// the pages of one job (merged). Places in errors are relative to the document
/// (`ServicesLastAccessed[2].ServiceNamespace`, `[1].IsTruncated` for a page).
pub fn parse_gslad(text: &str, now: DateTime<Utc>) -> Result<RoleUsage, UsageError> {
    role_from_value(&parse_json(text)?, "", now)
}

/// Parses `GetServiceLastAccessedDetails` responses for many roles: an object keyed by role ARN
/// whose values are either a response or an array of response pages (merged).
pub fn parse_gslad_by_arn(text: &str, now: DateTime<Utc>) -> Result<UsageByArn, UsageError> {
    let value = parse_json(text)?;
    let Value::Object(top) = &value else {
        return Err(UsageError::new(
            "$",
            format!("expected an object keyed by role ARN, got {}", kind(&value)),
        ));
    };
    if top.contains_key("JobStatus") || top.contains_key("ServicesLastAccessed") {
        return Err(UsageError::new(
            "$",
            "this is a single GetServiceLastAccessedDetails response; key it by role ARN \
             ({\"arn:aws:iam::…:role/…\": response})",
        ));
    }
    let mut out = UsageByArn::new();
    for (arn, response) in top {
        check_arn(arn, arn)?;
        out.insert(arn.clone(), role_from_value(response, arn, now)?);
    }
    Ok(out)
}

/// A response or an array of pages, at `place` (empty at the document root).
fn role_from_value(
    value: &Value,
    place: &str,
    now: DateTime<Utc>,
) -> Result<RoleUsage, UsageError> {
    match value {
        Value::Object(page) => {
            let page = parse_page(page, place, now)?;
            if page.truncated {
                return Err(truncated(place));
            }
            Ok(page.usage)
        }
        Value::Array(pages) => merge_pages(pages, place, now),
        other => Err(UsageError::new(
            root(place),
            format!(
                "expected a GetServiceLastAccessedDetails response or an array of its pages, got {}",
                kind(other)
            ),
        )),
    }
}

fn merge_pages(pages: &[Value], place: &str, now: DateTime<Utc>) -> Result<RoleUsage, UsageError> {
    if pages.is_empty() {
        return Err(UsageError::new(root(place), "no response pages"));
    }
    let mut usage = RoleUsage::default();
    // Oldest collection time over the pages; unknown as soon as one page has none.
    let mut collected_at: Option<DateTime<Utc>> = None;
    let mut all_dated = true;
    for (i, page) in pages.iter().enumerate() {
        let page_place = format!("{place}[{i}]");
        let Value::Object(page) = page else {
            return Err(UsageError::new(
                page_place,
                format!("expected a response page object, got {}", kind(page)),
            ));
        };
        let page = parse_page(page, &page_place, now)?;
        if page.truncated && i + 1 == pages.len() {
            return Err(truncated(&page_place));
        }
        match page.usage.collected_at {
            Some(t) => collected_at = Some(collected_at.map_or(t, |c| c.min(t))),
            None => all_dated = false,
        }
        for (namespace, service) in page.usage.services {
            add_service(&mut usage.services, namespace, service);
        }
    }
    usage.collected_at = collected_at.filter(|_| all_dated);
    Ok(usage)
}

struct Page {
    usage: RoleUsage,
    truncated: bool,
}

fn parse_page(
    page: &Map<String, Value>,
    place: &str,
    now: DateTime<Utc>,
) -> Result<Page, UsageError> {
    check_status(page, place)?;
    let action_level = match page.get("JobType") {
        None => false,
        Some(Value::String(t)) if t == "SERVICE_LEVEL" => false,
        Some(Value::String(t)) if t == "ACTION_LEVEL" => true,
        Some(other) => {
            return Err(UsageError::new(
                join(place, "JobType"),
                format!(
                    "unknown JobType {} (expected SERVICE_LEVEL or ACTION_LEVEL)",
                    short(other)
                ),
            ));
        }
    };
    let truncated = match page.get("IsTruncated") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(UsageError::new(
                join(place, "IsTruncated"),
                format!("expected a boolean, got {}", kind(other)),
            ));
        }
    };
    let collected_at = job_date(page.get("JobCompletionDate"), now)
        .or_else(|| job_date(page.get("JobCreationDate"), now));
    let entries = match page.get("ServicesLastAccessed") {
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(UsageError::new(
                join(place, "ServicesLastAccessed"),
                format!("expected an array, got {}", kind(other)),
            ));
        }
        None => {
            return Err(UsageError::new(
                join(place, "ServicesLastAccessed"),
                "missing ServicesLastAccessed",
            ));
        }
    };
    let mut services = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let place = join(place, &format!("ServicesLastAccessed[{i}]"));
        let (namespace, usage) = parse_service(entry, &place, action_level, now)?;
        add_service(&mut services, namespace, usage);
    }
    Ok(Page {
        usage: RoleUsage {
            collected_at,
            services,
        },
        truncated,
    })
}

/// Fails unless `JobStatus` is `COMPLETED`.
fn check_status(page: &Map<String, Value>, place: &str) -> Result<(), UsageError> {
    let status_place = join(place, "JobStatus");
    match page.get("JobStatus") {
        Some(Value::String(s)) if s == "COMPLETED" => Ok(()),
        Some(Value::String(s)) if s == "FAILED" => {
            let error = page.get("Error");
            let field = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str);
            let detail = match (field("Code"), field("Message")) {
                (Some(code), Some(message)) => format!(": {code}: {message}"),
                (None, Some(message)) => format!(": {message}"),
                (Some(code), None) => format!(": {code}"),
                (None, None) => " (no error message given)".to_string(),
            };
            Err(UsageError::new(status_place, format!("job FAILED{detail}")))
        }
        Some(Value::String(s)) => Err(UsageError::new(
            status_place,
            format!(
                "job status is {s:?}, not COMPLETED: wait for the job to finish and fetch again"
            ),
        )),
        Some(other) => Err(UsageError::new(
            status_place,
            format!("expected a string, got {}", kind(other)),
        )),
        None => Err(UsageError::new(status_place, "missing JobStatus")),
    }
}

fn parse_service(
    entry: &Value,
    place: &str,
    action_level: bool,
    now: DateTime<Utc>,
) -> Result<(String, ServiceUsage), UsageError> {
    let Value::Object(entry) = entry else {
        return Err(UsageError::new(
            place,
            format!("expected a service object, got {}", kind(entry)),
        ));
    };
    let namespace = match entry.get("ServiceNamespace") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
        Some(Value::String(_)) => {
            return Err(UsageError::new(
                join(place, "ServiceNamespace"),
                "empty service namespace",
            ));
        }
        Some(other) => {
            return Err(UsageError::new(
                join(place, "ServiceNamespace"),
                format!("expected a string, got {}", kind(other)),
            ));
        }
        None => {
            return Err(UsageError::new(
                join(place, "ServiceNamespace"),
                "missing ServiceNamespace",
            ));
        }
    };
    let last_accessed = timestamp(entry.get("LastAuthenticated"), now);
    let actions = match entry.get("TrackedActionsLastAccessed") {
        // Service-level jobs carry no action data; ignore any that appears.
        _ if !action_level => None,
        None | Some(Value::Null) => None,
        Some(Value::Array(tracked)) => {
            let mut actions = BTreeMap::new();
            for (i, action) in tracked.iter().enumerate() {
                let place = join(place, &format!("TrackedActionsLastAccessed[{i}]"));
                let (name, last) = parse_action(action, &place, now)?;
                let merged = match actions.remove(&name) {
                    Some(prev) => merge_last(prev, last),
                    None => last,
                };
                actions.insert(name, merged);
            }
            Some(actions)
        }
        Some(other) => {
            return Err(UsageError::new(
                join(place, "TrackedActionsLastAccessed"),
                format!("expected an array, got {}", kind(other)),
            ));
        }
    };
    Ok((
        namespace,
        ServiceUsage {
            last_accessed,
            actions,
        },
    ))
}

fn parse_action(
    action: &Value,
    place: &str,
    now: DateTime<Utc>,
) -> Result<(String, LastAccessed), UsageError> {
    let Value::Object(action) = action else {
        return Err(UsageError::new(
            place,
            format!("expected an action object, got {}", kind(action)),
        ));
    };
    let name = match action.get("ActionName") {
        Some(Value::String(s)) => {
            // The action part only, should a prefix (`s3:CreateBucket`) ever appear.
            let name = s
                .rsplit_once(':')
                .map_or(s.as_str(), |(_, name)| name)
                .trim();
            if name.is_empty() {
                return Err(UsageError::new(
                    join(place, "ActionName"),
                    "empty action name",
                ));
            }
            name.to_ascii_lowercase()
        }
        Some(other) => {
            return Err(UsageError::new(
                join(place, "ActionName"),
                format!("expected a string, got {}", kind(other)),
            ));
        }
        None => {
            return Err(UsageError::new(
                join(place, "ActionName"),
                "missing ActionName",
            ));
        }
    };
    Ok((name, timestamp(action.get("LastAccessedTime"), now)))
}

/// A `LastAuthenticated` / `LastAccessedTime` value: absent or null is never, an RFC 3339 string
/// or an epoch number (fractions truncated) is normalised, anything else is malformed (used).
fn timestamp(value: Option<&Value>, now: DateTime<Utc>) -> LastAccessed {
    match value {
        None | Some(Value::Null) => LastAccessed::Never,
        Some(Value::String(s)) => LastAccessed::from_rfc3339(s, now),
        Some(Value::Number(n)) => epoch_number(n, now, true),
        Some(other) => LastAccessed::Malformed(short(other)),
    }
}

/// `JobCompletionDate` / `JobCreationDate`; unreadable or implausibly future values give `None`.
fn job_date(value: Option<&Value>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match value? {
        Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .and_then(|t| plausible_collected_at(t.with_timezone(&Utc), now)),
        Value::Number(n) => collected_at_from_epoch(n, now),
        _ => None,
    }
}

fn truncated(place: &str) -> UsageError {
    UsageError::new(
        join(place, "IsTruncated"),
        "truncated response: fetch all pages (follow Marker) and pass them as an array; \
         services on missing pages would otherwise look unused",
    )
}

fn root(place: &str) -> &str {
    if place.is_empty() { "$" } else { place }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::super::native::test_support::arb_json;
    use super::*;

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
}
