//! The plan flow: every selected role of an inventory planned against its recorded state, its
//! permission ages from history, its usage, the filters and the hooks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::inputs::{Inputs, open_store};
use super::{OpsError, Workspace};
use crate::engine::usage::UsageByArn;
use crate::engine::{
    ActionSet, Catalog, Decisions, HookFailure, PermissionAges, PlanInput, Role, RolePlan,
    plan_role,
};
use crate::hooks::{BatchDecisionHook, DecisionHook, apply_hooks, apply_verdicts, context};
use crate::report::{PLAN_SCHEMA_VERSION, PlanReport, RoleReport};
use crate::sources::inventory_file::Inventory;
use crate::store::git::PolicyStore;
use crate::store::history;

/// A plan run, as the CLI's `plan`, `propose` and `display-role` ask for it.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// Where roles and usage come from, and which accounts.
    pub inputs: Inputs,
    /// Only these roles (all when empty).
    pub roles: Vec<String>,
    /// Override the grace period (days).
    pub grace_days: Option<i64>,
    /// The store revision whose policy files are the recorded state.
    pub rev: String,
    /// Plan from the inventory alone, without a policy repository.
    pub no_repo: bool,
    /// The policy repository (`None`: `repo` in the settings).
    pub repo: Option<PathBuf>,
    /// The time to plan at.
    pub now: DateTime<Utc>,
}

/// What a [`run`] produced: the store it read (to write proposals in), the report and the
/// planned roles, in the report's order.
#[derive(Debug)]
pub struct PlanRun {
    /// The policy store, unless the request said `no_repo`.
    pub store: Option<PolicyStore>,
    /// The report.
    pub report: PlanReport,
    /// The planned roles.
    pub planned: Vec<PlannedRole>,
}

/// Progress of a long run (a progress bar on a terminal).
pub trait Progress {
    /// The run will go through `total` roles.
    fn start(&mut self, total: usize);
    /// One more role is done.
    fn tick(&mut self);
}

/// No progress shown.
impl Progress for () {
    fn start(&mut self, _total: usize) {}
    fn tick(&mut self) {}
}

/// Reads the request's inventory and usage (usage only for the selected roles), opens the store
/// and plans ([`plan`]).
pub fn run(
    ws: &Workspace,
    req: &PlanRequest,
    progress: &mut dyn Progress,
) -> Result<PlanRun, OpsError> {
    let aws = req.inputs.lazy_aws(ws);
    let mut inventory = req.inputs.inventory(ws, &aws)?;
    if !req.roles.is_empty() {
        // Only the named roles need usage data (one Access Advisor job each).
        for roles in inventory.roles.values_mut() {
            roles.retain(|r| req.roles.contains(&r.name));
        }
    }
    let usage = req.inputs.usage(ws, &inventory, req.now, &aws)?.by_arn;
    if let Some(aws) = aws.made() {
        tracing::info!(calls = ?aws.calls.snapshot(), "AWS calls");
    }
    let store = if req.no_repo {
        None
    } else {
        Some(open_store(req.repo.as_deref(), ws)?)
    };
    let opts = PlanOptions {
        accounts: req.inputs.accounts(ws)?,
        roles: req.roles.clone(),
        grace_days: req.grace_days,
        rev: Some(req.rev.clone()),
        announced: None,
    };
    progress.start(inventory.len());
    let (report, planned) = plan_with_progress(
        ws,
        store.as_ref(),
        &inventory,
        &usage,
        &opts,
        req.now,
        &mut || progress.tick(),
    )?;
    Ok(PlanRun {
        store,
        report,
        planned,
    })
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
