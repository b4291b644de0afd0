//! Lifecycle hooks around `ops::propose` (Repokid's BEFORE_REPO_ROLES, AFTER_REPO,
//! AFTER_REPO_ROLES).

use super::*;

const DEMO: &str = "111122223333";
const OTHER: &str = "444455556666";

/// The demo inventory and usage, with a copy of every demo role in a second account `OTHER`.
fn demo_inputs() -> (Inventory, UsageByArn) {
    use repokid::sources::inventory_file::parse_inventory;
    use repokid::sources::usage_file::{UsageFormat, parse_usage};
    let mut inventory = parse_inventory(
        "inventory.json",
        include_bytes!("../../../examples/demo/inventory.json"),
    )
    .unwrap();
    let mut usage = parse_usage(
        "usage.json",
        include_str!("../../../examples/demo/usage.json"),
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
