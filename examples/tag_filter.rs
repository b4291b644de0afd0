//! A custom [`Filter`] that keeps roles carrying a given tag value out of scope, registered
//! through `Workspace::custom_filters` (it runs after the filters of `filters.toml`, in every
//! account).
//!
//! Run it on the bundled demo data (`examples/demo/`), excluding the payments team's roles:
//!
//! ```sh
//! cargo run --example tag_filter               # team=payments
//! cargo run --example tag_filter -- env prod   # any other KEY VALUE
//! ```

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use repokid::engine::usage::UsageByArn;
use repokid::engine::{Catalog, Ineligible, Role};
use repokid::filters::{DEFAULT_FILTERS_TOML, Filter, FilterConfig, FilterHit};
use repokid::ops::{self, PlanOptions, PlannedRole, Workspace};
use repokid::report::{PlanReport, RoleReport};
use repokid::settings::Settings;
use repokid::sources::inventory_file::{Inventory, parse_inventory};
use repokid::sources::usage_file::{UsageFormat, parse_usage};

/// The filter's id, in `FilterHit`s and the plan report.
pub const FILTER_ID: &str = "tag";

/// Excludes every role tagged `key` = `value` (both compared exactly, as IAM stores them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// The tag key, e.g. `team`.
    pub key: String,
    /// The tag value, e.g. `payments`.
    pub value: String,
}

impl Filter for TagFilter {
    fn id(&self) -> &str {
        FILTER_ID
    }

    fn check(&self, role: &Role, _now: DateTime<Utc>) -> Option<String> {
        role.tags
            .iter()
            .any(|(k, v)| *k == self.key && *v == self.value)
            .then(|| format!("tagged {}={}", self.key, self.value))
    }
}

/// When the demo data is planned: six hours after it was collected.
pub fn demo_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The bundled demo inventory and usage (`examples/demo/`).
pub fn demo_inputs() -> anyhow::Result<(Inventory, UsageByArn)> {
    let inventory = parse_inventory("inventory.json", include_bytes!("demo/inventory.json"))?;
    let usage = parse_usage(
        "usage.json",
        include_str!("demo/usage.json"),
        UsageFormat::Auto,
        demo_now(),
    )?;
    Ok((inventory, usage))
}

/// Plans the demo data with default settings, the bundled `filters.toml` and `filter` added as a
/// custom filter; no repository, so the grace period is off (no history dates the permissions).
pub fn plan_demo(filter: TagFilter) -> anyhow::Result<(PlanReport, Vec<PlannedRole>)> {
    let ws = Workspace {
        settings: Settings::default(),
        filters: FilterConfig::parse(DEFAULT_FILTERS_TOML)?,
        blocklist: None,
        catalog: Catalog::embedded(),
        hooks: Vec::new(),
        batch_hooks: Vec::new(),
        lifecycle_hooks: Vec::new(),
        custom_filters: vec![Arc::new(filter)],
    };
    let (inventory, usage) = demo_inputs()?;
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    Ok(ops::plan(&ws, None, &inventory, &usage, &opts, demo_now())?)
}

/// The hits of the tag filter in a reported role (empty when it did not exclude the role).
pub fn tag_hits(role: &RoleReport) -> Vec<&FilterHit> {
    role.reasons
        .iter()
        .filter_map(|r| match r {
            Ineligible::Filtered { hits } => Some(hits),
            _ => None,
        })
        .flatten()
        .filter(|h| h.filter == FILTER_ID)
        .collect()
}

#[allow(dead_code)] // unused where the tests include this file as a module
fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let filter = match (args.next(), args.next()) {
        (Some(key), Some(value)) => TagFilter { key, value },
        (None, None) => TagFilter {
            key: "team".into(),
            value: "payments".into(),
        },
        _ => anyhow::bail!("usage: tag_filter [KEY VALUE]"),
    };
    let (report, _) = plan_demo(filter.clone())?;
    let mut excluded = 0;
    for role in &report.roles {
        for hit in tag_hits(role) {
            excluded += 1;
            println!("{}: excluded by {}: {}", role.role, hit.filter, hit.reason);
        }
    }
    println!(
        "{excluded} of {} role(s) excluded by {}={}",
        report.roles.len(),
        filter.key,
        filter.value
    );
    Ok(())
}
