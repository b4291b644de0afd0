//! Engine benchmark: plans a synthetic organisation single-threaded and prints roles/s, µs per
//! role, peak memory, and the time to merely parse the same inputs.
//!
//! ```text
//! cargo bench --bench engine                      # 10,000 roles
//! REPOKID_BENCH_ROLES=2000 cargo bench --bench engine
//! ```
//!
//! Target (engine issue): planning takes at most 2× the parse time, in under 300 MB.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use repokid::engine::policy::parse_policy_map;
use repokid::engine::usage::UsageByArn;
use repokid::engine::usage::native::{parse_native, to_native_json};
use repokid::engine::{Catalog, EngineSettings, PermissionAges, PlanInput, Role, plan_role};
use repokid::filters::FilterConfig;
use repokid::synth::{SynthOptions, generate};

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let roles: usize = std::env::var("REPOKID_BENCH_ROLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let t = Instant::now();
    let catalog = Catalog::embedded();
    let catalog_load = t.elapsed();

    let org = generate(
        SynthOptions {
            seed: 42,
            roles,
            accounts: 20,
        },
        catalog,
        now,
    );
    let usage_by_arn: UsageByArn = org.iter().map(|r| (r.arn(), r.usage.clone())).collect();
    let usage_text = to_native_json(&usage_by_arn);
    let policy_bytes: usize = org.iter().map(|r| r.policies_json.len()).sum();
    drop(usage_by_arn);

    // Parse only: every policy file and the usage document.
    let t = Instant::now();
    let parsed: Vec<Role> = org
        .iter()
        .map(|r| {
            let mut role = Role::new(
                &r.account,
                &r.name,
                parse_policy_map(&r.name, &r.policies_json).unwrap(),
            );
            role.create_date = Some(r.create_date);
            role
        })
        .collect();
    let usage = parse_native(&usage_text, now).unwrap();
    let parse_time = t.elapsed();

    // Plan: filters, decisions, rewrite (and minimization where needed), single-threaded.
    let filters = FilterConfig::parse(repokid::filters::DEFAULT_FILTERS_TOML).unwrap();
    let settings = EngineSettings::default();
    let ages = PermissionAges::Uniform(now - chrono::Duration::days(365));
    let mut sets = std::collections::HashMap::new();
    let (mut eligible, mut removed, mut refused, mut minimized) = (0usize, 0usize, 0usize, 0usize);
    let t = Instant::now();
    for role in &parsed {
        let set = sets
            .entry(role.account.clone())
            .or_insert_with(|| filters.build(&role.account, None).unwrap());
        let hits = set.apply(role, now);
        let plan = plan_role(
            &PlanInput {
                role,
                usage: usage.get(&role.arn),
                ages: &ages,
                filter_hits: &hits,
                announced: None,
            },
            &settings,
            catalog,
            now,
        );
        if let Some(rw) = &plan.rewrite {
            eligible += 1;
            removed += plan.decisions.removable_count();
            minimized += usize::from(rw.minimized.is_some());
        }
        refused += plan
            .ineligible
            .iter()
            .filter(|i| matches!(i, repokid::engine::Ineligible::OverSizeLimit(_)))
            .count();
    }
    let plan_time = t.elapsed();

    let per_role = |d: Duration| d.as_secs_f64() * 1e6 / roles as f64;
    let ratio = plan_time.as_secs_f64() / parse_time.as_secs_f64();
    let peak = peak_rss_mb().unwrap_or(f64::NAN);
    println!("engine benchmark: {roles} synthetic roles (seed 42), single-threaded");
    println!(
        "  catalog load         {:>10.2} ms",
        catalog_load.as_secs_f64() * 1e3
    );
    println!(
        "  inputs               {:>10.1} MB policies + {:.1} MB usage",
        policy_bytes as f64 / 1e6,
        usage_text.len() as f64 / 1e6
    );
    println!(
        "  parse only           {:>10.1} ms   {:>8.1} µs/role",
        parse_time.as_secs_f64() * 1e3,
        per_role(parse_time)
    );
    println!(
        "  plan                 {:>10.1} ms   {:>8.1} µs/role   {:>9.0} roles/s",
        plan_time.as_secs_f64() * 1e3,
        per_role(plan_time),
        roles as f64 / plan_time.as_secs_f64()
    );
    println!(
        "  plan / parse         {ratio:>10.2}×   (target ≤ 2.00×: {})",
        if ratio <= 2.0 { "met" } else { "NOT met" }
    );
    println!(
        "  peak memory (VmHWM)  {peak:>10.1} MB   (target < 300 MB: {})",
        if peak < 300.0 { "met" } else { "NOT met" }
    );
    println!(
        "  outcome              {eligible} roles with a proposal, {removed} actions removable, {minimized} minimized, {refused} refused (size)"
    );
}
