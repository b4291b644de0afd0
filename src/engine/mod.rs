//! The rightsizing engine: pure functions from (role, usage, history, settings, catalog) to
//! decisions with evidence and rewritten policies. Nothing here reads files, the clock or the
//! network; callers pass `now` and data in.

pub mod actionset;
pub mod catalog;
pub mod decide;
pub mod glob;
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
pub use plan::{Ineligible, PlanInput, RolePlan, plan_role};
pub use policy::{PolicyDocument, PolicyMap, Statement};
pub use role::Role;
pub use settings::EngineSettings;
pub use usage::{LastAccessed, RoleUsage, ServiceUsage};
