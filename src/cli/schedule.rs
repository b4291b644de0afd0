//! `repokid schedule`, `repo-scheduled-roles`, `cancel-scheduled-repo`, `show-scheduled-roles`:
//! Repokid's scheduling, as pull requests that cannot be merged before their time.

use std::process::ExitCode;

use anyhow::{Context, Result};

use super::inputs::{InputArgs, open_store};
use super::plan::PlanArgs;
use super::{Ctx, Format};
use crate::github::client::{GitHub, token_from_env};
use crate::github::schedule::{
    MergeOptions, MergeOutcome, ScheduleOutcome, cancel, repo_scheduled, schedule, scheduled,
};
use crate::ops::Workspace;
use crate::ops::recheck::{InputsError, Kept};

/// Arguments of `schedule`.
#[derive(Debug, clap::Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Days until the earliest merge (default: [github] schedule-days, 7).
    #[arg(long, value_name = "N")]
    days: Option<i64>,
    /// Start proposal branches from this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    base: String,
}

/// Arguments of `repo-scheduled-roles`.
#[derive(Debug, clap::Args)]
pub struct RepoScheduledArgs {
    /// Merge the due, approved, mergeable pull requests that re-check unchanged, and commit on
    /// the branch of the others what must stay (without it: only report, and keep the schedule
    /// statuses current).
    #[arg(long)]
    commit: bool,
    /// Where the re-check reads live roles and fresh usage: the sources `propose` uses. With
    /// --account, only those accounts' pull requests are handled (all of them without).
    #[command(flatten)]
    inputs: InputArgs,
    /// Override the grace period in days in the re-check, as the schedule did.
    #[arg(long, value_name = "DAYS")]
    grace_days: Option<i64>,
}

/// Arguments of `cancel-scheduled-repo`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// The account whose scheduled pull request is cancelled.
    #[arg(long = "account", value_name = "ID", required = true)]
    account: String,
    /// Why (goes in the closing comment).
    #[arg(long, default_value = "cancelled by an operator")]
    reason: String,
}

/// Arguments of `show-scheduled-roles`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {}

fn connect(ws: &Workspace) -> Result<GitHub> {
    Ok(GitHub::connect(
        &ws.settings.github,
        &ws.settings.base_dir,
        token_from_env(),
    )?)
}

/// `repokid schedule`.
pub fn run_schedule(a: &ScheduleArgs, ctx: &Ctx) -> Result<ExitCode> {
    let (
        ws,
        crate::ops::PlanRun {
            store,
            report,
            planned,
        },
    ) = super::plan::run(&a.plan, ctx)?;
    let store =
        store.context("schedule writes to the policy repository; --no-repo cannot be used")?;
    let gh = connect(&ws)?;
    let days = a.days.unwrap_or(ws.settings.github.schedule_days);
    anyhow::ensure!(days >= 0, "--days must not be negative");
    let done = schedule(&ws, &gh, &store, report, planned, &a.base, ctx.now, days)?;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"version": 1, "scheduled": done.rows})
            )?
        ),
        Format::Human => {
            for r in &done.rows {
                let line = match r.outcome {
                    ScheduleOutcome::Standing => "already scheduled; left as announced until",
                    ScheduleOutcome::Declined => {
                        "not rescheduled (this proposal was closed without merging); would be due"
                    }
                    ScheduleOutcome::Updated => "scheduled (pull request updated), not before",
                    ScheduleOutcome::Opened => "scheduled, not before",
                };
                println!(
                    "{}: #{} {line} {} UTC — {}",
                    r.account,
                    r.pull_request,
                    r.not_before.format("%Y-%m-%d %H:%M"),
                    r.url
                );
            }
            if done.rows.is_empty() {
                println!("nothing to schedule");
            }
        }
    }
    for (account, e) in &done.hook_errors {
        eprintln!(
            "error: after-schedule hook {} failed for account {account}: {}",
            e.hook, e.message
        );
    }
    Ok(if done.hook_errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `repokid repo-scheduled-roles`.
pub fn run_repo_scheduled(a: &RepoScheduledArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let gh = connect(&ws)?;
    let inputs = a.inputs.inputs();
    let aws = inputs.lazy_aws(&ws);
    // Each due pull request's account and changed roles, from the same sources as propose.
    let mut fetch = |account: &str, roles: &[String]| -> Result<_, InputsError> {
        Ok(inputs.roles_and_usage(&ws, &aws, account, roles, ctx.now)?)
    };
    // Only an explicit --account narrows the pull requests handled (not `accounts` in the
    // settings: a scheduled pull request of an account dropped from them is still handled).
    for account in &a.inputs.accounts {
        crate::store::names::validate_account_id(account).context("--account")?;
    }
    let opts = MergeOptions {
        commit: a.commit,
        grace_days: a.grace_days,
        accounts: a.inputs.accounts.clone(),
    };
    let results = repo_scheduled(&gh, &ws, &store, &mut fetch, &opts, ctx.now)?;
    match ctx.format {
        Format::Json => {
            let rows: Vec<_> = results
                .iter()
                .map(|(s, o)| serde_json::json!({"pull_request": s, "result": o}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"version": 1, "results": rows}))?
            );
        }
        Format::Human => {
            for (s, o) in &results {
                let what = match o {
                    MergeOutcome::Waiting { until } => format!("waiting until {until}"),
                    MergeOutcome::NoDate => "no schedule marker in the body; left alone".into(),
                    MergeOutcome::NotApproved => "due, but not approved".into(),
                    MergeOutcome::NotMergeable => "due and approved, but not mergeable".into(),
                    MergeOutcome::WouldMerge => {
                        "due, approved, mergeable: would merge (pass --commit)".into()
                    }
                    MergeOutcome::Merged => "merged".into(),
                    MergeOutcome::Unverified { reason } => {
                        format!(
                            "due, approved, mergeable, but NOT merged: cannot re-check ({reason})"
                        )
                    }
                    MergeOutcome::WouldUpdate { kept } => format!(
                        "due, approved, mergeable, but {} announced removals must stay: would \
                         commit that on the branch (pass --commit){}",
                        kept.iter().map(|k| k.actions.len()).sum::<usize>(),
                        kept_lines(kept)
                    ),
                    MergeOutcome::Updated { commit, kept } => format!(
                        "{} announced removals must stay: committed {commit} on the branch and \
                         commented; merges on a later run{}",
                        kept.iter().map(|k| k.actions.len()).sum::<usize>(),
                        kept_lines(kept)
                    ),
                };
                println!("#{} {}: {what}", s.number, s.branch);
            }
            if results.is_empty() {
                println!("no scheduled pull requests");
            }
        }
    }
    let unverified: Vec<u64> = results
        .iter()
        .filter(|(_, o)| matches!(o, MergeOutcome::Unverified { .. }))
        .map(|(s, _)| s.number)
        .collect();
    if unverified.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: due pull request(s) {} could not be re-checked and were not merged",
            unverified
                .iter()
                .map(|n| format!("#{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(ExitCode::from(1))
    }
}

/// What a re-check kept, one line per role and reason.
fn kept_lines(kept: &[Kept]) -> String {
    kept.iter()
        .map(|k| format!("\n    {}: {} ({})", k.role, k.actions.join(", "), k.reason))
        .collect()
}

/// `repokid cancel-scheduled-repo`.
pub fn run_cancel(a: &CancelArgs, ctx: &Ctx) -> Result<ExitCode> {
    crate::store::names::validate_account_id(&a.account)?;
    let ws = ctx.workspace()?;
    let gh = connect(&ws)?;
    let branch = format!("{}/{}", ws.settings.propose.branch_prefix, a.account);
    match cancel(&gh, &branch, &a.reason)? {
        Some(pr) => println!("closed #{} and deleted {branch}", pr.number),
        None => {
            eprintln!("error: no open pull request from {branch}");
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `repokid show-scheduled-roles`.
pub fn run_show(_a: &ShowArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let gh = connect(&ws)?;
    let rows = scheduled(&gh, &ws.settings.propose.branch_prefix)?;
    match ctx.format {
        Format::Json => {
            let list: Vec<_> = rows.iter().map(|(_, s)| s).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"version": 1, "scheduled": list})
                )?
            );
        }
        Format::Human => {
            println!(
                "{:>6}  {:<40}  {:<20}  URL",
                "PR", "BRANCH", "NOT BEFORE (UTC)"
            );
            for (_, s) in &rows {
                println!(
                    "{:>6}  {:<40}  {:<20}  {}",
                    format!("#{}", s.number),
                    s.branch,
                    s.not_before
                        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "(no marker)".into()),
                    s.url
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
