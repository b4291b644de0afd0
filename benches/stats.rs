//! History benchmark: builds a policy repository (10,000 synthetic roles over 4 accounts in one
//! commit, then 500 tool commits each changing about 20 roles), then times `stats` over the whole
//! history, and `permission_ages` for a sample of roles. Prints the figures.
//!
//! ```text
//! cargo bench --bench stats
//! REPOKID_BENCH_ROLES=2000 REPOKID_BENCH_COMMITS=100 cargo bench --bench stats
//! ```
//!
//! Target (store issue): `stats` over the whole history in under 2 s (release).

#![allow(clippy::unwrap_used)] // benchmark code: a panic is the failure report

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use git2::{Oid, Repository, Signature, Time};
use repokid::engine::Catalog;
use repokid::engine::policy::{parse_policy_map, policy_map_from_value, to_canonical_json};
use repokid::store::history::{permission_ages, stats};
use repokid::synth::{Rng, SynthOptions, generate};
use serde_json::Value;

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
    if let Some(Value::Array(actions)) = statements[i].get_mut("Action") {
        if actions.len() > 1 {
            actions.remove(rng.below(actions.len()));
            return;
        }
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
    let action = if commit % 3 == 0 { "repo" } else { "sync" };
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
    let accounts = 4;
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let catalog = Catalog::embedded();

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
    let policies_tree = |account_trees: &BTreeMap<String, Oid>, prev: Option<Oid>| {
        let prev = prev.map(|p| repo.find_tree(p).unwrap());
        let mut b = repo.treebuilder(prev.as_ref()).unwrap();
        for (account, tree) in account_trees {
            b.insert(account, *tree, 0o040000).unwrap();
        }
        let policies = b.write().unwrap();
        let mut root = repo.treebuilder(None).unwrap();
        root.insert("policies", policies, 0o040000).unwrap();
        (policies, root.write().unwrap())
    };
    let (mut policies, root) = policies_tree(&account_trees, None);
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
        for _ in 0..per_commit {
            let i = rng.below(roles);
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
        let (p, root) = policies_tree(&account_trees, Some(policies));
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
    repo.reference("refs/heads/main", head, true, "bench")
        .unwrap();
    let history_time = t.elapsed();
    drop(org);

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

    // Permission ages for a sample of roles (each walks the first-parent line on its own).
    let sample = 100.min(roles);
    let t = Instant::now();
    for i in 0..sample {
        let account = format!("{:012}", 100_000_000_000u64 + (i % accounts) as u64);
        let name = format!("synthetic-role-{i:05}");
        permission_ages(&repo, "refs/heads/main", &account, &name, catalog).unwrap();
    }
    let ages_time = t.elapsed();

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "stats benchmark: {roles} roles over {accounts} accounts, 1 + {commits} commits, \
         {changes} role changes"
    );
    println!(
        "  build: initial commit {:.0} ms, history {:.0} ms",
        ms(initial_time),
        ms(history_time)
    );
    println!(
        "  stats over the whole history: {:.0} ms ({:.0} ms second run), {} rows \
         ({removed} actions removed, {added} added in total)",
        ms(stats_time),
        ms(stats_again),
        rows.len()
    );
    println!(
        "  permission_ages: {:.2} ms per role ({sample} roles, {} commits deep)",
        ms(ages_time) / sample as f64,
        commits + 1
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
