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

#[test]
fn without_hooks_ec2_goes_and_the_rest_stays() {
    let (_, planned) = run(&workspace(Vec::new()), &["web"]);
    assert!(planned[0].plan.eligible());
    assert_eq!(
        removable(&planned[0]),
        ["ec2:DescribeInstances", "ec2:RunInstances"]
    );
}

#[test]
fn hook_keeps_a_removable_action_and_the_evidence_names_it() {
    let hook = Fixed::new("keeper", 0, &[("EC2:runinstances", Verdict::Keep)]);
    let (report, planned) = run(&workspace(vec![Box::new(hook)]), &["web"]);
    let p = &planned[0];
    assert!(p.plan.eligible());
    assert_eq!(removable(p), ["ec2:DescribeInstances"]);
    let r = reason_of(p, "ec2:RunInstances");
    assert_eq!(
        *r,
        Reason::Hook {
            hook: "keeper".into(),
            reason: "keeper says so".into(),
            removable: false
        }
    );
    assert_eq!(r.summary(), "decided by hook keeper: keeper says so");
    assert_eq!(report.roles[0].kept.get("hook"), Some(&1));
    let policies = report.roles[0].policies.as_ref().unwrap().to_string();
    assert!(policies.contains("ec2:RunInstances"), "{policies}");
    assert!(!policies.contains("ec2:DescribeInstances"), "{policies}");
}

#[test]
fn hook_marks_a_used_action_removable() {
    let hook = Fixed::new("cloudtrail", 0, &[("s3:PutObject", Verdict::Remove)]);
    let (report, planned) = run(&workspace(vec![Box::new(hook)]), &["web"]);
    let p = &planned[0];
    assert_eq!(
        removable(p),
        ["ec2:DescribeInstances", "ec2:RunInstances", "s3:PutObject"]
    );
    assert!(matches!(
        reason_of(p, "s3:PutObject"),
        Reason::Hook { hook, removable: true, .. } if hook == "cloudtrail"
    ));
    let removed = &report.roles[0].removed;
    let put = removed.iter().find(|r| r.action == "s3:PutObject").unwrap();
    let json = serde_json::to_value(put).unwrap();
    assert_eq!(json["reason"], "hook");
    assert_eq!(json["hook"], "cloudtrail");
    assert_eq!(json["hook_reason"], "cloudtrail says so");
    let policies = report.roles[0].policies.as_ref().unwrap().to_string();
    assert!(!policies.contains("s3:PutObject") && policies.contains("s3:GetObject"));
}

#[test]
fn hook_cannot_remove_norepo_passrole_unknown_or_ungranted_actions() {
    let hook = Fixed::new(
        "greedy",
        0,
        &[
            ("sqs:SendMessage", Verdict::Remove),
            ("iam:PassRole", Verdict::Remove),
            ("s3:DeleteBucket", Verdict::Remove),
            ("nope:Nothing", Verdict::Remove),
        ],
    );
    let (_, planned) = run(&workspace(vec![Box::new(hook)]), &["web"]);
    let p = &planned[0];
    assert_eq!(removable(p), ["ec2:DescribeInstances", "ec2:RunInstances"]);
    assert_eq!(*reason_of(p, "sqs:SendMessage"), Reason::NoRepo);
    assert_eq!(*reason_of(p, "iam:PassRole"), Reason::PassRole);
    let c = Catalog::embedded();
    assert!(
        p.plan
            .decisions
            .reason(c.lookup("s3:DeleteBucket").unwrap())
            .is_none()
    );
}

static ORDER: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[test]
fn hooks_run_in_ascending_priority_and_see_earlier_verdicts() {
    let mut late = Fixed::new("late", 5, &[("ec2:RunInstances", Verdict::Remove)]);
    late.log = Some(&ORDER);
    let mut early = Fixed::new("early", -1, &[("ec2:RunInstances", Verdict::Keep)]);
    early.log = Some(&ORDER);
    let mut middle = Fixed::new("middle", 0, &[]);
    middle.log = Some(&ORDER);
    let ws = workspace(vec![Box::new(late), Box::new(early), Box::new(middle)]);
    let (_, planned) = run(&ws, &["web"]);
    assert_eq!(*ORDER.lock().unwrap(), ["early", "middle", "late"]);
    // `late` overrode `early`'s keep and has the last word.
    assert!(matches!(
        reason_of(&planned[0], "ec2:RunInstances"),
        Reason::Hook { hook, removable: true, .. } if hook == "late"
    ));
}

#[test]
fn later_hooks_see_the_context_as_earlier_hooks_left_it() {
    struct Probe(Mutex<Vec<HookContext>>);
    impl DecisionHook for Probe {
        fn name(&self) -> &str {
            "probe"
        }
        fn priority(&self) -> i32 {
            9
        }
        fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
            self.0.lock().unwrap().push(ctx.clone());
            Ok(Vec::new())
        }
    }
    static PROBE: Probe = Probe(Mutex::new(Vec::new()));
    struct ByRef(&'static Probe);
    impl DecisionHook for ByRef {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn priority(&self) -> i32 {
            self.0.priority()
        }
        fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
            self.0.decide(ctx)
        }
    }
    let keep = Fixed::new("keep", 1, &[("ec2:RunInstances", Verdict::Keep)]);
    let ws = workspace(vec![Box::new(ByRef(&PROBE)), Box::new(keep)]);
    run(&ws, &["web"]);
    let seen = PROBE.0.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let ctx = &seen[0];
    assert_eq!(ctx.account, ACCOUNT);
    assert_eq!(ctx.role, "web");
    assert_eq!(ctx.arn, "arn:aws:iam::123456789012:role/web");
    assert_eq!(ctx.usage_window_days, 90);
    assert_eq!(ctx.potentially_removable, ["ec2:DescribeInstances"]);
    assert!(ctx.kept.iter().any(|a| a == "ec2:RunInstances"));
    assert!(ctx.kept.iter().any(|a| a == "s3:GetObject"));
}

/// Writes `script` as a Python file in `dir` and returns the command running it.
fn python(dir: &Path, name: &str, script: &str) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap();
    vec!["python3".into(), path.display().to_string()]
}

/// A workspace whose hooks are the `[[hooks]]` of a `repokid.toml` written in `dir`.
fn workspace_from_settings(dir: &Path, hooks: &[(&str, Vec<String>, i32, u64)]) -> Workspace {
    let mut text = String::new();
    for (name, command, priority, timeout) in hooks {
        let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
        text.push_str(&format!(
            "[[hooks]]\nname = {name:?}\ncommand = [{}]\npriority = {priority}\ntimeout-seconds = {timeout}\n\n",
            command.join(", ")
        ));
    }
    std::fs::write(dir.join("filters.toml"), "active = []\n").unwrap();
    let path = dir.join("repokid.toml");
    std::fs::write(&path, text).unwrap();
    Workspace::load(&path, true, Catalog::embedded()).unwrap()
}

/// Fails (in the way `failure` says) for the role `bad`, answers nothing for the others.
fn failing_script(failure: &str) -> String {
    format!(
        "import json, sys, time\nctx = json.load(sys.stdin)\nif ctx['role'] != 'bad':\n    print('[]')\n    sys.exit(0)\n{failure}\n"
    )
}

#[test]
fn command_hook_failures_make_only_that_role_ineligible() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "slow",
            failing_script("time.sleep(30)"),
            "timed out after 1 s",
        ),
        (
            "crash",
            failing_script("sys.stderr.write('boom: no credentials\\n')\nsys.exit(1)"),
            "exited with code 1; stderr: boom: no credentials",
        ),
        (
            "garbage",
            failing_script("print('{not json')"),
            "invalid JSON on stdout",
        ),
        (
            "wrong-shape",
            failing_script("print(json.dumps({'action': 'x'}))"),
            "invalid JSON on stdout",
        ),
    ];
    for (name, script, expected) in cases {
        let command = python(dir.path(), &format!("{name}.py"), &script);
        let ws = workspace_from_settings(dir.path(), &[(name, command, 0, 1)]);
        let started = std::time::Instant::now();
        let (report, planned) = run(&ws, &["bad", "web"]);
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let bad = &planned[0];
        assert_eq!(bad.role.name, "bad");
        assert!(!bad.plan.eligible());
        match &bad.plan.ineligible[..] {
            [Ineligible::HookFailed { hook, message }] => {
                assert_eq!(hook, name);
                assert!(message.contains(expected), "{name}: {message}");
            }
            other => panic!("{name}: {other:?}"),
        }
        // Nothing changed: the engine's own decisions stand, no rewrite.
        assert!(bad.plan.rewrite.is_none());
        assert_eq!(
            removable(bad),
            ["ec2:DescribeInstances", "ec2:RunInstances"]
        );
        assert!(
            report.roles[0]
                .why_not()
                .contains(&format!("hook {name} failed")),
            "{}",
            report.roles[0].why_not()
        );
        // The other role is planned as without hooks.
        assert!(planned[1].plan.eligible(), "{name}");
        assert_eq!(
            removable(&planned[1]),
            ["ec2:DescribeInstances", "ec2:RunInstances"]
        );
    }
}

#[test]
fn missing_hook_program_is_a_hook_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace_from_settings(
        dir.path(),
        &[("ghost", vec!["./no-such-hook".to_string()], 0, 5)],
    );
    let (_, planned) = run(&ws, &["web"]);
    assert!(matches!(
        &planned[0].plan.ineligible[..],
        [Ineligible::HookFailed { hook, message }] if hook == "ghost" && message.contains("cannot run")
    ));
}

/// The same policy as a trait object: keep unused `RunInstances`, remove used `PutObject`.
struct Policy(&'static str, i32);

impl DecisionHook for Policy {
    fn name(&self) -> &str {
        self.0
    }
    fn priority(&self) -> i32 {
        self.1
    }
    fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
        let mut out = Vec::new();
        for a in &ctx.potentially_removable {
            if a.ends_with(":RunInstances") {
                out.push(HookVerdict {
                    action: a.clone(),
                    verdict: Verdict::Keep,
                    reason: format!("{} in use by {}", a, ctx.role),
                });
            }
        }
        for a in &ctx.kept {
            if a.ends_with(":PutObject") {
                out.push(HookVerdict {
                    action: a.clone(),
                    verdict: Verdict::Remove,
                    reason: format!("not in CloudTrail for {} days", ctx.usage_window_days),
                });
            }
        }
        Ok(out)
    }
}

const POLICY_SCRIPT: &str = r#"
import json, sys
ctx = json.load(sys.stdin)
out = []
for a in ctx["potentially_removable"]:
    if a.endswith(":RunInstances"):
        out.append({"action": a, "verdict": "keep", "reason": "%s in use by %s" % (a, ctx["role"])})
for a in ctx["kept"]:
    if a.endswith(":PutObject"):
        out.append({"action": a, "verdict": "remove", "reason": "not in CloudTrail for %d days" % ctx["usage_window_days"]})
print(json.dumps(out))
"#;

/// A second hook that undoes the first's keep, to show priorities apply across both forms.
const UNDO_SCRIPT: &str = r#"
import json, sys
ctx = json.load(sys.stdin)
print(json.dumps([{"action": a, "verdict": "remove", "reason": "undo"} for a in ctx["kept"] if a == "ec2:RunInstances" and ctx["role"] == "api"]))
"#;

struct Undo;

impl DecisionHook for Undo {
    fn name(&self) -> &str {
        "undo"
    }
    fn priority(&self) -> i32 {
        7
    }
    fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
        Ok(ctx
            .kept
            .iter()
            .filter(|a| *a == "ec2:RunInstances" && ctx.role == "api")
            .map(|a| HookVerdict {
                action: a.clone(),
                verdict: Verdict::Remove,
                reason: "undo".into(),
            })
            .collect())
    }
}

#[test]
fn trait_and_command_hooks_give_identical_plans() {
    let names = ["api", "web"];
    let traits = workspace(vec![Box::new(Undo), Box::new(Policy("policy", 2))]);
    let (trait_report, trait_planned) = run(&traits, &names);

    let dir = tempfile::tempdir().unwrap();
    let policy = python(dir.path(), "policy.py", POLICY_SCRIPT);
    let undo = python(dir.path(), "undo.py", UNDO_SCRIPT);
    let commands = workspace_from_settings(
        dir.path(),
        &[("undo", undo, 7, 10), ("policy", policy, 2, 10)],
    );
    let (command_report, command_planned) = run(&commands, &names);

    assert_eq!(
        serde_json::to_value(&trait_report).unwrap(),
        serde_json::to_value(&command_report).unwrap()
    );
    for (t, c) in trait_planned.iter().zip(&command_planned) {
        assert_eq!(t.plan.decisions.groups, c.plan.decisions.groups);
    }
    // And the hooks did something: `web` keeps RunInstances, `api` has it removed by `undo`.
    let web = &command_planned[1];
    assert_eq!(removable(web), ["ec2:DescribeInstances", "s3:PutObject"]);
    assert!(matches!(
        reason_of(web, "ec2:RunInstances"),
        Reason::Hook { hook, removable: false, reason } if hook == "policy" && reason == "ec2:RunInstances in use by web"
    ));
    assert!(matches!(
        reason_of(&command_planned[0], "ec2:RunInstances"),
        Reason::Hook { hook, removable: true, .. } if hook == "undo"
    ));
}

const OWNER_FILTER: &str = r#"
import json, sys
ctx = json.load(sys.stdin)
assert ctx["account"] == "123456789012"
out = [{"role": r["name"], "reason": "owned by %s" % r["tags"]["owner"]}
       for r in ctx["roles"] if r["tags"].get("owner") == "legacy"]
print(json.dumps(out))
"#;

/// A workspace from a `filters.toml` text written in `dir` (no hooks).
fn workspace_with_filters(dir: &Path, filters: &str) -> Workspace {
    std::fs::write(dir.join("filters.toml"), filters).unwrap();
    let path = dir.join("repokid.toml");
    std::fs::write(&path, "").unwrap();
    Workspace::load(&path, true, Catalog::embedded()).unwrap()
}

fn tagged_inputs() -> (Inventory, UsageByArn) {
    let (mut inventory, usage) = inputs(&["api", "batch", "web"]);
    let roles = inventory.roles.get_mut(ACCOUNT).unwrap();
    roles[0].tags.push(("owner".into(), "legacy".into()));
    roles[1].tags.push(("owner".into(), "legacy".into()));
    roles[2].tags.push(("owner".into(), "platform".into()));
    (inventory, usage)
}

fn filter_ids_by_role(ws: &Workspace) -> Vec<(String, Vec<String>)> {
    let (inventory, usage) = tagged_inputs();
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    let (report, _) = plan(ws, None, &inventory, &usage, &opts, now()).unwrap();
    report
        .roles
        .iter()
        .map(|r| {
            let ids = r
                .reasons
                .iter()
                .flat_map(|i| match i {
                    Ineligible::Filtered { hits } => hits
                        .iter()
                        .map(|h| format!("{}: {}", h.filter, h.reason))
                        .collect(),
                    _ => Vec::new(),
                })
                .collect();
            (r.role.clone(), ids)
        })
        .collect()
}

#[test]
fn command_filter_excludes_roles_by_tag_in_active_order() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = python(dir.path(), "owner.py", OWNER_FILTER);
    let command = |active: &str| {
        format!(
            "active = [{active}]\n[blocklist]\nall = [\"api\"]\n\n[[command]]\nid = \"legacy-owner\"\ncommand = [{}]\ntimeout-seconds = 5\n",
            cmd.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let ws = workspace_with_filters(dir.path(), &command("\"blocklist\", \"legacy-owner\""));
    let got = filter_ids_by_role(&ws);
    assert_eq!(
        got,
        [
            (
                "api".to_string(),
                vec![
                    "blocklist: role name api is blocklisted in blocklist.all".to_string(),
                    "legacy-owner: owned by legacy".to_string()
                ]
            ),
            (
                "batch".to_string(),
                vec!["legacy-owner: owned by legacy".to_string()]
            ),
            ("web".to_string(), vec![]),
        ],
        "{got:?}"
    );
    let ws = workspace_with_filters(dir.path(), &command("\"legacy-owner\", \"blocklist\""));
    let got = filter_ids_by_role(&ws);
    let api: Vec<&str> = got[0]
        .1
        .iter()
        .map(|h| h.split(':').next().unwrap())
        .collect();
    assert_eq!(api, ["legacy-owner", "blocklist"]);
    // Declared but not active: it does not run.
    let ws = workspace_with_filters(dir.path(), &command("\"blocklist\""));
    assert_eq!(filter_ids_by_role(&ws)[1].1, Vec::<String>::new());
}

/// The same filter as a trait object.
#[derive(Debug)]
struct LegacyOwner;

impl repokid::filters::Filter for LegacyOwner {
    fn id(&self) -> &str {
        "legacy-owner"
    }
    fn check(&self, role: &Role, _now: DateTime<Utc>) -> Option<String> {
        role.tags
            .iter()
            .find(|(k, v)| k == "owner" && v == "legacy")
            .map(|(_, v)| format!("owned by {v}"))
    }
}

#[test]
fn trait_and_command_filters_give_identical_plans() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = python(dir.path(), "owner.py", OWNER_FILTER);
    let text = format!(
        "active = [\"legacy-owner\"]\n\n[[command]]\nid = \"legacy-owner\"\ncommand = [{}]\n",
        cmd.iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let by_command = filter_ids_by_role(&workspace_with_filters(dir.path(), &text));
    let mut ws = workspace_with_filters(dir.path(), "active = []\n");
    ws.custom_filters.push(std::sync::Arc::new(LegacyOwner));
    let by_trait = filter_ids_by_role(&ws);
    assert_eq!(by_command, by_trait);
    assert_eq!(by_trait[0].1, ["legacy-owner: owned by legacy"]);

    // FilterSet::with_custom directly, for library users planning role by role.
    let set = FilterConfig::parse("active = []")
        .unwrap()
        .build(ACCOUNT, None)
        .unwrap()
        .with_custom(Box::new(LegacyOwner));
    let (inventory, _) = tagged_inputs();
    let hits = set.apply_all(&inventory.roles[ACCOUNT], now()).unwrap();
    assert_eq!(hits[0][0].filter, "legacy-owner");
    assert!(hits[2].is_empty());
}

#[test]
fn failing_command_filter_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (name, script, expected) in [
        ("crash", "import sys\nsys.exit(3)\n", "exited with code 3"),
        ("garbage", "print('nope')\n", "invalid JSON"),
        (
            "stranger",
            "import json\nprint(json.dumps([{'role': 'ghost', 'reason': 'x'}]))\n",
            "not given",
        ),
        ("slow", "import time\ntime.sleep(30)\n", "timed out"),
    ] {
        let cmd = python(dir.path(), &format!("{name}.py"), script);
        let text = format!(
            "active = [\"{name}\"]\n\n[[command]]\nid = \"{name}\"\ncommand = [{}]\ntimeout-seconds = 1\n",
            cmd.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let ws = workspace_with_filters(dir.path(), &text);
        let (inventory, usage) = tagged_inputs();
        let err = plan(
            &ws,
            None,
            &inventory,
            &usage,
            &PlanOptions::default(),
            now(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with(&format!("filter {name}: ")), "{err}");
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn command_filter_config_is_validated() {
    for (text, field) in [
        (
            "[[command]]\nid = \"age\"\ncommand = [\"x\"]\n",
            "command[0].id",
        ),
        (
            "[[command]]\nid = \"a\"\ncommand = []\n",
            "command[0].command",
        ),
        (
            "[[command]]\nid = \"a\"\ncommand = [\"x\"]\ntimeout-seconds = 0\n",
            "command[0].timeout-seconds",
        ),
        (
            "[[command]]\nid = \"a\"\ncommand = [\"x\"]\n[[command]]\nid = \"a\"\ncommand = [\"y\"]\n",
            "command[1].id",
        ),
    ] {
        let err = FilterConfig::parse(text).unwrap_err().to_string();
        assert!(err.starts_with(field), "{text}: {err}");
    }
    let err = FilterConfig::parse(
        "active = [\"mine\"]\n[[command]]\nid = \"other\"\ncommand = [\"x\"]\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("opt-out, other"), "{err}");
}

#[test]
fn callback_removals_outside_an_announced_set_are_not_announced() {
    use repokid::engine::{EngineSettings, HookFailure, PermissionAges, PlanInput, plan_role};
    let c = Catalog::embedded();
    let r = role("web");
    let u = usage();
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let announced: repokid::engine::ActionSet = ["ec2:RunInstances", "s3:PutObject"]
        .iter()
        .map(|a| c.lookup(a).unwrap())
        .collect();
    let hook = Fixed::new(
        "h",
        0,
        &[
            ("s3:PutObject", Verdict::Remove),
            ("s3:GetObject", Verdict::Remove),
        ],
    );
    let hooks: Vec<&dyn DecisionHook> = vec![&hook];
    let callback = |d: &mut repokid::engine::Decisions| {
        repokid::hooks::apply_hooks(d, &hooks, &r, 90, c).map_err(HookFailure::from)
    };
    let p = plan_role(
        &PlanInput {
            role: &r,
            usage: Some(&u),
            ages: &ages,
            filter_hits: &[],
            announced: Some(&announced),
            on_decisions: Some(&callback),
        },
        &EngineSettings::default(),
        c,
        now(),
    );
    assert!(p.eligible(), "{:?}", p.ineligible);
    let planned = PlannedRole {
        role: r.clone(),
        plan: p,
    };
    assert_eq!(removable(&planned), ["ec2:RunInstances", "s3:PutObject"]);
    assert_eq!(*reason_of(&planned, "s3:GetObject"), Reason::NotAnnounced);
    assert_eq!(
        *reason_of(&planned, "ec2:DescribeInstances"),
        Reason::NotAnnounced
    );
    // Every group still holds the actions of one service, groups in service order.
    let services: Vec<&str> = planned
        .plan
        .decisions
        .groups
        .iter()
        .map(|g| {
            let ids: Vec<_> = g.actions.iter().collect();
            let s = &c.service_of(ids[0]).prefix;
            assert!(ids.iter().all(|id| &c.service_of(*id).prefix == s));
            s.as_str()
        })
        .collect();
    let mut sorted = services.clone();
    sorted.sort_unstable();
    assert_eq!(services, sorted);
}

#[test]
fn a_failing_callback_changes_nothing() {
    use repokid::engine::{EngineSettings, HookFailure, PermissionAges, PlanInput, plan_role};
    let r = role("web");
    let u = usage();
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let callback = |d: &mut repokid::engine::Decisions| {
        d.groups.clear();
        Err(HookFailure {
            hook: "broken".into(),
            message: "no".into(),
        })
    };
    let input = PlanInput {
        role: &r,
        usage: Some(&u),
        ages: &ages,
        filter_hits: &[],
        announced: None,
        on_decisions: Some(&callback),
    };
    let p = plan_role(
        &input,
        &EngineSettings::default(),
        Catalog::embedded(),
        now(),
    );
    assert_eq!(
        p.ineligible,
        [Ineligible::HookFailed {
            hook: "broken".into(),
            message: "no".into()
        }]
    );
    assert_eq!(p.ineligible[0].summary(), "hook broken failed: no");
    assert!(p.rewrite.is_none());
    assert_eq!(p.decisions.removable_count(), 2);
    assert!(format!("{input:?}").contains("<callback>"));
}

// ---------------------------------------------------------------------------------------------
// Lifecycle hooks around `ops::propose` (Repokid's BEFORE_REPO_ROLES, AFTER_REPO,
// AFTER_REPO_ROLES).

const DEMO: &str = "111122223333";
const OTHER: &str = "444455556666";

/// The demo inventory and usage, with a copy of every demo role in a second account `OTHER`.
fn demo_inputs() -> (Inventory, UsageByArn) {
    use repokid::sources::inventory_file::parse_inventory;
    use repokid::sources::usage_file::{UsageFormat, parse_usage};
    let mut inventory = parse_inventory(
        "inventory.json",
        include_bytes!("../../examples/demo/inventory.json"),
    )
    .unwrap();
    let mut usage = parse_usage(
        "usage.json",
        include_str!("../../examples/demo/usage.json"),
        UsageFormat::Auto,
        demo_now(),
    )
    .unwrap();
    let copies: Vec<Role> = inventory.roles[DEMO]
        .iter()
        .map(|r| {
            let mut c = r.clone();
            c.account = OTHER.to_string();
            c.arn = r.arn.replace(DEMO, OTHER);
            if let Some(u) = usage.get(&r.arn).cloned() {
                usage.insert(c.arn.clone(), u);
            }
            c
        })
        .collect();
    inventory.roles.insert(OTHER.to_string(), copies);
    (inventory, usage)
}

fn demo_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

/// A temporary policy repository with the demo data synced, and its plan (grace period off).
struct Demo {
    dir: tempfile::TempDir,
    store: repokid::store::git::PolicyStore,
    report: PlanReport,
    planned: Vec<PlannedRole>,
}

impl Demo {
    fn new(ws: &Workspace) -> Demo {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let store = repokid::store::git::PolicyStore::open(dir.path()).unwrap();
        let (inventory, usage) = demo_inputs();
        repokid::ops::sync(&store, &inventory, &[]).unwrap();
        let opts = PlanOptions {
            grace_days: Some(0),
            ..PlanOptions::default()
        };
        let (report, planned) =
            plan(ws, Some(&store), &inventory, &usage, &opts, demo_now()).unwrap();
        Demo {
            dir,
            store,
            report,
            planned,
        }
    }

    fn propose(&self, ws: &Workspace) -> Vec<repokid::ops::Proposal> {
        repokid::ops::propose(ws, &self.store, &self.report, &self.planned, "HEAD").unwrap()
    }

    fn branch_commit(&self, account: &str) -> Option<String> {
        let repo = git2::Repository::open(self.dir.path()).unwrap();
        repo.find_branch(
            &format!("repokid/propose/{account}"),
            git2::BranchType::Local,
        )
        .ok()
        .map(|b| b.get().target().unwrap().to_string())
    }

    /// The eligible roles of `account` and their removed actions, in plan order.
    fn eligible(&self, account: &str) -> Vec<(String, Vec<String>)> {
        self.report
            .roles
            .iter()
            .filter(|r| r.account == account && r.eligible)
            .map(|r| {
                (
                    r.role.clone(),
                    r.removed.iter().map(|x| x.action.clone()).collect(),
                )
            })
            .collect()
    }
}

type EventLog = std::sync::Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A lifecycle hook recording `(its name, the event as JSON)` in a shared log, failing with
/// `fail` on events of kind `fail_on` (for the role `fail_role` when set).
struct Recorder {
    name: &'static str,
    priority: i32,
    log: EventLog,
    fail_on: Option<LifecycleEventKind>,
    fail_role: Option<&'static str>,
}

impl Recorder {
    fn new(name: &'static str, priority: i32, log: &EventLog) -> Recorder {
        Recorder {
            name,
            priority,
            log: log.clone(),
            fail_on: None,
            fail_role: None,
        }
    }
}

impl LifecycleHook for Recorder {
    fn name(&self) -> &str {
        self.name
    }
    fn priority(&self) -> i32 {
        self.priority
    }
    fn on(&self, event: &LifecycleEvent) -> Result<(), HookError> {
        self.log
            .lock()
            .unwrap()
            .push((self.name.to_string(), serde_json::to_value(event).unwrap()));
        let role_matches = match (self.fail_role, event) {
            (None, _) => true,
            (Some(want), LifecycleEvent::AfterRole { role, .. }) => role == want,
            (Some(_), _) => false,
        };
        if self.fail_on == Some(event.kind()) && role_matches {
            return Err(HookError::new(self.name, "refused"));
        }
        Ok(())
    }
}

fn demo_workspace(dir: &Path, settings: &str) -> Workspace {
    let path = dir.join("repokid.toml");
    std::fs::write(&path, settings).unwrap();
    Workspace::load(&path, true, Catalog::embedded()).unwrap()
}

fn events_of(log: &EventLog, hook: &str) -> Vec<serde_json::Value> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(h, _)| h == hook)
        .map(|(_, e)| e.clone())
        .collect()
}

#[test]
fn lifecycle_events_come_in_order_with_their_payloads() {
    let cfg = tempfile::tempdir().unwrap();
    let mut ws = demo_workspace(cfg.path(), "");
    let log = EventLog::default();
    // Registered out of priority order: `first` (-1) must still run before `second` (5).
    ws.lifecycle_hooks = vec![
        Box::new(Recorder::new("second", 5, &log)),
        Box::new(Recorder::new("first", -1, &log)),
    ];
    let demo = Demo::new(&ws);
    let proposals = demo.propose(&ws);
    assert_eq!(proposals.len(), 2);

    let mut expected = Vec::new();
    for p in &proposals {
        assert!(p.hook_errors.is_empty(), "{:?}", p.hook_errors);
        let commit = p.written.as_ref().unwrap().commit.to_string();
        assert_eq!(demo.branch_commit(&p.account), Some(commit.clone()));
        let eligible = demo.eligible(&p.account);
        assert!(!eligible.is_empty());
        let roles: Vec<String> = eligible.iter().map(|(r, _)| r.clone()).collect();
        expected.push(serde_json::json!({
            "event": "before-account", "account": p.account, "roles": roles,
        }));
        for (role, removed) in &eligible {
            expected.push(serde_json::json!({
                "event": "after-role", "account": p.account, "role": role,
                "removed": removed, "errors": [],
            }));
        }
        expected.push(serde_json::json!({
            "event": "after-account", "account": p.account, "roles": roles,
            "commit": commit, "branch": format!("repokid/propose/{}", p.account), "errors": [],
        }));
    }
    // Every event goes to `first`, then `second`.
    let log_entries = log.lock().unwrap().clone();
    let interleaved: Vec<(String, serde_json::Value)> = expected
        .iter()
        .flat_map(|e| {
            [
                ("first".to_string(), e.clone()),
                ("second".to_string(), e.clone()),
            ]
        })
        .collect();
    assert_eq!(log_entries, interleaved);

    // Concretely: the demo account comes first, and orders-api loses sns:Publish.
    assert_eq!(expected[0]["account"], DEMO);
    assert!(
        expected[0]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "orders-api")
    );
    let orders = expected
        .iter()
        .find(|e| e["event"] == "after-role" && e["role"] == "orders-api")
        .unwrap();
    assert!(
        orders["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "sns:Publish")
    );
}

const APPEND_SCRIPT: &str = r#"
import sys
data = sys.stdin.read()
with open(sys.argv[1], "a") as f:
    f.write(data.strip() + "\n")
"#;

#[test]
fn trait_and_command_lifecycle_hooks_receive_identical_payloads() {
    let cfg = tempfile::tempdir().unwrap();
    let out = cfg.path().join("events.jsonl");
    let mut command = python(cfg.path(), "append.py", APPEND_SCRIPT);
    command.push(out.display().to_string());
    let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
    let mut ws = demo_workspace(
        cfg.path(),
        &format!(
            "[[hooks]]\nname = \"append\"\ncommand = [{}]\nevents = [\"before-account\", \"after-role\", \"after-account\"]\n",
            command.join(", ")
        ),
    );
    // The entry is a lifecycle hook only, not a decision hook.
    assert!(ws.hooks.is_empty());
    assert_eq!(ws.lifecycle_hooks.len(), 1);
    let log = EventLog::default();
    ws.lifecycle_hooks
        .push(Box::new(Recorder::new("trait", 0, &log)));
    let demo = Demo::new(&ws);
    let proposals = demo.propose(&ws);
    assert!(proposals.iter().all(|p| p.hook_errors.is_empty()));

    let from_command: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let from_trait = events_of(&log, "trait");
    assert!(from_trait.len() > 4, "{from_trait:?}");
    assert_eq!(from_command, from_trait);
}

#[test]
fn command_lifecycle_hook_runs_only_for_its_events() {
    let cfg = tempfile::tempdir().unwrap();
    let out = cfg.path().join("events.jsonl");
    let mut command = python(cfg.path(), "append.py", APPEND_SCRIPT);
    command.push(out.display().to_string());
    let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
    let ws = demo_workspace(
        cfg.path(),
        &format!(
            "[[hooks]]\nname = \"append\"\ncommand = [{}]\nevents = [\"after-account\"]\n",
            command.join(", ")
        ),
    );
    let demo = Demo::new(&ws);
    demo.propose(&ws);
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["event"] == "after-account"));
}

#[test]
fn failing_before_account_hook_writes_nothing_and_is_reported() {
    let cfg = tempfile::tempdir().unwrap();
    // Refuses the demo account only; the other account goes on.
    let gate = python(
        cfg.path(),
        "gate.py",
        &format!(
            "import json, sys\nev = json.load(sys.stdin)\nif ev['account'] == '{DEMO}':\n    sys.stderr.write('change freeze')\n    sys.exit(3)\n"
        ),
    );
    let gate: Vec<String> = gate.iter().map(|a| format!("{a:?}")).collect();
    let mut ws = demo_workspace(
        cfg.path(),
        &format!(
            "[[hooks]]\nname = \"gate\"\ncommand = [{}]\nevents = [\"before-account\"]\n",
            gate.join(", ")
        ),
    );
    let log = EventLog::default();
    ws.lifecycle_hooks
        .push(Box::new(Recorder::new("later", 1, &log)));
    let demo = Demo::new(&ws);
    let proposals = demo.propose(&ws);

    let blocked = proposals.iter().find(|p| p.account == DEMO).unwrap();
    assert!(blocked.blocked());
    assert!(blocked.written.is_none());
    assert_eq!(demo.branch_commit(DEMO), None);
    assert_eq!(blocked.hook_errors.len(), 1);
    let e = &blocked.hook_errors[0];
    assert_eq!(e.event, LifecycleEventKind::BeforeAccount);
    assert_eq!(e.error.hook, "gate");
    assert!(e.error.message.contains("code 3"), "{}", e.error.message);
    assert!(
        e.error.message.contains("change freeze"),
        "{}",
        e.error.message
    );
    let shown = e.to_string();
    assert!(shown.contains("gate") && shown.contains(DEMO), "{shown}");

    // Later hooks saw nothing of the blocked account; the other account was proposed.
    let seen = events_of(&log, "later");
    assert!(seen.iter().all(|e| e["account"] == OTHER), "{seen:?}");
    assert_eq!(seen.first().unwrap()["event"], "before-account");
    let other = proposals.iter().find(|p| p.account == OTHER).unwrap();
    assert!(!other.blocked() && other.hook_errors.is_empty());
    assert_eq!(
        demo.branch_commit(OTHER),
        Some(other.written.as_ref().unwrap().commit.to_string())
    );
}

#[test]
fn failing_after_role_hook_is_reported_and_the_commit_stands() {
    let cfg = tempfile::tempdir().unwrap();
    let mut ws = demo_workspace(cfg.path(), "");
    let log = EventLog::default();
    ws.lifecycle_hooks = vec![
        Box::new(Recorder {
            fail_on: Some(LifecycleEventKind::AfterRole),
            fail_role: Some("orders-api"),
            ..Recorder::new("audit", 0, &log)
        }),
        Box::new(Recorder::new("watch", 1, &log)),
    ];
    let demo = Demo::new(&ws);
    let proposals = demo.propose(&ws);
    for p in &proposals {
        assert!(!p.blocked());
        let commit = p.written.as_ref().unwrap().commit.to_string();
        assert_eq!(demo.branch_commit(&p.account), Some(commit));
        assert_eq!(p.hook_errors.len(), 1, "{:?}", p.hook_errors);
        let e = &p.hook_errors[0];
        assert_eq!(e.event, LifecycleEventKind::AfterRole);
        assert_eq!(e.role.as_deref(), Some("orders-api"));
        assert_eq!(e.error.hook, "audit");
    }
    // The failure did not stop the other hooks or roles, and after-account saw it.
    let watched = events_of(&log, "watch");
    assert_eq!(watched, events_of(&log, "audit"));
    let after: Vec<_> = watched
        .iter()
        .filter(|e| e["event"] == "after-account")
        .collect();
    assert_eq!(after.len(), 2);
    for e in after {
        assert_eq!(e["errors"], serde_json::json!(["hook audit: refused"]));
    }
}

// Batch hooks (reference §7, DURING_REPOABLE_CALCULATION_BATCH): one call per account.

const OTHER_ACCOUNT: &str = "210987654321";

/// Account `ACCOUNT` with `api`, `web` and `nousage` (no usage data), `OTHER_ACCOUNT` with `db`.
fn batch_inputs() -> (Inventory, UsageByArn) {
    let policies = || parse_policy_map("fixture", POLICIES).unwrap();
    let first: Vec<Role> = ["api", "web", "nousage"]
        .iter()
        .map(|n| Role::new(ACCOUNT, n, policies()))
        .collect();
    let second = vec![Role::new(OTHER_ACCOUNT, "db", policies())];
    let usage = first
        .iter()
        .chain(&second)
        .filter(|r| r.name != "nousage")
        .map(|r| (r.arn.clone(), usage()))
        .collect();
    let inventory = Inventory {
        roles: BTreeMap::from([
            (ACCOUNT.to_string(), first),
            (OTHER_ACCOUNT.to_string(), second),
        ]),
    };
    (inventory, usage)
}

fn run_batch(ws: &Workspace) -> (PlanReport, Vec<PlannedRole>) {
    let (inventory, usage) = batch_inputs();
    let opts = PlanOptions {
        grace_days: Some(0),
        ..PlanOptions::default()
    };
    plan(ws, None, &inventory, &usage, &opts, now()).unwrap()
}

fn planned_role<'a>(planned: &'a [PlannedRole], name: &str) -> &'a PlannedRole {
    planned.iter().find(|p| p.role.name == name).unwrap()
}

/// Keeps `api`'s unused `RunInstances`, removes `web`'s used `PutObject`, and says something
/// about a role not in the batch (ignored); records each call's (account, role) pairs.
struct CloudTrailBatch {
    calls: Mutex<Vec<Vec<(String, String)>>>,
    seen: Mutex<Vec<HookContext>>,
}

impl CloudTrailBatch {
    fn new() -> CloudTrailBatch {
        CloudTrailBatch {
            calls: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
        }
    }
}

impl BatchDecisionHook for CloudTrailBatch {
    fn name(&self) -> &str {
        "ct-batch"
    }
    fn decide_batch(&self, roles: &[HookContext]) -> Result<Vec<BatchVerdict>, HookError> {
        self.calls.lock().unwrap().push(
            roles
                .iter()
                .map(|c| (c.account.clone(), c.role.clone()))
                .collect(),
        );
        self.seen.lock().unwrap().extend(roles.iter().cloned());
        let mut out = vec![BatchVerdict {
            role: "ghost".into(),
            action: "s3:PutObject".into(),
            verdict: Verdict::Remove,
            reason: "not here".into(),
        }];
        for c in roles {
            if c.role == "api"
                && c.potentially_removable
                    .iter()
                    .any(|a| a == "ec2:RunInstances")
            {
                out.push(BatchVerdict {
                    role: c.role.clone(),
                    action: "ec2:RunInstances".into(),
                    verdict: Verdict::Keep,
                    reason: format!("{} runs instances", c.role),
                });
            }
            if c.role == "web" && c.kept.iter().any(|a| a == "s3:PutObject") {
                out.push(BatchVerdict {
                    role: c.role.clone(),
                    action: "s3:PutObject".into(),
                    verdict: Verdict::Remove,
                    reason: format!("{} never puts", c.role),
                });
            }
        }
        Ok(out)
    }
}

const BATCH_SCRIPT: &str = r#"
import json, sys
roles = json.load(sys.stdin)
out = [{"role": "ghost", "action": "s3:PutObject", "verdict": "remove", "reason": "not here"}]
for c in roles:
    if c["role"] == "api" and "ec2:RunInstances" in c["potentially_removable"]:
        out.append({"role": c["role"], "action": "ec2:RunInstances", "verdict": "keep", "reason": "%s runs instances" % c["role"]})
    if c["role"] == "web" and "s3:PutObject" in c["kept"]:
        out.append({"role": c["role"], "action": "s3:PutObject", "verdict": "remove", "reason": "%s never puts" % c["role"]})
print(json.dumps(out))
"#;

/// A workspace whose only hook is a `[[hooks]]` batch command in `dir`.
fn batch_workspace_from_settings(dir: &Path, name: &str, command: &[String]) -> Workspace {
    let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
    let text = format!(
        "[[hooks]]\nname = {name:?}\ncommand = [{}]\nbatch = true\ntimeout-seconds = 10\n",
        command.join(", ")
    );
    std::fs::write(dir.join("filters.toml"), "active = []\n").unwrap();
    let path = dir.join("repokid.toml");
    std::fs::write(&path, text).unwrap();
    let ws = Workspace::load(&path, true, Catalog::embedded()).unwrap();
    assert!(ws.hooks.is_empty());
    assert_eq!(ws.batch_hooks.len(), 1);
    ws
}

#[test]
fn batch_hook_is_called_once_per_account_with_all_decided_roles() {
    let batch = std::sync::Arc::new(CloudTrailBatch::new());
    struct Shared(std::sync::Arc<CloudTrailBatch>);
    impl BatchDecisionHook for Shared {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn decide_batch(&self, roles: &[HookContext]) -> Result<Vec<BatchVerdict>, HookError> {
            self.0.decide_batch(roles)
        }
    }
    // A per-role hook runs first; the batch hook sees its result.
    let mut ws = workspace(vec![Box::new(Fixed::new(
        "keeper",
        0,
        &[("ec2:DescribeInstances", Verdict::Keep)],
    ))]);
    ws.batch_hooks.push(Box::new(Shared(batch.clone())));
    let (report, planned) = run_batch(&ws);

    let calls = batch.calls.lock().unwrap().clone();
    let pair = |a: &str, r: &str| (a.to_string(), r.to_string());
    assert_eq!(
        calls,
        [
            vec![pair(ACCOUNT, "api"), pair(ACCOUNT, "web")],
            vec![pair(OTHER_ACCOUNT, "db")],
        ]
    );
    let seen = batch.seen.lock().unwrap();
    assert!(seen[0].kept.iter().any(|a| a == "ec2:DescribeInstances"));
    assert_eq!(seen[0].potentially_removable, ["ec2:RunInstances"]);

    // api: the batch keeps RunInstances, so nothing is left to remove.
    let api = planned_role(&planned, "api");
    assert_eq!(api.plan.ineligible, [Ineligible::NothingToRemove]);
    assert_eq!(
        *reason_of(api, "ec2:RunInstances"),
        Reason::Hook {
            hook: "ct-batch".into(),
            reason: "api runs instances".into(),
            removable: false
        }
    );
    // web: the batch removes PutObject, and the rewrite follows.
    let web = planned_role(&planned, "web");
    assert!(web.plan.eligible());
    assert_eq!(removable(web), ["ec2:RunInstances", "s3:PutObject"]);
    assert!(matches!(
        reason_of(web, "s3:PutObject"),
        Reason::Hook { hook, removable: true, reason } if hook == "ct-batch" && reason == "web never puts"
    ));
    assert!(matches!(
        reason_of(web, "ec2:DescribeInstances"),
        Reason::Hook { hook, removable: false, .. } if hook == "keeper"
    ));
    let web_report = report.roles.iter().find(|r| r.role == "web").unwrap();
    let policies = web_report.policies.as_ref().unwrap().to_string();
    assert!(!policies.contains("s3:PutObject"), "{policies}");
    assert!(policies.contains("s3:GetObject"), "{policies}");
    // nousage never reached the decisions; db's batch said nothing.
    assert_eq!(
        planned_role(&planned, "nousage").plan.ineligible,
        [Ineligible::NoUsageData]
    );
    assert_eq!(
        removable(planned_role(&planned, "db")),
        ["ec2:RunInstances"]
    );
}

#[test]
fn trait_and_command_batch_hooks_give_identical_plans() {
    let mut traits = workspace(Vec::new());
    traits.batch_hooks.push(Box::new(CloudTrailBatch::new()));
    let (trait_report, trait_planned) = run_batch(&traits);

    let dir = tempfile::tempdir().unwrap();
    let script = python(dir.path(), "ct_batch.py", BATCH_SCRIPT);
    let commands = batch_workspace_from_settings(dir.path(), "ct-batch", &script);
    let (command_report, command_planned) = run_batch(&commands);

    assert_eq!(
        serde_json::to_value(&trait_report).unwrap(),
        serde_json::to_value(&command_report).unwrap()
    );
    assert_eq!(trait_planned.len(), command_planned.len());
    for (t, c) in trait_planned.iter().zip(&command_planned) {
        assert_eq!(t.plan.decisions.groups, c.plan.decisions.groups);
        assert_eq!(t.plan.ineligible, c.plan.ineligible);
    }
    assert!(matches!(
        reason_of(planned_role(&command_planned, "web"), "s3:PutObject"),
        Reason::Hook { hook, removable: true, .. } if hook == "ct-batch"
    ));
}

#[test]
fn failing_batch_command_hook_makes_the_accounts_decided_roles_ineligible() {
    let dir = tempfile::tempdir().unwrap();
    // Fails for the batch holding `web`, answers nothing for the other account.
    let script = python(
        dir.path(),
        "bad_batch.py",
        "import json, sys\nroles = json.load(sys.stdin)\nif any(c['role'] == 'web' for c in roles):\n    sys.stderr.write('cloudtrail unreachable')\n    sys.exit(3)\nprint('[]')\n",
    );
    let ws = batch_workspace_from_settings(dir.path(), "ct-batch", &script);
    let (report, planned) = run_batch(&ws);
    for name in ["api", "web"] {
        let p = planned_role(&planned, name);
        assert!(!p.plan.eligible());
        assert!(p.plan.rewrite.is_none());
        assert!(
            matches!(
                &p.plan.ineligible[..],
                [Ineligible::HookFailed { hook, message }]
                    if hook == "ct-batch" && message.contains("code 3") && message.contains("cloudtrail unreachable")
            ),
            "{name}: {:?}",
            p.plan.ineligible
        );
        let r = report.roles.iter().find(|r| r.role == name).unwrap();
        assert!(r.policies.is_none());
    }
    assert_eq!(
        planned_role(&planned, "nousage").plan.ineligible,
        [Ineligible::NoUsageData]
    );
    // The other account's batch succeeded.
    let db = planned_role(&planned, "db");
    assert!(db.plan.eligible());
    assert_eq!(removable(db), ["ec2:DescribeInstances", "ec2:RunInstances"]);
}
