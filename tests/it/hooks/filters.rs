//! Command filters exclude roles as trait filters do.

use super::*;

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
