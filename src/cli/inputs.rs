//! Arguments shared by the commands that read an inventory and usage data, and their loading.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::engine::usage::UsageByArn;
use crate::ops::Workspace;
use crate::sources::inventory_file::{Inventory, parse_inventory};
use crate::sources::usage_file::{UsageFormat, load_usage};
use crate::store::git::PolicyStore;

/// Where roles and usage come from.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Inventory file: the JSON `aws iam get-account-authorization-details` prints
    /// (default: sources.inventory in repokid.toml).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// Usage file: repokid's native format, an Aardvark response, or GetServiceLastAccessedDetails
    /// responses keyed by role ARN (default: sources.usage in repokid.toml).
    #[arg(long, value_name = "FILE")]
    pub usage: Option<PathBuf>,

    /// Format of the usage file.
    #[arg(long, value_enum)]
    pub usage_format: Option<UsageFormat>,

    /// Only this account (repeatable; default: every account in the inventory, or `accounts` in
    /// repokid.toml).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
}

impl InputArgs {
    /// Accounts to work on.
    pub fn accounts(&self, ws: &Workspace) -> Result<Vec<String>> {
        let accounts = if self.accounts.is_empty() {
            ws.settings.accounts.clone()
        } else {
            self.accounts.clone()
        };
        for a in &accounts {
            crate::store::names::validate_account_id(a).context("--account")?;
        }
        Ok(accounts)
    }

    /// Reads the inventory.
    pub fn inventory(&self, ws: &Workspace) -> Result<Inventory> {
        let path = match (&self.inventory, &ws.settings.sources.inventory) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => ws.settings.resolve(p),
            (None, None) => anyhow::bail!(
                "no inventory: pass --inventory FILE or set sources.inventory in repokid.toml"
            ),
        };
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read inventory {}", path.display()))?;
        Ok(parse_inventory(&path.display().to_string(), &bytes)?)
    }

    /// Reads the usage data.
    pub fn usage(&self, ws: &Workspace, now: DateTime<Utc>) -> Result<UsageByArn> {
        let path = match (&self.usage, &ws.settings.sources.usage) {
            (Some(p), _) => p.clone(),
            (None, Some(p)) => ws.settings.resolve(p),
            (None, None) => anyhow::bail!(
                "no usage data: pass --usage FILE or set sources.usage in repokid.toml"
            ),
        };
        let format = self
            .usage_format
            .unwrap_or(ws.settings.sources.usage_format);
        Ok(load_usage(&path, format, now)?)
    }
}

/// Opens the policy repository: `--repo`, else `repo` in repokid.toml.
pub fn open_store(repo: Option<&PathBuf>, ws: &Workspace) -> Result<PolicyStore> {
    let path = match repo {
        Some(p) => p.clone(),
        None => ws.settings.resolve(&ws.settings.repo),
    };
    PolicyStore::open(&path).map_err(|e| {
        anyhow::anyhow!(
            "{e} (run inside the policy repository, pass --repo DIR, or `git init` one)"
        )
    })
}
