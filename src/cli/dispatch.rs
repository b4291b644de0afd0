//! `repokid dispatch --event FILE`: answers the `/repokid …` commands of an issue or pull-request
//! comment (Repokid's dispatcher), run by a workflow on `issue_comment`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use serde_json::Value;

use super::inputs::open_store;
use super::{Ctx, Format};
use crate::github::client::{GitHub, token_from_env};
use crate::github::dispatch::{DispatchContext, Outcome, dispatch, wants_answer};

/// Arguments of `dispatch`.
#[derive(Debug, clap::Args)]
pub struct DispatchArgs {
    /// The `issue_comment` event payload (default: $GITHUB_EVENT_PATH).
    #[arg(long, value_name = "FILE")]
    event: Option<PathBuf>,
    /// Read roles and start branches from this revision (default: the [github] base-branch, or
    /// origin/<it> when there is no such local branch).
    #[arg(long, value_name = "REV")]
    base: Option<String>,
}

/// `repokid dispatch`: exit 0 when every command was answered (refusals included), 1 when a
/// reply could not be posted or the event cannot be answered.
pub fn run(a: &DispatchArgs, ctx: &Ctx) -> Result<ExitCode> {
    let path = match &a.event {
        Some(p) => p.clone(),
        None => std::env::var_os("GITHUB_EVENT_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .context("no event: pass --event FILE or set GITHUB_EVENT_PATH")?,
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the event {}", path.display()))?;
    let event: Value = serde_json::from_str(&text)
        .with_context(|| format!("the event {} is not JSON", path.display()))?;
    if !wants_answer(&event)? {
        // Not a created comment with commands, or a bot's: nothing to do, nothing to connect to.
        match ctx.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"version": 1, "replies": []}))?
            ),
            Format::Human => println!("no repokid command to answer"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let gh = GitHub::connect(&ws.settings.github, &ws.settings.base_dir, token_from_env())?;
    let mut dctx = DispatchContext::new(&gh, &ws.settings, &store, ctx.catalog.catalog);
    dctx.now = ctx.now;
    if let Some(base) = &a.base {
        dctx.base = base.clone();
    }
    let replies = dispatch(&event, &dctx)?;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"version": 1, "replies": replies}))?
        ),
        Format::Human => {
            for r in &replies {
                let outcome = serde_json::to_value(r.outcome)?;
                let pr = r
                    .pull_request
                    .as_ref()
                    .map(|p| format!(" — #{} {}", p.number, p.url))
                    .unwrap_or_default();
                let first = r.command.lines().next().unwrap_or_default();
                println!(
                    "{first}: {}{pr}{}",
                    outcome.as_str().unwrap_or_default(),
                    if r.posted { "" } else { " (reply NOT posted)" }
                );
                if r.outcome == Outcome::Failed {
                    eprintln!("{}", r.body.trim());
                }
            }
        }
    }
    let unposted: Vec<_> = replies.iter().filter(|r| !r.posted).collect();
    for r in &unposted {
        eprintln!(
            "error: the reply to {:?} could not be posted: {}",
            r.command.lines().next().unwrap_or_default(),
            r.post_error.as_deref().unwrap_or("unknown error")
        );
    }
    Ok(if unposted.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
