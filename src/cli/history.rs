//! `repokid rollback` and `repokid stats`: what git history answers.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::inputs::{AwsArgs, open_store};
use super::{Ctx, Format};
use crate::ops::rollback::Restored;
use crate::ops::{RollbackReport, RollbackRequest, rollback};
use crate::store::Action;
use crate::store::history::{self, RoleVersion};
use crate::store::names::{validate_account_id, validate_role_name};

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
    /// Emergency path: commit the restore on the checked-out branch (not a rollback branch) and
    /// apply it to the role in IAM at once, with apply's drift guard. The commit is the record;
    /// push it afterwards.
    #[arg(long, requires = "selection")]
    apply_now: bool,
    #[command(flatten)]
    aws: AwsArgs,
}

/// `repokid rollback`.
pub fn run_rollback(a: &RollbackArgs, ctx: &Ctx) -> Result<ExitCode> {
    // Names are checked before anything is loaded.
    validate_account_id(&a.account)?;
    validate_role_name(&a.role)?;
    let ws = ctx.workspace()?;
    let req = RollbackRequest {
        account: a.account.clone(),
        role: a.role.clone(),
        selection: a.selection,
        service: a.service.clone(),
        rev: a.rev.clone(),
        apply_now: a.apply_now,
        aws: a.aws.overrides(),
        repo: ctx.repo.clone(),
    };
    match rollback(&ws, &req)? {
        RollbackReport::Versions(versions) => {
            print_versions(a, &versions, ctx.format)?;
            Ok(ExitCode::SUCCESS)
        }
        RollbackReport::Restored(done) => print_restored(a, &done, ctx.format),
    }
}

/// The listing of a role's versions.
fn print_versions(a: &RollbackArgs, versions: &[RoleVersion], format: Format) -> Result<()> {
    match format {
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
                serde_json::to_string_pretty(&serde_json::json!({"version": 1, "versions": rows}))?
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
    Ok(())
}

/// What a restore did; exit 1 when `--apply-now` could not apply it.
fn print_restored(a: &RollbackArgs, done: &Restored, format: Format) -> Result<ExitCode> {
    let branch = &done.branch;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1, "branch": branch,
                "commit": done.written.as_ref().map(|w| w.commit.to_string()),
                "comes_back": done.comes_back, "goes_away": done.goes_away,
                "applied": done.applied,
            }))?
        ),
        Format::Human => {
            match &done.written {
                Some(w) => println!("committed {:.10} on branch {branch}", w.commit.to_string()),
                None => println!("the role already matches that version; nothing committed"),
            }
            println!("comes back ({}):", done.comes_back.len());
            for n in &done.comes_back {
                println!("  + {n}");
            }
            if !done.goes_away.is_empty() {
                println!("goes away ({}):", done.goes_away.len());
                for n in &done.goes_away {
                    println!("  - {n}");
                }
            }
            if let Some(r) = &done.applied {
                println!(
                    "applied to IAM now: {}{}",
                    serde_json::to_value(r.status)?.as_str().unwrap_or_default(),
                    r.message
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
            }
        }
    }
    if let Some(r) = done.applied.as_ref().filter(|r| r.is_failure()) {
        eprintln!(
            "error: the restore is committed on {branch} but was not applied to {} in {}: {}",
            a.role,
            a.account,
            r.message.clone().unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
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
