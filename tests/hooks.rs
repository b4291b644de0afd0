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
use repokid::hooks::{DecisionHook, HookContext, HookError, HookVerdict, Verdict};
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
