//! The apply flow: what the protected branch holds pushed to IAM, account by account, each behind
//! apply's drift guard ([`crate::apply`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::inputs::{AwsOverrides, LazyAws, open_store};
use super::{OpsError, Workspace};
use crate::apply::{AccountApply, ApplyOptions, apply_account};

/// An apply, as the CLI's `apply` asks for it.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    /// Only these accounts (empty: `accounts` in the settings, else every account under
    /// `policies/` at `rev`).
    pub accounts: Vec<String>,
    /// The revision to apply.
    pub rev: String,
    /// Write to IAM (without it, a dry run).
    pub commit: bool,
    /// Compare against this revision instead of the recorded baseline.
    pub baseline: Option<String>,
    /// How to reach AWS.
    pub aws: AwsOverrides,
    /// The policy repository (`None`: `repo` in the settings).
    pub repo: Option<PathBuf>,
}

/// What an apply did.
#[derive(Debug)]
pub struct AppliedAccounts {
    /// One report per account that could be applied (or compared, in a dry run).
    pub reports: Vec<AccountApply>,
    /// Accounts that failed as a whole, with why.
    pub errors: Vec<(String, String)>,
    /// The AWS calls made, by name.
    pub aws_calls: BTreeMap<String, u64>,
}

impl AppliedAccounts {
    /// Whether anything failed: an account as a whole, or a role in one.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.reports.iter().any(|r| !r.succeeded())
    }
}

/// Applies (or, without `commit`, compares) every selected account; one account's failure does
/// not stop the others.
pub fn apply(ws: &Workspace, req: &ApplyRequest) -> Result<AppliedAccounts, OpsError> {
    let store = open_store(req.repo.as_deref(), ws)?;
    let accounts = if !req.accounts.is_empty() {
        req.accounts.clone()
    } else if !ws.settings.accounts.is_empty() {
        ws.settings.accounts.clone()
    } else {
        store.accounts(&req.rev)?
    };
    for acct in &accounts {
        crate::store::names::validate_account_id(acct).map_err(crate::store::StoreError::from)?;
    }
    let aws = LazyAws::new(req.aws.settings(ws));
    let live = aws.get()?;
    let opts = ApplyOptions {
        rev: req.rev.clone(),
        commit: req.commit,
        baseline: req.baseline.clone(),
        size_limit: ws.settings.engine.size_limit,
    };
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for account in &accounts {
        match apply_account(&store, live, account, &opts) {
            Ok(r) => reports.push(r),
            Err(e) => errors.push((account.clone(), e.to_string())),
        }
    }
    Ok(AppliedAccounts {
        reports,
        errors,
        aws_calls: live.calls.snapshot(),
    })
}
