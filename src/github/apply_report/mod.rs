//! After `repokid apply`: its results where reviewers look.
//!
//! * **A comment on each merged pull request** behind the applied commits: per role of the
//!   account that the pull request changed, what was applied (policies put and deleted), what
//!   was skipped as drift (with the live diff) and what failed. The pull requests are found from
//!   the commits between the account's baseline and the applied commit, following the branch's
//!   first parents (a merge commit stands for its whole pull request), through GitHub's "pull
//!   requests associated with a commit". One comment per pull request and account, marked with
//!   a hidden `<!-- repokid:apply account=ID -->`: a later run (a retry after drift was fixed)
//!   updates it instead of adding another.
//! * **One tracking issue** labelled `repokid:apply-failed` while anything failed: each failing
//!   account has one comment in it (marked `<!-- repokid:apply-failed account=ID state=… -->`),
//!   updated by every run; an account applied later has its comment marked resolved, and the
//!   run after which no account is failing closes the issue with a comment. Several matrix jobs
//!   of one run may report at once, each for its own accounts (so each only ever edits its own
//!   comments): a duplicate issue opened by a race is closed in favour of the oldest, and an
//!   issue closed while another job was adding a failure is reopened.
//!
//! Only comments written by a bot are ever edited, so a person quoting a marker is left alone.

use std::collections::{BTreeMap, BTreeSet};

use git2::Oid;
use serde::{Deserialize, Serialize};

mod model;
mod text;

use super::client::{GitHub, GitHubError, IssueComment, PullRequest};
use crate::apply::{AccountApply, applied_ref};
use crate::store::StoreError;
use crate::store::git::PolicyStore;
use model::AccountResult;
pub use text::pr_marker;
use text::{
    failing_comment, is_failing, issue_body, issue_marker, pr_comment, resolved_comment, run_link,
};

/// The label of the tracking issue.
pub const FAILED_LABEL: &str = "repokid:apply-failed";
/// The title of the tracking issue.
pub const ISSUE_TITLE: &str = "repokid apply failed: merged changes are not in IAM";
/// What `repokid apply --format json` (or `--report FILE`) wrote.
#[derive(Debug, Clone, Deserialize)]
pub struct ApplyRun {
    /// Whether it was a dry run (nothing to report then).
    pub dry_run: bool,
    /// One entry per account that could be applied at all.
    pub accounts: Vec<AccountApply>,
    /// Accounts that could not be applied at all.
    #[serde(default)]
    pub errors: Vec<AccountError>,
}

/// An account `repokid apply` could not apply at all.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AccountError {
    /// The account.
    pub account: String,
    /// Why.
    pub message: String,
}

/// What to report, beyond the run itself.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The accounts the run was meant to apply: any missing from it (or all, when there is no
    /// run because `repokid apply` failed before writing one) count as failed.
    pub accounts: Vec<String>,
    /// The workflow run, linked from every comment.
    pub run_url: Option<String>,
    /// The tracking issue's label.
    pub label: String,
    /// Pushing the applied refs to origin failed: the accounts recorded locally count as failed.
    pub push_failed: bool,
    /// At most this many commits are looked up on GitHub (one call each).
    pub max_commits: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            accounts: Vec::new(),
            run_url: None,
            label: FAILED_LABEL.into(),
            push_failed: false,
            max_commits: 50,
        }
    }
}

/// What happened to a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommentAction {
    /// Posted anew.
    Created,
    /// The earlier comment of the same marker was rewritten.
    Updated,
    /// The earlier comment already said exactly this.
    Unchanged,
}

/// A comment on a merged pull request.
#[derive(Debug, Clone, Serialize)]
pub struct PrComment {
    /// The pull request.
    pub pull_request: u64,
    /// The account it reports on.
    pub account: String,
    /// What was done.
    pub action: CommentAction,
}

/// What happened to the tracking issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueAction {
    /// Opened for this run's failures.
    Opened,
    /// This run's failures, or resolutions, were written to the open issue.
    Updated,
    /// Reopened: another job closed it while this one added a failure.
    Reopened,
    /// Nothing of this run's accounts was in it; it stays open for others.
    Unchanged,
    /// Nothing is failing any more: closed with a comment.
    Closed,
}

/// The tracking issue after the report.
#[derive(Debug, Clone, Serialize)]
pub struct IssueOutcome {
    /// Its number.
    pub number: u64,
    /// What was done.
    pub action: IssueAction,
}

/// Everything the report did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReportOutcome {
    /// Comments on merged pull requests.
    pub comments: Vec<PrComment>,
    /// The tracking issue, when there is or was one.
    pub issue: Option<IssueOutcome>,
    /// The accounts that failed (drift, errors, or no result).
    pub failed_accounts: Vec<String>,
    /// Commits not looked up because of [`ReportOptions::max_commits`].
    pub commits_skipped: usize,
    /// GitHub calls that failed; the rest of the report was still made.
    pub errors: Vec<String>,
}

/// Why nothing could be reported.
#[derive(Debug, thiserror::Error)]
pub enum ApplyReportError {
    /// A dry run writes nothing, so there is nothing to report.
    #[error("the apply report is from a dry run: nothing was applied, nothing to report")]
    DryRun,
    /// Reading the repository failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A git operation failed.
    #[error("{context}: {source}")]
    Git {
        /// What was being done.
        context: String,
        /// Why.
        #[source]
        source: git2::Error,
    },
}

fn git(context: &str) -> impl FnOnce(git2::Error) -> ApplyReportError + '_ {
    move |source| ApplyReportError::Git {
        context: context.to_string(),
        source,
    }
}

/// Posts the comments and manages the tracking issue for `run` (`None`: `repokid apply` wrote
/// no report, so every account of `opts.accounts` failed). GitHub failures are collected in
/// [`ReportOutcome::errors`] and the rest is still done.
pub fn report_apply(
    gh: &GitHub,
    store: &PolicyStore,
    run: Option<&ApplyRun>,
    opts: &ReportOptions,
) -> Result<ReportOutcome, ApplyReportError> {
    if run.is_some_and(|r| r.dry_run) {
        return Err(ApplyReportError::DryRun);
    }
    let results = results(run, opts);
    let mut out = ReportOutcome {
        failed_accounts: results
            .iter()
            .filter(|r| r.failed())
            .map(|r| r.account.clone())
            .collect(),
        ..ReportOutcome::default()
    };
    let mut budget = opts.max_commits;
    for result in &results {
        let Some(report) = result.report else {
            continue;
        };
        let prs = match prs_behind(gh, store, report, &mut budget, &mut out.commits_skipped) {
            Ok(prs) => prs,
            Err(PrsError::GitHub(e)) => {
                out.errors.push(e.to_string());
                continue;
            }
            Err(PrsError::Report(e)) => return Err(e),
        };
        for (pr, roles) in prs.values() {
            let body = pr_comment(result, roles, opts.run_url.as_deref());
            let marker = pr_marker(&result.account);
            match upsert(gh, pr.number, &marker, &body, None) {
                Ok(action) => out.comments.push(PrComment {
                    pull_request: pr.number,
                    account: result.account.clone(),
                    action,
                }),
                Err(e) => out.errors.push(e.to_string()),
            }
        }
    }
    match track(gh, opts, &results) {
        Ok(issue) => out.issue = issue,
        Err(e) => out.errors.push(e.to_string()),
    }
    Ok(out)
}

/// Every account of the run and of `opts.accounts`, in order.
fn results<'a>(run: Option<&'a ApplyRun>, opts: &ReportOptions) -> Vec<AccountResult<'a>> {
    let mut out: BTreeMap<String, AccountResult<'a>> = BTreeMap::new();
    for account in &opts.accounts {
        out.insert(
            account.clone(),
            AccountResult {
                account: account.clone(),
                report: None,
                problem: Some(
                    "repokid apply produced no result for this account: it failed before \
                     applying it (see the run's log)"
                        .into(),
                ),
            },
        );
    }
    for r in run.iter().flat_map(|r| &r.accounts) {
        let problem = (opts.push_failed && r.recorded).then(|| {
            format!(
                "applied, but pushing {} to origin failed: the next run reads IAM again and \
                 records it",
                applied_ref(&r.account)
            )
        });
        out.insert(
            r.account.clone(),
            AccountResult {
                account: r.account.clone(),
                report: Some(r),
                problem,
            },
        );
    }
    for e in run.iter().flat_map(|r| &r.errors) {
        out.insert(
            e.account.clone(),
            AccountResult {
                account: e.account.clone(),
                report: None,
                problem: Some(format!("repokid apply could not apply it: {}", e.message)),
            },
        );
    }
    out.into_values().collect()
}

enum PrsError {
    GitHub(GitHubError),
    Report(ApplyReportError),
}

impl From<ApplyReportError> for PrsError {
    fn from(e: ApplyReportError) -> Self {
        PrsError::Report(e)
    }
}

impl From<StoreError> for PrsError {
    fn from(e: StoreError) -> Self {
        PrsError::Report(e.into())
    }
}

/// The merged pull requests behind the commits `report` applied, each with the roles of the
/// account it changed: the branch's first parents from the target back to the baseline, each
/// commit that changed a role file of the account looked up on GitHub.
fn prs_behind(
    gh: &GitHub,
    store: &PolicyStore,
    report: &AccountApply,
    budget: &mut usize,
    skipped: &mut usize,
) -> Result<BTreeMap<u64, (PullRequest, BTreeSet<String>)>, PrsError> {
    let mut out: BTreeMap<u64, (PullRequest, BTreeSet<String>)> = BTreeMap::new();
    if report.baseline == report.target || report.roles.is_empty() {
        return Ok(out);
    }
    let repo = store.repo();
    let oid = |s: &str| Oid::from_str(s).map_err(git("reading the report's commits"));
    let (target, baseline) = (oid(&report.target)?, oid(&report.baseline)?);
    let mut walk = repo.revwalk().map_err(git("walking history"))?;
    walk.push(target).map_err(git("walking history"))?;
    walk.hide(baseline).map_err(git("walking history"))?;
    walk.simplify_first_parent()
        .map_err(git("walking history"))?;
    for id in walk {
        let id = id.map_err(git("walking history"))?;
        let commit = repo.find_commit(id).map_err(git("reading a commit"))?;
        let Ok(parent) = commit.parent_id(0) else {
            continue;
        };
        let roles = store.changed_roles(&parent.to_string(), &id.to_string(), &report.account)?;
        if roles.is_empty() {
            continue;
        }
        if *budget == 0 {
            *skipped += 1;
            continue;
        }
        *budget -= 1;
        for pr in gh
            .pulls_for_commit(&id.to_string())
            .map_err(PrsError::GitHub)?
        {
            if pr.merged {
                out.entry(pr.number)
                    .or_insert_with(|| (pr.clone(), BTreeSet::new()))
                    .1
                    .extend(roles.iter().cloned());
            }
        }
    }
    Ok(out)
}

/// Creates the comment, or rewrites the bot's comment carrying `marker` (the first one; when
/// `comments` is given, those are the issue's comments already read).
fn upsert(
    gh: &GitHub,
    number: u64,
    marker: &str,
    body: &str,
    comments: Option<&[IssueComment]>,
) -> Result<CommentAction, GitHubError> {
    let read;
    let comments = match comments {
        Some(c) => c,
        None => {
            read = gh.comments(number)?;
            &read
        }
    };
    match comments
        .iter()
        .find(|c| c.by_bot && c.body.contains(marker))
    {
        Some(c) if c.body == body => Ok(CommentAction::Unchanged),
        Some(c) => gh
            .update_comment(c.id, body)
            .map(|()| CommentAction::Updated),
        None => gh.comment(number, body).map(|()| CommentAction::Created),
    }
}

/// Opens, updates or closes the tracking issue for this job's accounts.
fn track(
    gh: &GitHub,
    opts: &ReportOptions,
    results: &[AccountResult<'_>],
) -> Result<Option<IssueOutcome>, GitHubError> {
    let run_url = opts.run_url.as_deref();
    let failing: Vec<&AccountResult<'_>> = results.iter().filter(|r| r.failed()).collect();
    let open = gh.open_issues(&opts.label)?;
    let (number, mut action) = match open.first() {
        Some(i) => (i.number, IssueAction::Unchanged),
        None if failing.is_empty() => return Ok(None),
        None => {
            let created = gh.create_issue(
                ISSUE_TITLE,
                &issue_body(run_url),
                std::slice::from_ref(&opts.label),
            )?;
            // Another job of the run may have opened one at the same time: keep the oldest.
            let oldest = gh
                .open_issues(&opts.label)?
                .into_iter()
                .map(|i| i.number)
                .min()
                .filter(|n| *n < created.number);
            match oldest {
                Some(n) => {
                    gh.comment(
                        created.number,
                        &format!("Duplicate of #{n}, opened at the same time by another job."),
                    )?;
                    gh.set_issue_state(created.number, Some("not_planned"))?;
                    (n, IssueAction::Updated)
                }
                None => (created.number, IssueAction::Opened),
            }
        }
    };
    let comments = gh.comments(number)?;
    for r in &failing {
        let marker = issue_marker(&r.account);
        if upsert(
            gh,
            number,
            &marker,
            &failing_comment(r, run_url),
            Some(&comments),
        )? != CommentAction::Unchanged
            && action == IssueAction::Unchanged
        {
            action = IssueAction::Updated;
        }
    }
    for r in results.iter().filter(|r| !r.failed()) {
        let marker = issue_marker(&r.account);
        if let Some(c) = comments
            .iter()
            .find(|c| c.body.contains(&marker) && is_failing(c))
        {
            gh.update_comment(c.id, &resolved_comment(r, run_url))?;
            if action == IssueAction::Unchanged {
                action = IssueAction::Updated;
            }
        }
    }
    if !failing.is_empty() {
        // A job that saw nothing failing may have closed it meanwhile.
        if gh.get_issue(number)?.state != "open" {
            gh.set_issue_state(number, None)?;
            action = IssueAction::Reopened;
        }
        return Ok(Some(IssueOutcome { number, action }));
    }
    if gh.comments(number)?.iter().any(is_failing) {
        return Ok(Some(IssueOutcome { number, action }));
    }
    gh.comment(
        number,
        &format!(
            "Every account listed here is applied now ({}). Closing.",
            run_link(run_url)
        ),
    )?;
    gh.set_issue_state(number, Some("completed"))?;
    // A job that failed meanwhile may have added its account after the read above.
    if gh.comments(number)?.iter().any(is_failing) {
        gh.set_issue_state(number, None)?;
        return Ok(Some(IssueOutcome {
            number,
            action: IssueAction::Reopened,
        }));
    }
    Ok(Some(IssueOutcome {
        number,
        action: IssueAction::Closed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{BaselineSource, RoleApply, RoleStatus};
    use crate::github::apply_report::text::failure_text;

    fn account(recorded: bool) -> AccountApply {
        AccountApply {
            account: "111122223333".into(),
            target: "a".repeat(40),
            baseline: "b".repeat(40),
            baseline_source: BaselineSource::Recorded,
            dry_run: false,
            roles: vec![RoleApply {
                role: "app".into(),
                status: RoleStatus::Applied,
                puts: vec!["data".into()],
                deletes: vec![],
                drift: vec![],
                message: None,
            }],
            recorded,
        }
    }

    #[test]
    fn accounts_without_a_result_or_with_an_unpushed_ref_fail() {
        let run = ApplyRun {
            dry_run: false,
            accounts: vec![account(true)],
            errors: vec![AccountError {
                account: "444455556666".into(),
                message: "no baseline".into(),
            }],
        };
        let opts = ReportOptions {
            accounts: vec![
                "111122223333".into(),
                "444455556666".into(),
                "777788889999".into(),
            ],
            ..ReportOptions::default()
        };
        let all = results(Some(&run), &opts);
        let failed: Vec<&str> = all
            .iter()
            .filter(|r| r.failed())
            .map(|r| r.account.as_str())
            .collect();
        assert_eq!(failed, ["444455556666", "777788889999"]);
        assert!(failure_text(&all[1]).contains("no baseline"));
        assert!(failure_text(&all[2]).contains("no result"));
        let pushed = ReportOptions {
            push_failed: true,
            ..opts
        };
        let all = results(Some(&run), &pushed);
        assert!(
            all[0].failed()
                && failure_text(&all[0]).contains("pushing refs/repokid/applied/111122223333")
        );
        // No run at all: every account failed.
        assert!(results(None, &pushed).iter().all(AccountResult::failed));
    }
}
