//! The library's front door: the operations the CLI runs (sync, plan, propose), as functions over
//! plain inputs, so they can be called from code and tested without a terminal.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::engine::policy::to_canonical_json;
use crate::engine::usage::UsageByArn;
use crate::engine::{
    ActionSet, Catalog, Decisions, HookFailure, PermissionAges, PlanInput, Role, RolePlan,
    plan_role,
};
use crate::filters::{CommandFilterError, Filter, FilterConfig, FilterConfigError};
use crate::hooks::lifecycle::{run_all, run_until_failure};
use crate::hooks::{
    BatchDecisionHook, DecisionHook, HookError, LifecycleEvent, LifecycleEventKind, LifecycleHook,
    apply_hooks, apply_verdicts, context,
};
use crate::report::{PLAN_SCHEMA_VERSION, PlanReport, RoleReport};
use crate::settings::{Settings, SettingsError};
use crate::sources::inventory_file::Inventory;
use crate::store::git::{PolicyStore, WriteAccount, WriteMode, Written};
use crate::store::{Action, StoreError, history, trailers};

pub mod recheck;

/// Why an operation failed; each variant names the file, account or role concerned.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// `repokid.toml` is unusable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// `filters.toml` (or its blocklist file) is unusable.
    #[error("{path}: {source}")]
    Filters {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: FilterConfigError,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The policy store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A command filter failed (the error names it).
    #[error(transparent)]
    FilterCommand(#[from] CommandFilterError),
}

/// Settings, filters, hooks and catalog, loaded once per run.
pub struct Workspace {
    /// `repokid.toml`.
    pub settings: Settings,
    /// `filters.toml`.
    pub filters: FilterConfig,
    /// Contents of the blocklist file `filters.toml` names, if any.
    pub blocklist: Option<String>,
    /// The IAM action catalog.
    pub catalog: &'static Catalog,
    /// Hooks in the removable-permission calculation: the `[[hooks]]` commands of the settings,
    /// to which library users may add their own [`DecisionHook`]s.
    pub hooks: Vec<Box<dyn DecisionHook>>,
    /// Batch hooks in the calculation, run once per account after the per-role hooks: the
    /// `[[hooks]]` commands with `batch = true`, to which library users may add their own
    /// [`BatchDecisionHook`]s.
    pub batch_hooks: Vec<Box<dyn BatchDecisionHook>>,
    /// Hooks around [`propose`]: the `[[hooks]]` commands with `events`, to which library users
    /// may add their own [`LifecycleHook`]s.
    pub lifecycle_hooks: Vec<Box<dyn LifecycleHook>>,
    /// Custom filters added by library users, run after the configured ones in every account.
    pub custom_filters: Vec<Arc<dyn Filter>>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace")
            .field("settings", &self.settings)
            .field("filters", &self.filters)
            .field("blocklist", &self.blocklist)
            .field(
                "hooks",
                &self.hooks.iter().map(|h| h.name()).collect::<Vec<_>>(),
            )
            .field(
                "batch_hooks",
                &self
                    .batch_hooks
                    .iter()
                    .map(|h| h.name())
                    .collect::<Vec<_>>(),
            )
            .field(
                "lifecycle_hooks",
                &self
                    .lifecycle_hooks
                    .iter()
                    .map(|h| h.name())
                    .collect::<Vec<_>>(),
            )
            .field("custom_filters", &self.custom_filters)
            .finish_non_exhaustive()
    }
}

impl Workspace {
    /// Loads settings from `settings_path` (defaults when it is absent and `must_exist` is false)
    /// and the filters file it names (the built-in defaults when that file is absent).
    pub fn load(
        settings_path: &Path,
        must_exist: bool,
        catalog: &'static Catalog,
    ) -> Result<Workspace, OpsError> {
        let settings = Settings::load(settings_path, must_exist)?;
        let filters_path = settings.resolve(&settings.filters);
        let shown = filters_path.display().to_string();
        let text = match std::fs::read_to_string(&filters_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                crate::filters::DEFAULT_FILTERS_TOML.to_string()
            }
            Err(source) => {
                return Err(OpsError::Io {
                    path: shown,
                    source,
                });
            }
        };
        let filters = FilterConfig::parse(&text).map_err(|source| OpsError::Filters {
            path: shown.clone(),
            source,
        })?;
        let blocklist = match filters.blocklist_file() {
            Some(p) => {
                let base = filters_path.parent().unwrap_or(Path::new("."));
                let p = base.join(p);
                Some(std::fs::read_to_string(&p).map_err(|source| OpsError::Io {
                    path: p.display().to_string(),
                    source,
                })?)
            }
            None => None,
        };
        let hooks = settings
            .command_hooks()
            .into_iter()
            .map(|h| Box::new(h) as Box<dyn DecisionHook>)
            .collect();
        let batch_hooks = settings
            .batch_hooks()
            .into_iter()
            .map(|h| Box::new(h) as Box<dyn BatchDecisionHook>)
            .collect();
        let lifecycle_hooks = settings
            .lifecycle_hooks()
            .into_iter()
            .map(|h| Box::new(h) as Box<dyn LifecycleHook>)
            .collect();
        Ok(Workspace {
            settings,
            filters,
            blocklist,
            catalog,
            hooks,
            batch_hooks,
            lifecycle_hooks,
            custom_filters: Vec::new(),
        })
    }
}

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Only these accounts (all in the inventory when empty).
    pub accounts: Vec<String>,
    /// Only these roles (all when empty).
    pub roles: Vec<String>,
    /// Override the grace period (days); shown in the report.
    pub grace_days: Option<i64>,
    /// The store revision whose policy files are the recorded state (`HEAD`).
    pub rev: Option<String>,
    /// A schedule's announced removals, account → role name → actions: when set, only these
    /// may be removed (anything else removable is kept as [`crate::engine::Reason::NotAnnounced`];
    /// a role absent from the map may lose nothing). `None`: no announcement, plan freely.
    pub announced: Option<Announced>,
}

/// Announced removals: account → role name → the actions that may be removed.
pub type Announced = BTreeMap<String, BTreeMap<String, ActionSet>>;

/// The announced set of `role` in `account`: `None` without an announcement, else its set (the
/// empty `none` when the role was not announced).
fn announced_for<'a>(
    announced: Option<&'a Announced>,
    account: &str,
    role: &str,
    none: &'a ActionSet,
) -> Option<&'a ActionSet> {
    announced.map(|a| a.get(account).and_then(|m| m.get(role)).unwrap_or(none))
}

/// A planned role: the role as planned (policies from the store where recorded) and its plan.
#[derive(Debug, Clone)]
pub struct PlannedRole {
    /// The role.
    pub role: Role,
    /// Its plan.
    pub plan: RolePlan,
}

/// Plans every selected role of the inventory. Policies come from the store at `rev` where the
/// role is recorded there (the reviewed state), else from the inventory; permission ages come
/// from the store's history (unknown without it, which keeps everything: fail closed).
pub fn plan(
    ws: &Workspace,
    store: Option<&PolicyStore>,
    inventory: &Inventory,
    usage: &UsageByArn,
    opts: &PlanOptions,
    now: DateTime<Utc>,
) -> Result<(PlanReport, Vec<PlannedRole>), OpsError> {
    plan_with_progress(ws, store, inventory, usage, opts, now, &mut || {})
}

/// [`plan`], calling `tick` after each role (for a progress bar).
pub fn plan_with_progress(
    ws: &Workspace,
    store: Option<&PolicyStore>,
    inventory: &Inventory,
    usage: &UsageByArn,
    opts: &PlanOptions,
    now: DateTime<Utc>,
    tick: &mut dyn FnMut(),
) -> Result<(PlanReport, Vec<PlannedRole>), OpsError> {
    let mut settings = ws.settings.engine.clone();
    if let Some(days) = opts.grace_days {
        settings.grace_days = days;
    }
    let rev = opts.rev.as_deref().unwrap_or("HEAD");
    let hooks: Vec<&dyn DecisionHook> = ws.hooks.iter().map(|h| h.as_ref()).collect();
    let mut batch_hooks: Vec<&dyn BatchDecisionHook> =
        ws.batch_hooks.iter().map(|h| h.as_ref()).collect();
    batch_hooks.sort_by_key(|h| h.priority());
    let mut reports = Vec::new();
    let mut planned = Vec::new();
    let none = ws.catalog.empty_set();
    for (account, roles) in &inventory.roles {
        if !opts.accounts.is_empty() && !opts.accounts.contains(account) {
            continue;
        }
        let mut filters = ws
            .filters
            .build(account, ws.blocklist.as_deref())
            .map_err(|source| OpsError::Filters {
                path: ws.settings.filters.display().to_string(),
                source,
            })?;
        for f in &ws.custom_filters {
            filters = filters.with_custom(Box::new(f.clone()));
        }
        let recorded = match store {
            Some(s) => s.read_account(rev, account)?,
            None => BTreeMap::new(),
        };
        // One history walk answers every role's permission ages.
        let mut ages_by_role = match store {
            Some(s) if !recorded.is_empty() => {
                history::account_permission_ages(s.repo(), rev, account, ws.catalog)?
            }
            _ => BTreeMap::new(),
        };
        let selected: Vec<Role> = roles
            .iter()
            .filter(|live| opts.roles.is_empty() || opts.roles.contains(&live.name))
            .map(|live| {
                let mut role = live.clone();
                if let Some(p) = recorded.get(&role.name) {
                    role.policies = p.clone();
                }
                role
            })
            .collect();
        // Command filters run once per account, over every selected role.
        let all_hits = filters.apply_all(&selected, now)?;
        let mut rows = Vec::with_capacity(selected.len());
        for (role, hits) in selected.into_iter().zip(all_hits) {
            let ages = ages_by_role
                .remove(&role.name)
                .unwrap_or(PermissionAges::Unknown);
            // With batch hooks, remember the engine's decisions and the per-role hooks' result.
            let recorded = std::cell::RefCell::new(None);
            let plan = {
                let run_hooks = |decisions: &mut Decisions| {
                    let engine = (!batch_hooks.is_empty()).then(|| decisions.clone());
                    apply_hooks(
                        decisions,
                        &hooks,
                        &role,
                        settings.usage_window_days,
                        ws.catalog,
                    )
                    .map_err(HookFailure::from)?;
                    if let Some(engine) = engine {
                        *recorded.borrow_mut() = Some((engine, decisions.clone()));
                    }
                    Ok(())
                };
                plan_role(
                    &PlanInput {
                        role: &role,
                        usage: usage.get(&role.arn),
                        ages: &ages,
                        filter_hits: &hits,
                        announced: announced_for(
                            opts.announced.as_ref(),
                            account,
                            &role.name,
                            &none,
                        ),
                        on_decisions: if hooks.is_empty() && batch_hooks.is_empty() {
                            None
                        } else {
                            Some(&run_hooks)
                        },
                    },
                    &settings,
                    ws.catalog,
                    now,
                )
            };
            tick();
            rows.push(AccountRow {
                role,
                ages,
                hits,
                plan,
                decided: recorded.into_inner(),
            });
        }
        if !batch_hooks.is_empty() {
            let announced =
                |role: &str| announced_for(opts.announced.as_ref(), account, role, &none);
            run_batch_hooks(
                &batch_hooks,
                &mut rows,
                usage,
                &announced,
                &settings,
                ws.catalog,
                now,
            );
        }
        for AccountRow { role, plan, .. } in rows {
            reports.push(RoleReport::new(&role, &plan, ws.catalog));
            tracing::debug!(account = %account, role = %role.name, eligible = plan.eligible(), "planned");
            planned.push(PlannedRole { role, plan });
        }
    }
    Ok((
        PlanReport {
            version: PLAN_SCHEMA_VERSION,
            generated_at: now,
            settings,
            grace_days_overridden: opts.grace_days.is_some(),
            roles: reports,
        },
        planned,
    ))
}

/// One role of an account being planned.
struct AccountRow {
    role: Role,
    ages: PermissionAges,
    hits: Vec<crate::filters::FilterHit>,
    plan: RolePlan,
    /// With batch hooks, when the role reached the decisions and its per-role hooks succeeded:
    /// the engine's decisions and those the per-role hooks left.
    decided: Option<(Decisions, Decisions)>,
}

/// Runs `batch_hooks` (sorted by priority) once over the account's decided roles, then re-plans
/// the roles whose decisions they changed (or all of them, as [`crate::engine::Ineligible::HookFailed`],
/// when one fails).
fn run_batch_hooks<'a>(
    batch_hooks: &[&dyn BatchDecisionHook],
    rows: &mut [AccountRow],
    usage: &UsageByArn,
    announced: &dyn Fn(&str) -> Option<&'a ActionSet>,
    settings: &crate::engine::settings::EngineSettings,
    catalog: &Catalog,
    now: DateTime<Utc>,
) {
    let decided: Vec<usize> = (0..rows.len())
        .filter(|&i| rows[i].decided.is_some())
        .collect();
    if decided.is_empty() {
        return;
    }
    let mut current: Vec<Decisions> = decided
        .iter()
        .filter_map(|&i| rows[i].decided.as_ref().map(|(_, d)| d.clone()))
        .collect();
    let mut changed = vec![false; decided.len()];
    let mut failure = None;
    for hook in batch_hooks {
        let contexts: Vec<_> = decided
            .iter()
            .zip(&current)
            .map(|(&i, d)| context(d, &rows[i].role, settings.usage_window_days, catalog))
            .collect();
        let verdicts = match hook.decide_batch(&contexts) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(hook = %e.hook, error = %e.message, "batch hook failed; its roles are not rightsized");
                failure = Some(HookFailure::from(e));
                break;
            }
        };
        for v in &verdicts {
            if !decided.iter().any(|&i| rows[i].role.name == v.role) {
                tracing::warn!(hook = hook.name(), role = %v.role, "batch hook verdict on a role not in the batch ignored");
            }
        }
        for (k, &i) in decided.iter().enumerate() {
            let row = &rows[i];
            let Some((engine, _)) = row.decided.as_ref() else {
                continue;
            };
            let mine = verdicts
                .iter()
                .filter(|v| v.role == row.role.name)
                .map(|v| (v.action.clone(), v.verdict, v.reason.clone()));
            changed[k] |= apply_verdicts(
                &mut current[k],
                engine,
                hook.name(),
                mine,
                &row.role,
                catalog,
            );
        }
    }
    for (k, &i) in decided.iter().enumerate() {
        if failure.is_none() && !changed[k] {
            continue;
        }
        let row = &rows[i];
        let result = match &failure {
            Some(f) => Err(f.clone()),
            None => Ok(&current[k]),
        };
        let apply = |decisions: &mut Decisions| {
            *decisions = result.clone()?.clone();
            Ok(())
        };
        let plan = plan_role(
            &PlanInput {
                role: &row.role,
                usage: usage.get(&row.role.arn),
                ages: &row.ages,
                filter_hits: &row.hits,
                announced: announced(&row.role.name),
                on_decisions: Some(&apply),
            },
            settings,
            catalog,
            now,
        );
        rows[i].plan = plan;
    }
}

/// What `sync` did for one account.
#[derive(Debug, Clone)]
pub struct SyncOutcome {
    /// The account.
    pub account: String,
    /// The commit, when something changed.
    pub written: Option<Written>,
}

/// Records the inventory's live policies in the store: one commit per account on the checked-out
/// branch, roles missing from the inventory losing their files. An unchanged account makes no commit.
pub fn sync(
    store: &PolicyStore,
    inventory: &Inventory,
    accounts: &[String],
) -> Result<Vec<SyncOutcome>, OpsError> {
    sync_at(store, inventory, accounts, None)
}

/// [`sync`], with the commits dated `time` (`None`: now).
pub fn sync_at(
    store: &PolicyStore,
    inventory: &Inventory,
    accounts: &[String],
    time: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<SyncOutcome>, OpsError> {
    let mut out = Vec::new();
    for (account, roles) in &inventory.roles {
        if !accounts.is_empty() && !accounts.contains(account) {
            continue;
        }
        let map: BTreeMap<String, crate::engine::PolicyMap> = roles
            .iter()
            .map(|r| (r.name.clone(), r.policies.clone()))
            .collect();
        let branch = store.current_branch()?;
        let written = store.write_account(&WriteAccount {
            roles: map,
            mode: WriteMode::ReplaceAll,
            time,
            ..WriteAccount::new(branch, account.clone())
        })?;
        tracing::info!(account = %account, roles = roles.len(), committed = written.is_some(), "synced");
        out.push(SyncOutcome {
            account: account.clone(),
            written,
        });
    }
    Ok(out)
}

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
