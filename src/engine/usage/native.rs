//! repokid's own usage file format, version 1 (specified in `docs/usage-format.md`).
//!
//! ```json
//! {
//!   "version": 1,
//!   "collected_at": "2026-11-20T06:00:00Z",
//!   "roles": {
//!     "arn:aws:iam::123456789012:role/web": {
//!       "collected_at": "2026-11-20T06:00:00Z",
//!       "services": {
//!         "s3":  { "last_accessed": "2026-11-01T12:00:00Z",
//!                  "actions": { "GetObject": "2026-11-01T12:00:00Z", "PutObject": null } },
//!         "ec2": { "last_accessed": null }
//!       }
//!     }
//!   }
//! }
//! ```
//!
//! The reader is strict: an unknown key anywhere is an error, because a misspelt key
//! (`last_acessed`) would otherwise drop data silently. The module also holds the small helpers
//! the Aardvark and GSLAD parsers share (timestamp normalisation and merging).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Map, Number, Value};

use super::{LastAccessed, RoleUsage, ServiceUsage, UsageByArn, UsageError};
use crate::engine::json::{parse_strict, parse_strict_streaming};

/// The format version this module reads and writes.
pub const NATIVE_VERSION: u64 = 1;

/// How far a collection time may lie in the future (clock skew between the collector and this
/// machine) before it is judged implausible and the data is treated as stale.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

const TOP_KEYS: &[&str] = &["version", "collected_at", "roles"];
const ROLE_KEYS: &[&str] = &["collected_at", "services"];
const SERVICE_KEYS: &[&str] = &["last_accessed", "actions"];

/// Parses a usage document in repokid's native format (version 1).
///
/// Timestamps are normalised against `now`: RFC 3339 strings via [`LastAccessed::from_rfc3339`],
/// epoch numbers via [`LastAccessed::from_epoch`] (fractions truncated), `null` is never. An
/// unknown key, a wrong `version` or a value of the wrong type is an error whose `place` names
/// where it is (`roles[arn:…].services.s3.last_accessed`).
pub fn parse_native(text: &str, now: DateTime<Utc>) -> Result<UsageByArn, UsageError> {
    // Roles are converted as they are read, so a document for thousands of roles never exists as
    // one JSON tree. Errors inside roles are held back until the version has been checked: a
    // later version may well have keys this reader does not know.
    let mut out = UsageByArn::new();
    let mut inherit: Vec<String> = Vec::new();
    let mut first_error: Option<UsageError> = None;
    let streamed = parse_strict_streaming(text, "roles", |arn, role| {
        if first_error.is_some() {
            return Ok(());
        }
        let place = format!("roles[{arn}]");
        let parsed = check_arn(&arn, &place).and_then(|()| parse_role(&role, &place, None, now));
        match parsed {
            Ok(usage) => {
                if role.get("collected_at").is_none() {
                    inherit.push(arn.clone());
                }
                out.insert(arn, usage);
            }
            Err(e) => first_error = Some(e),
        }
        Ok(())
    });
    let top = match streamed {
        Ok(top) => top,
        // Not an object, or not JSON: the tree parser gives the precise message.
        Err(_) => match parse_json(text)? {
            Value::Object(_) => explain_shape_error(text)?,
            other => {
                return Err(UsageError::new(
                    "$",
                    format!("expected a usage document object, got {}", kind(&other)),
                ));
            }
        },
    };
    // The version first.
    match top.get("version") {
        None => {
            return Err(UsageError::new(
                "version",
                format!("missing version (this reader understands version {NATIVE_VERSION})"),
            ));
        }
        Some(Value::Number(n)) if n.as_u64() == Some(NATIVE_VERSION) => {}
        Some(other) => {
            return Err(UsageError::new(
                "version",
                format!(
                    "unsupported version {}: this reader understands version {NATIVE_VERSION}",
                    short(other)
                ),
            ));
        }
    }
    check_keys(&top, TOP_KEYS, "")?;
    if !top.contains_key("roles") {
        return Err(UsageError::new("roles", "missing roles"));
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let default_collected_at = match top.get("collected_at") {
        None => None,
        Some(v) => collected_at_field(v, "collected_at", now)?,
    };
    for arn in inherit {
        if let Some(role) = out.get_mut(&arn) {
            role.collected_at = default_collected_at;
        }
    }
    Ok(out)
}

/// The streaming reader failed on a document that is a JSON object: find out why with the tree
/// reader (`roles` of the wrong type, a duplicate key, …) and say so.
fn explain_shape_error(text: &str) -> Result<Map<String, Value>, UsageError> {
    let value = parse_json(text)?;
    match value.get("roles") {
        Some(other) if !other.is_object() => Err(UsageError::new(
            "roles",
            format!("expected an object keyed by role ARN, got {}", kind(other)),
        )),
        _ => Err(UsageError::new("$", "malformed usage document")),
    }
}

/// Writes usage data in the native format (pretty-printed, version 1, trailing newline).
///
/// Every role carries its own `collected_at` (`null` when unknown); `At` values are written as
/// RFC 3339 UTC strings, `Never` as `null`, and `Malformed` values as their raw text, so the
/// output reads back through [`parse_native`] to the same data (a raw value that has meanwhile
/// become a plausible past time excepted).
pub fn to_native_json(usage: &UsageByArn) -> String {
    let mut roles = Map::new();
    for (arn, role) in usage {
        let mut services = Map::new();
        for (namespace, service) in &role.services {
            let mut entry = Map::new();
            entry.insert(
                "last_accessed".to_string(),
                last_accessed_to_value(&service.last_accessed),
            );
            if let Some(actions) = &service.actions {
                let actions = actions
                    .iter()
                    .map(|(name, last)| (name.clone(), last_accessed_to_value(last)))
                    .collect();
                entry.insert("actions".to_string(), Value::Object(actions));
            }
            services.insert(namespace.clone(), Value::Object(entry));
        }
        let mut entry = Map::new();
        entry.insert(
            "collected_at".to_string(),
            role.collected_at
                .map_or(Value::Null, |t| Value::String(rfc3339(t))),
        );
        entry.insert("services".to_string(), Value::Object(services));
        roles.insert(arn.clone(), Value::Object(entry));
    }
    let mut doc = Map::new();
    doc.insert("version".to_string(), Value::from(NATIVE_VERSION));
    doc.insert("roles".to_string(), Value::Object(roles));
    format!("{:#}\n", Value::Object(doc))
}

fn parse_role(
    value: &Value,
    place: &str,
    default_collected_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<RoleUsage, UsageError> {
    let Value::Object(role) = value else {
        return Err(UsageError::new(
            place,
            format!("expected a role object, got {}", kind(value)),
        ));
    };
    check_keys(role, ROLE_KEYS, place)?;
    let collected_at = match role.get("collected_at") {
        None => default_collected_at,
        Some(v) => collected_at_field(v, &format!("{place}.collected_at"), now)?,
    };
    let services = match role.get("services") {
        None => {
            return Err(UsageError::new(
                format!("{place}.services"),
                "missing services",
            ));
        }
        Some(Value::Object(services)) => services,
        Some(other) => {
            return Err(UsageError::new(
                format!("{place}.services"),
                format!(
                    "expected an object keyed by service namespace, got {}",
                    kind(other)
                ),
            ));
        }
    };
    let mut out = RoleUsage {
        collected_at,
        services: BTreeMap::new(),
    };
    for (key, service) in services {
        let place = format!("{place}.services.{key}");
        let namespace = key.to_ascii_lowercase();
        if namespace.trim().is_empty() || namespace.contains(':') {
            return Err(UsageError::new(
                place,
                "not a service namespace (expected e.g. \"s3\")",
            ));
        }
        let usage = parse_service(service, &place, &namespace, now)?;
        if out.services.insert(namespace, usage).is_some() {
            return Err(UsageError::new(
                place,
                "service listed twice (namespaces are case-insensitive)",
            ));
        }
    }
    Ok(out)
}

fn parse_service(
    value: &Value,
    place: &str,
    namespace: &str,
    now: DateTime<Utc>,
) -> Result<ServiceUsage, UsageError> {
    let Value::Object(service) = value else {
        return Err(UsageError::new(
            place,
            format!("expected a service object, got {}", kind(value)),
        ));
    };
    check_keys(service, SERVICE_KEYS, place)?;
    let last_accessed = match service.get("last_accessed") {
        None => {
            return Err(UsageError::new(
                format!("{place}.last_accessed"),
                "missing last_accessed (use null for never)",
            ));
        }
        Some(v) => timestamp_field(v, &format!("{place}.last_accessed"), now)?,
    };
    let actions = match service.get("actions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(actions)) => {
            let mut out = BTreeMap::new();
            for (key, v) in actions {
                let place = format!("{place}.actions.{key}");
                let name = action_name(key, namespace, &place)?;
                let last = timestamp_field(v, &place, now)?;
                if out.insert(name, last).is_some() {
                    return Err(UsageError::new(
                        place,
                        "action listed twice (action names are case-insensitive)",
                    ));
                }
            }
            Some(out)
        }
        Some(other) => {
            return Err(UsageError::new(
                format!("{place}.actions"),
                format!(
                    "expected an object keyed by action name, got {}",
                    kind(other)
                ),
            ));
        }
    };
    Ok(ServiceUsage {
        last_accessed,
        actions,
    })
}

/// The lowercase action part of `key`, which may carry its service prefix (`s3:GetObject`).
fn action_name(key: &str, namespace: &str, place: &str) -> Result<String, UsageError> {
    let name = match key.split_once(':') {
        None => key,
        Some((prefix, name)) if prefix.eq_ignore_ascii_case(namespace) => name,
        Some((prefix, _)) => {
            return Err(UsageError::new(
                place,
                format!("action of service {prefix:?} listed under service {namespace:?}"),
            ));
        }
    };
    if name.trim().is_empty() || name.contains(':') {
        return Err(UsageError::new(
            place,
            "not an action name (expected e.g. \"GetObject\")",
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// A `last_accessed` or action value: `null`, an RFC 3339 string or an epoch number.
fn timestamp_field(
    value: &Value,
    place: &str,
    now: DateTime<Utc>,
) -> Result<LastAccessed, UsageError> {
    match value {
        Value::Null => Ok(LastAccessed::Never),
        Value::String(s) => Ok(LastAccessed::from_rfc3339(s, now)),
        Value::Number(n) => Ok(epoch_number(n, now, true)),
        other => Err(UsageError::new(
            place,
            format!(
                "expected an RFC 3339 string, an epoch number or null, got {}",
                kind(other)
            ),
        )),
    }
}

/// A `collected_at` value: `null` (unknown), an RFC 3339 string or an epoch number.
fn collected_at_field(
    value: &Value,
    place: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, UsageError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => Ok(plausible_collected_at(t.with_timezone(&Utc), now)),
            Err(e) => Err(UsageError::new(
                place,
                format!("not an RFC 3339 timestamp ({e}): {s:?}"),
            )),
        },
        Value::Number(n) => Ok(collected_at_from_epoch(n, now)),
        other => Err(UsageError::new(
            place,
            format!(
                "expected an RFC 3339 string, an epoch number or null, got {}",
                kind(other)
            ),
        )),
    }
}

fn last_accessed_to_value(last: &LastAccessed) -> Value {
    match last {
        LastAccessed::Never => Value::Null,
        LastAccessed::At(t) => Value::String(rfc3339(*t)),
        LastAccessed::Malformed(raw) => Value::String(raw.clone()),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn check_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    place: &str,
) -> Result<(), UsageError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(UsageError::new(
            join(place, key),
            format!("unknown key {key:?} (expected {})", allowed.join(", ")),
        )),
    }
}

// ---- Helpers shared by the three parsers -------------------------------------------------------

/// Parses JSON text strictly (duplicate keys are errors); the error's place is the document root.
pub(super) fn parse_json(text: &str) -> Result<Value, UsageError> {
    parse_strict(text).map_err(|e| UsageError::new("$", format!("invalid JSON: {e}")))
}

/// `place.key`, or just `key` at the top level (empty `place`).
pub(super) fn join(place: &str, key: &str) -> String {
    if place.is_empty() {
        key.to_string()
    } else {
        format!("{place}.{key}")
    }
}

/// Checks that a key of a by-ARN map looks like an ARN (`arn:…`).
pub(super) fn check_arn(key: &str, place: &str) -> Result<(), UsageError> {
    if key.starts_with("arn:") {
        Ok(())
    } else {
        Err(UsageError::new(
            place,
            format!("expected a role ARN (arn:aws:iam::<account>:role/<name>) as key, got {key:?}"),
        ))
    }
}

/// Normalises an epoch number as [`LastAccessed::from_epoch`] does. A non-integer number is
/// malformed unless `truncate_fraction` (then fractions of a second are dropped); a number too
/// large for `i64` is malformed. Malformed values keep the number as written.
pub(super) fn epoch_number(
    n: &Number,
    now: DateTime<Utc>,
    truncate_fraction: bool,
) -> LastAccessed {
    let malformed = || LastAccessed::Malformed(n.to_string());
    let v = if let Some(v) = n.as_i64() {
        v
    } else if n.is_u64() {
        return malformed();
    } else {
        match n.as_f64() {
            Some(0.0) => return LastAccessed::Never,
            Some(f) if f.is_finite() && (truncate_fraction || f.fract() == 0.0) => {
                // `as` saturates; a saturated value is far outside the valid range anyway.
                let v = f.trunc() as i64;
                if v == 0 {
                    // A non-zero value that truncates to 0 must not read as "never".
                    return malformed();
                }
                v
            }
            _ => return malformed(),
        }
    };
    match LastAccessed::from_epoch(v, now) {
        LastAccessed::Malformed(_) => malformed(),
        other => other,
    }
}

/// A collection time given as an epoch number (seconds or milliseconds, as Repokid reads them);
/// implausible values (zero, pre-2015, in the future beyond [`CLOCK_SKEW`]) give `None`.
pub(super) fn collected_at_from_epoch(n: &Number, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let limit = now.checked_add_signed(CLOCK_SKEW).unwrap_or(now);
    match epoch_number(n, limit, true) {
        LastAccessed::At(t) => Some(t),
        LastAccessed::Never | LastAccessed::Malformed(_) => None,
    }
}

/// A collection time later than `now` plus [`CLOCK_SKEW`] is implausible: `None` (stale).
pub(super) fn plausible_collected_at(
    t: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let limit = now.checked_add_signed(CLOCK_SKEW).unwrap_or(now);
    (t <= limit).then_some(t)
}

/// Combines two observations of the same thing, keeping the most recent use: malformed beats
/// everything (it counts as used), then the later of two times, then never.
pub(super) fn merge_last(a: LastAccessed, b: LastAccessed) -> LastAccessed {
    match (a, b) {
        (m @ LastAccessed::Malformed(_), _) | (_, m @ LastAccessed::Malformed(_)) => m,
        (LastAccessed::At(x), LastAccessed::At(y)) => LastAccessed::At(x.max(y)),
        (LastAccessed::At(t), LastAccessed::Never) | (LastAccessed::Never, LastAccessed::At(t)) => {
            LastAccessed::At(t)
        }
        (LastAccessed::Never, LastAccessed::Never) => LastAccessed::Never,
    }
}

/// Combines two observations of one service: [`merge_last`] on the service and on each action;
/// action-level data from either side is kept.
pub(super) fn merge_service(a: ServiceUsage, b: ServiceUsage) -> ServiceUsage {
    let actions = match (a.actions, b.actions) {
        (Some(mut x), Some(y)) => {
            for (name, last) in y {
                let merged = match x.remove(&name) {
                    Some(prev) => merge_last(prev, last),
                    None => last,
                };
                x.insert(name, merged);
            }
            Some(x)
        }
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    };
    ServiceUsage {
        last_accessed: merge_last(a.last_accessed, b.last_accessed),
        actions,
    }
}

/// Adds `usage` for `namespace` to `services`, merging with what is there.
pub(super) fn add_service(
    services: &mut BTreeMap<String, ServiceUsage>,
    namespace: String,
    usage: ServiceUsage,
) {
    let merged = match services.remove(&namespace) {
        Some(prev) => merge_service(prev, usage),
        None => usage,
    };
    services.insert(namespace, merged);
}

/// The JSON type of a value, for error messages.
pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as JSON for an error message, shortened to a readable length.
pub(super) fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
pub(super) mod test_support {
    //! Strategies shared by the parsers' property tests.

    use proptest::prelude::*;
    use serde_json::Value;

    const KEYS: &[&str] = &[
        "version",
        "collected_at",
        "roles",
        "services",
        "last_accessed",
        "actions",
        "arn:aws:iam::123456789012:role/a",
        "count",
        "page",
        "total",
        "lastAuthenticated",
        "lastUpdated",
        "serviceNamespace",
        "JobStatus",
        "JobType",
        "JobCompletionDate",
        "JobCreationDate",
        "ServicesLastAccessed",
        "ServiceNamespace",
        "LastAuthenticated",
        "TrackedActionsLastAccessed",
        "ActionName",
        "LastAccessedTime",
        "IsTruncated",
        "Error",
        "Message",
        "s3",
        "s3:GetObject",
    ];

    const STRINGS: &[&str] = &[
        "COMPLETED",
        "FAILED",
        "IN_PROGRESS",
        "ACTION_LEVEL",
        "SERVICE_LEVEL",
        "2020-12-17T02:01:36Z",
        "2099-01-01T00:00:00+00:00",
        "Thu, 17 Dec 2020 02:01:36 GMT",
        "2020-12-17 02:01:36",
        "s3",
        "S3",
        "GetObject",
        "s3:GetObject",
        "ec2:RunInstances",
        "",
    ];

    /// Arbitrary JSON, biased towards the keys and values the usage parsers look at.
    pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            3 => prop::sample::select(KEYS).prop_map(String::from),
            1 => any::<String>(),
        ]
        .boxed();
        let string = prop_oneof![
            2 => prop::sample::select(STRINGS).prop_map(String::from),
            1 => any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop::sample::select(
                &[0_i64, 1, 1_545_787_620_000, 1_545_787_620, 154_578_762, -1][..]
            )
            .prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
                .map(Value::Number)),
            string.prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::test_support::arb_json;
    use super::*;

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

    #[test]
    fn merging_keeps_the_most_recent_use() {
        let early = at("2026-01-01T00:00:00Z");
        let late = at("2026-02-01T00:00:00Z");
        let bad = LastAccessed::Malformed("x".into());
        assert_eq!(merge_last(early.clone(), late.clone()), late);
        assert_eq!(merge_last(late.clone(), early.clone()), late);
        assert_eq!(merge_last(LastAccessed::Never, early.clone()), early);
        assert_eq!(merge_last(early.clone(), LastAccessed::Never), early);
        assert_eq!(merge_last(late.clone(), bad.clone()), bad);
        assert_eq!(merge_last(bad.clone(), LastAccessed::Never), bad);
        assert_eq!(
            merge_last(LastAccessed::Never, LastAccessed::Never),
            LastAccessed::Never
        );
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
}
