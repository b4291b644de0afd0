//! `repokid accounts`: the accounts to work on, in batches, for a GitHub Actions matrix.
//!
//! A workflow's first job runs `repokid accounts --format json` and hands the batches to
//! `strategy.matrix` (`fromJSON`); each matrix job then works through one batch, account after
//! account. The batches are deterministic: the accounts sorted, then cut in order.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::inputs::open_store;
use super::{Ctx, Format};
use crate::apply::applied_ref;
use crate::store::POLICIES_DIR;
use crate::store::names::validate_account_id;

/// GitHub Actions runs at most this many jobs from one matrix.
const GITHUB_MATRIX_LIMIT: usize = 256;

/// Arguments of `accounts`.
#[derive(Debug, clap::Args)]
pub struct AccountsArgs {
    /// Accounts one batch (one matrix job) handles in sequence.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    batch_size: u32,
    /// At most this many batches: the batch size grows when the accounts would need more
    /// (GitHub runs at most 256 jobs from one matrix).
    #[arg(long, value_name = "N", default_value_t = GITHUB_MATRIX_LIMIT as u32, value_parser = clap::value_parser!(u32).range(1..))]
    max_batches: u32,
    /// Only these accounts (repeatable; default: `accounts` in repokid.toml, else every account
    /// directory under policies/ at REV).
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Only accounts with something to apply: whose policies/ACCOUNT at REV differs from the
    /// last applied commit (refs/repokid/applied/ACCOUNT; an account never applied counts).
    /// Fetch refs/repokid/* first. The JSON then also lists them with their last applied commit
    /// ("pending": [{"account", "applied"}], null when never applied) and REV's commit ("rev").
    #[arg(long)]
    pending: bool,
    /// The revision whose policies/ lists the accounts (and is compared with --pending).
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    rev: String,
}

/// `repokid accounts`.
pub fn run(a: &AccountsArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let mut accounts = if !a.accounts.is_empty() {
        a.accounts.clone()
    } else if !ws.settings.accounts.is_empty() {
        ws.settings.accounts.clone()
    } else {
        open_store(ctx.repo.as_ref(), &ws)?.accounts(&a.rev)?
    };
    for acct in &accounts {
        validate_account_id(acct)?;
    }
    accounts.sort();
    accounts.dedup();
    let mut behind = None;
    if a.pending {
        let store = open_store(ctx.repo.as_ref(), &ws)?;
        let repo = store.repo();
        let target = repo
            .revparse_single(&a.rev)
            .and_then(|o| o.peel_to_commit())
            .with_context(|| format!("cannot resolve {:?}", a.rev))?;
        let mut pending = Vec::new();
        let mut details = Vec::new();
        for acct in accounts {
            let applied = repo
                .find_reference(&applied_ref(&acct))
                .ok()
                .and_then(|r| r.peel_to_commit().ok());
            let differs = match &applied {
                None => true,
                Some(c) => account_tree(c, &acct) != account_tree(&target, &acct),
            };
            if differs {
                details.push(serde_json::json!({
                    "account": acct,
                    "applied": applied.map(|c| c.id().to_string()),
                }));
                pending.push(acct);
            }
        }
        accounts = pending;
        behind = Some((target.id().to_string(), details));
    }
    let batches = batches(&accounts, a.batch_size as usize, a.max_batches as usize);
    match ctx.format {
        // One line, so a workflow can put it in $GITHUB_OUTPUT as it is.
        Format::Json => {
            let mut doc = serde_json::json!({"version": 1, "batches": batches});
            if let Some((rev, details)) = behind {
                doc["rev"] = rev.into();
                doc["pending"] = details.into();
            }
            println!("{doc}");
        }
        Format::Human => {
            for b in &batches {
                println!("{}", b.join(" "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The tree id of `policies/<account>` in `commit` (`None`: no such directory).
fn account_tree(commit: &git2::Commit<'_>, account: &str) -> Option<git2::Oid> {
    let path = Path::new(POLICIES_DIR).join(account);
    commit.tree().ok()?.get_path(&path).ok().map(|e| e.id())
}

/// `accounts` cut in order into batches of `size`, the size raised so that there are at most
/// `max` batches.
fn batches(accounts: &[String], size: usize, max: usize) -> Vec<Vec<String>> {
    let size = size.max(accounts.len().div_ceil(max.max(1))).max(1);
    accounts.chunks(size).map(<[String]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("{:012}", 100_000_000_000 + i))
            .collect()
    }

    #[test]
    fn batches_are_cut_in_order() {
        let b = batches(&ids(5), 2, 256);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0], ids(5)[..2]);
        assert_eq!(b[2], ids(5)[4..]);
        assert!(batches(&[], 10, 256).is_empty());
    }

    #[test]
    fn a_thousand_accounts_fit_githubs_matrix_limit() {
        let b = batches(&ids(1000), 1, 256);
        assert!(b.len() <= 256, "{} batches", b.len());
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 1000);
        assert_eq!(batches(&ids(1000), 20, 256).len(), 50);
    }
}
