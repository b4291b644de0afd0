//! The rightsizing engine: pure functions from (role, usage, history, settings, catalog) to
//! decisions with evidence and rewritten policies. Nothing here reads files, the clock or the
//! network; callers pass `now` and data in.
//!
//! The pipeline for one role ([`plan_role`]):
//!
//! 1. **Gates** — filters (their [`FilterHit`]s, passed in), then usage data present and fresh
//!    ([`Ineligible`]).
//! 2. **Grants** ([`grants::analyze`]) — every Allow statement's `Action`/`NotAction` expanded
//!    against the [`Catalog`] (IAM glob semantics, case-insensitive); Deny statements are never
//!    expanded.
//! 3. **Decisions** ([`decide::decide`]) — per granted action a [`Reason`]: removable because its
//!    service (or, with action-level data, the action itself) went unused in the window, or kept
//!    with the evidence why (used, no usage entry, untracked, `iam:PassRole`, grace period,
//!    NOREPO, unknown action, not announced).
//! 4. **Rewrite** ([`rewrite::rewrite`]) — the smallest edit that removes exactly the removable
//!    actions; [`minimize`] compresses the changed lists into exact wildcards only when the result
//!    would exceed IAM's size limit.
//!
//! ```
//! use chrono::{Duration, TimeZone, Utc};
//! use repokid::engine::policy::{parse_policy_map, to_canonical_json};
//! use repokid::engine::{
//!     Catalog, EngineSettings, LastAccessed, PermissionAges, PlanInput, Role, RoleUsage,
//!     ServiceUsage, plan_role,
//! };
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
//! let policies = parse_policy_map(
//!     "web",
//!     r#"{"app": {"Version": "2012-10-17", "Statement": [
//!         {"Effect": "Allow", "Action": ["s3:GetObject", "ec2:DescribeInstances"], "Resource": "*"}
//!     ]}}"#,
//! )?;
//! let role = Role::new("123456789012", "web", policies);
//! // S3 used yesterday; EC2 never used.
//! let service = |last_accessed| ServiceUsage { last_accessed, actions: None };
//! let usage = RoleUsage {
//!     collected_at: Some(now - Duration::hours(3)),
//!     services: [
//!         ("s3".to_string(), service(LastAccessed::At(now - Duration::days(1)))),
//!         ("ec2".to_string(), service(LastAccessed::Never)),
//!     ]
//!     .into(),
//! };
//! // Both permissions have been in the role for a year (from git history).
//! let ages = PermissionAges::Uniform(now - Duration::days(365));
//! let input = PlanInput { role: &role, usage: Some(&usage), ages: &ages, filter_hits: &[], announced: None, on_decisions: None };
//! let plan = plan_role(&input, &EngineSettings::default(), Catalog::embedded(), now);
//!
//! assert!(plan.eligible());
//! assert_eq!(plan.decisions.removable_count(), 1);
//! let proposed = to_canonical_json(plan.proposed().unwrap());
//! assert!(proposed.contains("s3:GetObject") && !proposed.contains("ec2:"));
//! # Ok::<(), repokid::engine::policy::PolicyError>(())
//! ```

pub mod access;
pub mod actionset;
pub mod catalog;
pub mod decide;
pub mod glob;
pub mod grammar;
pub mod grants;
pub mod history;
pub mod json;
pub mod minimize;
pub mod plan;
pub mod policy;
pub mod rewrite;
pub mod role;
pub mod settings;
pub mod usage;

pub use actionset::ActionSet;
pub use catalog::{AccessLevel, ActionId, Catalog, Expansion};
pub use decide::{Decisions, Reason};
pub use history::PermissionAges;
pub use plan::{
    DecisionCallback, FilterHit, HookFailure, Ineligible, PlanInput, RolePlan, plan_role,
};
pub use policy::{PolicyDocument, PolicyMap, Statement};
pub use role::Role;
pub use settings::EngineSettings;
pub use usage::{LastAccessed, RoleUsage, ServiceUsage};
