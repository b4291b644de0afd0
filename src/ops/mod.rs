//! The library's front door: the operations the CLI runs (sync, plan, propose), as functions over
//! plain inputs, so they can be called from code and tested without a terminal.
//!
//! Each flow lives in its own module and is re-exported here: [`plan()`](plan::plan) (and
//! [`plan::run`], which also reads the inputs), [`sync()`](sync::sync), [`propose()`](propose::propose),
//! [`recheck::recheck`], [`rollback()`]. The CLI (`src/cli/`) only turns arguments into these
//! requests and renders what they return.

use crate::filters::{CommandFilterError, FilterConfigError};
use crate::settings::SettingsError;
use crate::store::StoreError;

pub mod apply;
pub mod inputs;
pub mod plan;
pub mod propose;
pub mod recheck;
pub mod rollback;
pub mod sync;
mod workspace;

pub use plan::{
    Announced, PlanOptions, PlanRequest, PlanRun, PlannedRole, Progress, plan, plan_with_progress,
};
pub use propose::{LifecycleHookFailure, Proposal, ProposeRun, propose};
pub use rollback::{RollbackReport, RollbackRequest, rollback};
pub use sync::{SyncOutcome, SyncRequest, sync, sync_at};
pub use workspace::Workspace;

/// Why an operation failed; each variant names the file, account or role concerned.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// `repokid.toml` is unusable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// `filters.toml` (or its blocklist file) is unusable.
    #[error("{path}: {source}")]
    Filters {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: FilterConfigError,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The policy store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The inventory, usage or store a request names could not be read.
    #[error(transparent)]
    Inputs(Box<inputs::InputsError>),
    /// Recording an apply failed.
    #[error(transparent)]
    Apply(Box<crate::apply::ApplyError>),
    /// Connecting to AWS failed.
    #[error(transparent)]
    Aws(Box<crate::aws::AwsError>),
    /// A role file has no history to roll back to.
    #[error("{path} has no history at {rev}")]
    NoHistory {
        /// The role file.
        path: String,
        /// The revision read.
        rev: String,
    },
    /// `--apply-now` restores on the checked-out branch, so it reads history at `HEAD` only.
    #[error("--apply-now restores on the checked-out branch; --rev cannot be used with it")]
    ApplyNowNeedsHead,
    /// A flow that writes proposals was asked to run without a policy repository.
    #[error("propose writes to the policy repository; --no-repo cannot be used")]
    NeedsRepository,
    /// A command filter failed (the error names it).
    #[error(transparent)]
    FilterCommand(#[from] CommandFilterError),
}

// Boxed: these errors are large, and every flow returns an OpsError.
impl From<inputs::InputsError> for OpsError {
    fn from(e: inputs::InputsError) -> Self {
        OpsError::Inputs(Box::new(e))
    }
}

impl From<crate::aws::AwsError> for OpsError {
    fn from(e: crate::aws::AwsError) -> Self {
        OpsError::Aws(Box::new(e))
    }
}

impl From<crate::apply::ApplyError> for OpsError {
    fn from(e: crate::apply::ApplyError) -> Self {
        OpsError::Apply(Box::new(e))
    }
}
