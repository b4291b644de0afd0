//! A role's versions, for rollback.

use chrono::{DateTime, Utc};
use git2::{Oid, Repository};

use super::walk::{Change, FileChanges, commit_time, merged_action, read_policies, subject};
use crate::engine::Catalog;
use crate::engine::grants::analyze;
use crate::engine::policy::PolicyMap;
use crate::store::git::commit_action;
use crate::store::{Action, StoreError, role_path};

/// One version of a role's file: a commit on the first-parent line where the file's content
/// changed (it appeared, changed, or was deleted).
#[derive(Debug, Clone)]
pub struct RoleVersion {
    /// The commit that made this version.
    pub commit: Oid,
    /// When the commit landed (committer time).
    pub time: DateTime<Utc>,
    /// What the tool did, from the commit's `Repokid-Action` trailer (`None` for commits written
    /// by hand or by other tools).
    pub action: Option<Action>,
    /// The commit's subject line.
    pub subject: String,
    /// The role's inline policies in this version; `None` when this commit deleted the file.
    pub policies: Option<PolicyMap>,
    /// Number of catalog actions this version grants (0 when deleted).
    pub permissions: usize,
}

/// The versions of `policies/<account>/<role>.json`, newest first: one per commit on the
/// first-parent line from `rev` where the file's blob changed, including the commit that deleted
/// it (a version with `policies: None`). Empty if the file never existed.
///
/// `account` and `role` must have been validated with [`crate::store::names`]. An unreadable
/// version is an error naming the file and the commit.
pub fn role_versions(
    repo: &Repository,
    rev: &str,
    account: &str,
    role: &str,
    catalog: &Catalog,
) -> Result<Vec<RoleVersion>, StoreError> {
    let shown = role_path(account, role).display().to_string();
    let mut changes = FileChanges::new(repo, rev, account, role)?;
    let mut versions = Vec::new();
    while let Some(Change { commit, blob, .. }) = changes.next_change()? {
        let policies = match blob {
            Some(blob) => Some(read_policies(repo, blob, &shown, commit.id())?),
            None => None,
        };
        let permissions = policies
            .as_ref()
            .map_or(0, |p| analyze(p, catalog).all.len());
        versions.push(RoleVersion {
            commit: commit.id(),
            time: commit_time(&commit)?,
            action: commit_action(&commit)
                .or_else(|| merged_action(&commit))
                .map(|(action, _)| action),
            subject: subject(&commit),
            policies,
            permissions,
        });
    }
    Ok(versions)
}
