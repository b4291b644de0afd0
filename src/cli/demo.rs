//! `repokid demo`: the whole loop on bundled data, in a temporary repository.
//!
//! The data (`examples/demo/`) is a made-up account of 36 roles snapshotted on 2026-11-20, so the
//! demo evaluates "now" as 2026-11-20 12:00 UTC. Git history is part of the story: the account
//! was first recorded in May, and two roles gained a statement last week, which the grace period
//! protects.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};

use super::Ctx;
use crate::filters::{DEFAULT_FILTERS_TOML, FilterConfig};
use crate::ops::{PlanOptions, Workspace, plan, propose};
use crate::settings::Settings;
use crate::sources::inventory_file::{Inventory, parse_inventory};
use crate::sources::usage_file::{UsageFormat, parse_usage};
use crate::store::git::{PolicyStore, WriteAccount, WriteMode};

const INVENTORY: &str = include_str!("../../examples/demo/inventory.json");
const USAGE: &str = include_str!("../../examples/demo/usage.json");
/// Roles whose newest statement arrived after the first recording.
const RECENTLY_CHANGED: [&str; 2] = ["orders-api", "etl-airflow"];

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Create the demo repository here (it must not exist) instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `repokid demo`.
pub fn run(a: &DemoArgs, ctx: &Ctx) -> Result<ExitCode> {
    let now = if ctx.now_given {
        ctx.now
    } else {
        at(2026, 11, 20, 12)
    };
    let dir = match &a.dir {
        Some(d) => {
            anyhow::ensure!(
                !d.exists(),
                "{} already exists; the demo needs a new directory",
                d.display()
            );
            d.clone()
        }
        None => std::env::temp_dir().join(format!(
            "repokid-demo-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        )),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let repo = git2::Repository::init(&dir)
        .with_context(|| format!("cannot create a git repository in {}", dir.display()))?;
    let mut config = repo.config()?;
    config.set_str("user.name", "repokid demo")?;
    config.set_str("user.email", "demo@repokid.invalid")?;
    std::fs::write(dir.join("inventory.json"), INVENTORY)?;
    std::fs::write(dir.join("usage.json"), USAGE)?;
    std::fs::write(dir.join("filters.toml"), DEFAULT_FILTERS_TOML)?;
    let store = PolicyStore::open(&dir)?;

    println!(
        "repokid demo — account 111122223333, evaluated as of {}",
        now.format("%Y-%m-%d %H:%M UTC")
    );
    println!("repository: {}\n", dir.display());

    let inventory = parse_inventory("examples/demo/inventory.json", INVENTORY.as_bytes())?;
    let usage = parse_usage("examples/demo/usage.json", USAGE, UsageFormat::Auto, now)?;

    // 1. History: first recording in May (without last week's additions), then today's sync.
    println!("== 1. sync: record live policies in git");
    let branch = store.current_branch()?;
    for (snapshot, when) in [
        (earlier(&inventory), at(2026, 5, 4, 9)),
        (inventory.clone(), at(2026, 11, 19, 7)),
    ] {
        for (account, roles) in &snapshot.roles {
            let written = store.write_account(&WriteAccount {
                mode: WriteMode::ReplaceAll,
                roles: roles
                    .iter()
                    .map(|r| (r.name.clone(), r.policies.clone()))
                    .collect(),
                time: Some(when),
                ..WriteAccount::new(branch.clone(), account.clone())
            })?;
            if let Some(w) = written {
                println!(
                    "   {} {account}: {} added, {} changed, {} removed (commit {:.10})",
                    when.format("%Y-%m-%d"),
                    w.added.len(),
                    w.changed.len(),
                    w.removed.len(),
                    w.commit.to_string()
                );
            }
        }
    }

    // 2. Plan.
    println!("\n== 2. plan: what can go, and why (nothing is written)");
    let ws = Workspace {
        settings: Settings {
            base_dir: dir.clone(),
            ..Settings::default()
        },
        filters: FilterConfig::parse(DEFAULT_FILTERS_TOML)?,
        blocklist: None,
        catalog: ctx.catalog.catalog,
        hooks: Vec::new(),
        batch_hooks: Vec::new(),
        lifecycle_hooks: Vec::new(),
        custom_filters: Vec::new(),
    };
    let (report, planned) = plan(
        &ws,
        Some(&store),
        &inventory,
        &usage,
        &PlanOptions::default(),
        now,
    )?;
    println!("{}", report.to_table());

    // 3. Propose.
    println!(
        "== 3. propose: the rightsized files on a branch, and the pull request a reviewer sees"
    );
    let proposals = propose(&ws, &store, &report, &planned, "HEAD")?;
    for p in &proposals {
        if let Some(w) = &p.written {
            println!(
                "   branch {} (commit {:.10}): {} roles changed — see `git -C {} show --stat {}`\n",
                p.branch,
                w.commit.to_string(),
                w.changed.len() + w.added.len(),
                dir.display(),
                p.branch
            );
        }
        println!(
            "---8<--- pull request ---8<---\n# {}\n\n{}---8<---",
            p.title, p.body
        );
    }
    println!(
        "\nThe demo repository is at {} (delete it when done). Try:\n  repokid --repo {0} display-role 111122223333 orders-api --inventory {0}/inventory.json --usage {0}/usage.json --now {}",
        dir.display(),
        now.to_rfc3339()
    );
    Ok(ExitCode::SUCCESS)
}

/// The inventory as it was first recorded: the recently changed roles without their newest
/// statement.
fn earlier(inventory: &Inventory) -> Inventory {
    let mut old = inventory.clone();
    for role in old.roles.values_mut().flatten() {
        if !RECENTLY_CHANGED.contains(&role.name.as_str()) {
            continue;
        }
        if let Some((_, doc)) = role.policies.iter_mut().next_back() {
            let mut statements = doc.statements().to_vec();
            if statements.len() > 1 {
                statements.pop();
                *doc = doc.with_statements(statements);
            }
        }
    }
    old
}
