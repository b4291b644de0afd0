//! Snapshot tests of what a reviewer sees: each section of the pull request body for one fixed
//! proposal (fixed dates, names and counts), and the whole body of a small one.
//!
//! The snapshots are committed under `src/review/snapshots/`. After an intended change of the
//! text, review the new text and update them with `INSTA_UPDATE=always cargo test --lib review`
//! (or `cargo insta review`); under CI (`CI=true`) a differing snapshot fails the test.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use chrono::{DateTime, TimeZone, Utc};
use insta::assert_snapshot;

use super::model::{Detail, Review, RoleDiff};
use super::pr_text;
use crate::engine::rewrite::StatementRef;
use crate::engine::{AccessLevel, EngineSettings, Ineligible, LastAccessed, Reason};
use crate::report::{PLAN_SCHEMA_VERSION, PlanReport, RemovedAction, RoleReport};

const ACCOUNT: &str = "111122223333";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn at(y: i32, m: u32, d: u32) -> LastAccessed {
    LastAccessed::At(Utc.with_ymd_and_hms(y, m, d, 10, 0, 0).unwrap())
}

fn removed(action: &str, level: AccessLevel, reason: Reason) -> RemovedAction {
    RemovedAction {
        action: action.to_string(),
        service: action.split(':').next().unwrap().to_string(),
        access_level: level,
        reason,
    }
}

fn never() -> Reason {
    Reason::ServiceUnused {
        last_used: LastAccessed::Never,
    }
}

fn role(name: &str, removed: Vec<RemovedAction>, kept: &[(&str, usize)]) -> RoleReport {
    RoleReport {
        account: ACCOUNT.to_string(),
        role: name.to_string(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        eligible: !removed.is_empty(),
        reasons: if removed.is_empty() {
            vec![Ineligible::NothingToRemove]
        } else {
            Vec::new()
        },
        removed,
        kept: kept.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
        unknown_actions: Vec::new(),
        size_before: 2_000,
        size_after: 900,
        minimized: None,
        removed_policies: Vec::new(),
        removed_statements: Vec::new(),
        policies: None,
    }
}

/// The role a reviewer looks at hardest: risky removals with every kind of evidence, everything
/// kept for a reason, unknown actions, emptied policies and statements, minimized wildcards.
fn orders_api() -> RoleReport {
    let mut r = role(
        "orders-api",
        vec![
            removed(
                "iam:PutRolePolicy",
                AccessLevel::PermissionsManagement,
                Reason::ServiceUnused {
                    last_used: at(2026, 3, 2),
                },
            ),
            removed(
                "iam:PassRole",
                AccessLevel::Write,
                Reason::ServiceUnused {
                    last_used: at(2026, 3, 2),
                },
            ),
            removed(
                "s3:DeleteObject",
                AccessLevel::Write,
                Reason::ActionUnused {
                    last_used: at(2026, 6, 1),
                },
            ),
            removed(
                "s3:GetObjectAcl",
                AccessLevel::Read,
                Reason::ActionUnused {
                    last_used: LastAccessed::Never,
                },
            ),
            removed(
                "s3:PutObjectTagging",
                AccessLevel::Tagging,
                Reason::Hook {
                    hook: "pci-scope".into(),
                    reason: "out of <PCI> scope\nsince the audit".into(),
                    removable: true,
                },
            ),
            removed("sqs:ListQueues", AccessLevel::List, never()),
            removed("sqs:SendMessage", AccessLevel::Write, never()),
        ],
        &[
            ("used", 12),
            ("not-tracked-at-action-level", 3),
            ("no-usage-entry", 2),
            ("pass-role", 1),
            ("grace-period", 4),
            ("no-repo", 5),
            ("unknown-action", 2),
            ("not-announced", 1),
            ("hook", 1),
        ],
    );
    r.unknown_actions = vec!["s3:GetObjectV3".into(), "madeup:Thing".into()];
    r.size_before = 10_400;
    r.size_after = 4_812;
    r.minimized = Some("service");
    r.removed_policies = vec!["legacy-queue".into()];
    r.removed_statements = vec![StatementRef {
        policy: "data".into(),
        index: 2,
        sid: Some("OldTags".into()),
    }];
    r
}

/// A role that only loses services it never used.
fn batch() -> RoleReport {
    role(
        "batch-worker",
        vec![
            removed("dynamodb:GetItem", AccessLevel::Read, never()),
            removed("dynamodb:Query", AccessLevel::Read, never()),
        ],
        &[("used", 7)],
    )
}

/// A role losing actions of more services than a body section lists one by one.
fn many_services() -> RoleReport {
    let services = [
        "acm",
        "athena",
        "cloudwatch",
        "ec2",
        "ecr",
        "ecs",
        "glue",
        "kinesis",
        "kms",
        "lambda",
        "logs",
        "sns",
    ];
    let removed = services
        .iter()
        .flat_map(|s| {
            [
                removed(&format!("{s}:Describe"), AccessLevel::Read, never()),
                removed(&format!("{s}:Delete"), AccessLevel::Write, never()),
            ]
        })
        .collect();
    role("platform-admin", removed, &[])
}

fn unchanged_roles() -> Vec<RoleReport> {
    let mut stale = role("reporting", Vec::new(), &[("used", 3)]);
    stale.reasons = vec![Ineligible::StaleUsageData {
        collected_at: Some(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap()),
        max_age_days: 14,
    }];
    let mut no_data = role("new-service", Vec::new(), &[]);
    no_data.reasons = vec![Ineligible::NoUsageData];
    vec![role("web", Vec::new(), &[("used", 40)]), stale, no_data]
}

fn plan_report(roles: Vec<RoleReport>) -> PlanReport {
    PlanReport {
        version: PLAN_SCHEMA_VERSION,
        generated_at: now(),
        settings: EngineSettings {
            action_level: true,
            ..EngineSettings::default()
        },
        grace_days_overridden: false,
        roles,
    }
}

/// The proposal every section snapshot is taken of.
fn proposal() -> PlanReport {
    let mut roles = vec![batch(), orders_api()];
    roles.extend(unchanged_roles());
    plan_report(roles)
}

fn diffs() -> Vec<RoleDiff> {
    vec![RoleDiff {
        role: "batch-worker".into(),
        before:
            "{\n  \"tables\": {\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n      \
                 {\n        \"Effect\": \"Allow\",\n        \"Action\": [\n          \
                 \"dynamodb:GetItem\",\n          \"dynamodb:Query\",\n          \
                 \"s3:GetObject\"\n        ],\n        \"Resource\": \"*\"\n      }\n    ]\n  \
                 }\n}\n"
                .into(),
        after: "{\n  \"tables\": {\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n      \
                {\n        \"Effect\": \"Allow\",\n        \"Action\": [\n          \
                \"s3:GetObject\"\n        ],\n        \"Resource\": \"*\"\n      }\n    ]\n  \
                }\n}\n"
            .into(),
    }]
}

/// Runs `f` on the review of `report` (all its roles) with `diffs`.
fn with_review<T>(report: &PlanReport, diffs: &[RoleDiff], f: impl FnOnce(&Review<'_>) -> T) -> T {
    let roles: Vec<&RoleReport> = report.roles.iter().collect();
    f(&Review::new(ACCOUNT, report, &roles, diffs))
}

/// The section of the changed role named `name`.
fn section(report: &PlanReport, name: &str, detail: Detail) -> String {
    with_review(report, &[], |r| {
        let c = r.changed.iter().find(|c| c.role.role == name).unwrap();
        r.role_section(c, detail)
    })
}

#[test]
fn header() {
    assert_snapshot!(with_review(&proposal(), &[], |r| r.header()));
}

#[test]
fn header_without_changes() {
    let mut report = plan_report(unchanged_roles());
    report.grace_days_overridden = true;
    report.settings.action_level = false;
    assert_snapshot!(with_review(&report, &[], |r| r.header()));
}

#[test]
fn summary_table() {
    assert_snapshot!(with_review(&proposal(), &[], |r| r.summary_table()));
}

#[test]
fn role_table() {
    assert_snapshot!(with_review(&proposal(), &[], |r| r.role_table(usize::MAX)));
}

#[test]
fn role_table_cut_to_its_budget() {
    let report = plan_report(vec![batch(), orders_api(), many_services()]);
    assert_snapshot!(with_review(&report, &[], |r| r.role_table(300)));
}

#[test]
fn role_section() {
    assert_snapshot!(section(&proposal(), "orders-api", Detail::Body));
}

#[test]
fn role_section_of_never_used_services() {
    assert_snapshot!(section(&proposal(), "batch-worker", Detail::Body));
}

#[test]
fn role_section_with_more_services_than_listed() {
    let report = plan_report(vec![many_services()]);
    assert_snapshot!(section(&report, "platform-admin", Detail::Body));
}

#[test]
fn role_section_in_the_full_report() {
    let report = plan_report(vec![many_services()]);
    assert_snapshot!(section(&report, "platform-admin", Detail::Full));
}

#[test]
fn diff_block() {
    let diffs = diffs();
    let block = with_review(&proposal(), &diffs, |r| {
        let c = r.changed.iter().find(|c| c.diff.is_some()).unwrap();
        r.diff_block(c).unwrap()
    });
    assert_snapshot!(block);
}

#[test]
fn unchanged_roles_folded() {
    assert_snapshot!(with_review(&proposal(), &[], |r| r.unchanged(usize::MAX)));
}

#[test]
fn footer() {
    assert_snapshot!(with_review(&proposal(), &[], |r| r.footer()));
}

#[test]
fn whole_body() {
    let report = proposal();
    let roles: Vec<&RoleReport> = report.roles.iter().collect();
    let text = pr_text(ACCOUNT, &report, &roles, &diffs(), None);
    assert!(text.full_report.is_none());
    assert_snapshot!(text.body);
}

#[test]
fn overflow_note() {
    assert_snapshot!(super::overflow_note(
        "[`.repokid/reports/111122223333.md`](https://example.com/r.md)",
        3,
        40,
        2
    ));
}
