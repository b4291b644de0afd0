//! The git policy store: `policies/<account>/<RoleName>.json` in a git repository, with history as
//! the version store (what Repokid kept in DynamoDB).
//!
//! * [`names`] — validation of everything that becomes a path.
//! * [`git`] — reading and writing role files as commits.
//! * [`history`] — what history answers: permission ages, versions for rollback, stats.
//!
//! Every commit the tool writes has a subject, a body for humans, and machine-readable trailers:
//!
//! ```text
//! repokid sync: 123456789012 (2 added, 1 changed, 1 removed)
//!
//! Added: web-api, batch-runner
//! Changed: ci-deployer
//! Removed: legacy-admin
//!
//! Repokid-Action: sync
//! Repokid-Account: 123456789012
//! Repokid-Roles-Added: 2
//! Repokid-Roles-Changed: 1
//! Repokid-Roles-Removed: 1
//! ```
//!
//! `Repokid-Action` is one of [`Action`]'s values; other trailers may follow (for a proposal,
//! `Repokid-Removed-Actions: 42`).

pub mod git;
pub mod history;
pub mod names;

use std::path::PathBuf;

/// The directory holding the policy files, relative to the repository root.
pub const POLICIES_DIR: &str = "policies";

/// Trailer keys.
pub mod trailers {
    /// What the commit did: an [`super::Action`] value.
    pub const ACTION: &str = "Repokid-Action";
    /// The account the commit is about.
    pub const ACCOUNT: &str = "Repokid-Account";
    /// Counts of roles added, changed and removed.
    pub const ROLES_ADDED: &str = "Repokid-Roles-Added";
    /// See [`ROLES_ADDED`].
    pub const ROLES_CHANGED: &str = "Repokid-Roles-Changed";
    /// See [`ROLES_ADDED`].
    pub const ROLES_REMOVED: &str = "Repokid-Roles-Removed";
    /// For proposals: how many actions were removed.
    pub const REMOVED_ACTIONS: &str = "Repokid-Removed-Actions";
    /// For a scheduled proposal re-checked at merge time: how many announced removals the commit
    /// takes back (used during the notice period, or kept for another reason).
    pub const KEPT_AT_MERGE: &str = "Repokid-Kept-At-Merge";
}

/// What a commit written by the tool did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Recorded live state (Repokid's `update_role_cache`).
    Sync,
    /// Removed unused permissions (a proposal; Repokid's `repo`).
    Repo,
    /// Restored an earlier version.
    Rollback,
    /// Removed named permissions (`remove-permissions-from-roles`).
    RemovePermissions,
    /// Changed an opt-out.
    OptOut,
}

impl Action {
    /// The trailer value.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Sync => "sync",
            Action::Repo => "repo",
            Action::Rollback => "rollback",
            Action::RemovePermissions => "remove-permissions",
            Action::OptOut => "opt-out",
        }
    }

    /// Parses a trailer value.
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim() {
            "sync" => Action::Sync,
            "repo" => Action::Repo,
            "rollback" => Action::Rollback,
            "remove-permissions" => Action::RemovePermissions,
            "opt-out" => Action::OptOut,
            _ => return None,
        })
    }
}

/// Path of a role's file, relative to the repository root. Both parts must have been validated
/// with [`names`].
pub fn role_path(account: &str, role: &str) -> PathBuf {
    PathBuf::from(POLICIES_DIR)
        .join(account)
        .join(format!("{role}.json"))
}

/// Something went wrong reading or writing the store. Messages name the repository path, branch,
/// commit or file concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A git operation failed.
    #[error("{context}: {}", source.message())]
    Git {
        /// What was being done (`reading policies/123456789012/web.json at HEAD`).
        context: String,
        /// libgit2's error (its message is shown without libgit2's class and code numbers).
        #[source]
        source: git2::Error,
    },
    /// A file in the store is not a valid policy file.
    #[error("{path} at {rev}: {source}")]
    BadFile {
        /// The file.
        path: String,
        /// The revision it was read at.
        rev: String,
        /// What is wrong with it.
        #[source]
        source: crate::engine::policy::PolicyError,
    },
    /// An identifier that would become a path is invalid.
    #[error(transparent)]
    Name(#[from] names::NameError),
    /// The working tree has uncommitted changes where the tool would write.
    #[error("{path} has uncommitted changes; commit or stash them first (nothing was written)")]
    Dirty {
        /// The directory with changes.
        path: String,
    },
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// Wraps a libgit2 error with what was being done.
    pub fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Git { context, source }
    }
}
