//! History benchmark: builds a policy repository (10,000 synthetic roles over 4 accounts in one
//! commit, then 500 tool commits each changing about 20 roles), packs it as a clone would have it,
//! then times `stats` over the whole history, and permission ages (per role, and for a whole
//! account at once). Prints the figures.
//!
//! ```text
//! cargo bench --bench stats
//! REPOKID_BENCH_MIXED=1 cargo bench --bench stats     # every commit touches every account
//! REPOKID_BENCH_ROLES=2000 REPOKID_BENCH_COMMITS=100 cargo bench --bench stats
//! ```
//!
//! By default each commit changes roles of one account, as the tool writes them (one commit per
//! account). With `REPOKID_BENCH_MIXED=1` each commit's roles are drawn from all accounts, so
//! every commit rewrites every account's directory tree: the worst case for tree reads.
//!
//! Target (store issue): `stats` over the whole history in under 2 s (release).

#![allow(clippy::unwrap_used)] // benchmark code: a panic is the failure report

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use git2::{Oid, Repository, Signature, Time};
use repokid::engine::Catalog;
use repokid::engine::policy::{parse_policy_map, policy_map_from_value, to_canonical_json};
use repokid::store::history::{account_permission_ages, permission_ages, stats};
use repokid::synth::{Rng, SynthOptions, generate};
use serde_json::Value;

fn status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Makes one change to a role's policy file: drops an action or a statement, or (sometimes, or
/// when nothing is left to drop) goes back to the original, which adds actions back.
fn mutate(rng: &mut Rng, current: &mut Value, original: &Value) {
    if rng.chance(25) {
        *current = original.clone();
        return;
    }
    let Some(policies) = current.as_object_mut() else {
        return;
    };
    let names: Vec<String> = policies.keys().cloned().collect();
    let name = rng.pick(&names).clone();
    let Some(statements) = policies[&name]["Statement"].as_array_mut() else {
        return;
    };
    let i = rng.below(statements.len());
    if let Some(Value::Array(actions)) = statements[i].get_mut("Action")
        && actions.len() > 1
    {
        actions.remove(rng.below(actions.len()));
        return;
    }
    if statements.len() > 1 {
        statements.remove(i);
        return;
    }
    *current = original.clone();
}

fn canonical(name: &str, value: &Value) -> String {
    to_canonical_json(&policy_map_from_value(name, value.clone()).unwrap())
}

fn message(commit: usize, account: &str, roles: usize) -> String {
    let action = if commit.is_multiple_of(3) {
        "repo"
    } else {
        "sync"
    };
    format!(
        "repokid {action}: {account} (0 added, {roles} changed, 0 removed)\n\n\
         Changed: {roles} roles\n\n\
         Repokid-Action: {action}\nRepokid-Account: {account}\n\
         Repokid-Roles-Added: 0\nRepokid-Roles-Changed: {roles}\nRepokid-Roles-Removed: 0\n"
    )
}

fn main() {
    let roles = env("REPOKID_BENCH_ROLES", 10_000);
    let commits = env("REPOKID_BENCH_COMMITS", 500);
    let per_commit = env("REPOKID_BENCH_CHANGES", 20);
    let mixed = env("REPOKID_BENCH_MIXED", 0) != 0;
    let accounts = 4;
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let catalog = Catalog::embedded();

    let Built {
        dir: _dir,
        repo,
        head,
        changes,
        initial_time,
        history_time,
        pack_time,
        pack_mb,
    } = build_history(roles, commits, per_commit, mixed, accounts, now, catalog);

    // For comparison: libgit2's diff_tree_to_tree restricted to policies/ over the same walk.
    let t = Instant::now();
    let mut deltas = 0usize;
    let mut next = Some(repo.find_commit(head).unwrap());
    let mut opts = git2::DiffOptions::new();
    opts.pathspec("policies").skip_binary_check(true);
    while let Some(commit) = next {
        let parent = commit.parent(0).ok();
        let old = parent.as_ref().map(|p| p.tree().unwrap());
        let diff = repo
            .diff_tree_to_tree(old.as_ref(), Some(&commit.tree().unwrap()), Some(&mut opts))
            .unwrap();
        deltas += diff.deltas().len();
        next = parent;
    }
    let diff_time = t.elapsed();

    // The measurement: stats over the whole history.
    let t = Instant::now();
    let rows = stats(&repo, "refs/heads/main", catalog, None).unwrap();
    let stats_time = t.elapsed();
    let t = Instant::now();
    let rows_again = stats(&repo, "refs/heads/main", catalog, None).unwrap();
    let stats_again = t.elapsed();
    assert_eq!(rows.len(), rows_again.len());
    let removed: usize = rows.iter().map(|r| r.removed).sum();
    let added: usize = rows.iter().map(|r| r.added).sum();

    let sample = env("REPOKID_BENCH_AGES_SAMPLE", 20).min(roles);
    let Ages {
        ages_time,
        account_ages_time,
        aged,
        entries,
        uniform,
    } = measure_ages(&repo, sample, accounts, catalog);

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "stats benchmark: {roles} roles over {accounts} accounts, 1 + {commits} commits, \
         {changes} role changes ({})",
        if mixed {
            "each commit touches every account"
        } else {
            "one account per commit"
        }
    );
    println!(
        "  build: initial commit {:.0} ms, history {:.0} ms",
        ms(initial_time),
        ms(history_time)
    );
    println!("  packing: {:.0} ms ({pack_mb:.1} MB pack)", ms(pack_time));
    println!(
        "  for comparison, libgit2 diff_tree_to_tree over the same walk: {:.0} ms, {deltas} deltas",
        ms(diff_time)
    );
    println!(
        "  stats over the whole history: {:.0} ms ({:.0} ms second run), {} rows \
         ({removed} actions removed, {added} added in total)",
        ms(stats_time),
        ms(stats_again),
        rows.len()
    );
    println!(
        "  permission_ages: {:.1} ms per role ({sample} roles, {} commits deep)",
        ms(ages_time) / sample.max(1) as f64,
        commits + 1
    );
    println!(
        "  account_permission_ages: {:.0} ms for all {aged} roles ({accounts} walks, one at a \
         time), {uniform} of them uniform, {entries} ages in all",
        ms(account_ages_time)
    );
    println!(
        "  peak memory: {:.0} MB",
        status_mb("VmHWM:").unwrap_or(f64::NAN)
    );
    let target = 2000.0;
    println!(
        "  target: stats under {target:.0} ms: {}",
        if ms(stats_time) < target {
            "met"
        } else {
            "MISSED"
        }
    );
}

/// The synthetic history: a bare repository whose main is one sync commit of every role, then
/// `commits` tool commits, packed as a clone would have it; and how long each part took.
struct Built {
    dir: tempfile::TempDir,
    repo: Repository,
    head: Oid,
    changes: usize,
    initial_time: std::time::Duration,
    history_time: std::time::Duration,
    pack_time: std::time::Duration,
    pack_mb: f64,
}

/// Builds the history [`Built`] describes.
fn build_history(
    roles: usize,
    commits: usize,
    per_commit: usize,
    mixed: bool,
    accounts: usize,
    now: chrono::DateTime<Utc>,
    catalog: &Catalog,
) -> Built {
    let t = Instant::now();
    let org = generate(
        SynthOptions {
            seed: 3,
            roles,
            accounts,
        },
        catalog,
        now,
    );
    let dir = tempfile::tempdir().unwrap();
    let repo = Repository::init_bare(dir.path()).unwrap();
    // Objects go to memory while building, then into one pack: the layout of a cloned (or
    // garbage-collected) repository, and no 30,000 loose-object files to create.
    let odb = repo.odb().unwrap();
    let mempack = odb.add_new_mempack_backend(1000).unwrap();
    let start = now - Duration::days(commits as i64 + 1);
    let sig = |when: chrono::DateTime<Utc>| {
        Signature::new(
            "bench",
            "bench@example.com",
            &Time::new(when.timestamp(), 0),
        )
        .unwrap()
    };

    // Initial commit: every role file, canonical form.
    let mut originals: Vec<Value> = Vec::with_capacity(roles);
    let mut by_account: BTreeMap<String, BTreeMap<String, Oid>> = BTreeMap::new();
    for r in &org {
        let map = parse_policy_map(&r.name, &r.policies_json).unwrap();
        let text = to_canonical_json(&map);
        originals.push(serde_json::from_str(&text).unwrap());
        let blob = repo.blob(text.as_bytes()).unwrap();
        by_account
            .entry(r.account.clone())
            .or_default()
            .insert(format!("{}.json", r.name), blob);
    }
    let mut account_trees: BTreeMap<String, Oid> = BTreeMap::new();
    for (account, files) in &by_account {
        let mut b = repo.treebuilder(None).unwrap();
        for (file, blob) in files {
            b.insert(file, *blob, 0o100644).unwrap();
        }
        account_trees.insert(account.clone(), b.write().unwrap());
    }
    let (mut policies, root) = policies_tree(&repo, &account_trees, None);
    let mut head = {
        let tree = repo.find_tree(root).unwrap();
        let s = sig(start);
        let msg = format!(
            "repokid sync: all accounts ({roles} added)\n\n\
             Repokid-Action: sync\nRepokid-Roles-Added: {roles}\n"
        );
        repo.commit(None, &s, &s, &msg, &tree, &[]).unwrap()
    };
    let initial_time = t.elapsed();

    // Tool commits, each changing `per_commit` roles of one or more accounts.
    let t = Instant::now();
    let mut rng = Rng::new(3);
    let mut current: Vec<Value> = originals.clone();
    let mut changes = 0usize;
    for c in 0..commits {
        let mut touched: BTreeMap<String, Vec<(String, Oid)>> = BTreeMap::new();
        let account = c % accounts;
        for _ in 0..per_commit {
            let i = if mixed {
                rng.below(roles)
            } else {
                (rng.below(roles.div_ceil(accounts)) * accounts + account).min(roles - 1)
            };
            mutate(&mut rng, &mut current[i], &originals[i]);
            let text = canonical(&org[i].name, &current[i]);
            let blob = repo.blob(text.as_bytes()).unwrap();
            touched
                .entry(org[i].account.clone())
                .or_default()
                .push((format!("{}.json", org[i].name), blob));
            changes += 1;
        }
        for (account, files) in &touched {
            let prev = repo.find_tree(account_trees[account]).unwrap();
            let mut b = repo.treebuilder(Some(&prev)).unwrap();
            for (file, blob) in files {
                b.insert(file, *blob, 0o100644).unwrap();
            }
            account_trees.insert(account.clone(), b.write().unwrap());
        }
        let (p, root) = policies_tree(&repo, &account_trees, Some(policies));
        policies = p;
        let tree = repo.find_tree(root).unwrap();
        let parent = repo.find_commit(head).unwrap();
        let s = sig(start + Duration::days(c as i64 + 1));
        let account = touched.keys().next().cloned().unwrap_or_default();
        head = repo
            .commit(
                None,
                &s,
                &s,
                &message(c, &account, per_commit),
                &tree,
                &[&parent],
            )
            .unwrap();
    }
    let history_time = t.elapsed();
    let t = Instant::now();
    let mut pack = git2::Buf::new();
    mempack.dump(&repo, &mut pack).unwrap();
    let pack_mb = pack.len() as f64 / 1e6;
    let mut writer = odb.packwriter().unwrap();
    writer.write_all(&pack).unwrap();
    writer.commit().unwrap();
    mempack.reset().unwrap();
    drop(writer);
    drop(odb);
    drop(repo);
    let repo = Repository::open_bare(dir.path()).unwrap();
    repo.reference("refs/heads/main", head, true, "bench")
        .unwrap();
    let pack_time = t.elapsed();
    drop(org);
    Built {
        dir,
        repo,
        head,
        changes,
        initial_time,
        history_time,
        pack_time,
        pack_mb,
    }
}

/// What the permission-age walks took and found.
struct Ages {
    ages_time: std::time::Duration,
    account_ages_time: std::time::Duration,
    aged: usize,
    entries: usize,
    uniform: usize,
}

/// Permission ages: per role (one walk each) for a sample, and per account (one walk for all
/// of its roles) for every account.
fn measure_ages(repo: &Repository, sample: usize, accounts: usize, catalog: &Catalog) -> Ages {
    let t = Instant::now();
    for i in 0..sample {
        let account = format!("{:012}", 100_000_000_000u64 + (i % accounts) as u64);
        let name = format!("synthetic-role-{i:05}");
        permission_ages(repo, "refs/heads/main", &account, &name, catalog).unwrap();
    }
    let ages_time = t.elapsed();
    let t = Instant::now();
    let mut aged = 0usize;
    let mut entries = 0usize;
    let mut uniform = 0usize;
    for a in 0..accounts {
        let account = format!("{:012}", 100_000_000_000u64 + a as u64);
        let ages = account_permission_ages(repo, "refs/heads/main", &account, catalog).unwrap();
        aged += ages.len();
        uniform += ages
            .values()
            .filter(|a| matches!(a, repokid::engine::PermissionAges::Uniform(_)))
            .count();
        entries += ages
            .values()
            .map(|a| match a {
                repokid::engine::PermissionAges::PerAction { since, .. } => since.len(),
                _ => 1,
            })
            .sum::<usize>();
    }
    let account_ages_time = t.elapsed();
    Ages {
        ages_time,
        account_ages_time,
        aged,
        entries,
        uniform,
    }
}

/// Writes the `policies/` tree of these account trees (on top of `prev`) and a root tree
/// holding it; returns both.
fn policies_tree(
    repo: &Repository,
    account_trees: &BTreeMap<String, Oid>,
    prev: Option<Oid>,
) -> (Oid, Oid) {
    let prev = prev.map(|p| repo.find_tree(p).unwrap());
    let mut b = repo.treebuilder(prev.as_ref()).unwrap();
    for (account, tree) in account_trees {
        b.insert(account, *tree, 0o040000).unwrap();
    }
    let policies = b.write().unwrap();
    let mut root = repo.treebuilder(None).unwrap();
    root.insert("policies", policies, 0o040000).unwrap();
    (policies, root.write().unwrap())
}
