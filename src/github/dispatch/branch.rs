//! The branches commands write: rebuilt from the base, force-pushed, and proposed as a pull
//! request (an open one from the same branch is updated rather than duplicated).

use git2::{BranchType, Repository};

use super::answer::PrLink;
use super::context::DispatchContext;
use crate::github::client::{GitHubError, PullRequest};
use crate::github::push::push;

/// The trailer naming who asked for a change made from a comment.
pub const REQUESTED_BY_TRAILER: &str = "Repokid-Requested-By";
/// The trailer naming the role an opt-out commit is about.
pub const ROLE_TRAILER: &str = "Repokid-Role";

/// Removes the local branch `name` so it can be rebuilt from the base (it belongs to the tool).
pub(super) fn reset_branch(repo: &Repository, name: &str) -> Result<(), String> {
    match repo.find_branch(name, BranchType::Local) {
        Ok(mut b) => {
            if b.is_head() {
                return Err(format!(
                    "branch {name} is checked out here; it cannot be rebuilt"
                ));
            }
            b.delete()
                .map_err(|e| format!("cannot reset branch {name}: {}", e.message()))
        }
        Err(_) => Ok(()),
    }
}

/// Pushes `branch` (forced: the tool's branch, rebuilt from the base) and opens its pull request,
/// or updates the open one.
pub(super) fn push_and_open(
    ctx: &DispatchContext<'_>,
    branch: &str,
    title: &str,
    body: &str,
) -> Result<PrLink, String> {
    let url = ctx
        .settings
        .github
        .git_url()
        .ok_or("no [github] repo or git-url to push to")?;
    let token = ctx.github.git_token().map_err(|e| e.to_string())?;
    push(
        ctx.store.repo(),
        &url,
        &[&format!("+refs/heads/{branch}:refs/heads/{branch}")],
        &token,
    )
    .map_err(|e| e.to_string())?;
    let gh = ctx.github;
    let open = |existing: Option<PullRequest>| -> Result<(PullRequest, bool), GitHubError> {
        match existing {
            Some(pr) if pr.state == "open" => Ok((gh.update_pr(pr.number, title, body)?, false)),
            _ => Ok((
                gh.create_pr(branch, &ctx.settings.github.base_branch, title, body)?,
                true,
            )),
        }
    };
    let (pr, opened) = gh
        .find_pr(branch)
        .and_then(open)
        .map_err(|e| format!("the branch {branch} was pushed, but {e}"))?;
    Ok(PrLink {
        number: pr.number,
        url: pr.html_url,
        opened,
        branch: branch.to_string(),
    })
}

/// "opened #N (url)" or "updated the open pull request #N (url)", for replies.
pub(super) fn pr_sentence(pr: &PrLink) -> String {
    if pr.opened {
        format!("opened #{} ({})", pr.number, pr.url)
    } else {
        format!("updated the open pull request #{} ({})", pr.number, pr.url)
    }
}
