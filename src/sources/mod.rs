//! Where roles and usage data come from. Each source turns outside data into the engine's plain
//! types; the engine never sees a file or an API.
//!
//! Two small traits make sources interchangeable: [`InventorySource`] (a file, or AWS through
//! [`crate::aws`]) and [`UsageSource`] (a file, IAM Access Advisor through [`crate::aws`], or an
//! Aardvark API through [`aardvark`]). Commands and the library take `&dyn` ones, so tests and
//! library users can hand in their own.

pub mod aardvark;
pub mod inventory_file;
pub mod usage;
pub mod usage_file;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::engine::usage::UsageByArn;
use inventory_file::Inventory;
use usage_file::UsageFormat;

/// Why a source could not deliver. Each variant names the file, endpoint, account or role.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An inventory file is unusable.
    #[error(transparent)]
    InventoryFile(#[from] inventory_file::InventoryError),
    /// A usage file is unusable.
    #[error(transparent)]
    UsageFile(#[from] usage_file::UsageFileError),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A live source failed: an AWS call (the error names the account and the call). Boxed so
    /// the formats here do not depend on the AWS client, which implements these traits.
    #[error(transparent)]
    Remote(Box<dyn std::error::Error + Send + Sync>),
    /// The Aardvark API failed (the error names the URL).
    #[error(transparent)]
    Aardvark(#[from] aardvark::AardvarkError),
}

/// Where roles come from.
pub trait InventorySource {
    /// A short description for logs and reports (`file inventory.json`, `aws`).
    fn describe(&self) -> String;

    /// The roles of `accounts` (every account the source knows when empty), with their inline
    /// policies as IAM holds them.
    fn inventory(&self, accounts: &[String]) -> Result<Inventory, SourceError>;
}

/// Usage data for an inventory, and the roles it could not get data for.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Usage by role ARN. A role without an entry has no usage data (and is not rightsized).
    pub by_arn: UsageByArn,
    /// Roles whose data could not be fetched (role ARN → why), reported per role. They have no
    /// entry in [`Usage::by_arn`], so they fail closed.
    pub failures: BTreeMap<String, String>,
}

/// Where usage data comes from.
pub trait UsageSource {
    /// A short description for logs and reports (`file usage.json`, `access-advisor`, `aardvark`).
    fn describe(&self) -> String;

    /// Usage data for the roles of `inventory`. A source may return more roles than asked
    /// (a file) or fewer (a failed job, listed in [`Usage::failures`]).
    fn usage(&self, inventory: &Inventory, now: DateTime<Utc>) -> Result<Usage, SourceError>;
}

/// Roles from a file in the format `aws iam get-account-authorization-details` prints.
#[derive(Debug, Clone)]
pub struct InventoryFile {
    /// The file.
    pub path: PathBuf,
}

impl InventorySource for InventoryFile {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn inventory(&self, accounts: &[String]) -> Result<Inventory, SourceError> {
        let bytes = std::fs::read(&self.path).map_err(|source| SourceError::Io {
            path: self.path.display().to_string(),
            source,
        })?;
        let mut inv = inventory_file::parse_inventory(&self.path.display().to_string(), &bytes)?;
        if !accounts.is_empty() {
            inv.roles.retain(|a, _| accounts.contains(a));
        }
        Ok(inv)
    }
}

/// Usage data from a file (native, Aardvark or GetServiceLastAccessedDetails format).
#[derive(Debug, Clone)]
pub struct UsageFile {
    /// The file.
    pub path: PathBuf,
    /// Its format.
    pub format: UsageFormat,
}

impl UsageSource for UsageFile {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    fn usage(&self, _inventory: &Inventory, now: DateTime<Utc>) -> Result<Usage, SourceError> {
        Ok(Usage {
            by_arn: usage_file::load_usage(&self.path, self.format, now)?,
            failures: BTreeMap::new(),
        })
    }
}
