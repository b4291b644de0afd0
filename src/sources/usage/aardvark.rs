//! Aardvark's `POST /api/1/advisors` response: an object mapping each role ARN to an array of
//! Access Advisor entries, plus the paging keys `count`, `page` and `total`.
//!
//! ```json
//! {
//!   "count": 1, "page": 1, "total": 1,
//!   "arn:aws:iam::123456789012:role/app-a": [
//!     {"lastAuthenticated": 1700000000000, "lastAuthenticatedEntity": "arn:aws:iam::123456789012:role/app-a",
//!      "lastUpdated": "Tue, 14 Nov 2023 22:13:20 GMT", "serviceName": "Amazon S3",
//!      "serviceNamespace": "s3", "totalAuthenticatedEntities": 1}
//!   ]
//! }
//! ```
//!
//! `lastAuthenticated` is normalised exactly as Repokid does ([`LastAccessed::from_epoch`]); a value
//! that is not an integer is malformed, which counts as used. The role's `collected_at` is the
//! oldest `lastUpdated` of its entries, and unknown when any of them cannot be read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use super::UsageError;
use super::shared::{check_arn, epoch_number, join, kind, parse_json, short};
use crate::engine::usage::{
    LastAccessed, RoleUsage, ServiceUsage, UsageByArn, add_service, plausible_collected_at,
};

/// Top-level keys of an Aardvark response that carry paging information, not role data.
const PAGING_KEYS: &[&str] = &["count", "page", "total"];

/// Parses the text of an Aardvark `/api/1/advisors` response (duplicate JSON keys are errors).
pub fn parse_aardvark(text: &str, now: DateTime<Utc>) -> Result<UsageByArn, UsageError> {
    aardvark_from_value(&parse_json(text)?, now)
}

/// Reads an already-parsed Aardvark `/api/1/advisors` response. Several pages' role keys can be
/// merged into one object first; the paging keys are skipped.
pub fn aardvark_from_value(value: &Value, now: DateTime<Utc>) -> Result<UsageByArn, UsageError> {
    let Value::Object(top) = value else {
        return Err(UsageError::new(
            "$",
            format!(
                "expected an object keyed by role ARN (Aardvark's /api/1/advisors response), got {}",
                kind(value)
            ),
        ));
    };
    let mut out = UsageByArn::new();
    for (key, v) in top {
        if PAGING_KEYS.contains(&key.as_str()) {
            if v.is_number() {
                continue;
            }
            return Err(UsageError::new(
                key.as_str(),
                format!("expected a number (Aardvark paging key), got {}", kind(v)),
            ));
        }
        check_arn(key, key)?;
        let entries = match v {
            Value::Array(entries) => entries,
            Value::Object(_) => {
                return Err(UsageError::new(
                    key.as_str(),
                    "expected an array of entries, got an object (a combine=true response has no \
                     per-role data and is not accepted)",
                ));
            }
            other => {
                return Err(UsageError::new(
                    key.as_str(),
                    format!("expected an array of entries, got {}", kind(other)),
                ));
            }
        };
        out.insert(key.clone(), parse_role(key, entries, now)?);
    }
    Ok(out)
}

fn parse_role(arn: &str, entries: &[Value], now: DateTime<Utc>) -> Result<RoleUsage, UsageError> {
    let mut services = BTreeMap::new();
    // The oldest lastUpdated seen; `None` once one entry has none (or there are no entries).
    let mut collected_at: Option<DateTime<Utc>> = None;
    let mut all_dated = !entries.is_empty();
    for (i, entry) in entries.iter().enumerate() {
        let place = format!("{arn}[{i}]");
        let Value::Object(entry) = entry else {
            return Err(UsageError::new(
                place,
                format!("expected an entry object, got {}", kind(entry)),
            ));
        };
        let namespace = match entry.get("serviceNamespace") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_ascii_lowercase(),
            Some(Value::String(_)) => {
                return Err(UsageError::new(
                    join(&place, "serviceNamespace"),
                    "empty service namespace",
                ));
            }
            Some(other) => {
                return Err(UsageError::new(
                    join(&place, "serviceNamespace"),
                    format!("expected a string, got {}", kind(other)),
                ));
            }
            None => {
                return Err(UsageError::new(
                    join(&place, "serviceNamespace"),
                    "missing serviceNamespace",
                ));
            }
        };
        let last_accessed = match entry.get("lastAuthenticated") {
            Some(Value::Number(n)) => epoch_number(n, now, false),
            Some(Value::String(s)) => LastAccessed::Malformed(s.clone()),
            Some(other) => LastAccessed::Malformed(short(other)),
            None => {
                return Err(UsageError::new(
                    join(&place, "lastAuthenticated"),
                    "missing lastAuthenticated (0 means never)",
                ));
            }
        };
        match entry
            .get("lastUpdated")
            .and_then(Value::as_str)
            .and_then(|s| parse_last_updated(s, now))
        {
            Some(t) => collected_at = Some(collected_at.map_or(t, |c| c.min(t))),
            None => all_dated = false,
        }
        add_service(
            &mut services,
            namespace,
            ServiceUsage {
                last_accessed,
                actions: None,
            },
        );
    }
    Ok(RoleUsage {
        collected_at: collected_at.filter(|_| all_dated),
        services,
    })
}

/// Reads Aardvark's `lastUpdated`: an HTTP date (RFC 2822, `Thu, 17 Dec 2020 02:01:36 GMT`), an
/// RFC 3339 timestamp, or `2020-12-17 02:01:36[.f]` (with a space or `T`) taken as UTC.
/// Unreadable or implausibly future times give `None`.
fn parse_last_updated(s: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let t = DateTime::parse_from_rfc2822(s)
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                .map(|t| t.and_utc())
        })?;
    plausible_collected_at(t, now)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::super::test_support::arb_json;
    use super::*;

    const APP_A: &str = "arn:aws:iam::123456789012:role/service/app-a";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).unwrap()
    }

    fn at(s: &str) -> LastAccessed {
        LastAccessed::At(time(s))
    }

    fn time(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// As Aardvark 0.4.1 answered Repokid's `POST /api/1/advisors?count=1000&page=1`.
    const RESPONSE: &str = r#"{
      "arn:aws:iam::123456789012:role/service/app-a": [
        {"lastAuthenticated": 1794871288219, "lastAuthenticatedEntity": "arn:aws:iam::123456789012:role/service/app-a",
         "lastUpdated": "Sat, 21 Nov 2026 23:21:28 GMT", "serviceName": "Amazon S3",
         "serviceNamespace": "s3", "totalAuthenticatedEntities": 1},
        {"lastAuthenticated": 0, "lastAuthenticatedEntity": null,
         "lastUpdated": "Sat, 21 Nov 2026 23:21:28 GMT", "serviceName": "Amazon SQS",
         "serviceNamespace": "sqs", "totalAuthenticatedEntities": 0},
        {"lastAuthenticated": 1545787620, "lastAuthenticatedEntity": null,
         "lastUpdated": "Sat, 21 Nov 2026 23:21:28 GMT", "serviceName": "AWS Key Management Service",
         "serviceNamespace": "KMS", "totalAuthenticatedEntities": 1}
      ],
      "arn:aws:iam::123456789012:role/service/app-b": [],
      "count": 2, "page": 1, "total": 2
    }"#;

    #[test]
    fn reads_a_real_response() {
        let usage = parse_aardvark(RESPONSE, now()).unwrap();
        assert_eq!(usage.len(), 2, "paging keys are not roles");
        let a = &usage[APP_A];
        assert_eq!(a.collected_at, Some(time("2026-11-21T23:21:28Z")));
        assert_eq!(a.services.len(), 3);
        assert_eq!(a.services["s3"].last_accessed, at("2026-11-16T23:21:28Z"));
        assert_eq!(a.services["s3"].actions, None);
        assert_eq!(a.services["sqs"].last_accessed, LastAccessed::Never);
        assert_eq!(
            a.services["kms"].last_accessed,
            at("2018-12-26T01:27:00Z"),
            "namespace lowercased"
        );

        let b = &usage["arn:aws:iam::123456789012:role/service/app-b"];
        assert!(b.services.is_empty());
        assert_eq!(b.collected_at, None, "no entries, no collection time");
    }

    fn last_authenticated(v: &str) -> LastAccessed {
        let text = format!(
            r#"{{"{APP_A}": [{{"serviceNamespace": "s3", "lastAuthenticated": {v}, "lastUpdated": "Sat, 21 Nov 2026 23:21:28 GMT"}}]}}"#
        );
        parse_aardvark(&text, now()).unwrap()[APP_A].services["s3"]
            .last_accessed
            .clone()
    }

    #[test]
    fn repokid_timestamp_vectors() {
        assert_eq!(
            last_authenticated("1545787620000"),
            at("2018-12-26T01:27:00Z")
        );
        assert_eq!(last_authenticated("1545787620"), at("2018-12-26T01:27:00Z"));
        assert_eq!(
            last_authenticated("154578762"),
            LastAccessed::Malformed("154578762".into())
        );
        assert_eq!(last_authenticated("0"), LastAccessed::Never);
        assert_eq!(
            last_authenticated("-1"),
            LastAccessed::Malformed("-1".into())
        );
        // Now (the current second) or later: malformed, hence used.
        assert!(matches!(
            last_authenticated("1795305600000"),
            LastAccessed::Malformed(_)
        ));
        assert!(matches!(
            last_authenticated("1795305600"),
            LastAccessed::Malformed(_)
        ));
    }

    #[test]
    fn odd_last_authenticated_values_are_malformed_not_errors() {
        assert_eq!(
            last_authenticated("1545787620000.5"),
            LastAccessed::Malformed("1545787620000.5".into())
        );
        assert_eq!(
            last_authenticated("0.5"),
            LastAccessed::Malformed("0.5".into())
        );
        assert_eq!(
            last_authenticated("1545787620000.0"),
            at("2018-12-26T01:27:00Z"),
            "integral float"
        );
        assert_eq!(
            last_authenticated("\"1545787620000\""),
            LastAccessed::Malformed("1545787620000".into())
        );
        assert_eq!(
            last_authenticated("null"),
            LastAccessed::Malformed("null".into())
        );
        assert_eq!(
            last_authenticated("[1]"),
            LastAccessed::Malformed("[1]".into())
        );
        assert_eq!(
            last_authenticated("18446744073709551615"),
            LastAccessed::Malformed("18446744073709551615".into())
        );
    }

    fn collected_at(updated: &[&str]) -> Option<DateTime<Utc>> {
        let entries: Vec<Value> = updated
            .iter()
            .enumerate()
            .map(|(i, u)| {
                serde_json::json!({"serviceNamespace": format!("svc{i}"), "lastAuthenticated": 0, "lastUpdated": u})
            })
            .collect();
        let value = serde_json::json!({ APP_A: entries });
        aardvark_from_value(&value, now()).unwrap()[APP_A].collected_at
    }

    #[test]
    fn last_updated_formats_and_the_oldest_wins() {
        assert_eq!(
            collected_at(&["Thu, 17 Dec 2020 02:01:36 GMT"]),
            Some(time("2020-12-17T02:01:36Z"))
        );
        assert_eq!(
            collected_at(&["Thu, 17 Dec 2020 02:01:36 +0100"]),
            Some(time("2020-12-17T01:01:36Z"))
        );
        assert_eq!(
            collected_at(&["2020-12-17 02:01:36"]),
            Some(time("2020-12-17T02:01:36Z"))
        );
        assert_eq!(
            collected_at(&["2020-12-17 02:01:36.123456"]),
            Some(time("2020-12-17T02:01:36.123456Z"))
        );
        assert_eq!(
            collected_at(&["2020-12-17T02:01:36"]),
            Some(time("2020-12-17T02:01:36Z"))
        );
        assert_eq!(
            collected_at(&["2020-12-17T02:01:36+00:00"]),
            Some(time("2020-12-17T02:01:36Z"))
        );
        assert_eq!(
            collected_at(&[
                "Sat, 21 Nov 2026 23:21:28 GMT",
                "2026-11-01 00:00:00",
                "2026-11-21T00:00:00Z"
            ]),
            Some(time("2026-11-01T00:00:00Z")),
            "fail closed: the oldest refresh counts"
        );
        // One unreadable (or absurdly future) lastUpdated makes the whole role stale, not an error.
        assert_eq!(
            collected_at(&["Sat, 21 Nov 2026 23:21:28 GMT", "last week"]),
            None
        );
        assert_eq!(
            collected_at(&["Sat, 21 Nov 2026 23:21:28 GMT", "2027-01-01T00:00:00Z"]),
            None
        );
        let value = serde_json::json!({ APP_A: [
            {"serviceNamespace": "s3", "lastAuthenticated": 0, "lastUpdated": "Sat, 21 Nov 2026 23:21:28 GMT"},
            {"serviceNamespace": "ec2", "lastAuthenticated": 0}
        ]});
        assert_eq!(
            aardvark_from_value(&value, now()).unwrap()[APP_A].collected_at,
            None
        );
    }

    #[test]
    fn a_repeated_namespace_keeps_the_most_recent_use() {
        let services = |values: &[&str]| {
            let entries: Vec<String> = values
                .iter()
                .map(|v| format!(r#"{{"serviceNamespace": "s3", "lastAuthenticated": {v}}}"#))
                .collect();
            let text = format!(r#"{{"{APP_A}": [{}]}}"#, entries.join(","));
            parse_aardvark(&text, now()).unwrap()[APP_A].services["s3"]
                .last_accessed
                .clone()
        };
        assert_eq!(
            services(&["0", "1545787620000"]),
            at("2018-12-26T01:27:00Z")
        );
        assert_eq!(
            services(&["1545787620000", "0"]),
            at("2018-12-26T01:27:00Z")
        );
        assert_eq!(
            services(&["1545787620000", "1600000000000", "1545787620"]),
            at("2020-09-13T12:26:40Z")
        );
        assert_eq!(
            services(&["1600000000000", "\"bogus\"", "0"]),
            LastAccessed::Malformed("bogus".into())
        );
        assert_eq!(services(&["0", "0"]), LastAccessed::Never);
    }

    #[test]
    fn duplicate_json_keys_are_rejected() {
        let text = format!(
            r#"{{"{APP_A}": [{{"serviceNamespace": "s3", "lastAuthenticated": 0, "lastAuthenticated": 1545787620000}}]}}"#
        );
        let err = parse_aardvark(&text, now()).unwrap_err();
        assert_eq!(err.place, "$");
        assert!(
            err.message.contains("duplicate key \"lastAuthenticated\""),
            "{err}"
        );
        let text = format!(r#"{{"{APP_A}": [], "{APP_A}": []}}"#);
        assert!(parse_aardvark(&text, now()).is_err());
    }

    #[test]
    fn structural_errors_carry_a_place() {
        let cases = [
            (
                "[]".to_string(),
                "$",
                "expected an object keyed by role ARN",
            ),
            ("{\"count\": \"2\"}".to_string(), "count", "paging key"),
            (
                "{\"app-a\": []}".to_string(),
                "app-a",
                "expected a role ARN",
            ),
            (format!(r#"{{"{APP_A}": {{}}}}"#), APP_A, "combine=true"),
            (
                format!(r#"{{"{APP_A}": null}}"#),
                APP_A,
                "expected an array of entries",
            ),
            (
                format!(
                    r#"{{"{APP_A}": [{{"serviceNamespace": "s3", "lastAuthenticated": 0}}, "s3"]}}"#
                ),
                "arn:aws:iam::123456789012:role/service/app-a[1]",
                "expected an entry object",
            ),
            (
                format!(
                    r#"{{"{APP_A}": [{{"serviceNamespace": "s3", "lastAuthenticated": 0}}, {{"lastAuthenticated": 0}}]}}"#
                ),
                "arn:aws:iam::123456789012:role/service/app-a[1].serviceNamespace",
                "missing serviceNamespace",
            ),
            (
                format!(r#"{{"{APP_A}": [{{"serviceNamespace": 3, "lastAuthenticated": 0}}]}}"#),
                "arn:aws:iam::123456789012:role/service/app-a[0].serviceNamespace",
                "expected a string",
            ),
            (
                format!(r#"{{"{APP_A}": [{{"serviceNamespace": "s3"}}]}}"#),
                "arn:aws:iam::123456789012:role/service/app-a[0].lastAuthenticated",
                "missing lastAuthenticated",
            ),
            ("{\"a\":".to_string(), "$", "invalid JSON"),
        ];
        for (text, place, message) in cases {
            let err = parse_aardvark(&text, now()).unwrap_err();
            assert_eq!(err.place, place, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse_aardvark(&text, now());
        }

        #[test]
        fn never_panics_on_arbitrary_json(value in arb_json()) {
            let _ = parse_aardvark(&value.to_string(), now());
            let _ = aardvark_from_value(&value, now());
            let _ = aardvark_from_value(&serde_json::json!({ APP_A: [value.clone()] }), now());
            let _ = aardvark_from_value(&serde_json::json!({ APP_A: value }), now());
        }
    }
}
