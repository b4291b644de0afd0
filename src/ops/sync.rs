//! The sync flow: live policies recorded in the store, one commit per account.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::inputs::{Inputs, open_store};
use super::{OpsError, Workspace};
use crate::sources::inventory_file::Inventory;
use crate::store::git::{PolicyStore, WriteAccount, WriteMode, Written};

/// What `sync` did for one account.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// The account.
    pub account: String,
    /// The commit, when something changed.
    pub written: Option<Written>,
}

/// Records the inventory's live policies in the store: one commit per account on the checked-out
/// branch, roles missing from the inventory losing their files. An unchanged account makes no commit.
pub fn sync(
    store: &PolicyStore,
    inventory: &Inventory,
    accounts: &[String],
) -> Result<Vec<SyncOutcome>, OpsError> {
    sync_at(store, inventory, accounts, None)
}

/// [`sync`], with the commits dated `time` (`None`: now).
pub fn sync_at(
    store: &PolicyStore,
    inventory: &Inventory,
    accounts: &[String],
    time: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<SyncOutcome>, OpsError> {
    let mut out = Vec::new();
    for (account, roles) in &inventory.roles {
        if !accounts.is_empty() && !accounts.contains(account) {
            continue;
        }
        let map: BTreeMap<String, crate::engine::PolicyMap> = roles
            .iter()
            .map(|r| (r.name.clone(), r.policies.clone()))
            .collect();
        let branch = store.current_branch()?;
        let written = store.write_account(&WriteAccount {
            roles: map,
            mode: WriteMode::ReplaceAll,
            time,
            ..WriteAccount::new(branch, account.clone())
        })?;
        tracing::info!(account = %account, roles = roles.len(), committed = written.is_some(), "synced");
        out.push(SyncOutcome {
            account: account.clone(),
            written,
        });
    }
    Ok(out)
}

/// A sync run, as the CLI's `sync` asks for it.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// Where roles come from, and which accounts.
    pub inputs: Inputs,
    /// The policy repository (`None`: `repo` in the settings).
    pub repo: Option<PathBuf>,
    /// Date the commits at this time (a replayed night); `None`: now. Permission ages are read
    /// from commit times, so a replay must age what it records as the real night would.
    pub time: Option<DateTime<Utc>>,
}

/// Reads the request's inventory and records it ([`sync_at`]).
pub fn run(ws: &Workspace, req: &SyncRequest) -> Result<Vec<SyncOutcome>, OpsError> {
    let store = open_store(req.repo.as_deref(), ws)?;
    let aws = req.inputs.lazy_aws(ws);
    let inventory = req.inputs.inventory(ws, &aws)?;
    if let Some(aws) = aws.made() {
        tracing::info!(calls = ?aws.calls.snapshot(), "AWS calls");
    }
    sync_at(&store, &inventory, &req.inputs.accounts(ws)?, req.time)
}
