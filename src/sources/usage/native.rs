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
//! (`last_acessed`) would otherwise drop data silently.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::UsageError;
use super::shared::{
    check_arn, collected_at_from_epoch, epoch_number, join, kind, parse_json, short,
};
use crate::engine::json::parse_strict_streaming;
use crate::engine::usage::{
    LastAccessed, RoleUsage, ServiceUsage, UsageByArn, plausible_collected_at,
};

/// The format version this module reads and writes.
pub const NATIVE_VERSION: u64 = 1;

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

#[cfg(test)]
mod tests;
