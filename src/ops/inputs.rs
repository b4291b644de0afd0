//! Where a flow's roles and usage come from: files, AWS or an Aardvark API, chosen by a request's
//! [`Inputs`] over the settings' `[sources]`, and read through the sources ([`crate::sources`]).

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Workspace;
use crate::aws::access_advisor::{AccessAdvisor, Granularity};
use crate::aws::{Aws, AwsError, AwsSettings};
use crate::engine::usage::UsageByArn;
use crate::settings::{InventorySourceKind, UsageSourceKind};
use crate::sources::aardvark::{AardvarkError, AardvarkSource};
use crate::sources::inventory_file::Inventory;
use crate::sources::usage_file::UsageFormat;
use crate::sources::{InventoryFile, InventorySource, SourceError, Usage, UsageFile, UsageSource};
use crate::store::StoreError;
use crate::store::git::PolicyStore;

/// Why a flow's inputs could not be read; each names the flag or setting to give.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    /// No inventory file was named.
    #[error(
        "no inventory: pass --inventory FILE (or --inventory-source aws), or set \
         sources.inventory in repokid.toml"
    )]
    NoInventory,
    /// Reading roles from AWS without accounts.
    #[error(
        "reading roles from AWS needs accounts: pass --account ID (repeatable) or set \
         `accounts` in repokid.toml"
    )]
    NoAccounts,
    /// No usage file was named.
    #[error(
        "no usage data: pass --usage FILE (or --usage-source access-advisor|aardvark), or set \
         sources.usage in repokid.toml"
    )]
    NoUsage,
    /// Usage from Aardvark without its URL.
    #[error(
        "usage from Aardvark needs its URL: pass --aardvark-url or set sources.aardvark-url in \
         repokid.toml"
    )]
    NoAardvarkUrl,
    /// An account id is malformed.
    #[error("--account: {0}")]
    Account(#[source] crate::store::names::NameError),
    /// The policy repository could not be opened.
    #[error("{0} (run inside the policy repository, pass --repo DIR, or `git init` one)")]
    Store(#[source] StoreError),
    /// Connecting to AWS failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The Aardvark client could not be set up.
    #[error(transparent)]
    Aardvark(#[from] AardvarkError),
    /// A source failed (the error names the file, account or endpoint).
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// Overrides of the settings' `[aws]` for one run (the CLI's `--profile`, `--region`,
/// `--assume-role`); `None` keeps the setting.
#[derive(Debug, Clone, Default)]
pub struct AwsOverrides {
    /// AWS profile.
    pub profile: Option<String>,
    /// AWS region for STS.
    pub region: Option<String>,
    /// The role to assume in each account ("" uses the base credentials directly).
    pub assume_role: Option<String>,
}

impl AwsOverrides {
    /// The workspace's AWS settings with these overrides applied.
    pub fn settings(&self, ws: &Workspace) -> AwsSettings {
        let mut s = ws.settings.aws.clone();
        if self.profile.is_some() {
            s.profile = self.profile.clone();
        }
        if self.region.is_some() {
            s.region = self.region.clone();
        }
        if let Some(r) = &self.assume_role {
            s.assume_role = r.clone();
        }
        s
    }
}

/// A connection to AWS made on first use, so file-only runs never touch the AWS chain.
pub struct LazyAws {
    settings: AwsSettings,
    cell: OnceCell<Aws>,
}

impl LazyAws {
    /// A connection that will use `settings`.
    pub fn new(settings: AwsSettings) -> Self {
        LazyAws {
            settings,
            cell: OnceCell::new(),
        }
    }

    /// The connection, made now if needed.
    pub fn get(&self) -> Result<&Aws, AwsError> {
        if let Some(aws) = self.cell.get() {
            return Ok(aws);
        }
        let aws = Aws::connect(&self.settings)?;
        Ok(self.cell.get_or_init(|| aws))
    }

    /// The connection if one was made.
    pub fn made(&self) -> Option<&Aws> {
        self.cell.get()
    }
}

/// Where a run's roles and usage come from; each `None` falls back to the settings' `[sources]`.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// An inventory file (implies the file source).
    pub inventory: Option<PathBuf>,
    /// Where roles come from.
    pub inventory_source: Option<InventorySourceKind>,
    /// A usage file (implies the file source).
    pub usage: Option<PathBuf>,
    /// The usage file's format.
    pub usage_format: Option<UsageFormat>,
    /// Where usage comes from.
    pub usage_source: Option<UsageSourceKind>,
    /// The Aardvark API.
    pub aardvark_url: Option<String>,
    /// Only these accounts (empty: `accounts` in the settings).
    pub accounts: Vec<String>,
    /// How to reach AWS.
    pub aws: AwsOverrides,
}

impl Inputs {
    /// The accounts to work on, each a valid account id.
    pub fn accounts(&self, ws: &Workspace) -> Result<Vec<String>, InputsError> {
        let accounts = if self.accounts.is_empty() {
            ws.settings.accounts.clone()
        } else {
            self.accounts.clone()
        };
        for a in &accounts {
            crate::store::names::validate_account_id(a).map_err(InputsError::Account)?;
        }
        Ok(accounts)
    }

    /// The AWS connection these inputs describe (made on first use).
    pub fn lazy_aws(&self, ws: &Workspace) -> LazyAws {
        LazyAws::new(self.aws.settings(ws))
    }

    fn inventory_kind(&self, ws: &Workspace) -> InventorySourceKind {
        match (&self.inventory, self.inventory_source) {
            (Some(_), _) => InventorySourceKind::File,
            (None, Some(k)) => k,
            (None, None) => ws.settings.sources.inventory_source,
        }
    }

    /// Reads the inventory of the selected accounts.
    pub fn inventory(&self, ws: &Workspace, aws: &LazyAws) -> Result<Inventory, InputsError> {
        let accounts = self.accounts(ws)?;
        match self.inventory_kind(ws) {
            InventorySourceKind::File => {
                let path = match (&self.inventory, &ws.settings.sources.inventory) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => ws.settings.resolve(p),
                    (None, None) => return Err(InputsError::NoInventory),
                };
                Ok(InventoryFile { path }.inventory(&accounts)?)
            }
            InventorySourceKind::Aws => {
                if accounts.is_empty() {
                    return Err(InputsError::NoAccounts);
                }
                Ok(aws.get()?.inventory(&accounts)?)
            }
        }
    }

    /// Reads the usage data for `inventory`'s roles. Roles the source had no data for are in
    /// [`Usage::failures`] (and logged).
    pub fn usage(
        &self,
        ws: &Workspace,
        inventory: &Inventory,
        now: DateTime<Utc>,
        aws: &LazyAws,
    ) -> Result<Usage, InputsError> {
        let kind = match (&self.usage, self.usage_source) {
            (Some(_), _) => UsageSourceKind::File,
            (None, Some(k)) => k,
            (None, None) => ws.settings.sources.usage_source,
        };
        let usage = match kind {
            UsageSourceKind::File => {
                let path = match (&self.usage, &ws.settings.sources.usage) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => ws.settings.resolve(p),
                    (None, None) => return Err(InputsError::NoUsage),
                };
                let format = self
                    .usage_format
                    .unwrap_or(ws.settings.sources.usage_format);
                UsageFile { path, format }.usage(inventory, now)?
            }
            UsageSourceKind::AccessAdvisor => {
                let granularity = if ws.settings.engine.action_level {
                    Granularity::Action
                } else {
                    Granularity::Service
                };
                AccessAdvisor::new(aws.get()?, granularity).usage(inventory, now)?
            }
            UsageSourceKind::Aardvark => {
                let url = self
                    .aardvark_url
                    .clone()
                    .or_else(|| ws.settings.sources.aardvark_url.clone())
                    .ok_or(InputsError::NoAardvarkUrl)?;
                let timeout = Duration::from_secs(ws.settings.sources.aardvark_timeout_seconds);
                AardvarkSource::new(&url, timeout)?.usage(inventory, now)?
            }
        };
        for (arn, why) in &usage.failures {
            tracing::warn!("no usage data for {arn}: {why}");
        }
        Ok(usage)
    }

    /// The live roles named `roles` of `account` and their fresh usage, from these inputs'
    /// sources (what a merge-time re-check reads).
    pub fn roles_and_usage(
        &self,
        ws: &Workspace,
        aws: &LazyAws,
        account: &str,
        roles: &[String],
        now: DateTime<Utc>,
    ) -> Result<(Inventory, UsageByArn), InputsError> {
        let one = Inputs {
            accounts: vec![account.to_string()],
            ..self.clone()
        };
        let mut inventory = one.inventory(ws, aws)?;
        for listed in inventory.roles.values_mut() {
            listed.retain(|r| roles.contains(&r.name));
        }
        let usage = one.usage(ws, &inventory, now, aws)?.by_arn;
        Ok((inventory, usage))
    }
}

/// Opens the policy repository: `repo`, else `repo` in the settings.
pub fn open_store(repo: Option<&Path>, ws: &Workspace) -> Result<PolicyStore, InputsError> {
    let path = match repo {
        Some(p) => p.to_path_buf(),
        None => ws.settings.resolve(&ws.settings.repo),
    };
    PolicyStore::open(&path).map_err(InputsError::Store)
}
