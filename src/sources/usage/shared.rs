//! Helpers the three usage readers share: strict JSON, error places, and reading epoch numbers
//! into the engine's [`LastAccessed`].

use chrono::{DateTime, Utc};
use serde_json::{Number, Value};

use super::UsageError;
use crate::engine::json::parse_strict;
use crate::engine::usage::{CLOCK_SKEW, LastAccessed};

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
