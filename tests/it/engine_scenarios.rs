//! Repokid's own scenarios (reference §5.9, §5.15, §13.1, §13.2, §13.7) run against our engine.
//! Where our behaviour deliberately differs from Repokid 0.19.8, the test name says so.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use repokid::engine::grants::analyze;
use repokid::engine::policy::{parse_policy_map, to_canonical_json};
use repokid::engine::rewrite::rewrite;
use repokid::engine::{
    ActionSet, Catalog, EngineSettings, Expansion, Ineligible, LastAccessed, PermissionAges,
    PlanInput, Reason, Role, RoleUsage, ServiceUsage, plan_role,
};
use repokid::filters::FilterHit;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

fn usage(entries: &[(&str, LastAccessed)]) -> RoleUsage {
    RoleUsage {
        collected_at: Some(now() - Duration::hours(2)),
        services: entries
            .iter()
            .map(|(ns, la)| {
                (
                    ns.to_string(),
                    ServiceUsage {
                        last_accessed: la.clone(),
                        actions: None,
                    },
                )
            })
            .collect(),
    }
}

fn days_ago(d: i64) -> LastAccessed {
    LastAccessed::At(now() - Duration::days(d))
}

fn set(c: &Catalog, patterns: &[&str]) -> ActionSet {
    let mut s = c.empty_set();
    for p in patterns {
        match c.expand(p) {
            Expansion::Known(e) => s.union_with(&e),
            Expansion::Unknown => panic!("{p} is not in the catalog"),
        }
    }
    s
}

const UNUSED_EC2: &str = r#"{
  "iam_perms": {"Version": "2012-10-17", "Statement": [{"Action": ["iam:AddRoleToInstanceProfile", "iam:AttachRolePolicy"], "Resource": ["*"], "Effect": "Allow"}]},
  "ec2_perms": {"Version": "2012-10-17", "Statement": [{"Action": ["ec2:AllocateHosts", "ec2:AssociateAddress"], "Resource": ["*"], "Effect": "Allow"}]}
}"#;

fn old_role(policies: &str) -> Role {
    let mut role = Role::new(
        "123456789012",
        "unused_ec2",
        parse_policy_map("fixture", policies).unwrap(),
    );
    role.create_date = Some(Utc.with_ymd_and_hms(2017, 1, 31, 0, 0, 0).unwrap());
    role
}

fn plan(
    role: &Role,
    usage: Option<&RoleUsage>,
    ages: &PermissionAges,
) -> repokid::engine::RolePlan {
    let input = PlanInput {
        role,
        usage,
        ages,
        filter_hits: &[],
        announced: None,
        on_decisions: None,
    };
    plan_role(
        &input,
        &EngineSettings::default(),
        Catalog::embedded(),
        now(),
    )
}

/// §5.15: `ec2` never used, `iam` used yesterday, permissions long granted → ec2_perms deleted,
/// iam_perms untouched.
#[test]
fn repokid_5_15_unused_ec2_policy_is_deleted() {
    let role = old_role(UNUSED_EC2);
    let u = usage(&[("iam", days_ago(1)), ("ec2", LastAccessed::Never)]);
    let p = plan(
        &role,
        Some(&u),
        &PermissionAges::Uniform(now() - Duration::days(400)),
    );
    assert!(p.eligible(), "{:?}", p.ineligible);
    let c = Catalog::embedded();
    let removed: Vec<&str> = p
        .decisions
        .iter()
        .filter(|(_, r)| r.is_removable())
        .map(|(id, _)| c.name(id))
        .collect();
    assert_eq!(removed, ["ec2:AllocateHosts", "ec2:AssociateAddress"]);
    let rw = p.rewrite.unwrap();
    assert_eq!(rw.removed_policies, ["ec2_perms"]);
    assert_eq!(rw.policies.len(), 1);
    assert_eq!(rw.policies["iam_perms"], role.policies["iam_perms"]);
}

/// §5.15 / W1: on first sighting (no history) every permission is in the grace period; 0.19.8
/// removed the ec2 permissions immediately.
#[test]
fn first_sighting_keeps_everything_fixes_w1() {
    let role = old_role(UNUSED_EC2);
    let u = usage(&[("iam", days_ago(1)), ("ec2", LastAccessed::Never)]);
    let p = plan(&role, Some(&u), &PermissionAges::Unknown);
    assert_eq!(p.ineligible, [Ineligible::NothingToRemove]);
    assert!(
        p.decisions
            .iter()
            .filter(|(id, _)| Catalog::embedded().name(*id).starts_with("ec2:"))
            .all(|(_, r)| *r == Reason::GracePeriod { since: None })
    );
}

/// W1: an exact permission added 3 days ago is protected; one added 30 days ago is not.
#[test]
fn grace_period_matches_exact_actions_fixes_w1() {
    let role = old_role(UNUSED_EC2);
    let u = usage(&[("iam", days_ago(1)), ("ec2", LastAccessed::Never)]);
    let ages = PermissionAges::PerAction {
        since: [("ec2:allocatehosts".to_string(), now() - Duration::days(3))].into(),
        fallback: Some(now() - Duration::days(30)),
    };
    let p = plan(&role, Some(&u), &ages);
    let c = Catalog::embedded();
    let reasons: BTreeMap<&str, &Reason> =
        p.decisions.iter().map(|(id, r)| (c.name(id), r)).collect();
    assert!(matches!(
        reasons["ec2:AllocateHosts"],
        Reason::GracePeriod { since: Some(_) }
    ));
    assert!(reasons["ec2:AssociateAddress"].is_removable());
    let rw = p.rewrite.unwrap();
    let text = to_canonical_json(&rw.policies);
    assert!(text.contains("ec2:AllocateHosts") && !text.contains("ec2:AssociateAddress"));
}

/// W4: a service with no Access Advisor entry is kept; 0.19.8 removed it.
#[test]
fn missing_usage_entry_keeps_the_service_fixes_w4() {
    let role = old_role(UNUSED_EC2);
    let u = usage(&[("iam", days_ago(1))]);
    let p = plan(
        &role,
        Some(&u),
        &PermissionAges::Uniform(now() - Duration::days(400)),
    );
    assert_eq!(p.ineligible, [Ineligible::NothingToRemove]);
    assert!(p.decisions.iter().any(|(_, r)| *r == Reason::NoUsageEntry));
}

/// §5.3: a malformed or future timestamp counts as used.
#[test]
fn malformed_timestamp_counts_as_used() {
    let role = old_role(UNUSED_EC2);
    let u = usage(&[
        ("iam", days_ago(1)),
        ("ec2", LastAccessed::from_epoch(154_578_762, now())),
    ]);
    let p = plan(
        &role,
        Some(&u),
        &PermissionAges::Uniform(now() - Duration::days(400)),
    );
    assert_eq!(p.ineligible, [Ineligible::NothingToRemove]);
}

/// §5.2: used strictly inside the 90-day window is used; 91 days ago is not.
#[test]
fn usage_window_boundaries() {
    let role = old_role(UNUSED_EC2);
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let u = usage(&[("iam", days_ago(1)), ("ec2", days_ago(89))]);
    assert_eq!(
        plan(&role, Some(&u), &ages).ineligible,
        [Ineligible::NothingToRemove]
    );
    let u = usage(&[("iam", days_ago(1)), ("ec2", days_ago(91))]);
    assert!(plan(&role, Some(&u), &ages).eligible());
}

/// §5.8 / §13.1 case 12–13: eligibility reasons, in Repokid's order.
#[test]
fn repokid_13_1_eligibility_reasons() {
    let role = old_role(UNUSED_EC2);
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let hits = vec![
        FilterHit {
            filter: "filter1".into(),
            reason: "r1".into(),
        },
        FilterHit {
            filter: "filter2".into(),
            reason: "r2".into(),
        },
    ];
    let u = usage(&[("iam", days_ago(1)), ("ec2", LastAccessed::Never)]);
    let filtered = plan_role(
        &PlanInput {
            role: &role,
            usage: Some(&u),
            ages: &ages,
            filter_hits: &hits,
            announced: None,
            on_decisions: None,
        },
        &EngineSettings::default(),
        Catalog::embedded(),
        now(),
    );
    assert!(matches!(&filtered.ineligible[..], [Ineligible::Filtered { hits }] if hits.len() == 2));
    assert_eq!(
        plan(&role, None, &ages).ineligible,
        [Ineligible::NoUsageData]
    );
    assert_eq!(
        plan(&role, Some(&RoleUsage::default()), &ages).ineligible,
        [Ineligible::NoUsageData]
    );
    // Fresh at 1 day, stale at 14 days (threshold 5).
    let mut fresh = u.clone();
    fresh.collected_at = Some(now() - Duration::days(1));
    assert!(plan(&role, Some(&fresh), &ages).eligible());
    let mut stale = u.clone();
    stale.collected_at = Some(now() - Duration::days(14));
    assert!(matches!(
        &plan(&role, Some(&stale), &ages).ineligible[..],
        [Ineligible::StaleUsageData {
            max_age_days: 5,
            ..
        }]
    ));
    stale.collected_at = None;
    assert!(matches!(
        &plan(&role, Some(&stale), &ages).ineligible[..],
        [Ineligible::StaleUsageData {
            collected_at: None,
            ..
        }]
    ));
}

/// §5.9 (test_roledata): the rewrite example. We keep key order and canonical case instead of
/// Repokid's sorted lowercase list.
#[test]
fn repokid_5_9_rewrite_keeps_author_order_and_canonical_case() {
    let c = Catalog::embedded();
    let policies = parse_policy_map(
        "fixture",
        r#"{
          "iam_perms": {"Version": "2012-10-17", "Statement": [{"Action": ["iam:AddRoleToInstanceProfile", "iam:AttachRolePolicy"], "Resource": ["*"], "Effect": "Allow"}]},
          "s3_perms": {"Version": "2012-10-17", "Statement": [{"Action": ["s3:CreateBucket", "s3:DeleteBucket"], "Resource": ["*"], "Effect": "Allow"}]}
        }"#,
    )
    .unwrap();
    let remove = set(
        c,
        &[
            "iam:addroletoinstanceprofile",
            "iam:attachrolepolicy",
            "s3:createbucket",
        ],
    );
    let rw = rewrite(
        &policies,
        &analyze(&policies, c),
        &remove,
        c,
        &EngineSettings::default(),
    )
    .unwrap();
    assert_eq!(rw.removed_policies, ["iam_perms"]);
    assert_eq!(
        serde_json::to_string(&rw.policies["s3_perms"].to_value()).unwrap(),
        r#"{"Version":"2012-10-17","Statement":[{"Action":["s3:DeleteBucket"],"Resource":["*"],"Effect":"Allow"}]}"#
    );
}

/// §13.7 (the intended v2 rewrite): partial removal, NOREPO and Deny untouched. With the 2026
/// catalog `sqs:GetMessage` and `sqs:ChangeMessageVisibilityBatch` no longer exist, so the
/// unknown entry is carried verbatim and `sqs:Change*` loses nothing. A policy left empty is
/// deleted and reported (v2 kept it with `"Statement": []`).
#[test]
fn repokid_13_7_v2_rewrite_deletes_empty_policies() {
    let c = Catalog::embedded();
    let policies = parse_policy_map(
        "fixture",
        r#"{
          "partial_repo_policy": {"Statement": [
            {"Sid": "test-sid", "Effect": "Allow", "Action": ["ec2:Describe*", "sqs:SendMessage", "sqs:GetMessage", "sqs:Change*"], "Resource": "*"},
            {"Sid": "NOREPOtest-sid", "Effect": "Allow", "Action": ["ec2:Describe*", "sqs:SendMessage", "sqs:GetMessage"], "Resource": "*"},
            {"Effect": "Deny", "Action": ["iam:Create*"], "Resource": "*"}
          ]},
          "full_repo_policy": {"Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*", "sqs:SendMessage"], "Resource": "*"}]},
          "no_repo_policy": {"Statement": [
            {"Effect": "Allow", "Action": ["sqs:GetMessage"], "Resource": "*"},
            {"Sid": "NOREPO", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}
          ]}
        }"#,
    )
    .unwrap();
    let remove = set(c, &["ec2:*", "sqs:sendmessage"]);
    let rw = rewrite(
        &policies,
        &analyze(&policies, c),
        &remove,
        c,
        &EngineSettings::default(),
    )
    .unwrap();
    assert_eq!(rw.removed_policies, ["full_repo_policy"]);
    let partial = &rw.policies["partial_repo_policy"];
    assert_eq!(
        partial.statements()[0].entries(),
        ["sqs:GetMessage", "sqs:Change*"]
    );
    assert_eq!(partial.statements()[0].sid(), Some("test-sid"));
    assert_eq!(
        partial.statements()[1],
        policies["partial_repo_policy"].statements()[1]
    );
    assert_eq!(
        partial.statements()[2],
        policies["partial_repo_policy"].statements()[2]
    );
    assert_eq!(rw.policies["no_repo_policy"], policies["no_repo_policy"]);
}

/// W13: permissions granted by a NOREPO statement are never counted as removable.
#[test]
fn norepo_permissions_are_not_counted_fixes_w13() {
    let role = old_role(
        r#"{"p": {"Statement": [
            {"Sid": "NOREPOkeep", "Effect": "Allow", "Action": "ec2:AllocateHosts", "Resource": "*"},
            {"Effect": "Allow", "Action": ["ec2:AllocateHosts", "iam:AttachRolePolicy"], "Resource": "*"}
        ]}}"#,
    );
    let u = usage(&[("iam", days_ago(1)), ("ec2", LastAccessed::Never)]);
    let p = plan(
        &role,
        Some(&u),
        &PermissionAges::Uniform(now() - Duration::days(400)),
    );
    assert_eq!(p.decisions.removable_count(), 0);
    assert!(p.decisions.iter().any(|(_, r)| *r == Reason::NoRepo));
}

/// §5.4: `iam:PassRole` is never removed on Access Advisor evidence.
#[test]
fn pass_role_is_kept() {
    let role = old_role(
        r#"{"p": {"Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "iam:CreateRole"], "Resource": "*"}]}}"#,
    );
    let u = usage(&[("iam", LastAccessed::Never)]);
    let p = plan(
        &role,
        Some(&u),
        &PermissionAges::Uniform(now() - Duration::days(400)),
    );
    let rw = p.rewrite.unwrap();
    assert_eq!(rw.policies["p"].statements()[0].entries(), ["iam:PassRole"]);
}

/// Unknown actions are kept and reported, never judged unused.
#[test]
fn unknown_actions_are_kept() {
    let role = old_role(
        r#"{"p": {"Statement": [{"Effect": "Allow", "Action": ["ec2:NotARealAction", "ec2:AllocateHosts"], "Resource": "*"}]}}"#,
    );
    let u = usage(&[("ec2", LastAccessed::Never)]);
    let p = plan(
        &role,
        Some(&u),
        &PermissionAges::Uniform(now() - Duration::days(400)),
    );
    assert_eq!(
        p.decisions.unknown,
        [("ec2:NotARealAction".to_string(), Reason::UnknownAction)]
    );
    let rw = p.rewrite.unwrap();
    assert_eq!(
        rw.policies["p"].statements()[0].entries(),
        ["ec2:NotARealAction"]
    );
}

/// Action-level data: an unused tracked action of a used service goes only when enabled; an
/// untracked action is kept.
#[test]
fn action_level_decisions() {
    let role = old_role(
        r#"{"p": {"Statement": [{"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:DeleteBucket", "s3:GetObject"], "Resource": "*"}]}}"#,
    );
    let mut u = usage(&[("s3", days_ago(2))]);
    u.services.get_mut("s3").unwrap().actions = Some(
        [
            ("createbucket".to_string(), days_ago(2)),
            ("deletebucket".to_string(), LastAccessed::Never),
        ]
        .into(),
    );
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let off = plan(&role, Some(&u), &ages);
    assert_eq!(off.ineligible, [Ineligible::NothingToRemove]);
    let settings = EngineSettings {
        action_level: true,
        ..EngineSettings::default()
    };
    let on = plan_role(
        &PlanInput {
            role: &role,
            usage: Some(&u),
            ages: &ages,
            filter_hits: &[],
            announced: None,
            on_decisions: None,
        },
        &settings,
        Catalog::embedded(),
        now(),
    );
    let c = Catalog::embedded();
    let reasons: BTreeMap<&str, &Reason> =
        on.decisions.iter().map(|(id, r)| (c.name(id), r)).collect();
    assert!(matches!(
        reasons["s3:DeleteBucket"],
        Reason::ActionUnused { .. }
    ));
    assert!(matches!(reasons["s3:CreateBucket"], Reason::Used { .. }));
    assert!(matches!(
        reasons["s3:GetObject"],
        Reason::NotTrackedAtActionLevel { .. }
    ));
    assert_eq!(
        on.rewrite.unwrap().policies["p"].statements()[0].entries(),
        ["s3:CreateBucket", "s3:GetObject"]
    );
}

/// The announced set (scheduling) limits removals to what was proposed earlier.
#[test]
fn announced_set_limits_removals() {
    let c = Catalog::embedded();
    let role = old_role(UNUSED_EC2);
    let u = usage(&[("iam", days_ago(1)), ("ec2", LastAccessed::Never)]);
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let announced = set(c, &["ec2:AllocateHosts"]);
    let p = plan_role(
        &PlanInput {
            role: &role,
            usage: Some(&u),
            ages: &ages,
            filter_hits: &[],
            announced: Some(&announced),
            on_decisions: None,
        },
        &EngineSettings::default(),
        c,
        now(),
    );
    assert_eq!(p.decisions.removable_count(), 1);
    assert!(p.decisions.iter().any(|(_, r)| *r == Reason::NotAnnounced));
}

/// Allow + NotAction becomes an explicit list only when something is removed; over the size limit
/// it is minimized exactly; Deny + NotAction is never touched.
#[test]
fn not_action_is_narrowed_and_minimized() {
    let c = Catalog::embedded();
    let role = old_role(
        r#"{"broad": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Everything", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"},
            {"Effect": "Deny", "NotAction": ["s3:*"], "Resource": "arn:aws:s3:::secret/*"}
        ]}}"#,
    );
    let u = usage(&[("ec2", LastAccessed::Never), ("s3", days_ago(3))]);
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let p = plan(&role, Some(&u), &ages);
    assert!(
        p.eligible(),
        "{:?}",
        p.ineligible
            .iter()
            .map(Ineligible::summary)
            .collect::<Vec<_>>()
    );
    let rw = p.rewrite.unwrap();
    assert!(rw.minimized.is_some());
    assert!(rw.size_after <= 10_240);
    let st = &rw.policies["broad"].statements()[0];
    assert_eq!(st.kind(), repokid::engine::policy::ActionKind::Action);
    assert_eq!(st.sid(), Some("Everything"));
    // Exactly everything but iam, organizations and ec2.
    let mut expected = c.all();
    expected.difference_with(&set(c, &["iam:*", "organizations:*", "ec2:*"]));
    let mut got = c.empty_set();
    for e in st.entries() {
        if let Expansion::Known(s) = c.expand(e) {
            got.union_with(&s);
        }
    }
    assert_eq!(got, expected);
    assert_eq!(
        rw.policies["broad"].statements()[1],
        role.policies["broad"].statements()[1]
    );
}

/// A rewrite that cannot fit even minimized is refused with the figure.
#[test]
fn over_size_limit_is_refused_with_the_figure() {
    let role = old_role(
        r#"{"p": {"Statement": [{"Effect": "Allow", "Action": ["ec2:*", "s3:*"], "Resource": "*"}]}}"#,
    );
    // Remove every other ec2 action: no wildcard can cover the rest.
    let c = Catalog::embedded();
    let mut u = usage(&[("ec2", days_ago(1)), ("s3", days_ago(1))]);
    let ec2 = set(c, &["ec2:*"]);
    u.services.get_mut("ec2").unwrap().actions = Some(
        ec2.iter()
            .enumerate()
            .map(|(i, id)| {
                let name = c.lower_name(id)["ec2:".len()..].to_string();
                (
                    name,
                    if i % 2 == 0 {
                        LastAccessed::Never
                    } else {
                        days_ago(1)
                    },
                )
            })
            .collect(),
    );
    let settings = EngineSettings {
        action_level: true,
        ..EngineSettings::default()
    };
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let p = plan_role(
        &PlanInput {
            role: &role,
            usage: Some(&u),
            ages: &ages,
            filter_hits: &[],
            announced: None,
            on_decisions: None,
        },
        &settings,
        c,
        now(),
    );
    match &p.ineligible[..] {
        [Ineligible::OverSizeLimit(e)] => {
            assert_eq!(e.over, e.size - 10_240);
            assert!(
                e.to_string()
                    .contains("over IAM's 10240-character limit by")
            );
        }
        other => panic!("{other:?}"),
    }
}
