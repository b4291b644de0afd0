//! Planning one role: eligibility, decisions, rewrite — the engine's front door.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::actionset::ActionSet;
use super::catalog::Catalog;
use super::decide::{DecisionContext, Decisions, Reason, decide};
use super::grants::{Grants, analyze};
use super::history::PermissionAges;
use super::policy::{PolicyMap, inline_size};
use super::rewrite::{OverSizeLimit, Rewrite, rewrite};
use super::role::Role;
use super::settings::EngineSettings;
use super::usage::RoleUsage;

/// A filter that excluded a role, and why. The engine defines it because [`Ineligible`] carries
/// it; the filters (`crate::filters`) produce it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilterHit {
    /// The filter's id (`age`, `blocklist`, …).
    pub filter: String,
    /// The human reason, e.g. "created 2026-11-01, less than 90 days ago".
    pub reason: String,
}

/// Why a role is not rightsized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Ineligible {
    /// Excluded by filters (each named with its reason).
    Filtered {
        /// The filters that excluded it.
        hits: Vec<FilterHit>,
    },
    /// There is no usage data for the role.
    NoUsageData,
    /// The usage data is older than `stale_after_days` (or its collection time is unknown).
    StaleUsageData {
        /// When it was collected.
        collected_at: Option<DateTime<Utc>>,
        /// The threshold in days.
        max_age_days: i64,
    },
    /// Nothing is removable.
    NothingToRemove,
    /// The rewrite would exceed IAM's size limit even minimized.
    OverSizeLimit(OverSizeLimit),
    /// A decision hook failed; nothing was changed.
    HookFailed {
        /// The hook's name.
        hook: String,
        /// What happened.
        message: String,
    },
}

/// Why the decision callback of [`PlanInput::on_decisions`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookFailure {
    /// The hook that failed.
    pub hook: String,
    /// What happened.
    pub message: String,
}

/// A callback that may change the decisions after [`decide`] and before the rewrite (how hooks
/// run; see [`crate::hooks`]).
pub type DecisionCallback<'a> = dyn Fn(&mut Decisions) -> Result<(), HookFailure> + 'a;

impl Ineligible {
    /// One line for humans.
    pub fn summary(&self) -> String {
        match self {
            Ineligible::Filtered { hits } => {
                let parts: Vec<String> = hits
                    .iter()
                    .map(|h| format!("{}: {}", h.filter, h.reason))
                    .collect();
                format!("filtered ({})", parts.join("; "))
            }
            Ineligible::NoUsageData => "no usage data".into(),
            Ineligible::StaleUsageData {
                collected_at: Some(t),
                max_age_days,
            } => format!(
                "stale usage data (collected {}, older than {max_age_days} days)",
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            Ineligible::StaleUsageData {
                collected_at: None, ..
            } => "stale usage data (collection time unknown)".into(),
            Ineligible::NothingToRemove => "nothing to remove".into(),
            Ineligible::OverSizeLimit(e) => e.to_string(),
            Ineligible::HookFailed { hook, message } => format!("hook {hook} failed: {message}"),
        }
    }
}

/// Everything known about a role for planning.
#[derive(Clone, Copy)]
pub struct PlanInput<'a> {
    /// The role, with its recorded inline policies.
    pub role: &'a Role,
    /// Its usage data, if any.
    pub usage: Option<&'a RoleUsage>,
    /// Since when each permission has been granted (from history).
    pub ages: &'a PermissionAges,
    /// Filters that exclude the role (empty when it is in scope).
    pub filter_hits: &'a [FilterHit],
    /// A schedule's frozen removal set: only these may be removed.
    pub announced: Option<&'a ActionSet>,
    /// Called right after the decisions are made and before the rewrite; may change them. An
    /// error makes the role ineligible ([`Ineligible::HookFailed`]) and changes nothing. An
    /// action it makes removable outside `announced` is kept as [`Reason::NotAnnounced`].
    pub on_decisions: Option<&'a DecisionCallback<'a>>,
}

impl std::fmt::Debug for PlanInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanInput")
            .field("role", &self.role)
            .field("usage", &self.usage)
            .field("ages", &self.ages)
            .field("filter_hits", &self.filter_hits)
            .field("announced", &self.announced)
            .field("on_decisions", &self.on_decisions.map(|_| "<callback>"))
            .finish()
    }
}

/// The plan for one role.
#[derive(Debug, Clone)]
pub struct RolePlan {
    /// Why the role is not rightsized; empty when it is.
    pub ineligible: Vec<Ineligible>,
    /// Per granted action, the decision and its evidence (empty when the role was filtered or has
    /// no usable usage data).
    pub decisions: Decisions,
    /// The rewrite, when the role is eligible.
    pub rewrite: Option<Rewrite>,
    /// Inline size of the current policies.
    pub size_before: usize,
}

impl RolePlan {
    /// Whether the plan proposes a change.
    pub fn eligible(&self) -> bool {
        self.ineligible.is_empty() && self.rewrite.is_some()
    }

    /// The proposed policies, when eligible.
    pub fn proposed(&self) -> Option<&PolicyMap> {
        self.rewrite.as_ref().map(|r| &r.policies)
    }
}

/// Plans one role: filters and usage gates, then a decision per action, then the rewrite.
pub fn plan_role(
    input: &PlanInput<'_>,
    settings: &EngineSettings,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> RolePlan {
    let mut plan = RolePlan {
        ineligible: Vec::new(),
        decisions: Decisions::default(),
        rewrite: None,
        size_before: 0,
    };
    let size_now = || inline_size(&input.role.policies);
    if !input.filter_hits.is_empty() {
        plan.ineligible.push(Ineligible::Filtered {
            hits: input.filter_hits.to_vec(),
        });
        plan.size_before = size_now();
        return plan;
    }
    let usage = match input.usage {
        Some(u) if !u.services.is_empty() => u,
        _ => {
            plan.ineligible.push(Ineligible::NoUsageData);
            plan.size_before = size_now();
            return plan;
        }
    };
    let stale_before = now - Duration::days(settings.stale_after_days);
    if usage.collected_at.is_none_or(|t| t < stale_before) {
        plan.ineligible.push(Ineligible::StaleUsageData {
            collected_at: usage.collected_at,
            max_age_days: settings.stale_after_days,
        });
        plan.size_before = size_now();
        return plan;
    }
    let grants: Grants = analyze(&input.role.policies, catalog);
    let ctx = DecisionContext {
        usage,
        ages: input.ages,
        announced: input.announced,
        settings,
        now,
    };
    plan.decisions = decide(&grants, &ctx, catalog);
    if let Some(callback) = input.on_decisions {
        let mut changed = plan.decisions.clone();
        if let Err(e) = callback(&mut changed) {
            plan.ineligible.push(Ineligible::HookFailed {
                hook: e.hook,
                message: e.message,
            });
            plan.size_before = size_now();
            return plan;
        }
        if let Some(announced) = input.announced {
            let mut outside = changed.removable();
            outside.difference_with(announced);
            changed.reassign(&outside, Reason::NotAnnounced, catalog);
        }
        plan.decisions = changed;
    }
    let remove = plan.decisions.removable();
    if remove.is_empty() {
        plan.ineligible.push(Ineligible::NothingToRemove);
        plan.size_before = size_now();
        return plan;
    }
    match rewrite(&input.role.policies, &grants, &remove, catalog, settings) {
        Ok(r) => {
            plan.size_before = r.size_before;
            plan.rewrite = Some(r);
        }
        Err(e) => {
            plan.size_before = e.size_before;
            plan.ineligible.push(Ineligible::OverSizeLimit(e));
        }
    }
    plan
}
