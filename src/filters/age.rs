//! `age`: roles created less than `minimum_days` ago are out of scope; they have not been around
//! long enough for their usage data to mean anything.
//!
//! Unlike Repokid, a role whose create date is unknown is excluded (fail closed), and all times are
//! UTC (Repokid compared naive local times, W19).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use super::{Filter, FilterConfigError};
use crate::engine::Role;

/// This filter's id and `filters.toml` table.
pub const ID: &str = "age";

/// The default for `age.minimum_days`, as in Repokid.
pub const DEFAULT_MINIMUM_DAYS: u32 = 90;

/// `[age]` in `filters.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeConfig {
    /// Roles created less than this many days ago are excluded; default 90.
    #[serde(default = "default_minimum_days")]
    pub minimum_days: u32,
}

fn default_minimum_days() -> u32 {
    DEFAULT_MINIMUM_DAYS
}

impl Default for AgeConfig {
    fn default() -> Self {
        AgeConfig {
            minimum_days: DEFAULT_MINIMUM_DAYS,
        }
    }
}

impl AgeConfig {
    pub(crate) fn validate(&self) -> Result<(), FilterConfigError> {
        // Every u32 is a meaningful number of days.
        Ok(())
    }
}

/// Excludes roles younger than the minimum age, and roles of unknown age.
#[derive(Debug, Clone)]
pub struct AgeFilter {
    minimum_days: u32,
}

impl AgeFilter {
    /// The filter for `config`.
    pub fn new(config: &AgeConfig) -> AgeFilter {
        AgeFilter {
            minimum_days: config.minimum_days,
        }
    }
}

impl Filter for AgeFilter {
    fn id(&self) -> &'static str {
        ID
    }

    fn check(&self, role: &Role, now: DateTime<Utc>) -> Option<String> {
        let Some(created) = role.create_date else {
            return Some("create date unknown".to_string());
        };
        let cutoff = now
            .checked_sub_signed(TimeDelta::days(i64::from(self.minimum_days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        (created > cutoff).then(|| {
            let unit = if self.minimum_days == 1 {
                "day"
            } else {
                "days"
            };
            format!(
                "created {}, less than {} {unit} ago",
                created.format("%Y-%m-%d"),
                self.minimum_days
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::tests::{now, role};

    fn filter() -> AgeFilter {
        AgeFilter::new(&AgeConfig::default())
    }

    #[test]
    fn created_100_days_ago_is_kept() {
        let mut r = role("old");
        r.create_date = Some(now() - TimeDelta::days(100));
        assert_eq!(filter().check(&r, now()), None);
    }

    #[test]
    fn created_now_is_excluded() {
        let mut r = role("new");
        r.create_date = Some(now());
        assert_eq!(
            filter().check(&r, now()).as_deref(),
            Some("created 2026-06-15, less than 90 days ago")
        );
    }

    #[test]
    fn exactly_minimum_age_is_kept() {
        let mut r = role("edge");
        r.create_date = Some(now() - TimeDelta::days(90));
        assert_eq!(filter().check(&r, now()), None);
        r.create_date = Some(now() - TimeDelta::days(90) + TimeDelta::seconds(1));
        assert!(filter().check(&r, now()).is_some());
    }

    #[test]
    fn missing_create_date_is_excluded_fail_closed_unlike_repokid() {
        let r = role("unknown");
        assert_eq!(
            filter().check(&r, now()).as_deref(),
            Some("create date unknown")
        );
    }

    #[test]
    fn minimum_days_is_configurable() {
        let f = AgeFilter::new(&AgeConfig { minimum_days: 7 });
        let mut r = role("week");
        r.create_date = Some(now() - TimeDelta::days(8));
        assert_eq!(f.check(&r, now()), None);
        r.create_date = Some(now() - TimeDelta::days(6));
        assert!(f.check(&r, now()).is_some());
    }

    #[test]
    fn huge_minimum_excludes_everything_without_panicking() {
        let f = AgeFilter::new(&AgeConfig {
            minimum_days: u32::MAX,
        });
        let mut r = role("any");
        r.create_date = Some(now() - TimeDelta::days(10_000));
        assert!(f.check(&r, now()).is_some());
    }
}
