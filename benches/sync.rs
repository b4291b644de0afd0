//! Store benchmark: `PolicyStore::write_account` against the obvious alternative, writing the
//! files with `std::fs` and committing with the `git` command line (`git add -A && git commit`).
//!
//! ```text
//! cargo bench --bench sync                        # 10,000 roles in one account
//! REPOKID_BENCH_ROLES=2000 cargo bench --bench sync
//! REPOKID_BENCH_RUNS=5 cargo bench --bench sync   # medians of 5 runs (default 3)
//! ```
//!
//! Both start from the same parsed policy maps, so both pay for rendering the canonical JSON.
//! Measured: (a) the first sync into a fresh repository, working tree and index included; (b) a
//! second sync with 1% of the roles changed. For the second sync git gets two rows: rewriting
//! every file (what a tool that renders the directory does) and, as a lower bound, writing only
//! the changed files. Target (store issue): ours no slower than git's.

#![allow(clippy::unwrap_used)] // benchmark code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use repokid::engine::Catalog;
use repokid::engine::policy::{PolicyDocument, PolicyMap, parse_policy_map, to_canonical_json};
use repokid::store::Action;
use repokid::store::git::{PolicyStore, WriteAccount, WriteMode};
use repokid::synth::{SynthOptions, generate};

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=bench", "-c", "user.email=bench@localhost"])
        // No background `gc --auto` after 10,000 loose objects, competing with later runs.
        .args(["-c", "gc.auto=0", "-c", "maintenance.auto=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Renders and writes every role's file under `dir/policies/<account>/` (or only `only`).
fn write_files(
    dir: &Path,
    account: &str,
    roles: &BTreeMap<String, PolicyMap>,
    only: Option<&[String]>,
) {
    let acct = dir.join("policies").join(account);
    std::fs::create_dir_all(&acct).unwrap();
    for (name, map) in roles {
        if only.is_some_and(|o| !o.contains(name)) {
            continue;
        }
        std::fs::write(acct.join(format!("{name}.json")), to_canonical_json(map)).unwrap();
    }
}

fn git_commit_all(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "sync"]);
}

fn request(
    store: &PolicyStore,
    account: &str,
    roles: &BTreeMap<String, PolicyMap>,
) -> WriteAccount {
    WriteAccount {
        mode: WriteMode::ReplaceAll,
        action: Action::Sync,
        roles: roles.clone(),
        ..WriteAccount::new(store.current_branch().unwrap(), account)
    }
}

/// Runs `write_account` and returns its time and how many roles it touched.
fn ours(store: &PolicyStore, req: &WriteAccount) -> (Duration, usize) {
    let t = Instant::now();
    let w = store.write_account(req).unwrap().unwrap();
    (
        t.elapsed(),
        w.added.len() + w.changed.len() + w.removed.len(),
    )
}

fn clean(dir: &Path) -> bool {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    out.status.success() && out.stdout.is_empty()
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n: usize = std::env::var("REPOKID_BENCH_ROLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runs: usize = std::env::var("REPOKID_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
    let org = generate(
        SynthOptions {
            seed: 1,
            roles: n,
            accounts: 1,
        },
        Catalog::embedded(),
        now,
    );
    let account = org[0].account.clone();
    let roles: BTreeMap<String, PolicyMap> = org
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                parse_policy_map(&r.name, &r.policies_json).unwrap(),
            )
        })
        .collect();
    let bytes: usize = roles.values().map(|m| to_canonical_json(m).len()).sum();

    // 1% of the roles gain a policy.
    let extra = PolicyDocument::parse(
        "BenchExtra",
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}"#,
    )
    .unwrap();
    let mut changed_roles = roles.clone();
    let mut changed_names = Vec::new();
    for (i, (name, map)) in changed_roles.iter_mut().enumerate() {
        if i % 100 == 0 {
            map.insert("BenchExtra".to_string(), extra.clone());
            changed_names.push(name.clone());
        }
    }

    let t = Instant::now();
    for m in roles.values() {
        std::hint::black_box(to_canonical_json(m));
    }
    let render = t.elapsed();

    let mut first = (Vec::new(), Vec::new());
    let mut second = (Vec::new(), Vec::new(), Vec::new());
    let mut git_add_commit = Vec::new();
    for _ in 0..runs {
        // (a) First sync.
        let ours_dir = tempfile::TempDir::new().unwrap();
        git2::Repository::init(ours_dir.path()).unwrap();
        let store = PolicyStore::open(ours_dir.path()).unwrap();
        let req = request(&store, &account, &roles);
        let (took, touched) = ours(&store, &req);
        first.0.push(took);
        assert_eq!(touched, roles.len());
        assert!(clean(ours_dir.path()), "ours: git status not clean");

        let git_dir = tempfile::TempDir::new().unwrap();
        git2::Repository::init(git_dir.path()).unwrap();
        let t = Instant::now();
        write_files(git_dir.path(), &account, &roles, None);
        let written = t.elapsed();
        git_commit_all(git_dir.path());
        first.1.push(t.elapsed());
        git_add_commit.push(t.elapsed() - written);

        // (b) Second sync, 1% changed.
        let req = request(&store, &account, &changed_roles);
        let (took, touched) = ours(&store, &req);
        second.0.push(took);
        assert_eq!(touched, changed_names.len());
        assert!(clean(ours_dir.path()), "ours: git status not clean");

        let t = Instant::now();
        write_files(git_dir.path(), &account, &changed_roles, None);
        git_commit_all(git_dir.path());
        second.1.push(t.elapsed());

        // The lower bound for git: only the changed files written.
        let git_dir2 = tempfile::TempDir::new().unwrap();
        git2::Repository::init(git_dir2.path()).unwrap();
        write_files(git_dir2.path(), &account, &roles, None);
        git_commit_all(git_dir2.path());
        let t = Instant::now();
        write_files(
            git_dir2.path(),
            &account,
            &changed_roles,
            Some(&changed_names),
        );
        git_commit_all(git_dir2.path());
        second.2.push(t.elapsed());
    }

    println!(
        "sync benchmark: {n} roles, 1 account, {:.1} MB of policy files; rendering them all \
         takes {:.0} ms",
        bytes as f64 / 1e6,
        ms(render)
    );
    println!();
    println!(
        "{:<48} {:>10} {:>10} {:>12}",
        "", "ours (ms)", "git (ms)", "ours / git"
    );
    let row = |label: &str, a: Duration, b: Duration| {
        println!(
            "{label:<48} {:>10.0} {:>10.0} {:>12.2}",
            ms(a),
            ms(b),
            a.as_secs_f64() / b.as_secs_f64()
        );
    };
    let ours_second = median(&mut second.0);
    row(
        "first sync (fresh repo, working tree + index)",
        median(&mut first.0),
        median(&mut first.1),
    );
    row(
        "second sync, 1% changed (git rewrites all files)",
        ours_second,
        median(&mut second.1),
    );
    row(
        "second sync, 1% changed (git writes 1% only)",
        ours_second,
        median(&mut second.2),
    );
    println!();
    println!(
        "medians of {runs} runs; of git's first sync, git add + commit took {:.0} ms",
        ms(median(&mut git_add_commit))
    );

    bench_inventory_read(&account, &roles);
}

/// Where `repokid sync --inventory FILE` starts: reading the inventory file itself.
fn bench_inventory_read(account: &str, roles: &BTreeMap<String, PolicyMap>) {
    let role_list: Vec<repokid::engine::Role> = roles
        .iter()
        .map(|(name, p)| repokid::engine::Role::new(account, name, p.clone()))
        .collect();
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("inventory.json");
    std::fs::write(
        &path,
        repokid::sources::inventory_file::inventory_to_json(&role_list),
    )
    .unwrap();
    let t = Instant::now();
    let bytes_read = std::fs::read(&path).unwrap();
    let inv =
        repokid::sources::inventory_file::parse_inventory("inventory.json", &bytes_read).unwrap();
    println!(
        "reading the inventory file ({:.1} MB, {} roles) adds {:.0} ms to ours",
        bytes_read.len() as f64 / 1e6,
        inv.len(),
        ms(t.elapsed())
    );
}
