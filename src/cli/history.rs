//! `repokid rollback` and `repokid stats`: what git history answers.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::inputs::open_store;
use super::{Ctx, Format};
use crate::store::git::{WriteAccount, WriteMode};
use crate::store::names::{validate_account_id, validate_role_name};
use crate::store::{Action, history};

/// Arguments of `rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The account id.
    account: String,
    /// The role name.
    role: String,
    /// Restore this version (the number in the listing; 0 is the newest). Without it, the
    /// versions are listed.
    #[arg(long, value_name = "N")]
    selection: Option<usize>,
    /// Restore only this service's permissions (e.g. `s3`) from the selected version.
    #[arg(long, value_name = "PREFIX", requires = "selection")]
    service: Option<String>,
    /// Read history from this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
}

/// `repokid rollback`.
pub fn run_rollback(a: &RollbackArgs, ctx: &Ctx) -> Result<ExitCode> {
    validate_account_id(&a.account)?;
    validate_role_name(&a.role)?;
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let catalog = ctx.catalog.catalog;
    let versions = history::role_versions(store.repo(), &a.rev, &a.account, &a.role, catalog)?;
    anyhow::ensure!(
        !versions.is_empty(),
        "policies/{}/{}.json has no history at {}",
        a.account,
        a.role,
        a.rev
    );
    let Some(selection) = a.selection else {
        match ctx.format {
            Format::Json => {
                let rows: Vec<_> = versions
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        serde_json::json!({
                            "selection": i, "date": v.time, "commit": v.commit.to_string(),
                            "action": v.action, "permissions": v.permissions,
                            "deleted": v.policies.is_none(), "subject": v.subject,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"version": 1, "versions": rows})
                    )?
                );
            }
            Format::Human => {
                println!(
                    "{:>3}  {:<16}  {:<10}  {:<18}  {:>11}  SUBJECT",
                    "N", "DATE", "COMMIT", "ACTION", "PERMISSIONS"
                );
                for (i, v) in versions.iter().enumerate() {
                    let action = v.action.map_or("(manual)", Action::as_str);
                    let perms = if v.policies.is_none() {
                        "deleted".to_string()
                    } else {
                        v.permissions.to_string()
                    };
                    println!(
                        "{i:>3}  {:<16}  {:.10}  {action:<18}  {perms:>11}  {}",
                        v.time.format("%Y-%m-%d %H:%M"),
                        v.commit.to_string(),
                        v.subject
                    );
                }
                println!(
                    "\nrestore one with: repokid rollback {} {} --selection N [--service PREFIX]",
                    a.account, a.role
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    };
    let current = store
        .read_role(&a.rev, &a.account, &a.role)?
        .unwrap_or_default();
    let restore = history::restore(
        &versions,
        &current,
        selection,
        a.service.as_deref(),
        catalog,
    )?;
    let picked = &versions[selection];
    let branch = format!("repokid/rollback/{}/{}", a.account, a.role);
    let subject = format!(
        "repokid rollback: {} in {} to {:.10}{}",
        a.role,
        a.account,
        picked.commit.to_string(),
        a.service
            .as_ref()
            .map(|s| format!(" ({s} only)"))
            .unwrap_or_default()
    );
    let body = format!(
        "Comes back ({}): {}\nGoes away ({}): {}",
        restore.comes_back.len(),
        restore.comes_back.join(", "),
        restore.goes_away.len(),
        restore.goes_away.join(", ")
    );
    let written = store.write_account(&WriteAccount {
        base: Some(a.rev.clone()),
        mode: WriteMode::Upsert,
        roles: [(a.role.clone(), restore.policies.clone())].into(),
        action: Action::Rollback,
        subject,
        body,
        ..WriteAccount::new(branch.clone(), a.account.clone())
    })?;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1, "branch": branch,
                "commit": written.as_ref().map(|w| w.commit.to_string()),
                "comes_back": restore.comes_back, "goes_away": restore.goes_away,
            }))?
        ),
        Format::Human => {
            match &written {
                Some(w) => println!("committed {:.10} on branch {branch}", w.commit.to_string()),
                None => println!("the role already matches that version; nothing committed"),
            }
            println!("comes back ({}):", restore.comes_back.len());
            for n in &restore.comes_back {
                println!("  + {n}");
            }
            if !restore.goes_away.is_empty() {
                println!("goes away ({}):", restore.goes_away.len());
                for n in &restore.goes_away {
                    println!("  - {n}");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `stats`.
#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Only commits since this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    since: Option<DateTime<Utc>>,
    /// Walk history from this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
    /// Write to this file instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

/// `repokid stats`: CSV by default, JSON with `--format json`.
pub fn run_stats(a: &StatsArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let rows = history::stats(store.repo(), &a.rev, ctx.catalog.catalog, a.since)?;
    let text = match ctx.format {
        Format::Json => {
            serde_json::to_string_pretty(&serde_json::json!({"version": 1, "rows": rows}))? + "\n"
        }
        Format::Human => history::stats_to_csv(&rows),
    };
    match &a.output {
        Some(p) => {
            std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
