//! Permission ages: since when each action has been granted to a role, read from history (git) by
//! the caller and handed to the engine for the grace period.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// Since when a role's actions have been granted. Lookups use lowercase action names
/// (`s3:getobject`) or, for entries the catalog does not know, the lowercase entry as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PermissionAges {
    /// No history: every action's age is unknown, so the grace period keeps all of them (fail
    /// closed) unless it is turned off.
    #[default]
    Unknown,
    /// Every action has been granted since this instant (e.g. the role's file is older than the
    /// grace period and has not gained permissions).
    Uniform(DateTime<Utc>),
    /// Per action; actions missing from the map get `fallback` (`None` = unknown age).
    PerAction {
        /// Lowercase action name → when it (last) appeared in the role's policies.
        since: HashMap<String, DateTime<Utc>>,
        /// Age of actions not in the map.
        fallback: Option<DateTime<Utc>>,
    },
}

impl PermissionAges {
    /// Since when `lower_name` has been granted, if known.
    pub fn since(&self, lower_name: &str) -> Option<DateTime<Utc>> {
        match self {
            PermissionAges::Unknown => None,
            PermissionAges::Uniform(t) => Some(*t),
            PermissionAges::PerAction { since, fallback } => {
                since.get(lower_name).copied().or(*fallback)
            }
        }
    }
}
