//! Property tests over generated policies and usage (thousands of cases; `PROPTEST_CASES`
//! overrides). Every property is checked against an *independent* expansion: a naive recursive
//! glob over the catalog's names, sharing no code with the engine's matcher.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use repokid::engine::minimize::{CoverOptions, CutMode, cover};
use repokid::engine::policy::{
    Effect, PolicyMap, parse_policy_map, policy_map_from_value, to_canonical_json,
};
use repokid::engine::{
    ActionSet, Catalog, EngineSettings, Expansion, LastAccessed, PermissionAges, PlanInput, Role,
    RoleUsage, ServiceUsage, plan_role,
};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Naive IAM glob: recursion over chars, `*` any run, `?` one char.
fn naive_match(p: &[char], t: &[char]) -> bool {
    match (p.first(), t.first()) {
        (None, None) => true,
        (Some('*'), _) => naive_match(&p[1..], t) || (!t.is_empty() && naive_match(p, &t[1..])),
        (Some('?'), Some(_)) => naive_match(&p[1..], &t[1..]),
        (Some(a), Some(b)) if a == b => naive_match(&p[1..], &t[1..]),
        _ => false,
    }
}

/// Catalog names (lowercase) matching one pattern, by brute force. A literal service part can
/// only match names with that `service:` prefix, which keeps this fast without sharing logic.
fn naive_expand(pattern: &str, names: &[String]) -> BTreeSet<String> {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let literal_service = pattern
        .split_once(':')
        .filter(|(s, _)| !s.contains(['*', '?']))
        .map(|(s, _)| format!("{}:", s.to_lowercase()));
    names
        .iter()
        .filter(|n| {
            literal_service
                .as_ref()
                .is_none_or(|s| n.starts_with(s.as_str()))
        })
        .filter(|n| naive_match(&p, &n.chars().collect::<Vec<_>>()))
        .cloned()
        .collect()
}

/// Every catalog name (lowercase) granted by the policies' Allow statements, plus unknown Action
/// entries (lowercase), computed without the engine's expansion.
fn naive_grants(c: &Catalog, policies: &PolicyMap, names: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for doc in policies.values() {
        for st in doc.statements() {
            if st.effect() == Effect::Deny {
                continue;
            }
            let mut matched = BTreeSet::new();
            for e in st.entries() {
                matched.extend(naive_expand(e, names));
            }
            let not = st.kind() == repokid::engine::policy::ActionKind::NotAction;
            if not {
                out.extend(names.iter().filter(|n| !matched.contains(*n)).cloned());
            } else {
                out.extend(matched);
            }
            if !not {
                for e in st.entries() {
                    if matches!(c.expand(e), Expansion::Unknown) {
                        out.insert(format!("unknown:{}", e.to_lowercase()));
                    }
                }
            }
        }
    }
    out
}

fn names(c: &Catalog) -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        (0..c.len() as u32)
            .map(|id| c.lower_name(id).to_string())
            .collect()
    })
}

/// Services the generated policies draw from (including prefix-sharing pairs).
const SERVICES: &[&str] = &[
    "s3",
    "ec2",
    "ec2messages",
    "iam",
    "sqs",
    "cloudformation",
    "acm",
    "acm-pca",
    "kms",
    "lambda",
    "sts",
    "logs",
];

fn entry(c: &'static Catalog) -> impl Strategy<Value = String> {
    let svc = prop::sample::select(SERVICES);
    prop_oneof![
        5 => (svc.clone(), any::<prop::sample::Index>(), any::<bool>()).prop_map(move |(s, i, lower)| {
            let r = c.service(s).unwrap().actions.clone();
            let name = c.name(r.start + i.index(r.len()) as u32);
            if lower { name.to_lowercase() } else { name.to_string() }
        }),
        2 => svc.clone().prop_map(|s| format!("{s}:*")),
        3 => (svc.clone(), prop::sample::select(&["Describe", "Get", "List", "Put", "Create", "DescribeStack", "GetObject", "Delete"][..]))
            .prop_map(|(s, p)| format!("{s}:{p}*")),
        1 => (svc.clone(), any::<prop::sample::Index>()).prop_map(move |(s, i)| {
            // A `?` in the middle of a real name.
            let r = c.service(s).unwrap().actions.clone();
            let name = c.name(r.start + i.index(r.len()) as u32).to_string();
            let k = name.find(':').unwrap() + 2;
            format!("{}?{}", &name[..k], &name[k + 1..])
        }),
        1 => Just("*".to_string()),
        1 => Just("ec2*:Describe*".to_string()),
        1 => svc.prop_map(|s| format!("{s}:NoSuchAction")),
    ]
}

#[derive(Debug, Clone)]
struct StatementSpec {
    effect_deny: bool,
    norepo: bool,
    not_action: bool,
    entries: Vec<String>,
    as_string: bool,
}

fn statement(c: &'static Catalog) -> impl Strategy<Value = StatementSpec> {
    (
        0u8..100,
        prop::collection::vec(entry(c), 1..6),
        any::<bool>(),
    )
        .prop_map(|(roll, entries, as_string)| StatementSpec {
            effect_deny: roll < 10,
            norepo: (10..20).contains(&roll),
            not_action: (20..28).contains(&roll),
            as_string: as_string && entries.len() == 1,
            entries,
        })
}

fn policies(c: &'static Catalog) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec(statement(c), 1..4), 1..4).prop_map(|docs| {
        let mut m = serde_json::Map::new();
        for (i, sts) in docs.iter().enumerate() {
            let statements: Vec<Value> = sts
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let mut o = serde_json::Map::new();
                    if s.norepo {
                        o.insert("Sid".into(), json!(format!("NOREPO{j}")));
                    }
                    o.insert(
                        "Effect".into(),
                        json!(if s.effect_deny { "Deny" } else { "Allow" }),
                    );
                    let key = if s.not_action { "NotAction" } else { "Action" };
                    o.insert(
                        key.into(),
                        if s.as_string {
                            json!(s.entries[0])
                        } else {
                            json!(s.entries)
                        },
                    );
                    o.insert("Resource".into(), json!("*"));
                    Value::Object(o)
                })
                .collect();
            m.insert(
                format!("p{i}"),
                json!({"Version": "2012-10-17", "Statement": statements}),
            );
        }
        serde_json::to_string(&Value::Object(m)).unwrap()
    })
}

fn usage() -> impl Strategy<Value = RoleUsage> {
    prop::collection::btree_map(
        prop::sample::select(SERVICES).prop_map(str::to_string),
        prop_oneof![
            Just(LastAccessed::Never),
            (0i64..400)
                .prop_map(|d| LastAccessed::At(now() - Duration::days(d) - Duration::hours(1))),
            Just(LastAccessed::Malformed("x".into())),
        ],
        0..SERVICES.len(),
    )
    .prop_map(|m| RoleUsage {
        collected_at: Some(now() - Duration::hours(1)),
        services: m
            .into_iter()
            .map(|(k, la)| {
                (
                    k,
                    ServiceUsage {
                        last_accessed: la,
                        actions: None,
                    },
                )
            })
            .collect(),
    })
}

fn plan(role: &Role, usage: &RoleUsage, settings: &EngineSettings) -> repokid::engine::RolePlan {
    let ages = PermissionAges::Uniform(now() - Duration::days(365));
    plan_role(
        &PlanInput {
            role,
            usage: Some(usage),
            ages: &ages,
            filter_hits: &[],
            announced: None,
            on_decisions: None,
        },
        settings,
        Catalog::embedded(),
        now(),
    )
}

fn service_of(name: &str) -> &str {
    name.split(':').next().unwrap_or_default()
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Output ⊆ input (never grants new access), exactly input − removed; Deny and NOREPO
    /// statements byte-identical; used services keep every action; idempotent.
    #[test]
    fn rewrite_properties(text in policies(Catalog::embedded()), usage in usage(), small_limit in any::<bool>()) {
        let c = Catalog::embedded();
        let all = names(c);
        let role = Role::new("123456789012", "r", parse_policy_map("gen", &text).unwrap());
        // A small limit forces the minimization path on many cases.
        let settings = EngineSettings { size_limit: if small_limit { 600 } else { 10_240 }, ..EngineSettings::default() };
        let p = plan(&role, &usage, &settings);
        let Some(rw) = p.rewrite.as_ref() else { return Ok(()); };
        let before = naive_grants(c, &role.policies, all);
        let after = naive_grants(c, &rw.policies, all);
        prop_assert!(after.is_subset(&before), "new grants: {:?}", after.difference(&before).take(5).collect::<Vec<_>>());
        let removed: BTreeSet<String> = p.decisions.iter()
            .filter(|(_, r)| r.is_removable())
            .map(|(id, _)| c.lower_name(id).to_string())
            .collect();
        let expected: BTreeSet<String> = before.difference(&removed).cloned().collect();
        prop_assert_eq!(&after, &expected, "rewrite is not exactly input minus removed");
        for (name, doc) in &role.policies {
            for st in doc.statements() {
                if st.effect() == Effect::Deny || st.is_norepo() {
                    let out = rw.policies.get(name).map(|d| d.statements()).unwrap_or_default();
                    prop_assert!(out.iter().any(|o| serde_json::to_string(o.fields()).unwrap() == serde_json::to_string(st.fields()).unwrap()),
                        "statement not preserved byte for byte in {}", name);
                }
            }
        }
        for (svc, u) in &usage.services {
            let used = match &u.last_accessed {
                LastAccessed::At(t) => *t > now() - Duration::days(90),
                LastAccessed::Malformed(_) => true,
                LastAccessed::Never => false,
            };
            if used {
                let b: BTreeSet<_> = before.iter().filter(|n| service_of(n) == svc).collect();
                let a: BTreeSet<_> = after.iter().filter(|n| service_of(n) == svc).collect();
                prop_assert_eq!(a, b, "used service {} lost actions", svc);
            }
        }
        // Idempotent: planning the output again removes nothing and changes nothing.
        let again_role = Role { policies: rw.policies.clone(), ..role.clone() };
        let again = plan(&again_role, &usage, &settings);
        prop_assert_eq!(again.decisions.removable_count(), 0);
        prop_assert!(again.rewrite.is_none());
        // The canonical text round-trips.
        let canon = to_canonical_json(&rw.policies);
        prop_assert_eq!(&parse_policy_map("out", &canon).unwrap(), &rw.policies);
    }

    /// Minimization is exact: re-expanding the cover yields exactly the wanted set.
    #[test]
    fn minimization_is_exact(
        picks in prop::collection::vec((prop::sample::select(SERVICES), any::<prop::sample::Index>(), 1usize..40), 1..8),
        mode_any in any::<bool>(),
        allow_pm in any::<bool>(),
    ) {
        let c = Catalog::embedded();
        let mut wanted = c.empty_set();
        for (svc, start, len) in picks {
            // Runs of neighbouring actions make wildcard-shaped sets likely.
            let r = c.service(svc).unwrap().actions.clone();
            let s = r.start + start.index(r.len()) as u32;
            for id in s..(s + len as u32).min(r.end) {
                wanted.insert(id);
            }
        }
        let opts = CoverOptions {
            mode: if mode_any { CutMode::AnyCharacter } else { CutMode::WordBoundary },
            allow_permissions_management: allow_pm,
            pm_already_wildcarded: None,
        };
        let patterns = cover(c, &wanted, &wanted, opts);
        let all = names(c);
        let got: ActionSet = patterns
            .iter()
            .flat_map(|p| naive_expand(p, all))
            .map(|n| c.lookup(&n).unwrap())
            .collect();
        prop_assert_eq!(got, wanted);
        prop_assert!(patterns.len() <= c.len());
    }
}

proptest! {
    #![proptest_config(cases(3000))]

    /// Arbitrary bytes never panic the policy parser.
    #[test]
    fn parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(v) = repokid::engine::json::parse_strict_slice(&bytes) {
            let _ = policy_map_from_value("fuzz", v);
        }
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = repokid::engine::PolicyDocument::parse("fuzz", s);
        }
    }

    /// Arbitrary JSON never panics the policy model, and what parses round-trips.
    #[test]
    fn parser_never_panics_on_json(v in arb_json()) {
        if let Ok(map) = policy_map_from_value("fuzz", v.clone()) {
            let text = to_canonical_json(&map);
            prop_assert_eq!(parse_policy_map("again", &text).unwrap(), map);
        }
        let _ = repokid::engine::PolicyDocument::from_value("fuzz", v);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(
            &[
                "Allow",
                "Deny",
                "*",
                "s3:Get*",
                "NOREPO",
                "2012-10-17",
                "",
                "%7B"
            ][..]
        )
        .prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(
                        &[
                            "Statement",
                            "Effect",
                            "Action",
                            "NotAction",
                            "Resource",
                            "Condition",
                            "Sid",
                            "Version",
                            "x"
                        ][..]
                    ),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}
