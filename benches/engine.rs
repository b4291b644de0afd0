//! Engine benchmark: plans a synthetic organisation single-threaded and prints roles/s, µs per
//! role, peak memory, and the time to merely parse the same inputs.
//!
//! ```text
//! cargo bench --bench engine                      # 10,000 roles
//! REPOKID_BENCH_ROLES=2000 cargo bench --bench engine
//! ```
//!
//! Target (engine issue): planning takes at most 2× the parse time, in under 300 MB.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use repokid::engine::policy::parse_policy_map;
use repokid::engine::usage::UsageByArn;
use repokid::engine::{Catalog, EngineSettings, PermissionAges, PlanInput, Role, plan_role};
use repokid::filters::FilterConfig;
use repokid::sources::usage::native::{parse_native, to_native_json};
use repokid::synth::{SynthOptions, generate};

fn status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// `REPOKID_BENCH_ROLES`, 10,000 when unset or not a number.
fn bench_roles() -> usize {
    std::env::var("REPOKID_BENCH_ROLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn main() {
    let roles = bench_roles();
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
    // Keep only the input texts, as a real run would have them.
    let org: Vec<_> = org
        .into_iter()
        .map(|r| (r.account, r.name, r.create_date, r.policies_json))
        .collect();
    // Hand the generator's garbage back to the OS and restart the high-water mark, so the peak
    // reported below is what parsing and planning need (input texts included).
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let inputs_rss = status_mb("VmRSS:").unwrap_or(f64::NAN);

    // Parse only: every policy file and the usage document.
    let t = Instant::now();
    let parsed: Vec<Role> = org
        .iter()
        .map(|(account, name, created, text)| {
            let mut role = Role::new(account, name, parse_policy_map(name, text).unwrap());
            role.create_date = Some(*created);
            role
        })
        .collect();
    let usage = parse_native(&usage_text, now).unwrap();
    let parse_time = t.elapsed();
    let usage_bytes = usage_text.len();
    drop(org);
    drop(usage_text);
    let parsed_rss = status_mb("VmRSS:").unwrap_or(f64::NAN);

    // Plan: filters, decisions, rewrite (and minimization where needed), single-threaded.
    let filters = FilterConfig::parse(repokid::filters::DEFAULT_FILTERS_TOML).unwrap();
    let settings = EngineSettings::default();
    let ages = PermissionAges::Uniform(now - chrono::Duration::days(365));
    let mut sets = std::collections::HashMap::new();
    let (mut eligible, mut removed, mut refused, mut minimized) = (0usize, 0usize, 0usize, 0usize);
    let (mut broad_time, mut broad_roles) = (Duration::ZERO, 0usize);
    let t = Instant::now();
    for role in &parsed {
        let set = sets
            .entry(role.account.clone())
            .or_insert_with(|| filters.build(&role.account, None).unwrap());
        let hits = set.apply(role, now);
        let started = Instant::now();
        let plan = plan_role(
            &PlanInput {
                role,
                usage: usage.get(&role.arn),
                ages: &ages,
                filter_hits: &hits,
                announced: None,
                on_decisions: None,
            },
            &settings,
            catalog,
            now,
        );
        let took = started.elapsed();
        let broad = role
            .policies
            .values()
            .flat_map(|d| d.statements())
            .any(|s| {
                s.kind() == repokid::engine::policy::ActionKind::NotAction
                    || s.entries().iter().any(|e| e == "*")
            });
        if broad {
            broad_time += took;
            broad_roles += 1;
        }
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
    let peak = status_mb("VmHWM:").unwrap_or(f64::NAN);
    println!("engine benchmark: {roles} synthetic roles (seed 42), single-threaded");
    println!(
        "  catalog load         {:>10.2} ms",
        catalog_load.as_secs_f64() * 1e3
    );
    println!(
        "  inputs               {:>10.1} MB policies + {:.1} MB usage",
        policy_bytes as f64 / 1e6,
        usage_bytes as f64 / 1e6
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
        "  memory               {inputs_rss:>10.1} MB with input texts, {parsed_rss:.1} MB parsed (texts dropped)"
    );
    println!(
        "  plan / parse         {ratio:>10.2}×   (target ≤ 2.00×: {})",
        if ratio <= 2.0 { "met" } else { "NOT met" }
    );
    println!(
        "  peak memory          {peak:>10.1} MB   (target < 300 MB: {})",
        if peak < 300.0 { "met" } else { "NOT met" }
    );
    println!(
        "  broad roles          {broad_roles} roles with \"*\" or NotAction took {:.1} ms of the plan",
        broad_time.as_secs_f64() * 1e3
    );
    println!(
        "  outcome              {eligible} roles with a proposal, {removed} actions removable, {minimized} minimized, {refused} refused (size)"
    );
}
