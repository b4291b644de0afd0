//! `repokid sync`: record live state in the policy store.

use std::process::ExitCode;

use anyhow::Result;

use super::inputs::{InputArgs, open_store};
use super::{Ctx, Format};

/// Arguments of `sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    #[command(flatten)]
    inputs: InputArgs,
}

/// `repokid sync`.
pub fn run(a: &SyncArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let aws = a.inputs.lazy_aws(&ws);
    let inventory = a.inputs.inventory(&ws, &aws)?;
    if let Some(aws) = aws.made() {
        tracing::info!(calls = ?aws.calls.snapshot(), "AWS calls");
    }
    let outcomes = crate::ops::sync(&store, &inventory, &a.inputs.accounts(&ws)?)?;
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
