//! Usage data: when each service (and, with action-level data, each action) was last used.
//!
//! This is the engine's model of usage and its rules (how a timestamp is judged, which of two
//! observations wins, when a collection time is implausible). The formats that produce it
//! (Aardvark's API, IAM's `GetServiceLastAccessedDetails`, repokid's own file format) are readers
//! in `crate::sources::usage`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

/// Access Advisor timestamps at or before this instant (2015-01-01T12:00:00Z, in ms) are not real:
/// Repokid's boundary, kept so the same data gives the same answer.
pub const AA_EPOCH_MS: i64 = 1_420_113_600_000;

/// When something was last used, as the engine judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastAccessed {
    /// Never used within the tracking period.
    Never,
    /// Last used at this instant.
    At(DateTime<Utc>),
    /// The source gave a value that is not a plausible time (too old, negative, in the future, or
    /// unparseable). Treated as *used*: the engine fails closed.
    Malformed(String),
}

impl LastAccessed {
    /// Normalises an epoch value as Repokid does: `0` is never; a value between 2015-01-01 and now
    /// is taken as milliseconds, else as seconds if it is in that range; anything else (including a
    /// value in the current second or later) is malformed.
    pub fn from_epoch(v: i64, now: DateTime<Utc>) -> LastAccessed {
        let now_s = now.timestamp();
        if v == 0 {
            return LastAccessed::Never;
        }
        let secs = if v > AA_EPOCH_MS && v < now_s.saturating_mul(1000) {
            v / 1000
        } else if v > AA_EPOCH_MS / 1000 && v < now_s {
            v
        } else {
            return LastAccessed::Malformed(v.to_string());
        };
        match Utc.timestamp_opt(secs, 0).single() {
            Some(t) => LastAccessed::At(t),
            None => LastAccessed::Malformed(v.to_string()),
        }
    }

    /// Normalises an RFC 3339 timestamp (as IAM's API and the AWS CLI print them); unparseable,
    /// pre-2015 or future values are malformed.
    pub fn from_rfc3339(s: &str, now: DateTime<Utc>) -> LastAccessed {
        match DateTime::parse_from_rfc3339(s.trim()) {
            Ok(t) => {
                let t = t.with_timezone(&Utc);
                if t.timestamp_millis() <= AA_EPOCH_MS || t >= now {
                    LastAccessed::Malformed(s.to_string())
                } else {
                    LastAccessed::At(t)
                }
            }
            Err(_) => LastAccessed::Malformed(s.to_string()),
        }
    }
}

impl std::fmt::Display for LastAccessed {
    /// `never`, a date (`2026-11-01`), or `malformed (<raw>)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LastAccessed::Never => f.write_str("never"),
            LastAccessed::At(t) => write!(f, "{}", t.format("%Y-%m-%d")),
            LastAccessed::Malformed(raw) => write!(f, "malformed ({raw})"),
        }
    }
}

impl serde::Serialize for LastAccessed {
    /// `null` for never, an RFC 3339 string for a time, `{"malformed": raw}` otherwise.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LastAccessed::Never => s.serialize_none(),
            LastAccessed::At(t) => {
                s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
            LastAccessed::Malformed(raw) => {
                use serde::ser::SerializeMap;
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("malformed", raw)?;
                m.end()
            }
        }
    }
}

/// Usage of one service by one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUsage {
    /// When any action of the service was last used.
    pub last_accessed: LastAccessed,
    /// Action-level data: the actions AWS *tracks* for this service (lowercase action part, e.g.
    /// `createbucket`), each with when it was last used. `None` when the source had no action-level
    /// data for the service. An action absent from a `Some` map is not tracked at action level.
    pub actions: Option<BTreeMap<String, LastAccessed>>,
}

/// All usage data for one role.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleUsage {
    /// When the data was collected (Aardvark's `lastUpdated`, IAM's `JobCompletionDate`). Used for
    /// the staleness gate; `None` counts as stale.
    pub collected_at: Option<DateTime<Utc>>,
    /// Per service, keyed by lowercase service namespace (`s3`).
    pub services: BTreeMap<String, ServiceUsage>,
}

/// Usage data for many roles, keyed by role ARN.
pub type UsageByArn = BTreeMap<String, RoleUsage>;

/// How far a collection time may lie in the future (clock skew between the collector and this
/// machine) before it is judged implausible and the data is treated as stale.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// A collection time later than `now` plus [`CLOCK_SKEW`] is implausible: `None` (stale).
pub fn plausible_collected_at(t: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let limit = now.checked_add_signed(CLOCK_SKEW).unwrap_or(now);
    (t <= limit).then_some(t)
}

/// Combines two observations of the same thing, keeping the most recent use: malformed beats
/// everything (it counts as used), then the later of two times, then never.
pub fn merge_last(a: LastAccessed, b: LastAccessed) -> LastAccessed {
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
pub fn merge_service(a: ServiceUsage, b: ServiceUsage) -> ServiceUsage {
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
pub fn add_service(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn repokid_epoch_vectors() {
        let at = |s| LastAccessed::At(Utc.timestamp_opt(s, 0).unwrap());
        assert_eq!(
            LastAccessed::from_epoch(1_545_787_620_000, now()),
            at(1_545_787_620)
        );
        assert_eq!(
            LastAccessed::from_epoch(1_545_787_620, now()),
            at(1_545_787_620)
        );
        assert!(matches!(
            LastAccessed::from_epoch(154_578_762, now()),
            LastAccessed::Malformed(_)
        ));
        assert_eq!(LastAccessed::from_epoch(0, now()), LastAccessed::Never);
        assert!(matches!(
            LastAccessed::from_epoch(-5, now()),
            LastAccessed::Malformed(_)
        ));
        // The future (and the current second) is malformed, hence "used".
        assert!(matches!(
            LastAccessed::from_epoch(1_800_000_000_000, now()),
            LastAccessed::Malformed(_)
        ));
        assert!(matches!(
            LastAccessed::from_epoch(1_700_000_000, now()),
            LastAccessed::Malformed(_)
        ));
    }

    #[test]
    fn rfc3339_values() {
        assert!(matches!(
            LastAccessed::from_rfc3339("2023-01-02T03:04:05Z", now()),
            LastAccessed::At(_)
        ));
        assert!(matches!(
            LastAccessed::from_rfc3339("2023-01-02T03:04:05+02:00", now()),
            LastAccessed::At(_)
        ));
        assert!(matches!(
            LastAccessed::from_rfc3339("2099-01-01T00:00:00Z", now()),
            LastAccessed::Malformed(_)
        ));
        assert!(matches!(
            LastAccessed::from_rfc3339("yesterday", now()),
            LastAccessed::Malformed(_)
        ));
        assert!(matches!(
            LastAccessed::from_rfc3339("2010-01-01T00:00:00Z", now()),
            LastAccessed::Malformed(_)
        ));
    }

    #[test]
    fn merging_keeps_the_most_recent_use() {
        let early = LastAccessed::At(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
        let late = LastAccessed::At(Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap());
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
}
