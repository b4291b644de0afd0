//! Arguments shared by the commands that read an inventory and usage data, and their loading
//! through the sources ([`crate::sources`]): files, AWS or an Aardvark API.

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::aws::access_advisor::{AccessAdvisor, Granularity};
use crate::aws::{Aws, AwsSettings};
use crate::ops::Workspace;
use crate::settings::{InventorySourceKind, UsageSourceKind};
use crate::sources::aardvark::AardvarkSource;
use crate::sources::inventory_file::Inventory;
use crate::sources::usage_file::UsageFormat;
use crate::sources::{InventoryFile, InventorySource, Usage, UsageFile, UsageSource};
use crate::store::git::PolicyStore;

/// How to reach AWS (narrowing the standard credential chain).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS profile (default: `aws.profile` in repokid.toml, else the standard chain).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS region for STS (default: `aws.region`, else the chain's, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// The role to assume in each account (default: `aws.assume-role`; "" uses the base
    /// credentials directly).
    #[arg(long, value_name = "NAME")]
    pub assume_role: Option<String>,
}

impl AwsArgs {
    /// The settings with the flags applied.
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
    pub fn get(&self) -> Result<&Aws> {
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

/// Where roles and usage come from.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Inventory file: the JSON `aws iam get-account-authorization-details` prints
    /// (default: sources.inventory in repokid.toml). Implies --inventory-source file.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// Where roles come from: a file, or `aws` (GetAccountAuthorizationDetails in each
    /// --account, through the role in aws.assume-role). Default: sources.inventory-source.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub inventory_source: Option<InventorySourceKind>,

    /// Usage file: repokid's native format, an Aardvark response, or GetServiceLastAccessedDetails
    /// responses keyed by role ARN (default: sources.usage in repokid.toml). Implies
    /// --usage-source file.
    #[arg(long, value_name = "FILE")]
    pub usage: Option<PathBuf>,

    /// Format of the usage file.
    #[arg(long, value_enum)]
    pub usage_format: Option<UsageFormat>,

    /// Where usage comes from: a file, `access-advisor` (IAM directly, in each account) or
    /// `aardvark` (an Aardvark API). Default: sources.usage-source.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub usage_source: Option<UsageSourceKind>,

    /// The Aardvark API (`http://host:port/api/1/advisors`; default: sources.aardvark-url).
    #[arg(long, value_name = "URL")]
    pub aardvark_url: Option<String>,

    /// Only this account (repeatable; default: every account in the inventory, or `accounts` in
    /// repokid.toml). Required, one way or the other, when reading from AWS.
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub aws: AwsArgs,
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

    /// The AWS connection these arguments describe (made on first use).
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
    pub fn inventory(&self, ws: &Workspace, aws: &LazyAws) -> Result<Inventory> {
        let accounts = self.accounts(ws)?;
        match self.inventory_kind(ws) {
            InventorySourceKind::File => {
                let path = match (&self.inventory, &ws.settings.sources.inventory) {
                    (Some(p), _) => p.clone(),
                    (None, Some(p)) => ws.settings.resolve(p),
                    (None, None) => anyhow::bail!(
                        "no inventory: pass --inventory FILE (or --inventory-source aws), or set \
                         sources.inventory in repokid.toml"
                    ),
                };
                Ok(InventoryFile { path }.inventory(&accounts)?)
            }
            InventorySourceKind::Aws => {
                anyhow::ensure!(
                    !accounts.is_empty(),
                    "reading roles from AWS needs accounts: pass --account ID (repeatable) or \
                     set `accounts` in repokid.toml"
                );
                Ok(aws.get()?.inventory(&accounts)?)
            }
        }
    }

    /// Reads the usage data for `inventory`'s roles.
    pub fn usage(
        &self,
        ws: &Workspace,
        inventory: &Inventory,
        now: DateTime<Utc>,
        aws: &LazyAws,
    ) -> Result<Usage> {
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
                    (None, None) => anyhow::bail!(
                        "no usage data: pass --usage FILE (or --usage-source access-advisor|aardvark), \
                         or set sources.usage in repokid.toml"
                    ),
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
                    .context(
                        "usage from Aardvark needs its URL: pass --aardvark-url or set \
                         sources.aardvark-url in repokid.toml",
                    )?;
                let timeout = Duration::from_secs(ws.settings.sources.aardvark_timeout_seconds);
                AardvarkSource::new(&url, timeout)?.usage(inventory, now)?
            }
        };
        for (arn, why) in &usage.failures {
            eprintln!("warning: no usage data for {arn}: {why}");
        }
        Ok(usage)
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
