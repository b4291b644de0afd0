//! Recording live state on the protected branch: a sync commit reaches it through a *recording*
//! pull request that repokid merges itself, so permission ages accumulate night after night.
//!
//! Without this, a sync commit only reached the protected branch inside a proposal pull request,
//! and a night with nothing to propose (every permission younger than the grace period, as on an
//! account's first nights) dropped it: the next night recorded the same permissions as new again,
//! and with the default 14-day grace period an account never got its first proposal.
//!
//! [`record`] pushes the sync commit at `HEAD` (one account's, on top of the checked-out base) to
//! `repokid/record/<account>`, opens or updates the pull request `repokid: record live state of
//! <account>` (label [`RECORD_LABEL`]), and asks GitHub to merge it with a merge commit, so the
//! sync commit lands as a commit of its own with its trailers (apply's baseline and permission ages
//! depend on that). GitHub refuses while the branch's rules are not met — checks still running, a
//! review required, `verify` failing because the recorded state adds access (a new account, an
//! out-of-band change): then the pull request waits, and the next run merges it once it can.
//! Recording changes nothing in IAM: the files hold what IAM already holds.

use serde::Serialize;

use super::client::GitHub;
use super::publish::PublishError;
use super::push::push;
use super::review::{PrOutcome, PrRequest, open_or_update};
use crate::settings::GitHubSettings;
use crate::store::git::{PolicyStore, commit_action};
use crate::store::{Action, POLICIES_DIR};

/// The label every recording pull request carries.
pub const RECORD_LABEL: &str = "repokid:record";

/// The branch a recording of `account` is pushed to.
pub fn record_branch(account: &str) -> String {
    format!("repokid/record/{account}")
}

/// What [`record`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Recorded {
    /// `HEAD` is not a sync commit of the account: live state was already recorded.
    Nothing,
    /// The recording pull request was merged.
    Merged {
        /// The pull request.
        pull_request: u64,
        /// Its web page.
        url: String,
    },
    /// The recording pull request is open and waits for the branch's rules (checks, a review,
    /// the allow label); a later run merges it.
    Waiting {
        /// The pull request.
        pull_request: u64,
        /// Its web page.
        url: String,
        /// GitHub's answer to the merge.
        reason: String,
    },
    /// This exact recording was closed without merging: not reopened (someone declined it; the
    /// live change should be reverted in AWS instead).
    Declined {
        /// The closed pull request.
        pull_request: u64,
    },
}

/// Records the sync commit at `HEAD` for `account` (see the [module documentation](self)).
pub fn record(
    gh: &GitHub,
    settings: &GitHubSettings,
    store: &PolicyStore,
    account: &str,
) -> Result<Recorded, PublishError> {
    let git = |e: git2::Error| PublishError::Git(e.message().to_string());
    let repo = store.repo();
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(git)?;
    match commit_action(&head) {
        Some((Action::Sync, Some(a))) if a == account => {}
        _ => return Ok(Recorded::Nothing),
    }
    let url = settings
        .git_url()
        .ok_or_else(|| PublishError::Git("no [github] repo or git-url to push to".into()))?;
    let branch = record_branch(account);
    let sha = head.id().to_string();
    // The recording branch belongs to the tool: force-pushed to tonight's sync commit.
    push(
        repo,
        &url,
        &[&format!("+{sha}:refs/heads/{branch}")],
        &gh.git_token()?,
    )?;
    let digest = head
        .tree()
        .and_then(|t| t.get_path(std::path::Path::new(&format!("{POLICIES_DIR}/{account}"))))
        .map(|e| e.id().to_string())
        .unwrap_or_default();
    let title = format!("repokid: record live state of {account}");
    let body = body(account, head.message().unwrap_or_default());
    let outcome = open_or_update(
        gh,
        &PrRequest {
            branch: branch.clone(),
            base: settings.base_branch.clone(),
            title: title.clone(),
            body,
            labels: vec![RECORD_LABEL.to_string()],
            reviewers: Vec::new(),
            digest,
        },
    )?;
    let pr = match outcome {
        PrOutcome::Declined(pr) => {
            return Ok(Recorded::Declined {
                pull_request: pr.number,
            });
        }
        other => other.pr().clone(),
    };
    Ok(match gh.merge_pr(pr.number, &sha, &title) {
        Ok(()) => {
            tracing::info!(account, pr = pr.number, "recorded live state");
            Recorded::Merged {
                pull_request: pr.number,
                url: pr.html_url,
            }
        }
        // 405: not mergeable under the branch's rules; 409: the head moved (another run).
        Err(e) if matches!(e.status, Some(405 | 409 | 422)) => Recorded::Waiting {
            pull_request: pr.number,
            url: pr.html_url,
            reason: e.message,
        },
        Err(e) => return Err(e.into()),
    })
}

/// The recording pull request's text: what it is, and the sync commit's own account of it.
fn body(account: &str, message: &str) -> String {
    format!(
        "This pull request **records live state**: the inline policies account `{account}` holds \
         in IAM right now, as `repokid sync` read them. Merging it changes nothing in IAM; it \
         lets the protected branch know what is live, so permission ages (and the grace period) \
         count from the night a permission was first seen.\n\n\
         repokid merges it itself when the branch's rules allow. It waits when they do not: \
         when `verify` finds that the recorded state *adds* access (a new account, or a role \
         changed outside this repository), review the change, then label it \
         `repokid:adds-access` or get it reverted in AWS (docs/reviewing.md).\n\n\
         ```text\n{}\n```\n",
        message.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_and_body() {
        assert_eq!(record_branch("111122223333"), "repokid/record/111122223333");
        let b = body(
            "111122223333",
            "repokid sync: 111122223333\n\nRepokid-Action: sync\n",
        );
        assert!(b.contains("records live state"));
        assert!(b.contains("Repokid-Action: sync"));
    }
}
