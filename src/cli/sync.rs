//! `repokid sync`: record live state in the policy store.

use std::process::ExitCode;

use anyhow::Result;

use super::inputs::{InputArgs, open_store};
use super::{Ctx, Format};
use crate::github::client::{GitHub, token_from_env};
use crate::github::record::{Recorded, record};
use crate::ops::SyncRequest;

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    inputs: InputArgs,
}

/// `repokid sync`.
pub fn run(a: &SyncArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let outcomes = crate::ops::sync::run(
        &ws,
        &SyncRequest {
            inputs: a.inputs.inputs(),
            repo: ctx.repo.clone(),
            // With --now, the commit carries that time too (SyncRequest::time).
            time: ctx.now_given.then_some(ctx.now),
        },
    )?;
    match ctx.format {
        Format::Json => {
            let doc: Vec<_> = outcomes
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "account": o.account,
                        "commit": o.written.as_ref().map(|w| w.commit.to_string()),
                        "added": o.written.as_ref().map(|w| w.added.clone()).unwrap_or_default(),
                        "changed": o.written.as_ref().map(|w| w.changed.clone()).unwrap_or_default(),
                        "removed": o.written.as_ref().map(|w| w.removed.clone()).unwrap_or_default(),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"version": 1, "accounts": doc}))?
            );
        }
        Format::Human => {
            for o in &outcomes {
                match &o.written {
                    Some(w) => println!(
                        "{}: {} added, {} changed, {} removed (commit {})",
                        o.account,
                        w.added.len(),
                        w.changed.len(),
                        w.removed.len(),
                        &w.commit.to_string()[..10]
                    ),
                    None => println!("{}: unchanged, no commit", o.account),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `record`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Run right after `repokid sync --account ID` on a checkout of the protected \
    branch: when sync made a commit, it is pushed to repokid/record/ID and merged through a \
    pull request (label repokid:record), so the protected branch learns what is live and \
    permission ages accumulate. When the branch's rules refuse the merge (checks running, a \
    review required, verify failing on added access), the pull request waits. Needs [github] \
    repo and a token (GITHUB_TOKEN)."
)]
pub struct RecordArgs {
    /// The account whose sync commit (at HEAD) is recorded.
    #[arg(long = "account", value_name = "ID")]
    account: String,
}

/// `repokid record`.
pub fn run_record(a: &RecordArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    crate::store::names::validate_account_id(&a.account)?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let gh = GitHub::connect(&ws.settings.github, &ws.settings.base_dir, token_from_env())?;
    let done = record(&gh, &ws.settings.github, &store, &a.account)?;
    match ctx.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"version": 1, "account": a.account, "recorded": done})
            )?
        ),
        Format::Human => println!(
            "{}: {}",
            a.account,
            match &done {
                Recorded::Nothing => "nothing to record (no sync commit at HEAD)".to_string(),
                Recorded::Merged { pull_request, url } => {
                    format!("recorded: #{pull_request} merged ({url})")
                }
                Recorded::Waiting {
                    pull_request,
                    url,
                    reason,
                } => format!("#{pull_request} waits to be merged: {reason} ({url})"),
                Recorded::Declined { pull_request } => format!(
                    "not recorded: #{pull_request}, this same recording, was closed without merging"
                ),
            }
        ),
    }
    Ok(ExitCode::SUCCESS)
}
