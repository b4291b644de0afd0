//! `repokid plan`, `repokid propose` and `repokid display-role`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::inputs::{InputArgs, open_store};
use super::{Ctx, Format};
use crate::engine::policy::{PolicyMap, to_canonical_json};
use crate::github::review::PrOutcome;
use crate::ops::{PlanOptions, plan_with_progress, propose};

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    inputs: InputArgs,
    /// Only this role (repeatable).
    #[arg(long = "role", value_name = "NAME")]
    roles: Vec<String>,
    /// Override the grace period in days (0 = off); shown in the plan and the PR text.
    #[arg(long, value_name = "DAYS")]
    grace_days: Option<i64>,
    /// Read recorded policies and their history at this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
    /// Plan from the inventory alone, without a policy repository (permission ages are then
    /// unknown, so the grace period keeps everything unless --grace-days 0).
    #[arg(long)]
    no_repo: bool,
}

/// Arguments of `propose`.
#[derive(Debug, clap::Args)]
pub struct ProposeArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Start proposal branches from this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    base: String,
    /// Also write each account's pull request title and body to DIR/<account>.md.
    #[arg(long, value_name = "DIR")]
    pr_dir: Option<PathBuf>,
    /// Push each proposal branch to GitHub and open its pull request (or update the open one),
    /// with labels and reviewers. Needs [github] repo in repokid.toml and $GITHUB_TOKEN (or a
    /// GitHub App).
    #[arg(long)]
    open_pr: bool,
}

/// Arguments of `display-role`.
#[derive(Debug, clap::Args)]
pub struct DisplayRoleArgs {
    /// The account id.
    account: String,
    /// The role name.
    role: String,
    #[command(flatten)]
    inputs: InputArgs,
    /// Override the grace period in days.
    #[arg(long, value_name = "DAYS")]
    grace_days: Option<i64>,
}

pub(super) fn run(
    a: &PlanArgs,
    ctx: &Ctx,
    accounts_override: Option<Vec<String>>,
) -> Result<(
    crate::ops::Workspace,
    Option<crate::store::git::PolicyStore>,
    crate::report::PlanReport,
    Vec<crate::ops::PlannedRole>,
)> {
    let ws = ctx.workspace()?;
    let aws = a.inputs.lazy_aws(&ws);
    let mut inventory = a.inputs.inventory(&ws, &aws)?;
    if !a.roles.is_empty() {
        // Only the named roles need usage data (one Access Advisor job each).
        for roles in inventory.roles.values_mut() {
            roles.retain(|r| a.roles.contains(&r.name));
        }
    }
    let usage = a.inputs.usage(&ws, &inventory, ctx.now, &aws)?.by_arn;
    if let Some(aws) = aws.made() {
        tracing::info!(calls = ?aws.calls.snapshot(), "AWS calls");
    }
    let store = if a.no_repo {
        None
    } else {
        Some(open_store(ctx.repo.as_ref(), &ws)?)
    };
    let opts = PlanOptions {
        accounts: accounts_override.unwrap_or(a.inputs.accounts(&ws)?),
        roles: a.roles.clone(),
        grace_days: a.grace_days,
        rev: Some(a.rev.clone()),
        announced: None,
    };
    // A progress bar on a terminal only; scripts and CI logs get none.
    let bar = if std::io::stderr().is_terminal() && inventory.len() > 200 {
        indicatif::ProgressBar::new(inventory.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("planning {bar:40} {pos}/{len} roles ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let (report, planned) = plan_with_progress(
        &ws,
        store.as_ref(),
        &inventory,
        &usage,
        &opts,
        ctx.now,
        &mut || bar.inc(1),
    )?;
    bar.finish_and_clear();
    Ok((ws, store, report, planned))
}

/// `repokid plan`.
pub fn run_plan(a: &PlanArgs, ctx: &Ctx) -> Result<ExitCode> {
    let (_, _, report, _) = run(a, ctx, None)?;
    match ctx.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Human => print!("{}", report.to_table()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `repokid propose`.
pub fn run_propose(a: &ProposeArgs, ctx: &Ctx) -> Result<ExitCode> {
    anyhow::ensure!(
        !a.plan.no_repo,
        "propose writes to the policy repository; --no-repo cannot be used"
    );
    let (ws, store, report, planned) = run(&a.plan, ctx, None)?;
    let store = store.context("no policy repository")?;
    let proposals = propose(&ws, &store, &report, &planned, &a.base)?;
    if let Some(dir) = &a.pr_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for p in &proposals {
            let path = dir.join(format!("{}.md", p.account));
            std::fs::write(&path, format!("# {}\n\n{}", p.title, p.body))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    let published = if a.open_pr {
        let gh = crate::github::client::GitHub::connect(
            &ws.settings.github,
            &ws.settings.base_dir,
            crate::github::client::token_from_env(),
        )?;
        crate::github::publish::publish(
            &gh,
            &ws.settings.github,
            &store,
            &proposals,
            &planned,
            &a.base,
        )?
    } else {
        Vec::new()
    };
    let pr_of = |account: &str| {
        published
            .iter()
            .find(|p| p.account == account)
            .map(|p| p.outcome.clone())
    };
    match ctx.format {
        Format::Json => {
            let doc: Vec<_> = proposals
                .iter()
                .map(|p| {
                    let pr = pr_of(&p.account);
                    serde_json::json!({
                        "pull_request": pr.as_ref().map(|o| serde_json::json!({
                            "number": o.pr().number,
                            "url": o.pr().html_url,
                            "outcome": match o {
                                PrOutcome::Opened(_) => "opened",
                                PrOutcome::Updated(_) => "updated",
                                PrOutcome::Declined(_) => "declined",
                            },
                        })),
                        "account": p.account,
                        "branch": p.branch,
                        "commit": p.written.as_ref().map(|w| w.commit.to_string()),
                        "title": p.title,
                        "body": p.body,
                        "hook_errors": p.hook_errors.iter().map(|e| serde_json::json!({
                            "event": e.event.as_str(),
                            "account": e.account,
                            "role": e.role,
                            "hook": e.error.hook,
                            "message": e.error.message,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"version": 1, "proposals": doc}))?
            );
        }
        Format::Human => {
            for p in &proposals {
                match &p.written {
                    Some(w) => println!(
                        "{}: committed {} on branch {}",
                        p.account,
                        short(&w.commit.to_string()),
                        p.branch
                    ),
                    None if p.blocked() => {
                        println!("{}: not proposed (a before-account hook failed)", p.account)
                    }
                    None => println!("{}: nothing to propose", p.account),
                }
                match pr_of(&p.account) {
                    Some(PrOutcome::Opened(pr)) => {
                        println!("opened pull request #{} {}", pr.number, pr.html_url)
                    }
                    Some(PrOutcome::Updated(pr)) => {
                        println!("updated pull request #{} {}", pr.number, pr.html_url)
                    }
                    Some(PrOutcome::Declined(pr)) => println!(
                        "not reopened: pull request #{} with this same proposal was closed without merging ({})",
                        pr.number, pr.html_url
                    ),
                    None => {}
                }
                println!("\n# {}\n\n{}", p.title, p.body);
            }
        }
    }
    let mut failed = false;
    for e in proposals.iter().flat_map(|p| &p.hook_errors) {
        eprintln!("error: {e}");
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn short(oid: &str) -> &str {
    &oid[..oid.len().min(10)]
}

/// `repokid display-role`.
pub fn run_display_role(a: &DisplayRoleArgs, ctx: &Ctx) -> Result<ExitCode> {
    crate::store::names::validate_account_id(&a.account)?;
    crate::store::names::validate_role_name(&a.role)?;
    let args = PlanArgs {
        inputs: InputArgs {
            accounts: vec![a.account.clone()],
            ..a.inputs.clone()
        },
        roles: vec![a.role.clone()],
        grace_days: a.grace_days,
        rev: "HEAD".into(),
        no_repo: false,
    };
    let (_, _, report, planned) = run(&args, ctx, Some(vec![a.account.clone()]))?;
    let (Some(r), Some(p)) = (report.roles.first(), planned.first()) else {
        anyhow::bail!(
            "role {} not found in account {} of the inventory",
            a.role,
            a.account
        );
    };
    if ctx.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{} / {}  ({})", r.account, r.role, r.arn);
    println!(
        "inline size {} characters; {}",
        r.size_before,
        if r.eligible {
            "changes proposed".to_string()
        } else {
            r.why_not()
        }
    );
    println!(
        "\nkept: {}",
        r.kept
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !r.unknown_actions.is_empty() {
        println!("unknown actions (kept): {}", r.unknown_actions.join(", "));
    }
    if !r.removed.is_empty() {
        println!("\nremoved:");
        for x in &r.removed {
            println!(
                "  {:<50} {:<24} {}",
                x.action,
                x.access_level.as_str(),
                x.reason.summary()
            );
        }
    }
    let proposed: &PolicyMap = p.plan.proposed().unwrap_or(&p.role.policies);
    println!(
        "\n{}",
        colored_diff(
            &to_canonical_json(&p.role.policies),
            &to_canonical_json(proposed)
        )
    );
    Ok(ExitCode::SUCCESS)
}

/// A unified diff, coloured when stdout is a terminal.
pub fn colored_diff(old: &str, new: &str) -> String {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let diff = similar::TextDiff::from_lines(old, new);
    let mut out = String::new();
    for group in diff.grouped_ops(3) {
        for op in group {
            for change in diff.iter_changes(&op) {
                let (sign, on, off) = match change.tag() {
                    similar::ChangeTag::Delete => ("-", "\x1b[31m", "\x1b[0m"),
                    similar::ChangeTag::Insert => ("+", "\x1b[32m", "\x1b[0m"),
                    similar::ChangeTag::Equal => (" ", "", ""),
                };
                let (on, off) = if color { (on, off) } else { ("", "") };
                out.push_str(&format!("{on}{sign}{}{off}", change.value()));
                if change.missing_newline() {
                    out.push('\n');
                }
            }
        }
        out.push_str("...\n");
    }
    if out.is_empty() {
        out.push_str("(no change)\n");
    }
    out
}
