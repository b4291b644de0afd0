//! Verify benchmark: how long `verify` takes on a pull request, against the time `plan` takes on
//! the same roles, and its peak memory. Three cases, each in a fresh git repository:
//!
//! * **many files** — a synthetic organisation (default 20,000 roles) whose every role file the
//!   pull request changes (the proposal where the engine makes one, else one action dropped);
//! * **one big file** — a role granting 20,000 actions listed one by one, 1,000 of them removed;
//! * **admin roles** — 300 roles granting `"Action": "*"`, each replaced by its proposal under
//!   usage data that leaves half the services unused (minimized wildcards, NotAction).
//!
//! ```text
//! cargo bench --bench verify
//! REPOKID_BENCH_ROLES=5000 REPOKID_BENCH_ADMIN=1000 cargo bench --bench verify
//! REPOKID_BENCH_REPEAT=10 perf record -g target/release/deps/verify-…   # verify 10 more times
//! ```
//!
//! Target (verify issue): verify takes at most 3× the time plan takes on the same roles, and its
//! memory does not grow with what wildcards expand to.

#![allow(clippy::unwrap_used)] // benchmark code: a panic is the failure report

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use repokid::engine::policy::{PolicyMap, parse_policy_map, to_canonical_json};
use repokid::engine::{
    Catalog, EngineSettings, LastAccessed, PermissionAges, PlanInput, Role, RoleUsage,
    ServiceUsage, plan_role,
};
use repokid::store::git::PolicyStore;
use repokid::synth::{SynthOptions, generate};
use repokid::verify::verify;
use serde_json::{Value, json};

const ACCOUNT: &str = "111122223333";

fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with(key))?.to_string();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Restarts the peak-memory mark, after handing freed memory back to the OS.
fn reset_peak() {
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.com")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.com")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// A repository whose `main` holds `base` and whose `pr` holds `head` (account, role, text).
fn repo(base: &[(String, String, String)], head: &[(String, String, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    let write = |files: &[(String, String, String)]| {
        for (account, role, text) in files {
            let path = d.join(format!("policies/{account}/{role}.json"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    };
    write(base);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "base"]);
    git(d, &["checkout", "-q", "-b", "pr"]);
    write(head);
    git(d, &["add", "-A"]);
    git(d, &["commit", "-q", "-m", "pr"]);
    // Packed, as a clone or a fetch leaves a repository (loose objects cost a file each).
    git(d, &["repack", "-q", "-a", "-d"]);
    dir
}

/// Runs verify on the repository; (time, peak MB above the memory before it, files, widenings).
fn run_verify(dir: &Path, size_limit: usize) -> (Duration, f64, usize, usize) {
    let store = PolicyStore::open(dir).unwrap();
    reset_peak();
    let before = status_mb("VmRSS:");
    let t = Instant::now();
    let report = verify(&store, "main", "pr", Catalog::embedded(), size_limit).unwrap();
    let took = t.elapsed();
    let peak = status_mb("VmHWM:") - before;
    // For a profiler: verify again, so its samples outweigh building the repositories.
    for _ in 0..env_usize("REPOKID_BENCH_REPEAT", 0) {
        verify(&store, "main", "pr", Catalog::embedded(), size_limit).unwrap();
    }
    assert!(report.is_valid(), "{:?}", report.problems().next());
    (took, peak, report.files.len(), report.widenings().count())
}

/// Drops the last action of the first Allow statement listing more than one (a removal), or
/// returns the text unchanged.
fn trim(text: &str) -> String {
    let mut v: Value = serde_json::from_str(text).unwrap();
    for doc in v.as_object_mut().unwrap().values_mut() {
        let Some(statements) = doc.get_mut("Statement").and_then(Value::as_array_mut) else {
            continue;
        };
        for st in statements {
            if st["Effect"] != "Allow" {
                continue;
            }
            if let Some(list) = st.get_mut("Action").and_then(Value::as_array_mut)
                && list.len() > 1
            {
                list.pop();
                let mut out = serde_json::to_string_pretty(&v).unwrap();
                out.push('\n');
                return out;
            }
        }
    }
    text.to_string()
}

struct Planned {
    head: Vec<(String, String, String)>,
    time: Duration,
    proposals: usize,
}

/// Parses and plans every role (the work `plan` does on them), and makes the pull request's files.
fn plan_all(roles: &[(String, String, String, Option<RoleUsage>)], now: DateTime<Utc>) -> Planned {
    let settings = EngineSettings::default();
    let ages = PermissionAges::Uniform(now - chrono::Duration::days(365));
    let catalog = Catalog::embedded();
    let mut time = Duration::ZERO;
    let mut head = Vec::with_capacity(roles.len());
    let mut proposals = 0;
    for (account, name, text, usage) in roles {
        let t = Instant::now();
        let role = Role::new(account, name, parse_policy_map(name, text).unwrap());
        let plan = plan_role(
            &PlanInput {
                role: &role,
                usage: usage.as_ref(),
                ages: &ages,
                filter_hits: &[],
                announced: None,
                on_decisions: None,
            },
            &settings,
            catalog,
            now,
        );
        let proposed: Option<PolicyMap> = plan.proposed().cloned();
        time += t.elapsed();
        let text = match proposed {
            Some(p) if plan.decisions.removable_count() > 0 => {
                proposals += 1;
                to_canonical_json(&p)
            }
            _ => trim(text),
        };
        head.push((account.clone(), name.clone(), text));
    }
    Planned {
        head,
        time,
        proposals,
    }
}

/// Usage where services whose prefix hashes even were never used, the others yesterday.
fn half_used(map_text: &str, now: DateTime<Utc>) -> RoleUsage {
    let catalog = Catalog::embedded();
    let map = parse_policy_map("u", map_text).unwrap();
    let granted = repokid::engine::grants::analyze(&map, catalog).all;
    let mut services = std::collections::BTreeMap::new();
    for id in granted.iter() {
        let prefix = catalog.service_of(id).prefix.clone();
        let even = prefix.bytes().map(u32::from).sum::<u32>() % 2 == 0;
        services.entry(prefix).or_insert(ServiceUsage {
            last_accessed: if even {
                LastAccessed::Never
            } else {
                LastAccessed::At(now - chrono::Duration::days(1))
            },
            actions: None,
        });
    }
    RoleUsage {
        collected_at: Some(now - chrono::Duration::hours(1)),
        services,
    }
}

fn report(case: &str, plan: &Planned, files: usize, dir: &Path, size_limit: usize) {
    let (took, peak, changed, widenings) = run_verify(dir, size_limit);
    let ratio = took.as_secs_f64() / plan.time.as_secs_f64();
    println!("{case}");
    println!(
        "  roles                {files:>10}   ({} proposals, {changed} changed files, {widenings} widenings)",
        plan.proposals
    );
    println!(
        "  plan                 {:>10.1} ms   {:>8.1} µs/role",
        plan.time.as_secs_f64() * 1e3,
        plan.time.as_secs_f64() * 1e6 / files as f64
    );
    println!(
        "  verify               {:>10.1} ms   {:>8.1} µs/role",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / files as f64
    );
    println!(
        "  verify / plan        {ratio:>10.2}×   (target ≤ 3.00×: {})",
        if ratio <= 3.0 { "met" } else { "NOT met" }
    );
    println!("  verify peak memory   {peak:>10.1} MB   (above what the process held before it)");
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let catalog = Catalog::embedded();

    // Many files.
    let n = env_usize("REPOKID_BENCH_ROLES", 20_000);
    let org: Vec<(String, String, String, Option<RoleUsage>)> = generate(
        SynthOptions {
            seed: 7,
            roles: n,
            accounts: 20,
        },
        catalog,
        now,
    )
    .into_iter()
    .map(|r| (r.account, r.name, r.policies_json, Some(r.usage)))
    .collect();
    let plan = plan_all(&org, now);
    let base: Vec<_> = org
        .iter()
        .map(|(a, r, t, _)| (a.clone(), r.clone(), t.clone()))
        .collect();
    let dir = repo(&base, &plan.head);
    drop(base);
    report(
        &format!("verify benchmark: a pull request changing {n} role files"),
        &plan,
        n,
        dir.path(),
        10_240,
    );
    drop(dir);

    // One big file.
    let names: Vec<String> = (0..catalog.len().min(20_000) as u32)
        .map(|id| catalog.name(id).to_string())
        .collect();
    let doc = |actions: &[String]| {
        let mut t =
            serde_json::to_string_pretty(&json!({"big": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Listed", "Effect": "Allow", "Action": actions, "Resource": "*"}
            ]}}))
            .unwrap();
        t.push('\n');
        t
    };
    let base_text = doc(&names);
    let kept: Vec<String> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 20 != 0)
        .map(|(_, n)| n.clone())
        .collect();
    let usage = half_used(&base_text, now);
    let roles = vec![(
        ACCOUNT.to_string(),
        "big".to_string(),
        base_text.clone(),
        Some(usage),
    )];
    let mut plan = plan_all(&roles, now);
    plan.head = vec![(ACCOUNT.to_string(), "big".to_string(), doc(&kept))];
    let dir = repo(
        &[(ACCOUNT.to_string(), "big".to_string(), base_text)],
        &plan.head,
    );
    report(
        &format!(
            "verify benchmark: one file of {} actions, {} removed",
            names.len(),
            names.len() - kept.len()
        ),
        &plan,
        1,
        dir.path(),
        // Far over IAM's limit; a size error would be the only finding, so it is lifted here.
        usize::MAX,
    );
    drop(dir);

    // Admin roles.
    let m = env_usize("REPOKID_BENCH_ADMIN", 300);
    let admin = "{\n  \"admin\": {\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n      {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"},\n      {\"Effect\": \"Allow\", \"NotAction\": \"iam:*\", \"Resource\": \"*\"}\n    ]\n  }\n}\n";
    let usage = half_used(admin, now);
    let roles: Vec<_> = (0..m)
        .map(|i| {
            (
                ACCOUNT.to_string(),
                format!("admin-{i:05}"),
                admin.to_string(),
                Some(usage.clone()),
            )
        })
        .collect();
    let plan = plan_all(&roles, now);
    let base: Vec<_> = roles
        .iter()
        .map(|(a, r, t, _)| (a.clone(), r.clone(), t.clone()))
        .collect();
    let dir = repo(&base, &plan.head);
    report(
        &format!(
            "verify benchmark: {m} admin roles (\"Action\": \"*\" and a NotAction) replaced by their proposals"
        ),
        &plan,
        m,
        dir.path(),
        10_240,
    );
}
