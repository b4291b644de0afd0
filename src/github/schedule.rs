//! Scheduling (Repokid's `schedule_repo`) as pull requests: a scheduled proposal is an open pull
//! request labelled [`SCHEDULED_LABEL`] whose body carries a not-before time, and whose head
//! commit has the status [`STATUS_CONTEXT`] — `pending` until that time (require it in branch
//! protection and the PR cannot be merged early), `success` after.
//!
//! * `repokid schedule` opens the PR; re-run before the date it leaves an announced PR alone, so
//!   nothing is ever added to what was announced.
//! * `repokid repo-scheduled-roles` merges the PRs whose time has come, if approved and
//!   mergeable, after re-checking them with fresh usage ([`crate::ops::recheck`]): only what the
//!   branch announced can be removed, and what was used during the notice period stays (a commit
//!   on the branch and a comment say so).
//! * `repokid cancel-scheduled-repo` closes a PR and deletes its branch.
//! * `repokid show-scheduled-roles` lists them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::client::{GitHub, GitHubError, PullRequest};
use super::publish::{PublishError, publish};
use super::push::{PushError, push};
use super::review::PrOutcome;
use crate::hooks::lifecycle::run_all;
use crate::hooks::{HookError, LifecycleEvent};
use crate::ops::recheck::{FetchInputs, Kept, RecheckRequest, Verdict, recheck};
use crate::ops::{OpsError, PlannedRole, Workspace};
use crate::report::PlanReport;
use crate::store::git::{PolicyStore, WriteAccount};
use crate::store::{Action, trailers};

/// The label every scheduled pull request carries.
pub const SCHEDULED_LABEL: &str = "repokid:scheduled";
/// The commit status that holds a scheduled pull request until its time.
pub const STATUS_CONTEXT: &str = "repokid/schedule";

const MARKER: &str = "<!-- repokid:not-before=";

/// The paragraph (with its machine-readable marker) that heads a scheduled pull request's body.
pub fn schedule_note(not_before: DateTime<Utc>) -> String {
    let t = not_before.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        "> **Scheduled.** Not to be merged before **{} UTC**; the `{STATUS_CONTEXT}` check stays \
         pending until then. `repokid repo-scheduled-roles` merges it after that once approved.\n\
         {MARKER}{t} -->\n\n",
        not_before.format("%Y-%m-%d %H:%M")
    )
}

/// The not-before time a body carries, if any.
pub fn not_before(body: &str) -> Option<DateTime<Utc>> {
    let start = body.find(MARKER)? + MARKER.len();
    let end = body[start..].find(" -->")? + start;
    DateTime::parse_from_rfc3339(&body[start..end])
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A scheduled pull request and its time.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledPr {
    /// Number.
    pub number: u64,
    /// Web page.
    pub url: String,
    /// Head branch.
    pub branch: String,
    /// Not before (absent: the marker was removed by hand).
    pub not_before: Option<DateTime<Utc>>,
}

impl ScheduledPr {
    fn from(pr: &PullRequest) -> ScheduledPr {
        ScheduledPr {
            number: pr.number,
            url: pr.html_url.clone(),
            branch: pr.head_ref.clone(),
            not_before: not_before(&pr.body),
        }
    }
}

/// The open scheduled pull requests from branches starting with `prefix`.
pub fn scheduled(
    gh: &GitHub,
    prefix: &str,
) -> Result<Vec<(PullRequest, ScheduledPr)>, GitHubError> {
    Ok(gh
        .open_prs(prefix)?
        .into_iter()
        .filter(|p| p.labels.iter().any(|l| l == SCHEDULED_LABEL))
        .map(|p| {
            let s = ScheduledPr::from(&p);
            (p, s)
        })
        .collect())
}

/// What `schedule` did for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleOutcome {
    /// A new scheduled pull request.
    Opened,
    /// The open pull request, updated and (re)scheduled.
    Updated,
    /// Not rescheduled: this exact proposal was closed without merging.
    Declined,
    /// An announced pull request still waiting for its date: left exactly as announced.
    Standing,
}

/// One account's schedule.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRow {
    /// The account.
    pub account: String,
    /// The pull request.
    pub pull_request: u64,
    /// Its web page.
    pub url: String,
    /// What happened.
    pub outcome: ScheduleOutcome,
    /// The earliest merge time.
    pub not_before: DateTime<Utc>,
}

/// The result of [`schedule`].
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    /// Per account.
    pub rows: Vec<ScheduleRow>,
    /// `after-schedule` hook failures (account, error); the schedules stand.
    pub hook_errors: Vec<(String, HookError)>,
}

/// Schedules the planned proposals: accounts with an announced pull request still waiting are
/// left as they are; the others are proposed ([`crate::ops::propose()`]) with the schedule note
/// heading the body, published with [`SCHEDULED_LABEL`], their head commit given a pending
/// [`STATUS_CONTEXT`] status, and the `after-schedule` lifecycle hooks run.
#[allow(clippy::too_many_arguments)]
pub fn schedule(
    ws: &Workspace,
    gh: &GitHub,
    store: &PolicyStore,
    mut report: PlanReport,
    planned: Vec<PlannedRole>,
    base: &str,
    now: DateTime<Utc>,
    days: i64,
) -> Result<Schedule, PublishError> {
    let when = now + chrono::Duration::days(days);
    let prefix = &ws.settings.propose.branch_prefix;
    let mut out = Schedule::default();
    let mut accounts: Vec<&str> = planned.iter().map(|p| p.role.account.as_str()).collect();
    accounts.dedup();
    let mut standing = Vec::new();
    for account in accounts {
        if let Some(pr) = gh.find_pr(&format!("{prefix}/{account}"))?
            && pr.state == "open"
            && pr.labels.iter().any(|l| l == SCHEDULED_LABEL)
            && let Some(t) = not_before(&pr.body)
            && t > now
        {
            out.rows.push(ScheduleRow {
                account: account.to_string(),
                pull_request: pr.number,
                url: pr.html_url.clone(),
                outcome: ScheduleOutcome::Standing,
                not_before: t,
            });
            standing.push(account.to_string());
        }
    }
    report.roles.retain(|r| !standing.contains(&r.account));
    let planned: Vec<PlannedRole> = planned
        .into_iter()
        .filter(|p| !standing.contains(&p.role.account))
        .collect();
    let mut proposals = crate::ops::propose(ws, store, &report, &planned, base)?;
    let note = schedule_note(when);
    for p in &mut proposals {
        p.body = format!("{note}{}", p.body);
        let limit = crate::review::GITHUB_BODY_LIMIT - 200;
        if p.body.len() > limit {
            let mut cut = limit;
            while !p.body.is_char_boundary(cut) {
                cut -= 1;
            }
            p.body.truncate(cut);
            p.body.push_str(
                "\n\n_Cut to GitHub's body limit; `repokid plan --format json` has all of it._\n",
            );
        }
    }
    let mut settings = ws.settings.github.clone();
    settings.labels.push(SCHEDULED_LABEL.to_string());
    for published in publish(gh, &settings, store, &proposals, &planned, base)? {
        let pr = published.outcome.pr();
        let outcome = match &published.outcome {
            PrOutcome::Declined(_) => ScheduleOutcome::Declined,
            PrOutcome::Opened(_) => ScheduleOutcome::Opened,
            PrOutcome::Updated(_) => ScheduleOutcome::Updated,
        };
        if outcome != ScheduleOutcome::Declined {
            gh.set_status(
                &published.commit,
                "pending",
                STATUS_CONTEXT,
                &format!(
                    "not to be merged before {} UTC",
                    when.format("%Y-%m-%d %H:%M")
                ),
            )?;
            let event = LifecycleEvent::AfterSchedule {
                account: published.account.clone(),
                roles: planned
                    .iter()
                    .filter(|r| r.role.account == published.account && r.plan.eligible())
                    .map(|r| r.role.name.clone())
                    .collect(),
                pull_request: pr.number,
                url: pr.html_url.clone(),
                not_before: when.to_rfc3339(),
            };
            out.hook_errors.extend(
                run_all(&ws.lifecycle_hooks, &event)
                    .into_iter()
                    .map(|e| (published.account.clone(), e)),
            );
        }
        out.rows.push(ScheduleRow {
            account: published.account.clone(),
            pull_request: pr.number,
            url: pr.html_url.clone(),
            outcome,
            not_before: when,
        });
    }
    Ok(out)
}

/// What `repo-scheduled-roles` did with one pull request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum MergeOutcome {
    /// Its time has not come; the status stays pending.
    Waiting {
        /// Until.
        until: DateTime<Utc>,
    },
    /// No not-before marker: left alone (someone edited the body).
    NoDate,
    /// Due, but not approved (or changes requested).
    NotApproved,
    /// Due and approved, but GitHub says it cannot be merged (conflicts, failing checks).
    NotMergeable,
    /// Due, approved, mergeable, and the re-check could not be made (no fresh usage, not a
    /// removal-only proposal …): not merged.
    Unverified {
        /// Why.
        reason: String,
    },
    /// Due, approved, mergeable, but some announced removals must stay (used since the
    /// announcement …); dry run.
    WouldUpdate {
        /// What stays, and why.
        kept: Vec<Kept>,
    },
    /// Due, approved, mergeable, but some announced removals must stay: a commit on the branch
    /// keeps them and a comment says which and why. Not merged in this run: the new commit needs
    /// its checks (and, with stale approvals dismissed, a new approval) first.
    Updated {
        /// The new head commit.
        commit: String,
        /// What stays, and why.
        kept: Vec<Kept>,
    },
    /// Due, approved, mergeable, and re-checked unchanged; dry run.
    WouldMerge,
    /// Merged.
    Merged,
}

/// How [`repo_scheduled`] works.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// Merge and update branches (without it: only report, and keep the statuses current).
    pub commit: bool,
    /// Override the grace period (days) in the re-check, as the schedule did.
    pub grace_days: Option<i64>,
    /// Only the pull requests of these accounts (all when empty).
    pub accounts: Vec<String>,
}

/// Walks the scheduled pull requests: keeps the status pending for those not due, marks due
/// ones `success`, and re-checks the due, approved, mergeable ones
/// ([`crate::ops::recheck`]: fresh usage from `fetch`, limited to what the branch announced).
/// With `opts.commit`, one that re-checks unchanged is merged at exactly the head that was
/// checked; one where announced removals must stay gets a commit on its branch that keeps them
/// and a comment saying which and why, and is left for a later run; an unverified one is left
/// alone.
pub fn repo_scheduled(
    gh: &GitHub,
    ws: &Workspace,
    store: &PolicyStore,
    fetch: &mut FetchInputs<'_>,
    opts: &MergeOptions,
    now: DateTime<Utc>,
) -> Result<Vec<(ScheduledPr, MergeOutcome)>, PublishError> {
    let prefix = &ws.settings.propose.branch_prefix;
    let mut out = Vec::new();
    for (pr, s) in scheduled(gh, prefix)? {
        let account = proposal_account(prefix, &pr.head_ref);
        if !opts.accounts.is_empty()
            && !account.is_some_and(|a| opts.accounts.iter().any(|x| x == a))
        {
            continue;
        }
        let outcome = match s.not_before {
            None => MergeOutcome::NoDate,
            Some(until) if until > now => {
                gh.set_status(
                    &pr.head_sha,
                    "pending",
                    STATUS_CONTEXT,
                    &format!(
                        "not to be merged before {} UTC",
                        until.format("%Y-%m-%d %H:%M")
                    ),
                )?;
                MergeOutcome::Waiting { until }
            }
            Some(_) => {
                gh.set_status(&pr.head_sha, "success", STATUS_CONTEXT, "schedule reached")?;
                if !gh.approved(pr.number)? {
                    MergeOutcome::NotApproved
                } else if gh.get_pr(pr.number)?.mergeable != Some(true) {
                    MergeOutcome::NotMergeable
                } else if let Some(account) = account {
                    due(gh, ws, store, fetch, opts, &pr, account, now)?
                } else {
                    MergeOutcome::Unverified {
                        reason: format!(
                            "{} is not a proposal branch {prefix}/ACCOUNT",
                            pr.head_ref
                        ),
                    }
                }
            }
        };
        out.push((s, outcome));
    }
    Ok(out)
}

/// The account of a proposal branch `<prefix>/<account>`.
fn proposal_account<'b>(prefix: &str, branch: &'b str) -> Option<&'b str> {
    branch
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('/'))
        .filter(|a| crate::store::names::validate_account_id(a).is_ok())
}

/// A due, approved, mergeable pull request: re-check, then merge, update or leave it.
#[allow(clippy::too_many_arguments)]
fn due(
    gh: &GitHub,
    ws: &Workspace,
    store: &PolicyStore,
    fetch: &mut FetchInputs<'_>,
    opts: &MergeOptions,
    pr: &PullRequest,
    account: &str,
    now: DateTime<Utc>,
) -> Result<MergeOutcome, PublishError> {
    let check = recheck(
        ws,
        store,
        &RecheckRequest {
            account,
            head: &pr.head_sha,
            base: &ws.settings.github.base_branch,
            grace_days: opts.grace_days,
            now,
        },
        fetch,
    )?;
    let announced: usize = check.announced.values().map(Vec::len).sum();
    tracing::info!(pr = pr.number, account, announced, verdict = ?check.verdict, "re-checked");
    Ok(match check.verdict {
        Verdict::Unverified(reason) => MergeOutcome::Unverified { reason },
        Verdict::Unchanged if !opts.commit => MergeOutcome::WouldMerge,
        Verdict::Unchanged => {
            gh.merge_pr(
                pr.number,
                &pr.head_sha,
                &format!(
                    "Merge scheduled pull request #{} ({})",
                    pr.number, pr.head_ref
                ),
            )?;
            MergeOutcome::Merged
        }
        Verdict::Keep { kept, .. } if !opts.commit => MergeOutcome::WouldUpdate { kept },
        Verdict::Keep {
            kept,
            files,
            remaining,
        } => keep_on_branch(gh, ws, store, pr, account, kept, files, remaining, now)?,
    })
}

/// Commits `files` on the pull request's branch (whose head was re-checked), pushes it (a fast
/// forward: refused if the branch moved meanwhile), says what was kept in a comment, and marks
/// the new head's schedule as reached.
#[allow(clippy::too_many_arguments)]
fn keep_on_branch(
    gh: &GitHub,
    ws: &Workspace,
    store: &PolicyStore,
    pr: &PullRequest,
    account: &str,
    kept: Vec<Kept>,
    files: std::collections::BTreeMap<String, crate::engine::PolicyMap>,
    remaining: usize,
    now: DateTime<Utc>,
) -> Result<MergeOutcome, PublishError> {
    let branch = &pr.head_ref;
    let unverified = |reason: String| Ok(MergeOutcome::Unverified { reason });
    if store.head_branch().map_err(OpsError::from)?.as_deref() == Some(branch.as_str()) {
        return unverified(format!(
            "{branch} is checked out here; run from another branch to update it"
        ));
    }
    let head = git2::Oid::from_str(&pr.head_sha).map_err(|e| PublishError::Git(e.to_string()))?;
    store
        .repo()
        .reference(
            &format!("refs/heads/{branch}"),
            head,
            true,
            "repokid repo-scheduled-roles: the head re-checked",
        )
        .map_err(|e| PublishError::Git(e.message().to_string()))?;
    let count: usize = kept.iter().map(|k| k.actions.len()).sum();
    let body = kept
        .iter()
        .map(|k| format!("{}: {} ({})", k.role, k.actions.join(", "), k.reason))
        .collect::<Vec<_>>()
        .join("\n");
    let body: String = if body.len() > 8000 {
        let mut cut = 8000;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}\n…", &body[..cut])
    } else {
        body
    };
    let written = store
        .write_account(&WriteAccount {
            roles: files,
            action: Action::Repo,
            subject: format!(
                "repokid: keep {count} announced removals in {account} (re-checked at merge time)"
            ),
            body,
            extra_trailers: vec![
                (trailers::KEPT_AT_MERGE.to_string(), count.to_string()),
                (trailers::REMOVED_ACTIONS.to_string(), remaining.to_string()),
            ],
            ..WriteAccount::new(branch.clone(), account.to_string())
        })
        .map_err(OpsError::from)?;
    let Some(written) = written else {
        return unverified("the re-check asked to keep what the branch already keeps".into());
    };
    let url = ws
        .settings
        .github
        .git_url()
        .ok_or_else(|| PublishError::Git("no [github] repo or git-url to push to".into()))?;
    let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
    match push(store.repo(), &url, &[&spec], &gh.git_token()?) {
        Ok(()) => {}
        Err(PushError::Rejected { .. }) => {
            return unverified(format!("{branch} moved during the re-check; not updated"));
        }
        Err(e) => return Err(e.into()),
    }
    let commit = written.commit.to_string();
    gh.comment(pr.number, &kept_comment(&kept, &commit, remaining, now))?;
    gh.set_status(&commit, "success", STATUS_CONTEXT, "schedule reached")?;
    Ok(MergeOutcome::Updated { commit, kept })
}

/// Rows of the kept table in a comment, at most.
const KEPT_ROWS: usize = 200;

/// The comment that says what the re-check kept, and why.
pub fn kept_comment(kept: &[Kept], commit: &str, remaining: usize, now: DateTime<Utc>) -> String {
    let count: usize = kept.iter().map(|k| k.actions.len()).sum();
    let mut text = format!(
        "**Re-checked at merge time** ({} UTC, `repokid repo-scheduled-roles`): {count} of the \
         announced removals stay, because fresh usage data (or the filters) keep them; \
         {remaining} still go. Commit {commit} on this branch keeps them; nothing else changed. \
         It merges on a later run, once this commit's checks pass and it is approved.\n\n\
         | role | action | why it stays |\n|---|---|---|\n",
        now.format("%Y-%m-%d %H:%M")
    );
    let rows: Vec<String> = kept
        .iter()
        .flat_map(|k| {
            k.actions
                .iter()
                .map(move |a| format!("| {} | `{a}` | {} |\n", k.role, k.reason))
        })
        .collect();
    for row in rows.iter().take(KEPT_ROWS) {
        text.push_str(row);
    }
    if rows.len() > KEPT_ROWS {
        text.push_str(&format!(
            "\n_… and {} more; the commit message lists them all._\n",
            rows.len() - KEPT_ROWS
        ));
    }
    text
}

/// Cancels the scheduled pull request of `branch`: a comment, closed, branch deleted. `None`
/// when there is no open pull request from it.
pub fn cancel(gh: &GitHub, branch: &str, why: &str) -> Result<Option<PullRequest>, GitHubError> {
    let Some(pr) = gh.find_pr(branch)?.filter(|p| p.state == "open") else {
        return Ok(None);
    };
    gh.comment(
        pr.number,
        &format!("Cancelled by `repokid cancel-scheduled-repo`: {why}"),
    )?;
    gh.close_pr(pr.number)?;
    gh.delete_branch(branch)?;
    Ok(Some(pr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_note_carries_a_time_that_reads_back() {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let body = format!("{}## Proposal\n", schedule_note(t));
        assert!(body.contains("2026-11-29 12:00 UTC"));
        assert_eq!(not_before(&body), Some(t));
        assert_eq!(not_before("no marker"), None);
        assert_eq!(not_before("<!-- repokid:not-before=garbage -->"), None);
    }
}
