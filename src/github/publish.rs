//! Publishing proposals: push each proposal branch and open or update its pull request, with
//! labels and reviewers (CODEOWNERS of the changed files, and each role's owner tag).

use std::collections::BTreeSet;

use super::client::{GitHub, GitHubError};
use super::push::{PushError, push};
use super::review::{PrOutcome, PrRequest, codeowners, open_or_update};
use crate::ops::{PlannedRole, Proposal};
use crate::settings::GitHubSettings;
use crate::store::git::PolicyStore;

/// Why a proposal could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The push failed.
    #[error(transparent)]
    Push(#[from] PushError),
    /// A GitHub call failed.
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    /// Reading the repository failed.
    #[error("{0}")]
    Git(String),
    /// Writing the proposal failed.
    #[error(transparent)]
    Ops(#[from] crate::ops::OpsError),
}

/// A published proposal.
#[derive(Debug, Clone)]
pub struct Published {
    /// The account.
    pub account: String,
    /// The branch pushed.
    pub branch: String,
    /// The commit it points at.
    pub commit: String,
    /// What happened to its pull request.
    pub outcome: PrOutcome,
}

/// Where CODEOWNERS may be, in GitHub's order.
const CODEOWNERS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

/// The CODEOWNERS text at `rev`, if any.
pub fn codeowners_at(store: &PolicyStore, rev: &str) -> Option<String> {
    CODEOWNERS.iter().find_map(|path| {
        let obj = store
            .repo()
            .revparse_single(&format!("{rev}:{path}"))
            .ok()?;
        let blob = obj.peel_to_blob().ok()?;
        Some(String::from_utf8_lossy(blob.content()).into_owned())
    })
}

/// Reviewers for a proposal: CODEOWNERS of each changed role file (when enabled) and the
/// logins in each role's owner tag, sorted and without duplicates.
pub fn reviewers(
    settings: &GitHubSettings,
    codeowners_text: Option<&str>,
    roles: &[&PlannedRole],
) -> Vec<String> {
    let mut out = BTreeSet::new();
    for p in roles {
        if settings.reviewers_from_codeowners
            && let Some(text) = codeowners_text
        {
            let path = format!("policies/{}/{}.json", p.role.account, p.role.name);
            out.extend(codeowners(text, &path));
        }
        for (k, v) in &p.role.tags {
            if k.eq_ignore_ascii_case(&settings.owner_tag) {
                let login = v.trim().trim_start_matches('@');
                // GitHub logins: alphanumerics and single hyphens; anything else is not one.
                if !login.is_empty()
                    && login
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '/')
                {
                    out.insert(login.to_string());
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Pushes every proposal that has a commit and opens or updates its pull request against
/// `settings.base_branch`.
pub fn publish(
    gh: &GitHub,
    settings: &GitHubSettings,
    store: &PolicyStore,
    proposals: &[Proposal],
    planned: &[PlannedRole],
    base_rev: &str,
) -> Result<Vec<Published>, PublishError> {
    let url = settings
        .git_url()
        .ok_or_else(|| PublishError::Git("no [github] repo or git-url to push to".into()))?;
    let token = gh.git_token()?;
    let owners = codeowners_at(store, base_rev);
    let mut out = Vec::new();
    for p in proposals {
        // A proposal committed by an earlier run (the branch already holds it, so nothing new
        // was written) is still pushed and published: an earlier push or PR may have failed.
        let (commit_id, changed) = match &p.written {
            Some(w) => (
                w.commit,
                w.changed
                    .iter()
                    .chain(&w.added)
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            None => {
                let eligible = planned
                    .iter()
                    .any(|r| r.role.account == p.account && r.plan.eligible());
                let tip = store
                    .repo()
                    .revparse_single(&format!("refs/heads/{}", p.branch))
                    .and_then(|o| o.peel_to_commit())
                    .map(|c| c.id());
                let Ok(tip) = tip else { continue };
                if !eligible {
                    continue;
                }
                let changed = store
                    .changed_roles(base_rev, &tip.to_string(), &p.account)
                    .map_err(|e| PublishError::Git(e.to_string()))?;
                if changed.is_empty() {
                    continue;
                }
                (tip, changed)
            }
        };
        let branch = &p.branch;
        // Proposal branches belong to the tool: force-pushed to what this run proposes.
        push(
            store.repo(),
            &url,
            &[&format!("+refs/heads/{branch}:refs/heads/{branch}")],
            &token,
        )?;
        let commit = store
            .repo()
            .find_commit(commit_id)
            .map_err(|e| PublishError::Git(e.message().to_string()))?;
        let digest = commit
            .tree()
            .and_then(|t| t.get_path(std::path::Path::new(&format!("policies/{}", p.account))))
            .map(|e| e.id().to_string())
            .map_err(|e| PublishError::Git(e.message().to_string()))?;
        let roles: Vec<&PlannedRole> = planned
            .iter()
            .filter(|r| r.role.account == p.account && changed.contains(&r.role.name))
            .collect();
        let outcome = open_or_update(
            gh,
            &PrRequest {
                branch: branch.clone(),
                base: settings.base_branch.clone(),
                title: p.title.clone(),
                body: p.body.clone(),
                labels: settings.labels.clone(),
                reviewers: reviewers(settings, owners.as_deref(), &roles),
                digest,
            },
        )?;
        tracing::info!(account = %p.account, pr = outcome.pr().number, "pull request {:?}", outcome);
        out.push(Published {
            account: p.account.clone(),
            branch: branch.clone(),
            commit: commit_id.to_string(),
            outcome,
        });
    }
    Ok(out)
}
