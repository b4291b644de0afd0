//! `repokid apply`: push what the protected branch holds to IAM, guarded against drift.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::inputs::{AwsArgs, open_store};
use super::{Ctx, Format, gha};
use crate::apply::{AccountApply, RoleStatus, applied_ref};
use crate::github::apply_report::{
    ApplyRun, FAILED_LABEL, ReportOptions, ReportOutcome, report_apply,
};
use crate::github::client::{GitHub, token_from_env};
use crate::ops::apply::{AppliedAccounts, ApplyRequest};

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Write to IAM. Without it, a dry run: live policies are read and compared with the files,
    /// and what would be written is printed.
    #[arg(long)]
    commit: bool,
    /// Only this account (repeatable; default: `accounts` in repokid.toml, else every account
    /// under policies/ at REV).
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// The revision to apply: the protected branch, after a merge.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
    /// Compare against this revision instead of the recorded baseline (refs/repokid/applied/ACCOUNT,
    /// else the account's last sync commit): the commit whose files IAM is known to hold.
    #[arg(long, value_name = "REV")]
    baseline: Option<String>,
    /// Also write the JSON report (what `--format json` prints) to FILE, whatever the output
    /// format: the input of `repokid apply-report`.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// `repokid apply`.
pub fn run(a: &ApplyArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let done = crate::ops::apply::apply(
        &ws,
        &ApplyRequest {
            accounts: a.accounts.clone(),
            rev: a.rev.clone(),
            commit: a.commit,
            baseline: a.baseline.clone(),
            aws: a.aws.overrides(),
            repo: ctx.repo.clone(),
        },
    )?;
    let AppliedAccounts {
        reports,
        errors,
        aws_calls: calls,
    } = &done;
    let doc = serde_json::json!({
        "version": 1,
        "dry_run": !a.commit,
        "accounts": reports,
        "errors": errors.iter().map(|(a, m)| serde_json::json!({"account": a, "message": m})).collect::<Vec<_>>(),
        "aws_calls": calls,
    });
    let json = serde_json::to_string_pretty(&doc)?;
    if let Some(path) = &a.report {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write the report {}", path.display()))?;
    }
    match ctx.format {
        Format::Json => println!("{json}"),
        Format::Human => print!("{}", human(reports, !a.commit)),
    }
    if gha::active() {
        for r in reports {
            for role in r.roles.iter().filter(|x| x.is_failure()) {
                println!(
                    "{}",
                    gha::annotation(
                        "error",
                        Some(&format!("policies/{}/{}.json", r.account, role.role)),
                        &format!("repokid apply: {} {}", role.role, status(role.status)),
                        role.message.as_deref().unwrap_or(""),
                    )
                );
            }
        }
        for (account, m) in errors {
            println!(
                "{}",
                gha::annotation("error", None, &format!("repokid apply: {account}"), m)
            );
        }
        gha::append_summary(&summary(reports, errors, !a.commit));
    }
    for (account, m) in errors {
        eprintln!("error: {account}: {m}");
    }
    Ok(if done.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn status(s: RoleStatus) -> &'static str {
    match s {
        RoleStatus::InSync => "in sync",
        RoleStatus::WouldApply => "would apply",
        RoleStatus::Applied => "applied",
        RoleStatus::Drift => "drift",
        RoleStatus::Failed => "failed",
        RoleStatus::NotAttempted => "not attempted",
        RoleStatus::Skipped => "skipped",
    }
}

fn note(r: &crate::apply::RoleApply) -> String {
    let mut note = r.message.clone().unwrap_or_default();
    if !r.drift.is_empty() {
        let list: Vec<String> = r
            .drift
            .iter()
            .map(|d| format!("{} ({})", d.policy, d.how))
            .collect();
        note = format!("{note}: {}", list.join(", "));
    }
    note
}

fn human(reports: &[AccountApply], dry_run: bool) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(
            out,
            "account {}: baseline {:.10} ({}) → {:.10}; {} roles changed",
            r.account,
            r.baseline,
            serde_json::to_value(r.baseline_source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            r.target,
            r.roles.len()
        );
        if !r.roles.is_empty() {
            let _ = writeln!(
                out,
                "  {:<40} {:<13} {:>4} {:>6}  NOTE",
                "ROLE", "STATUS", "PUT", "DELETE"
            );
        }
        for role in &r.roles {
            let _ = writeln!(
                out,
                "  {:<40} {:<13} {:>4} {:>6}  {}",
                role.role,
                status(role.status),
                role.puts.len(),
                role.deletes.len(),
                note(role)
            );
        }
        if r.recorded {
            let _ = writeln!(
                out,
                "  recorded {} → {:.10}",
                applied_ref(&r.account),
                r.target
            );
        } else if !dry_run && !r.succeeded() {
            let _ = writeln!(
                out,
                "  baseline not moved: the next run retries the roles above"
            );
        }
    }
    if dry_run {
        out.push_str("dry run: nothing was written; pass --commit to write\n");
    }
    out
}

fn summary(reports: &[AccountApply], errors: &[(String, String)], dry_run: bool) -> String {
    let mut md = String::from(if dry_run {
        "## repokid apply (dry run)\n\n"
    } else {
        "## repokid apply\n\n"
    });
    md.push_str("| Account | Role | Status | Put | Delete | Note |\n|---|---|---|---:|---:|---|\n");
    for r in reports {
        for role in &r.roles {
            let _ = writeln!(
                md,
                "| {} | `{}` | {} | {} | {} | {} |",
                r.account,
                role.role,
                status(role.status),
                role.puts.join(", "),
                role.deletes.join(", "),
                note(role).replace('|', "\\|")
            );
        }
        if r.roles.is_empty() {
            let _ = writeln!(md, "| {} | | nothing changed | | | |", r.account);
        }
    }
    for (account, m) in errors {
        let _ = writeln!(
            md,
            "| {account} | | error | | | {} |",
            m.replace('|', "\\|")
        );
    }
    md.push('\n');
    md
}

/// Arguments of `apply-report`.
#[derive(Debug, clap::Args)]
pub struct ApplyReportArgs {
    /// The report `repokid apply --report FILE` wrote. Missing or empty (apply failed before
    /// writing it): every --account counts as failed.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// An account the apply was meant for (repeatable): one missing from the report counts as
    /// failed.
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// The workflow run, linked from every comment.
    #[arg(long, value_name = "URL")]
    run_url: Option<String>,
    /// Pushing refs/repokid/applied/* failed after the apply: its recorded accounts count as
    /// failed.
    #[arg(long)]
    push_failed: bool,
    /// The tracking issue's label.
    #[arg(long, value_name = "LABEL", default_value = FAILED_LABEL)]
    label: String,
}

/// `repokid apply-report`: exit 0 when everything was posted, 1 when a GitHub call failed (the
/// apply's own failures are `repokid apply`'s exit status).
pub fn run_report(a: &ApplyReportArgs, ctx: &Ctx) -> Result<ExitCode> {
    for acct in &a.accounts {
        crate::store::names::validate_account_id(acct)?;
    }
    let text = match std::fs::read_to_string(&a.input) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", a.input.display())),
    };
    let run: Option<ApplyRun> =
        if text.trim().is_empty() {
            None
        } else {
            Some(serde_json::from_str(&text).with_context(|| {
                format!("{} is not a report of `repokid apply`", a.input.display())
            })?)
        };
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let gh = GitHub::connect(&ws.settings.github, &ws.settings.base_dir, token_from_env())?;
    let opts = ReportOptions {
        accounts: a.accounts.clone(),
        run_url: a.run_url.clone(),
        label: a.label.clone(),
        push_failed: a.push_failed,
        ..ReportOptions::default()
    };
    let out = report_apply(&gh, &store, run.as_ref(), &opts)?;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"version": 1, "report": out}))?
        ),
        Format::Human => print!("{}", report_human(&out, &a.label)),
    }
    if gha::active() {
        gha::append_summary(&format!(
            "### Reported on GitHub\n\n{}\n",
            report_human(&out, &a.label)
        ));
        for e in &out.errors {
            println!(
                "{}",
                gha::annotation("error", None, "repokid apply-report", e)
            );
        }
    }
    for e in &out.errors {
        eprintln!("error: {e}");
    }
    Ok(if out.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report_human(out: &ReportOutcome, label: &str) -> String {
    let mut text = String::new();
    for c in &out.comments {
        let action = serde_json::to_value(c.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "- pull request #{}: comment {action} (account {})",
            c.pull_request, c.account
        );
    }
    if out.comments.is_empty() {
        text.push_str("- no merged pull request behind the applied commits\n");
    }
    if out.commits_skipped > 0 {
        let _ = writeln!(
            text,
            "- {} more commits not looked up (too many for one run)",
            out.commits_skipped
        );
    }
    match &out.issue {
        Some(i) => {
            let action = serde_json::to_value(i.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(text, "- tracking issue #{} ({label}): {action}", i.number);
        }
        None => {
            let _ = writeln!(text, "- no tracking issue ({label}): nothing failed");
        }
    }
    if !out.failed_accounts.is_empty() {
        let _ = writeln!(text, "- failed: {}", out.failed_accounts.join(", "));
    }
    text
}
