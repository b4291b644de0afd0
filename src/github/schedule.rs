//! Scheduling (Repokid's `schedule_repo`) as pull requests: a scheduled proposal is an open pull
//! request labelled [`SCHEDULED_LABEL`] whose body carries a not-before time, and whose head
//! commit has the status [`STATUS_CONTEXT`] — `pending` until that time (require it in branch
//! protection and the PR cannot be merged early), `success` after.
//!
//! * `repokid schedule` opens the PR; re-run before the date it leaves an announced PR alone, so
//!   nothing is ever added to what was announced.
//! * `repokid repo-scheduled-roles` merges the PRs whose time has come, if approved and mergeable.
//! * `repokid cancel-scheduled-repo` closes a PR and deletes its branch.
//! * `repokid show-scheduled-roles` lists them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::client::{GitHub, GitHubError, PullRequest};
use super::publish::{PublishError, publish};
use super::review::PrOutcome;
use crate::hooks::lifecycle::run_all;
use crate::hooks::{HookError, LifecycleEvent};
use crate::ops::{PlannedRole, Workspace};
use crate::report::PlanReport;
use crate::store::git::PolicyStore;

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
/// left as they are; the others are proposed ([`crate::ops::propose`]) with the schedule note
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
    /// Due, approved, mergeable; dry run.
    WouldMerge,
    /// Merged.
    Merged,
}

/// Walks the scheduled pull requests: keeps the status pending for those not due, marks due
/// ones `success`, and (when `commit`) merges the due, approved, mergeable ones at their
/// current head.
pub fn repo_scheduled(
    gh: &GitHub,
    prefix: &str,
    now: DateTime<Utc>,
    commit: bool,
) -> Result<Vec<(ScheduledPr, MergeOutcome)>, GitHubError> {
    let mut out = Vec::new();
    for (pr, s) in scheduled(gh, prefix)? {
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
                } else if !commit {
                    MergeOutcome::WouldMerge
                } else {
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
            }
        };
        out.push((s, outcome));
    }
    Ok(out)
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
