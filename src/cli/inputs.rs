//! The flags shared by the commands that read an inventory and usage data; they become the
//! request's [`Inputs`], which `src/ops/inputs.rs` reads.

use std::path::PathBuf;

use anyhow::Result;

use crate::ops::Workspace;
use crate::ops::inputs::{AwsOverrides, Inputs};
use crate::settings::{InventorySourceKind, UsageSourceKind};
use crate::sources::usage_file::UsageFormat;
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
    /// The overrides these flags make.
    pub fn overrides(&self) -> AwsOverrides {
        AwsOverrides {
            profile: self.profile.clone(),
            region: self.region.clone(),
            assume_role: self.assume_role.clone(),
        }
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
    /// The request's inputs these flags describe.
    pub fn inputs(&self) -> Inputs {
        Inputs {
            inventory: self.inventory.clone(),
            inventory_source: self.inventory_source,
            usage: self.usage.clone(),
            usage_format: self.usage_format,
            usage_source: self.usage_source,
            aardvark_url: self.aardvark_url.clone(),
            accounts: self.accounts.clone(),
            aws: self.aws.overrides(),
        }
    }
}

/// Opens the policy repository: `--repo`, else `repo` in repokid.toml.
pub fn open_store(repo: Option<&PathBuf>, ws: &Workspace) -> Result<PolicyStore> {
    Ok(crate::ops::inputs::open_store(
        repo.map(|p| p.as_path()),
        ws,
    )?)
}
