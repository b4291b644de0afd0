//! The propose flow: each account's rightsized policies committed on a proposal branch, with
//! the pull request's text and the lifecycle hooks around it.

use std::collections::BTreeMap;

use super::plan::{PlanRequest, PlanRun, Progress};
use super::{OpsError, PlannedRole, Workspace};
use crate::engine::policy::to_canonical_json;
use crate::hooks::lifecycle::{run_all, run_until_failure};
use crate::hooks::{HookError, LifecycleEvent, LifecycleEventKind};
use crate::report::{PlanReport, RoleReport};
use crate::store::git::{PolicyStore, WriteAccount, Written};
use crate::store::{Action, trailers};

/// A proposal written for one account.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The account.
    pub account: String,
    /// The branch it is on.
    pub branch: String,
    /// The commit, when anything was proposed.
    pub written: Option<Written>,
    /// Pull request title.
    pub title: String,
    /// Pull request body (Markdown), within GitHub's limit (see [`crate::review`]).
    pub body: String,
    /// When the body could not hold the whole review: the repository path of the full report
    /// (`.repokid/reports/<account>.md`), committed on the branch with the proposal.
    pub report_file: Option<String>,
    /// Lifecycle hook failures in this account. A `before-account` failure means nothing was
    /// written ([`Proposal::blocked`]); after-hook failures leave the commit in place.
    pub hook_errors: Vec<LifecycleHookFailure>,
}

impl Proposal {
    /// Whether a `before-account` hook stopped this account's proposal.
    pub fn blocked(&self) -> bool {
        self.hook_errors
            .iter()
            .any(|e| e.event == LifecycleEventKind::BeforeAccount)
    }
}

/// A lifecycle hook that failed during [`propose`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleHookFailure {
    /// The event it failed on.
    pub event: LifecycleEventKind,
    /// The account.
    pub account: String,
    /// The role, for `after-role`.
    pub role: Option<String>,
    /// The hook and what happened.
    pub error: HookError,
}

impl std::fmt::Display for LifecycleHookFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} hook {} failed for account {}",
            self.event, self.error.hook, self.account
        )?;
        if let Some(role) = &self.role {
            write!(f, ", role {role}")?;
        }
        write!(f, ": {}", self.error.message)
    }
}

/// Writes the rightsized policies of every eligible role on a branch per account
/// (`<branch-prefix>/<account>`, started from `base`), one commit each, and drafts the pull
/// request text.
///
/// For an account with eligible roles, the workspace's lifecycle hooks see `before-account`
/// first (a failure there writes nothing for the account, recorded in
/// [`Proposal::hook_errors`]; the other accounts go on), then, after the commit, `after-role` for
/// each proposed role and `after-account` (failures recorded; the commit stands). Accounts with
/// nothing to propose fire no events.
pub fn propose(
    ws: &Workspace,
    store: &PolicyStore,
    report: &PlanReport,
    planned: &[PlannedRole],
    base: &str,
) -> Result<Vec<Proposal>, OpsError> {
    let mut by_account: BTreeMap<&str, Vec<(&PlannedRole, &RoleReport)>> = BTreeMap::new();
    for (p, r) in planned.iter().zip(&report.roles) {
        by_account.entry(&p.role.account).or_default().push((p, r));
    }
    let mut out = Vec::new();
    for (account, roles) in by_account {
        let eligible: Vec<_> = roles.iter().filter(|(p, _)| p.plan.eligible()).collect();
        let branch = format!("{}/{account}", ws.settings.propose.branch_prefix);
        let removed: usize = eligible.iter().map(|(_, r)| r.removed.len()).sum();
        let title = format!(
            "repokid: remove {removed} unused permissions from {} roles in {account}",
            eligible.len()
        );
        let diffs: Vec<crate::review::RoleDiff> = eligible
            .iter()
            .filter_map(|(p, _)| {
                p.plan.proposed().map(|m| crate::review::RoleDiff {
                    role: p.role.name.clone(),
                    before: to_canonical_json(&p.role.policies),
                    after: to_canonical_json(m),
                })
            })
            .collect();
        let report_path = crate::review::report_path(account);
        let report_link = ws.settings.github.blob_url(&branch, &report_path);
        let text = crate::review::pr_text(
            account,
            report,
            &roles.iter().map(|(_, r)| *r).collect::<Vec<_>>(),
            &diffs,
            report_link.as_deref(),
        );
        let body = text.body;
        if eligible.is_empty() {
            out.push(Proposal {
                account: account.to_string(),
                branch,
                written: None,
                title,
                body,
                report_file: None,
                hook_errors: Vec::new(),
            });
            continue;
        }
        let role_names: Vec<String> = eligible.iter().map(|(p, _)| p.role.name.clone()).collect();
        let before = LifecycleEvent::BeforeAccount {
            account: account.to_string(),
            roles: role_names.clone(),
        };
        if let Err(error) = run_until_failure(&ws.lifecycle_hooks, &before) {
            tracing::warn!(account = %account, hook = %error.hook, "before-account hook failed; nothing proposed");
            out.push(Proposal {
                account: account.to_string(),
                branch,
                written: None,
                title,
                body,
                report_file: None,
                hook_errors: vec![LifecycleHookFailure {
                    event: LifecycleEventKind::BeforeAccount,
                    account: account.to_string(),
                    role: None,
                    error,
                }],
            });
            continue;
        }
        let map: BTreeMap<String, crate::engine::PolicyMap> = eligible
            .iter()
            .filter_map(|(p, _)| p.plan.proposed().map(|m| (p.role.name.clone(), m.clone())))
            .collect();
        let commit_body: String = eligible
            .iter()
            .map(|(_, r)| format!("{}: remove {} actions", r.role, r.removed.len()))
            .collect::<Vec<_>>()
            .join("\n");
        let report_file = text.full_report.is_some().then(|| report_path.clone());
        let written = store.write_account(&WriteAccount {
            base: Some(base.to_string()),
            roles: map,
            action: Action::Repo,
            subject: title.clone(),
            body: commit_body,
            extra_trailers: vec![(trailers::REMOVED_ACTIONS.to_string(), removed.to_string())],
            extra_files: text
                .full_report
                .map(|full| vec![(report_path.clone(), full)])
                .unwrap_or_default(),
            ..WriteAccount::new(branch.clone(), account.to_string())
        })?;
        let mut hook_errors = Vec::new();
        for (p, r) in &eligible {
            let event = LifecycleEvent::AfterRole {
                account: account.to_string(),
                role: p.role.name.clone(),
                removed: r.removed.iter().map(|x| x.action.clone()).collect(),
                errors: Vec::new(),
            };
            hook_errors.extend(
                run_all(&ws.lifecycle_hooks, &event)
                    .into_iter()
                    .map(|error| LifecycleHookFailure {
                        event: LifecycleEventKind::AfterRole,
                        account: account.to_string(),
                        role: Some(p.role.name.clone()),
                        error,
                    }),
            );
        }
        let after = LifecycleEvent::AfterAccount {
            account: account.to_string(),
            roles: role_names,
            commit: written.as_ref().map(|w| w.commit.to_string()),
            branch: branch.clone(),
            errors: hook_errors.iter().map(|e| e.error.to_string()).collect(),
        };
        hook_errors.extend(
            run_all(&ws.lifecycle_hooks, &after)
                .into_iter()
                .map(|error| LifecycleHookFailure {
                    event: LifecycleEventKind::AfterAccount,
                    account: account.to_string(),
                    role: None,
                    error,
                }),
        );
        for e in &hook_errors {
            tracing::warn!("{e}");
        }
        out.push(Proposal {
            account: account.to_string(),
            branch,
            written,
            title,
            body,
            report_file,
            hook_errors,
        });
    }
    Ok(out)
}

/// What [`run`] produced: the plan it proposed from, and the proposals.
#[derive(Debug)]
pub struct ProposeRun {
    /// The plan (its store is the one the proposals were written in).
    pub plan: PlanRun,
    /// One proposal per account planned.
    pub proposals: Vec<Proposal>,
}

/// Plans ([`super::plan::run`], which must use a policy repository) and proposes from `base`
/// ([`propose`]). Publishing the branches as pull requests is GitHub's part
/// ([`crate::github::publish`]).
pub fn run(
    ws: &Workspace,
    req: &PlanRequest,
    base: &str,
    progress: &mut dyn Progress,
) -> Result<ProposeRun, OpsError> {
    if req.no_repo {
        return Err(OpsError::NeedsRepository);
    }
    let plan = super::plan::run(ws, req, progress)?;
    let store = plan.store.as_ref().ok_or(OpsError::NeedsRepository)?;
    let proposals = propose(ws, store, &plan.report, &plan.planned, base)?;
    Ok(ProposeRun { plan, proposals })
}
