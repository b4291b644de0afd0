//! The rightsizing engine: pure functions from (role, usage, history, settings, catalog) to
//! decisions with evidence and rewritten policies. Nothing here reads files, the clock or the
//! network; callers pass `now` and data in.

pub mod actionset;
pub mod catalog;
pub mod glob;
pub mod json;
pub mod policy;
pub mod role;
pub mod usage;

pub use actionset::ActionSet;
pub use catalog::{AccessLevel, ActionId, Catalog, Expansion};
pub use policy::{PolicyDocument, PolicyMap, Statement};
pub use role::Role;
