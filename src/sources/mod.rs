//! Where roles and usage data come from. Each source turns outside data into the engine's plain
//! types; the engine never sees a file or an API.

pub mod inventory_file;
pub mod usage_file;
