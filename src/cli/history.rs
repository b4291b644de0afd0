//! `repokid rollback` and `repokid stats`: what git history answers.

use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use super::inputs::{AwsArgs, LazyAws, open_store};
use super::{Ctx, Format};
use crate::apply::{applied_ref, apply_role, record_applied};
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
    if a.apply_now {
        anyhow::ensure!(
            a.rev == "HEAD",
            "--apply-now restores on the checked-out branch; --rev cannot be used with it"
        );
    }
    let branch = if a.apply_now {
        store.current_branch()?
    } else {
        format!("repokid/rollback/{}/{}", a.account, a.role)
    };
    let parent = store.repo().revparse_single("HEAD")?.peel_to_commit()?.id();
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
        base: (!a.apply_now).then(|| a.rev.clone()),
        mode: WriteMode::Upsert,
        roles: [(a.role.clone(), restore.policies.clone())].into(),
        action: Action::Rollback,
        subject,
        body,
        ..WriteAccount::new(branch.clone(), a.account.clone())
    })?;
    let applied = if a.apply_now {
        Some(apply_now(
            a,
            &ws,
            &store,
            &current,
            &restore.policies,
            parent,
            written.as_ref(),
        )?)
    } else {
        None
    };
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1, "branch": branch,
                "commit": written.as_ref().map(|w| w.commit.to_string()),
                "comes_back": restore.comes_back, "goes_away": restore.goes_away,
                "applied": applied,
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
            if let Some(r) = &applied {
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
    if let Some(r) = applied.filter(|r| r.is_failure()) {
        eprintln!(
            "error: the restore is committed on {branch} but was not applied to {} in {}: {}",
            a.role,
            a.account,
            r.message.unwrap_or_default()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies a just-committed restore to the role in IAM. The drift guard compares live IAM with
/// the role's file at the account's last applied commit (or, when nothing was applied yet, the
/// file before the restore); the applied ref moves to the restore commit only when it pointed
/// at the commit the restore was made on (so no other unapplied change is marked applied).
fn apply_now(
    a: &RollbackArgs,
    ws: &crate::ops::Workspace,
    store: &crate::store::git::PolicyStore,
    before: &crate::engine::PolicyMap,
    restored: &crate::engine::PolicyMap,
    parent: git2::Oid,
    written: Option<&crate::store::git::Written>,
) -> Result<crate::apply::RoleApply> {
    let reference = applied_ref(&a.account);
    let recorded = store
        .repo()
        .find_reference(&reference)
        .ok()
        .and_then(|r| r.peel_to_commit().ok())
        .map(|c| c.id());
    let baseline = match recorded {
        Some(id) => store.read_role(&id.to_string(), &a.account, &a.role)?,
        None => Some(before.clone()),
    };
    let aws = LazyAws::new(a.aws.settings(ws));
    let result = apply_role(
        aws.get()?,
        &a.account,
        &a.role,
        baseline.as_ref(),
        Some(restored),
        true,
        ws.settings.engine.size_limit,
    );
    if let Some(w) = written
        && !result.is_failure()
        && recorded == Some(parent)
    {
        record_applied(
            store,
            &a.account,
            w.commit,
            &format!("repokid rollback --apply-now: {} in {}", a.role, a.account),
        )?;
    }
    Ok(result)
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
