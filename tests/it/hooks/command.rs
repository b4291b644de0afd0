//! Command hooks (a program speaking JSON) decide as trait hooks do, and fail per role.

use super::*;

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
