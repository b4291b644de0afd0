//! The command line: argument parsing with clap, then one module per command. Commands build
//! plain requests for the library ([`crate::ops`]) and print the results; exit codes are
//! 0 (ok), 1 (something failed) and 2 (usage error — clap's own code).

mod accounts;
mod apply;
mod catalog;
mod demo;
mod dispatch;
mod doctor;
mod gha;
mod history;
mod init;
mod inputs;
mod plan;
mod roles;
mod schedule;
mod sync;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::Catalog;
use crate::ops::Workspace;

/// Least privilege for AWS IAM roles, as code in git.
///
/// repokid records every role's inline policies under policies/ACCOUNT/ROLE.json (sync), removes
/// the permissions Access Advisor shows unused (plan, propose), and leaves the change for review.
/// Start with `repokid demo`.
#[derive(Debug, Parser)]
#[command(
    name = "repokid",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Settings file.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "repokid.toml"
    )]
    config: PathBuf,

    /// The git repository holding policies/ (default: `repo` in the settings, else ".").
    #[arg(long, global = true, value_name = "DIR")]
    repo: Option<PathBuf>,

    /// Use this IAM action catalog (iam-catalog v1 TSV) instead of the embedded one.
    #[arg(long, global = true, value_name = "FILE")]
    catalog: Option<PathBuf>,

    /// Output format: human-readable tables, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    format: Format,

    /// Log more (-v: info, -vv: debug, -vvv: trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Evaluate as if the time were this (RFC 3339); for reproducible runs and tests.
    #[arg(long, global = true, value_name = "TIME", hide = true)]
    now: Option<DateTime<Utc>>,

    #[command(subcommand)]
    command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and sentences.
    Human,
    /// One JSON document (with a "version" field) on stdout.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole loop (sync → plan → propose) on the bundled demo data in a temporary
    /// repository, and print what a reviewer would see. Needs no AWS account and no token.
    Demo(demo::DemoArgs),
    /// Write a commented repokid.toml and the default filters.toml into a directory.
    Init(init::InitArgs),
    /// Write a commented settings file (Repokid's `config`); filters.toml goes beside it.
    Config(init::ConfigArgs),
    /// Record every role's live inline policies in the policy store, one commit per account
    /// (Repokid's update_role_cache).
    #[command(alias = "update_role_cache")]
    Sync(sync::SyncArgs),
    /// Merge the sync commit at HEAD into the protected branch through a recording pull request,
    /// so live state (and with it permission ages) reaches it even on nights with nothing to
    /// propose.
    Record(sync::RecordArgs),
    /// Show what would be removed from each role and why, changing nothing (a dry run of
    /// Repokid's repo_all_roles).
    #[command(aliases = ["repo_all_roles", "repo_role"])]
    Plan(plan::PlanArgs),
    /// Write the rightsized policies on a branch per account and print the pull request text.
    Propose(plan::ProposeArgs),
    /// Show one role: its recorded policies, every decision with evidence, and a coloured diff
    /// of what would change (Repokid's display_role).
    #[command(alias = "display_role")]
    DisplayRole(plan::DisplayRoleArgs),
    /// List the roles recorded for an account (Repokid's display_role_cache).
    #[command(alias = "display_role_cache")]
    DisplayRoleCache(roles::RoleCacheArgs),
    /// Find recorded roles whose policies grant any of the permissions (wildcards expanded).
    #[command(alias = "find_roles_with_permissions")]
    FindRolesWithPermissions(roles::FindArgs),
    /// Remove named permissions from the roles in a file, as a proposal branch per account.
    #[command(alias = "remove_permissions_from_roles")]
    RemovePermissionsFromRoles(roles::RemoveArgs),
    /// List a role's versions from git history, or restore one (or one service of it) as a new
    /// commit on a branch, showing which permissions come back (Repokid's rollback_role).
    #[command(alias = "rollback_role")]
    Rollback(history::RollbackArgs),
    /// Permissions per role over history, as CSV (or JSON with --format json) (Repokid's repo_stats).
    #[command(alias = "repo_stats")]
    Stats(history::StatsArgs),
    /// Propose as `propose --open-pr` does, with a not-before date (default 7 days) shown in the
    /// pull request and held by a pending `repokid/schedule` status; re-run before the date, an
    /// announced pull request is left as it is (Repokid's schedule_repo).
    #[command(alias = "schedule_repo")]
    Schedule(schedule::ScheduleArgs),
    /// Merge the scheduled pull requests whose date has passed and that are approved and
    /// mergeable (with --commit), and keep every schedule status current.
    #[command(alias = "repo_scheduled_roles")]
    RepoScheduledRoles(schedule::RepoScheduledArgs),
    /// Close an account's scheduled pull request and delete its branch.
    #[command(alias = "cancel_scheduled_repo")]
    CancelScheduledRepo(schedule::CancelArgs),
    /// List the scheduled pull requests with their dates.
    #[command(alias = "show_scheduled_roles")]
    ShowScheduledRoles(schedule::ShowArgs),
    /// Push what the protected branch holds to IAM: for each role changed since the last apply,
    /// put new and changed inline policies, delete removed ones, and read back; a role changed
    /// out of band (drift) is skipped, never overwritten. A dry run unless --commit.
    #[command(after_help = "Examples:\n  \
        repokid apply                    # dry run: what would be written, per role\n  \
        repokid apply --commit           # write, then record refs/repokid/applied/ACCOUNT\n  \
        repokid apply --commit --account 111122223333 --format json\n\n\
        The baseline ref lives in git: fetch and push refs/repokid/* with the branch (docs/aws.md).")]
    Apply(apply::ApplyArgs),
    /// After `repokid apply --report FILE`: comment on each merged pull request behind the
    /// applied commits what was applied, skipped as drift (with the live diff) or failed, per
    /// role (one comment per pull request and account, updated by later runs), and open, update
    /// or close the tracking issue labelled repokid:apply-failed. Exit 1 when a call failed.
    #[command(after_help = "Example (scripts/gha/apply.sh):\n  \
        repokid apply --commit --report report.json\n  \
        repokid apply-report --input report.json --account 111122223333 \\\n      \
        --run-url \"$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID\"\n\n\
        Needs GITHUB_TOKEN (or a GitHub App) with pull-requests: write and issues: write.")]
    ApplyReport(apply::ApplyReportArgs),
    /// The pull-request check: every changed policy file follows IAM's grammar and fits the size
    /// limit, and each changed role is proved to grant nothing its base did not (actions,
    /// resources, conditions, Deny; each widening named with an example request) unless the pull
    /// request carries the allow label.
    Verify(verify::VerifyArgs),
    /// Answer the `/repokid …` commands of an issue or pull-request comment (the `issue_comment`
    /// event): show, opt-out, remove-opt-out, rollback. Commenters need write access; each command
    /// gets one reply comment; changes come as pull requests (Repokid's dispatcher).
    Dispatch(dispatch::DispatchArgs),
    /// Read the repository's settings on GitHub and list what the loop needs and what is
    /// missing, each with a fix: branch protection or rulesets on the default branch (required
    /// checks `verify` and, when scheduling, `repokid/schedule`; approvals; stale approvals
    /// dismissed; Code Owners review; a usable CODEOWNERS file), no squash merges, the
    /// `iam-apply` environment with required reviewers, the GitHub App's permissions. Exits 1
    /// when something required is missing or cannot be read with the token.
    Doctor(doctor::DoctorArgs),
    /// The accounts to work on, in batches for a GitHub Actions matrix: `accounts` in
    /// repokid.toml, else the account directories under policies/ (`--pending`: only those with
    /// something to apply). `--format json` prints {"version":1,"batches":[[ID,…],…]} on one line
    /// (with `--pending`, also "rev" and "pending": each account with its last applied commit).
    Accounts(accounts::AccountsArgs),
    /// Inspect the IAM action catalog.
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
}

/// What every command gets besides its own arguments.
pub struct Ctx {
    catalog: LoadedCatalog,
    format: Format,
    now: DateTime<Utc>,
    now_given: bool,
    config: PathBuf,
    config_given: bool,
    repo: Option<PathBuf>,
}

impl Ctx {
    fn workspace(&self) -> anyhow::Result<Workspace> {
        Ok(Workspace::load(
            &self.config,
            self.config_given,
            self.catalog.catalog,
        )?)
    }
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> ExitCode {
    let config_given = std::env::args().any(|a| a == "--config" || a.starts_with("--config="));
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli, config_given) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli, config_given: bool) -> anyhow::Result<ExitCode> {
    let ctx = Ctx {
        catalog: LoadedCatalog::load(cli.catalog.as_ref())?,
        format: cli.format,
        now: cli.now.unwrap_or_else(Utc::now),
        now_given: cli.now.is_some(),
        config: cli.config,
        config_given,
        repo: cli.repo,
    };
    match &cli.command {
        Command::Demo(a) => demo::run(a, &ctx),
        Command::Init(a) => init::run_init(a),
        Command::Config(a) => init::run_config(a),
        Command::Sync(a) => sync::run(a, &ctx),
        Command::Record(a) => sync::run_record(a, &ctx),
        Command::Plan(a) => plan::run_plan(a, &ctx),
        Command::Propose(a) => plan::run_propose(a, &ctx),
        Command::DisplayRole(a) => plan::run_display_role(a, &ctx),
        Command::DisplayRoleCache(a) => roles::run_role_cache(a, &ctx),
        Command::FindRolesWithPermissions(a) => roles::run_find(a, &ctx),
        Command::RemovePermissionsFromRoles(a) => roles::run_remove(a, &ctx),
        Command::Rollback(a) => history::run_rollback(a, &ctx),
        Command::Stats(a) => history::run_stats(a, &ctx),
        Command::Apply(a) => apply::run(a, &ctx),
        Command::ApplyReport(a) => apply::run_report(a, &ctx),
        Command::Schedule(a) => schedule::run_schedule(a, &ctx),
        Command::RepoScheduledRoles(a) => schedule::run_repo_scheduled(a, &ctx),
        Command::CancelScheduledRepo(a) => schedule::run_cancel(a, &ctx),
        Command::ShowScheduledRoles(a) => schedule::run_show(a, &ctx),
        Command::Verify(a) => verify::run(a, &ctx),
        Command::Dispatch(a) => dispatch::run(a, &ctx),
        Command::Accounts(a) => accounts::run(a, &ctx),
        Command::Doctor(a) => doctor::run(a, &ctx),
        Command::Catalog(cmd) => catalog::run(cmd, &ctx.catalog, ctx.format),
    }
}

/// The error and its causes, each said once: library errors already include their cause in
/// their message, so a cause whose text is already there is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        // libgit2 appends its class and code numbers, which help nobody here.
        let text = match cause.downcast_ref::<git2::Error>() {
            Some(g) => g.message().to_string(),
            None => cause.to_string(),
        };
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REPOKID_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

/// The catalog in use and where it came from.
pub struct LoadedCatalog {
    catalog: &'static Catalog,
    origin: String,
}

impl LoadedCatalog {
    fn load(path: Option<&PathBuf>) -> anyhow::Result<LoadedCatalog> {
        match path {
            None => Ok(LoadedCatalog {
                catalog: Catalog::embedded(),
                origin: "embedded".into(),
            }),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read catalog {}", p.display()))?;
                let catalog = Catalog::parse(&text)
                    .with_context(|| format!("invalid catalog {}", p.display()))?;
                // The CLI lives for one command; leaking the catalog gives it the embedded one's lifetime.
                Ok(LoadedCatalog {
                    catalog: Box::leak(Box::new(catalog)),
                    origin: p.display().to_string(),
                })
            }
        }
    }
}
