//! AWS benchmark: the calls `sync` and `apply` make, counted against moto (IAM + STS with the
//! Access Advisor extension of tests/servers/moto_with_aa.py), and the wall time of each phase.
//!
//! ```text
//! cargo bench --bench aws                         # 1,000 roles in one fresh account
//! REPOKID_BENCH_ROLES=50 cargo bench --bench aws
//! REPOKID_BENCH_SETUP_THREADS=4 cargo bench --bench aws   # create the roles with 4 threads
//! REPOKID_TEST_MOTO_ENDPOINT=http://127.0.0.1:5000 cargo bench --bench aws   # a running moto
//! ```
//!
//! Setup: a fresh account with ROLES roles, each with one or two inline policies (a fixed mix),
//! and Access Advisor data for every role. Then:
//!
//! * sync: the inventory (`GetAccountAuthorizationDetails`), the usage (Access Advisor, the
//!   default concurrency) and `ops::sync` into a fresh repository, each timed and counted;
//! * apply: 10% of the roles changed in the repository (an action dropped, a whole policy dropped,
//!   or both), committed as a merged pull request would be; `apply_account` with `commit`; then
//!   `apply_account` again.
//!
//! Checked (exit 1 when one fails): inventory calls = ⌈roles/1000⌉; one Generate and at least
//! two Get calls per role (moto's extension answers IN_PROGRESS to a job's first poll); apply
//! reads each changed role before and after writing (ListRolePolicies + one GetRolePolicy per
//! policy, each time), puts each changed policy once, deletes each removed policy once, and makes
//! no call for an unchanged role; the second apply makes no call at all.

#![allow(clippy::unwrap_used)] // benchmark code: a panic is the failure report

#[path = "../tests/it/common/moto.rs"]
mod moto;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_iam::config::Credentials;
use chrono::Utc;
use repokid::apply::{ApplyOptions, BaselineSource, RoleStatus, apply_account};
use repokid::aws::access_advisor::{AccessAdvisor, Granularity};
use repokid::aws::{Aws, AwsSettings};
use repokid::engine::policy::{parse_policy_map, to_canonical_json};
use repokid::ops;
use repokid::sources::{InventorySource, UsageSource};
use repokid::store::git::PolicyStore;
use serde_json::{Value, json};

const INVENTORY: &str = "iam:GetAccountAuthorizationDetails";
const GENERATE: &str = "iam:GenerateServiceLastAccessedDetails";
const GET_AA: &str = "iam:GetServiceLastAccessedDetails";
const LIST: &str = "iam:ListRolePolicies";
const GET_POLICY: &str = "iam:GetRolePolicy";
const PUT: &str = "iam:PutRolePolicy";
const DELETE: &str = "iam:DeleteRolePolicy";

/// Roles per `GetAccountAuthorizationDetails` page.
const PAGE: usize = 1000;

/// Second actions of the `data` policy, by role.
const SECOND: [&str; 5] = [
    "sqs:SendMessage",
    "sns:Publish",
    "dynamodb:GetItem",
    "kms:Decrypt",
    "logs:PutLogEvents",
];

fn role_name(i: usize) -> String {
    format!("bench-role-{i:05}")
}

/// How role `i` is changed by the merged pull request (10% of the roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Unchanged.
    None,
    /// One action dropped from the `data` policy.
    DropAction,
    /// The whole `extra` policy dropped.
    DropPolicy,
    /// Both.
    Both,
}

fn change_of(i: usize) -> Change {
    match i % 30 {
        0 => Change::DropAction,
        5 => Change::DropPolicy,
        15 => Change::Both,
        _ => Change::None,
    }
}

/// Role `i`'s inline policies (name → document), before or after the merged change. Odd roles
/// have two policies, even roles one.
fn policies(i: usize, changed: bool) -> BTreeMap<String, Value> {
    let change = if changed { change_of(i) } else { Change::None };
    let mut data = vec!["s3:GetObject", "s3:PutObject", SECOND[i % SECOND.len()]];
    if matches!(change, Change::DropAction | Change::Both) {
        data.pop();
    }
    let mut out = BTreeMap::new();
    out.insert(
        "data".to_string(),
        json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Data", "Effect": "Allow", "Action": data, "Resource": "*"}]}),
    );
    if i % 2 == 1 && !matches!(change, Change::DropPolicy | Change::Both) {
        out.insert(
            "extra".to_string(),
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:Query", "dynamodb:PutItem"],
                 "Resource": format!("arn:aws:dynamodb:us-east-1:*:table/t{}", i % 7)}]}),
        );
    }
    out
}

/// Access Advisor entries of role `i`: s3 used yesterday, the second service never.
fn usage_entries(i: usize) -> Value {
    let ns = SECOND[i % SECOND.len()].split(':').next().unwrap();
    let yesterday = (Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    json!([
        {"ServiceNamespace": "s3", "ServiceName": "Amazon S3", "LastAuthenticated": yesterday,
         "TotalAuthenticatedEntities": 1},
        {"ServiceNamespace": ns, "ServiceName": ns, "LastAuthenticated": null},
    ])
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
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

fn connect() -> Aws {
    Aws::connect_with(
        &AwsSettings {
            endpoint_url: Some(moto::endpoint().to_string()),
            assume_role: "RepokidRole".into(),
            ..Default::default()
        },
        Some(Credentials::new(
            moto::ACCESS_KEY,
            moto::SECRET_KEY,
            Some(moto::SESSION_TOKEN.into()),
            None,
            "bench",
        )),
    )
    .unwrap()
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.0} ms", d.as_secs_f64() * 1000.0)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

fn get(calls: &BTreeMap<String, u64>, op: &str) -> u64 {
    calls.get(op).copied().unwrap_or(0)
}

fn print_calls(calls: &BTreeMap<String, u64>, per: usize, per_label: &str) {
    for (op, n) in calls {
        println!(
            "    {op:<42} {n:>7}   {:>6.2} per {per_label}",
            *n as f64 / per.max(1) as f64
        );
    }
    let total: u64 = calls.values().sum();
    println!(
        "    {:<42} {total:>7}   {:>6.2} per {per_label}",
        "total",
        total as f64 / per.max(1) as f64
    );
}

/// Records a check: prints it and remembers a failure.
fn check(failures: &mut Vec<String>, ok: bool, what: String) {
    println!("    {} {what}", if ok { "ok  " } else { "FAIL" });
    if !ok {
        failures.push(what);
    }
}

fn main() {
    let n = env_usize("REPOKID_BENCH_ROLES", 1000).max(1);
    // One thread creates 1,000 roles in about 10 s; more threads were slower (moto serialises).
    let threads = env_usize("REPOKID_BENCH_SETUP_THREADS", 1).clamp(1, n);
    let started = Instant::now();
    let mut failures = Vec::new();

    let account = set_up(n, threads);
    let (repo, store, roles) = bench_sync(&account, n, &mut failures);
    let merged = merge_a_pull_request(repo.path(), &account, n);
    bench_apply(&store, &account, roles, merged, &mut failures);
    bench_apply_again(&store, &account, &mut failures);
    println!();
    println!("bench total: {}", secs(started.elapsed()));
    if !failures.is_empty() {
        eprintln!("{} check(s) failed:", failures.len());
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

/// Setup: moto, a fresh account, the roles and their Access Advisor data. Returns the account.
fn set_up(n: usize, threads: usize) -> String {
    let t = Instant::now();
    let endpoint = moto::endpoint();
    let moto_start = t.elapsed();
    let account = moto::fresh_account();
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            let account = &account;
            s.spawn(move || {
                let acct = moto::MotoAccount::new(account);
                for i in (k..n).step_by(threads) {
                    let docs: Vec<(String, String)> = policies(i, false)
                        .into_iter()
                        .map(|(name, doc)| (name, doc.to_string()))
                        .collect();
                    let refs: Vec<(&str, &str)> =
                        docs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                    acct.create_role(&role_name(i), &refs);
                }
            });
        }
    });
    let create = t.elapsed();
    let live_policies: usize = (0..n).map(|i| policies(i, false).len()).sum();
    let t = Instant::now();
    let seed: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                format!("arn:aws:iam::{account}:role/{}", role_name(i)),
                usage_entries(i),
            )
        })
        .collect();
    moto::seed_access_advisor(&Value::Object(seed));
    let seeding = t.elapsed();

    println!(
        "aws benchmark: {n} roles with {live_policies} inline policies in one fresh moto account \
         ({endpoint})"
    );
    println!(
        "setup: moto up in {}, roles created in {} ({}, {:.1} ms per role), \
         Access Advisor seeded in {}",
        secs(moto_start),
        secs(create),
        if threads == 1 {
            "one at a time".to_string()
        } else {
            format!("{threads} threads")
        },
        create.as_secs_f64() * 1000.0 / n as f64,
        secs(seeding)
    );
    println!();
    account
}

/// Sync: inventory, usage, store write. Returns the repository, its store and the number of roles.
fn bench_sync(
    account: &str,
    n: usize,
    failures: &mut Vec<String>,
) -> (tempfile::TempDir, PolicyStore, usize) {
    let accounts = vec![account.to_string()];
    let aws = connect();
    let t = Instant::now();
    let inventory = aws.inventory(&accounts).unwrap();
    let inventory_time = t.elapsed();
    let after_inventory = aws.calls.snapshot();
    let roles = inventory.roles.get(account).map_or(0, Vec::len);

    let aa = AccessAdvisor::new(&aws, Granularity::Service);
    let t = Instant::now();
    let usage = aa.usage(&inventory, Utc::now()).unwrap();
    let usage_time = t.elapsed();
    let sync_calls = aws.calls.snapshot();

    let repo = tempfile::TempDir::new().unwrap();
    git(repo.path(), &["init", "-q", "-b", "main"]);
    git(repo.path(), &["config", "user.name", "bench"]);
    git(repo.path(), &["config", "user.email", "bench@localhost"]);
    let store = PolicyStore::open(repo.path()).unwrap();
    let t = Instant::now();
    let synced = ops::sync(&store, &inventory, &accounts).unwrap();
    let store_time = t.elapsed();
    let written = synced
        .iter()
        .filter_map(|s| s.written.as_ref())
        .map(|w| w.added.len())
        .sum::<usize>();

    let usage_calls: BTreeMap<String, u64> = sync_calls
        .iter()
        .filter(|(op, _)| !after_inventory.contains_key(*op))
        .map(|(op, n)| (op.clone(), *n))
        .collect();
    println!(
        "sync: {roles} roles read, usage for {} ({} failed), {written} role files committed",
        usage.by_arn.len(),
        usage.failures.len()
    );
    println!(
        "  {:<44} {:>9} {:>7} {:>10}",
        "phase", "wall", "calls", "calls/role"
    );
    let row = |label: &str, d: Duration, calls: Option<u64>| {
        let (c, per) = match calls {
            Some(c) => (
                c.to_string(),
                format!("{:.2}", c as f64 / roles.max(1) as f64),
            ),
            None => ("-".into(), "-".into()),
        };
        println!("  {label:<44} {:>9} {c:>7} {per:>10}", secs(d));
    };
    let inventory_calls: u64 = after_inventory.values().sum();
    let usage_total: u64 = usage_calls.values().sum();
    row(
        "inventory (+ STS AssumeRole, not counted)",
        inventory_time,
        Some(inventory_calls),
    );
    row(
        &format!(
            "usage: Access Advisor, {} jobs in flight",
            aws.settings().access_advisor_jobs
        ),
        usage_time,
        Some(usage_total),
    );
    row("store: ops::sync, one commit", store_time, None);
    row(
        "total",
        inventory_time + usage_time + store_time,
        Some(inventory_calls + usage_total),
    );
    println!("  calls by operation:");
    print_calls(&sync_calls, roles, "role");
    println!("  checks:");
    check(
        failures,
        roles == n,
        format!("inventory roles = roles created: {roles} = {n}"),
    );
    let pages = roles.div_ceil(PAGE).max(1) as u64;
    let inv = get(&sync_calls, INVENTORY);
    if inv == 1 && pages > 1 && inventory_calls == 1 {
        // moto ignores MaxItems for this call and answers every role with IsTruncated false.
        println!(
            "    n/a  inventory calls = ⌈roles/{PAGE}⌉: {inv} for {pages} pages' worth, because \
             moto returns every role in one page (it does not page GetAccountAuthorizationDetails)"
        );
    } else {
        check(
            failures,
            inv == pages && inventory_calls == inv,
            format!(
                "inventory calls = ⌈roles/{PAGE}⌉: {inv} = {pages} (and no other call: \
                 {inventory_calls} in all)"
            ),
        );
    }
    let (generate, get_aa) = (get(&sync_calls, GENERATE), get(&sync_calls, GET_AA));
    check(
        failures,
        generate == roles as u64,
        format!("Generate calls = roles: {generate} = {roles}"),
    );
    check(
        failures,
        get_aa >= 2 * roles as u64,
        format!(
            "Get calls ≥ 2 per role: {get_aa} ≥ {} ({:.2} per role)",
            2 * roles,
            get_aa as f64 / roles.max(1) as f64
        ),
    );
    check(
        failures,
        usage.by_arn.len() == roles && usage.failures.is_empty(),
        format!(
            "usage for every role: {} of {roles}, {} failures",
            usage.by_arn.len(),
            usage.failures.len()
        ),
    );
    if let Some((arn, why)) = usage.failures.iter().next() {
        println!("         e.g. {arn}: {why}");
    }
    check(
        failures,
        written == roles,
        format!("role files committed = roles: {written} = {roles}"),
    );
    println!();
    (repo, store, roles)
}

/// What the merged pull request changed, and the IAM calls applying it must make.
struct Merged {
    changed: Vec<String>,
    kinds: BTreeMap<&'static str, usize>,
    want_reads: u64,
    want_gets: u64,
    want_puts: u64,
    want_deletes: u64,
}

/// The merged pull request: 10% of the roles changed, committed with the git CLI.
fn merge_a_pull_request(repo: &Path, account: &str, n: usize) -> Merged {
    let dir = repo.join("policies").join(account);
    let mut changed = Vec::new();
    let (mut want_reads, mut want_gets, mut want_puts, mut want_deletes) = (0u64, 0u64, 0u64, 0u64);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for i in 0..n {
        let change = change_of(i);
        if change == Change::None {
            continue;
        }
        let (before, after) = (policies(i, false), policies(i, true));
        let map = parse_policy_map(&role_name(i), &json!(after).to_string()).unwrap();
        std::fs::write(
            dir.join(format!("{}.json", role_name(i))),
            to_canonical_json(&map),
        )
        .unwrap();
        changed.push(role_name(i));
        *kinds
            .entry(match change {
                Change::DropAction => "an action dropped",
                Change::DropPolicy => "a policy dropped",
                _ => "both",
            })
            .or_default() += 1;
        // Read before writing and read back: ListRolePolicies + one GetRolePolicy per policy.
        want_reads += 2;
        want_gets += (before.len() + after.len()) as u64;
        want_puts += after
            .iter()
            .filter(|(name, doc)| before.get(*name) != Some(doc))
            .count() as u64;
        want_deletes += before.keys().filter(|k| !after.contains_key(*k)).count() as u64;
    }
    git(repo, &["add", "-A"]);
    git(
        repo,
        &["commit", "-q", "-m", "Merge pull request #1: rightsize"],
    );
    Merged {
        changed,
        kinds,
        want_reads,
        want_gets,
        want_puts,
        want_deletes,
    }
}

/// Apply.
fn bench_apply(
    store: &PolicyStore,
    account: &str,
    roles: usize,
    merged: Merged,
    failures: &mut Vec<String>,
) {
    let Merged {
        changed,
        kinds,
        want_reads,
        want_gets,
        want_puts,
        want_deletes,
    } = merged;
    let c = changed.len();
    let aws = connect();
    let opts = ApplyOptions {
        commit: true,
        ..Default::default()
    };
    let t = Instant::now();
    let report = apply_account(store, &aws, account, &opts).unwrap();
    let apply_time = t.elapsed();
    let apply_calls = aws.calls.snapshot();
    let applied = report
        .roles
        .iter()
        .filter(|r| r.status == RoleStatus::Applied)
        .count();
    println!(
        "apply: {c} of {roles} roles changed ({}), applied in {} ({:.1} ms per changed role); \
         baseline {:?}, {applied} roles applied, baseline recorded: {}",
        kinds
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        secs(apply_time),
        apply_time.as_secs_f64() * 1000.0 / c.max(1) as f64,
        report.baseline_source,
        report.recorded
    );
    println!("  calls by operation:");
    print_calls(&apply_calls, c, "changed role");
    let total: u64 = apply_calls.values().sum();
    let want_total = want_reads + want_gets + want_puts + want_deletes;
    println!(
        "  per changed role: {:.2} policy reads (ListRolePolicies, before and after), \
         {:.2} GetRolePolicy, {:.2} writes; {:.2} calls",
        get(&apply_calls, LIST) as f64 / c.max(1) as f64,
        get(&apply_calls, GET_POLICY) as f64 / c.max(1) as f64,
        (get(&apply_calls, PUT) + get(&apply_calls, DELETE)) as f64 / c.max(1) as f64,
        total as f64 / c.max(1) as f64,
    );
    println!("  checks:");
    check(
        failures,
        report.roles.len() == c && applied == c && report.recorded,
        format!(
            "every changed role applied and only those: {applied} applied of {} reported, {c} \
             changed; recorded: {}",
            report.roles.len(),
            report.recorded
        ),
    );
    if let Some(r) = report
        .roles
        .iter()
        .find(|r| r.status != RoleStatus::Applied)
    {
        println!(
            "         e.g. {}: {:?}: {}",
            r.role,
            r.status,
            r.message.as_deref().unwrap_or("")
        );
    }
    check(
        failures,
        report.baseline_source == BaselineSource::LastSync,
        format!(
            "baseline from the sync commit: {:?}",
            report.baseline_source
        ),
    );
    for (op, got, want, what) in [
        (
            LIST,
            get(&apply_calls, LIST),
            want_reads,
            "2 per changed role",
        ),
        (
            GET_POLICY,
            get(&apply_calls, GET_POLICY),
            want_gets,
            "one per live policy before + one per policy after",
        ),
        (
            PUT,
            get(&apply_calls, PUT),
            want_puts,
            "one per changed policy",
        ),
        (
            DELETE,
            get(&apply_calls, DELETE),
            want_deletes,
            "one per removed policy",
        ),
    ] {
        check(
            failures,
            got == want,
            format!("{op}: {got} = {want} ({what})"),
        );
    }
    check(
        failures,
        total == want_total,
        format!(
            "total {total} = {want_total}, all for the {c} changed roles: 0 calls for the {} \
             unchanged",
            roles - c
        ),
    );
}

/// Apply again: nothing changed since the recorded baseline.
fn bench_apply_again(store: &PolicyStore, account: &str, failures: &mut Vec<String>) {
    let opts = ApplyOptions {
        commit: true,
        ..Default::default()
    };
    let aws = connect();
    let t = Instant::now();
    let again = apply_account(store, &aws, account, &opts).unwrap();
    let again_time = t.elapsed();
    let again_calls = aws.calls.total();
    println!(
        "apply again: {} roles to apply, {again_calls} calls, {} (baseline {:?})",
        again.roles.len(),
        secs(again_time),
        again.baseline_source
    );
    check(
        failures,
        again_calls == 0
            && again.roles.is_empty()
            && again.baseline_source == BaselineSource::Recorded,
        format!(
            "second apply: {again_calls} calls, {} roles, baseline {:?} (want 0, 0, Recorded)",
            again.roles.len(),
            again.baseline_source
        ),
    );
}
