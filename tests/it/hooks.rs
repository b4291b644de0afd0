//! Hooks in the removable-permission calculation (reference §7, §13.4): trait objects and
//! external commands, with the same results.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};
use repokid::engine::policy::parse_policy_map;
use repokid::engine::usage::UsageByArn;
use repokid::engine::{Catalog, Ineligible, LastAccessed, Reason, Role, RoleUsage, ServiceUsage};
use repokid::filters::FilterConfig;
use repokid::hooks::{
    BatchDecisionHook, BatchVerdict, DecisionHook, HookContext, HookError, HookVerdict,
    LifecycleEvent, LifecycleEventKind, LifecycleHook, Verdict,
};
use repokid::ops::{PlanOptions, PlannedRole, Workspace, plan};
use repokid::report::PlanReport;
use repokid::settings::Settings;
use repokid::sources::inventory_file::Inventory;

// One module per concern; this file keeps what several of them share.
mod batch;
mod callbacks;
mod command;
mod decision;
mod filters;
mod lifecycle;

const ACCOUNT: &str = "123456789012";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

const POLICIES: &str = r#"{
  "app": {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "ec2:DescribeInstances", "ec2:RunInstances"], "Resource": "*"},
    {"Sid": "NOREPOsqs", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"}
  ]}
}"#;

fn role(name: &str) -> Role {
    Role::new(
        ACCOUNT,
        name,
        parse_policy_map("fixture", POLICIES).unwrap(),
    )
}

/// `s3` and `iam` used yesterday, `ec2` never, no entry for `sqs`.
fn usage() -> RoleUsage {
    let service = |la| ServiceUsage {
        last_accessed: la,
        actions: None,
    };
    RoleUsage {
        collected_at: Some(now() - Duration::hours(2)),
        services: [
            (
                "s3".to_string(),
                service(LastAccessed::At(now() - Duration::days(1))),
            ),
            (
                "iam".to_string(),
                service(LastAccessed::At(now() - Duration::days(1))),
            ),
            ("ec2".to_string(), service(LastAccessed::Never)),
        ]
        .into(),
    }
}

fn inputs(names: &[&str]) -> (Inventory, UsageByArn) {
    let roles: Vec<Role> = names.iter().map(|n| role(n)).collect();
    let usage = roles.iter().map(|r| (r.arn.clone(), usage())).collect();
    let inventory = Inventory {
        roles: BTreeMap::from([(ACCOUNT.to_string(), roles)]),
    };
    (inventory, usage)
}

fn workspace(hooks: Vec<Box<dyn DecisionHook>>) -> Workspace {
    Workspace {
        settings: Settings::default(),
        filters: FilterConfig::parse("active = []").unwrap(),
        blocklist: None,
        catalog: Catalog::embedded(),
        hooks,
        batch_hooks: Vec::new(),
        lifecycle_hooks: Vec::new(),
        custom_filters: Vec::new(),
    }
}

/// Plans `names` with the grace period off (there is no history to date the permissions).
fn run(ws: &Workspace, names: &[&str]) -> (PlanReport, Vec<PlannedRole>) {
    let (inventory, usage) = inputs(names);
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    plan(ws, None, &inventory, &usage, &opts, now()).unwrap()
}

fn reason_of<'a>(p: &'a PlannedRole, action: &str) -> &'a Reason {
    let c = Catalog::embedded();
    p.plan.decisions.reason(c.lookup(action).unwrap()).unwrap()
}

fn removable(p: &PlannedRole) -> Vec<String> {
    let c = Catalog::embedded();
    p.plan
        .decisions
        .sorted()
        .into_iter()
        .filter(|(_, r)| r.is_removable())
        .map(|(id, _)| c.name(id).to_string())
        .collect()
}

/// A hook answering fixed verdicts and recording what it saw.
struct Fixed {
    name: &'static str,
    priority: i32,
    verdicts: Vec<(&'static str, Verdict)>,
    seen: Mutex<Vec<HookContext>>,
    log: Option<&'static Mutex<Vec<&'static str>>>,
}

impl Fixed {
    fn new(name: &'static str, priority: i32, verdicts: &[(&'static str, Verdict)]) -> Fixed {
        Fixed {
            name,
            priority,
            verdicts: verdicts.to_vec(),
            seen: Mutex::new(Vec::new()),
            log: None,
        }
    }
}

impl DecisionHook for Fixed {
    fn name(&self) -> &str {
        self.name
    }
    fn priority(&self) -> i32 {
        self.priority
    }
    fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
        self.seen.lock().unwrap().push(ctx.clone());
        if let Some(log) = self.log {
            log.lock().unwrap().push(self.name);
        }
        Ok(self
            .verdicts
            .iter()
            .map(|(a, v)| HookVerdict {
                action: a.to_string(),
                verdict: *v,
                reason: format!("{} says so", self.name),
            })
            .collect())
    }
}

/// Writes `script` as a Python file in `dir` and returns the command running it.
fn python(dir: &Path, name: &str, script: &str) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    vec!["python3".into(), path.display().to_string()]
}
