//! The engine's knobs, with Repokid's defaults.

use serde::{Deserialize, Serialize};

use super::policy::INLINE_SIZE_LIMIT;

/// Settings that change what the engine decides. Defaults follow Repokid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct EngineSettings {
    /// A service (or action) counts as used if last accessed within this many days (Repokid's
    /// `minimum_age`, default 90).
    pub usage_window_days: i64,
    /// Actions that first appeared in the role less than this many days ago are kept (default 14).
    /// `0` turns the grace period off, including for permissions of unknown age.
    pub grace_days: i64,
    /// Usage data collected longer ago than this makes the role ineligible (Repokid's
    /// `oldest_aa_data_days`, default 5).
    pub stale_after_days: i64,
    /// Remove individual unused actions of used services when AWS tracks them at action level
    /// (needs action-level usage data). Off by default, as in Repokid.
    pub action_level: bool,
    /// IAM's aggregate inline policy size limit (characters, whitespace excluded).
    pub size_limit: usize,
    /// Let minimization write wildcards that cover Permissions-management actions. Off by default:
    /// future actions under such a wildcard would be granted without review.
    pub minimize_permissions_management: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            usage_window_days: 90,
            grace_days: 14,
            stale_after_days: 5,
            action_level: false,
            size_limit: INLINE_SIZE_LIMIT,
            minimize_permissions_management: false,
        }
    }
}
