//! What a plan says, as data: the stable JSON schema of `repokid plan --format json`, and the
//! human renderings built from it.
//!
//! Schema (version 1), one object per run:
//!
//! ```text
//! {
//!   "version": 1,
//!   "generated_at": "2026-11-20T12:00:00Z",
//!   "settings": { "usage-window-days": 90, "grace-days": 14, ... },
//!   "grace_days_overridden": false,
//!   "roles": [
//!     {
//!       "account": "111122223333", "role": "orders-api", "arn": "arn:aws:iam::…",
//!       "eligible": true,
//!       "reasons": [ { "reason": "stale-usage-data", ... } ],   // why not eligible; [] when eligible
//!       "removed": [ { "action": "ec2:RunInstances", "service": "ec2", "access_level": "Write",
//!                      "reason": "service-unused", "last_used": null } ],
//!       "kept": { "used": 12, "grace-period": 3, ... },          // counts by reason
//!       "unknown_actions": ["s3:NoSuchAction"],
//!       "size_before": 1234, "size_after": 456, "minimized": null | "word-boundary" | "any-character",
//!       "removed_policies": [], "removed_statements": [ { "policy": "p", "index": 1, "sid": null } ],
//!       "policies": { … the proposed policy map … } | null
//!     }
//!   ]
//! }
//! ```
//!
//! Fields are only ever added within a version.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::engine::minimize::CutMode;
use crate::engine::rewrite::StatementRef;
use crate::engine::{AccessLevel, Catalog, EngineSettings, Ineligible, Reason, Role, RolePlan};

/// The JSON schema version of [`PlanReport`].
pub const PLAN_SCHEMA_VERSION: u32 = 1;

/// One removed action with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedAction {
    /// Canonical name.
    pub action: String,
    /// Service prefix.
    pub service: String,
    /// IAM access level.
    pub access_level: AccessLevel,
    /// Why it goes.
    #[serde(flatten)]
    pub reason: Reason,
}

/// The plan for one role, as reported.
#[derive(Debug, Clone, Serialize)]
pub struct RoleReport {
    /// 12-digit account id.
    pub account: String,
    /// Role name.
    pub role: String,
    /// Role ARN.
    pub arn: String,
    /// Whether a change is proposed.
    pub eligible: bool,
    /// Why not (empty when eligible).
    pub reasons: Vec<Ineligible>,
    /// What is removed, in catalog order.
    pub removed: Vec<RemovedAction>,
    /// Counts of kept actions by reason (`used`, `grace-period`, …).
    pub kept: BTreeMap<String, usize>,
    /// Entries the catalog does not know (kept).
    pub unknown_actions: Vec<String>,
    /// Inline size now.
    pub size_before: usize,
    /// Inline size after the change (equal to `size_before` when nothing changes).
    pub size_after: usize,
    /// Which minimization was needed, if any.
    pub minimized: Option<&'static str>,
    /// Policies deleted because they became empty.
    pub removed_policies: Vec<String>,
    /// Statements dropped because they became empty.
    pub removed_statements: Vec<StatementRef>,
    /// The proposed policy map, when eligible.
    pub policies: Option<Value>,
}

impl RoleReport {
    /// Builds the report for one planned role.
    pub fn new(role: &Role, plan: &RolePlan, catalog: &Catalog) -> RoleReport {
        let mut removed = Vec::new();
        let mut kept: BTreeMap<String, usize> = BTreeMap::new();
        for (id, reason) in plan.decisions.sorted() {
            if reason.is_removable() && plan.eligible() {
                removed.push(RemovedAction {
                    action: catalog.name(id).to_string(),
                    service: catalog.service_of(id).prefix.clone(),
                    access_level: catalog.level(id),
                    reason: reason.clone(),
                });
            } else {
                *kept.entry(reason_key(reason)).or_default() += 1;
            }
        }
        for (_, reason) in &plan.decisions.unknown {
            *kept.entry(reason_key(reason)).or_default() += 1;
        }
        let rw = plan.rewrite.as_ref().filter(|_| plan.eligible());
        RoleReport {
            account: role.account.clone(),
            role: role.name.clone(),
            arn: role.arn.clone(),
            eligible: plan.eligible(),
            reasons: plan.ineligible.clone(),
            removed,
            kept,
            unknown_actions: plan
                .decisions
                .unknown
                .iter()
                .map(|(n, _)| n.clone())
                .collect(),
            size_before: plan.size_before,
            size_after: rw.map_or(plan.size_before, |r| r.size_after),
            minimized: rw.and_then(|r| r.minimized).map(|m| match m {
                CutMode::WordBoundary => "word-boundary",
                CutMode::AnyCharacter => "any-character",
            }),
            removed_policies: rw.map(|r| r.removed_policies.clone()).unwrap_or_default(),
            removed_statements: rw.map(|r| r.removed_statements.clone()).unwrap_or_default(),
            policies: rw.map(|r| {
                Value::Object(
                    r.policies
                        .iter()
                        .map(|(k, v)| (k.clone(), v.to_value()))
                        .collect(),
                )
            }),
        }
    }

    /// One line for humans on why the role is not changed.
    pub fn why_not(&self) -> String {
        let mut text = self
            .reasons
            .iter()
            .map(Ineligible::summary)
            .collect::<Vec<_>>()
            .join("; ");
        if self.reasons.contains(&Ineligible::NothingToRemove)
            && let Some(n) = self.kept.get("grace-period")
        {
            text.push_str(&format!(
                " ({n} unused action(s) kept for the grace period)"
            ));
        }
        text
    }
}

fn reason_key(r: &Reason) -> String {
    r.key().to_string()
}

/// A whole plan run.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Schema version ([`PLAN_SCHEMA_VERSION`]).
    pub version: u32,
    /// When the plan was made.
    pub generated_at: DateTime<Utc>,
    /// The engine settings used.
    pub settings: EngineSettings,
    /// Whether `--grace-days` overrode the configured grace period (shown to reviewers).
    pub grace_days_overridden: bool,
    /// Per role, in account then role order.
    pub roles: Vec<RoleReport>,
}

impl PlanReport {
    /// Totals: roles, eligible roles, removed actions.
    pub fn totals(&self) -> (usize, usize, usize) {
        let eligible = self.roles.iter().filter(|r| r.eligible).count();
        let removed = self.roles.iter().map(|r| r.removed.len()).sum();
        (self.roles.len(), eligible, removed)
    }

    /// A human table: one line per role, then the removals of eligible roles grouped by service.
    pub fn to_table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let width = self
            .roles
            .iter()
            .map(|r| r.role.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{:<12}  {:<width$}  {:>7}  {:>12}  STATUS",
            "ACCOUNT", "ROLE", "REMOVE", "SIZE"
        );
        for r in &self.roles {
            let status = if r.eligible {
                "proposed".to_string()
            } else {
                r.why_not()
            };
            let size = if r.eligible {
                format!("{}→{}", r.size_before, r.size_after)
            } else {
                r.size_before.to_string()
            };
            let _ = writeln!(
                out,
                "{:<12}  {:<width$}  {:>7}  {:>12}  {}",
                r.account,
                r.role,
                r.removed.len(),
                size,
                status
            );
        }
        let (roles, eligible, removed) = self.totals();
        let _ = writeln!(
            out,
            "\n{roles} roles, {eligible} with removals, {removed} actions to remove"
        );
        if self.grace_days_overridden {
            let _ = writeln!(
                out,
                "note: grace period overridden to {} days",
                self.settings.grace_days
            );
        }
        for r in self.roles.iter().filter(|r| r.eligible) {
            let _ = writeln!(out, "\n{} / {}", r.account, r.role);
            let mut by_service: BTreeMap<&str, Vec<&RemovedAction>> = BTreeMap::new();
            for a in &r.removed {
                by_service.entry(&a.service).or_default().push(a);
            }
            let shown = by_service.len().min(12);
            let more = by_service.len() - shown;
            for (service, actions) in by_service.into_iter().take(shown) {
                let evidence = actions[0].reason.summary();
                let _ = writeln!(
                    out,
                    "  - {service}: {} action(s) — {evidence}",
                    actions.len()
                );
            }
            if more > 0 {
                let _ = writeln!(
                    out,
                    "  - … and {more} more services (`--format json` lists every action)"
                );
            }
            if let Some(n) = r.kept.get("grace-period") {
                let _ = writeln!(
                    out,
                    "  kept for the grace period: {n} action(s) granted recently"
                );
            }
            if !r.removed_policies.is_empty() {
                let _ = writeln!(out, "  policies deleted: {}", r.removed_policies.join(", "));
            }
            if let Some(m) = r.minimized {
                let _ = writeln!(out, "  minimized ({m}) to fit IAM's size limit");
            }
        }
        out
    }
}
