//! Batch hooks (reference §7, DURING_REPOABLE_CALCULATION_BATCH): one call per account.

use super::*;

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
