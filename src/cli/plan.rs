//! `repokid plan`, `repokid propose` and `repokid display-role`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::inputs::InputArgs;
use super::{Ctx, Format};
use crate::engine::policy::{PolicyMap, to_canonical_json};
use crate::github::review::PrOutcome;
use crate::ops::{PlanRequest, PlanRun, Progress, ProposeRun};

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

impl PlanArgs {
    /// The plan request these arguments make.
    fn request(&self, ctx: &Ctx) -> PlanRequest {
        PlanRequest {
            inputs: self.inputs.inputs(),
            roles: self.roles.clone(),
            grace_days: self.grace_days,
            rev: self.rev.clone(),
            no_repo: self.no_repo,
            repo: ctx.repo.clone(),
            now: ctx.now,
        }
    }
}

/// A progress bar on a terminal, for runs of more than 200 roles; scripts and CI logs get none.
struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn start(&mut self, total: usize) {
        if std::io::stderr().is_terminal() && total > 200 {
            self.0 = indicatif::ProgressBar::new(total as u64);
            self.0.set_style(
                indicatif::ProgressStyle::with_template(
                    "planning {bar:40} {pos}/{len} roles ({eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
        }
    }
    fn tick(&mut self) {
        self.0.inc(1);
    }
}

pub(super) fn run(a: &PlanArgs, ctx: &Ctx) -> Result<(crate::ops::Workspace, PlanRun)> {
    let ws = ctx.workspace()?;
    let mut bar = Bar(indicatif::ProgressBar::hidden());
    let run = crate::ops::plan::run(&ws, &a.request(ctx), &mut bar)?;
    bar.0.finish_and_clear();
    Ok((ws, run))
}

/// `repokid plan`.
pub fn run_plan(a: &PlanArgs, ctx: &Ctx) -> Result<ExitCode> {
    let (_, PlanRun { report, .. }) = run(a, ctx)?;
    match ctx.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Human => print!("{}", report.to_table()),
    }
    Ok(ExitCode::SUCCESS)
}

/// `repokid propose`.
pub fn run_propose(a: &ProposeArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let mut bar = Bar(indicatif::ProgressBar::hidden());
    let ProposeRun {
        plan: PlanRun { store, planned, .. },
        proposals,
    } = crate::ops::propose::run(&ws, &a.plan.request(ctx), &a.base, &mut bar)?;
    bar.0.finish_and_clear();
    let store = store.context("no policy repository")?;
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
    let (
        _,
        PlanRun {
            report, planned, ..
        },
    ) = run(&args, ctx)?;
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
