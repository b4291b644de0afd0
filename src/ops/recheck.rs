//! The merge-time re-check of a scheduled proposal: only what was announced is removed, and
//! nothing used during the notice period.
//!
//! A scheduled pull request announces its removals when it is opened; until it is merged, a role
//! may use some of them again. So at merge time the proposal is planned again, with fresh usage,
//! from the state it was proposed from, and limited to what it announced:
//!
//! * **The announced set comes from git**, never from the pull request's text: per role, what
//!   the branch's head no longer grants that the *recorded state* granted. The recorded state is
//!   the commit the branch's first proposal commit (`Repokid-Action: repo`) was written on, so a
//!   sync commit the branch carries is part of it.
//! * The re-plan ([`crate::ops::plan()`] with [`PlanOptions::announced`]) may remove only from that
//!   set; whatever it keeps (used since the announcement, an opt-out made meanwhile, a hook's
//!   verdict) is reported with its reason.
//! * The verdict is [`Verdict::Unchanged`] (merge the head as it is), [`Verdict::Keep`] (the
//!   files that make the branch keep those actions, to be committed on it), or
//!   [`Verdict::Unverified`] when no re-check can be made: fresh usage missing or stale, a branch
//!   that is not a removal-only proposal for its account, a head that is not in the repository.
//!   An unverified proposal is never merged.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use git2::{ObjectType, Oid, Sort};
use serde::Serialize;

use super::{Announced, OpsError, PlanOptions, Workspace};
use crate::engine::grants::analyze;
use crate::engine::usage::UsageByArn;
use crate::engine::{ActionSet, Catalog, Ineligible, PolicyMap, RolePlan};
use crate::sources::inventory_file::Inventory;
use crate::store::git::{PolicyStore, commit_action};
use crate::store::{Action, POLICIES_DIR, StoreError};

/// Why the live roles or their usage could not be read for a re-check.
pub type InputsError = Box<dyn std::error::Error + Send + Sync>;

/// Reads the live roles of an account (only the named ones are needed) and their fresh usage,
/// from the same sources `propose` uses.
pub type FetchInputs<'a> =
    dyn FnMut(&str, &[String]) -> Result<(Inventory, UsageByArn), InputsError> + 'a;

/// What to re-check.
#[derive(Debug, Clone)]
pub struct RecheckRequest<'a> {
    /// The account of the proposal.
    pub account: &'a str,
    /// The commit to check: the pull request's head.
    pub head: &'a str,
    /// The branch the pull request targets (`main`): its remote-tracking ref
    /// (`refs/remotes/origin/<base>`) when there is one, else the local branch, else `HEAD`.
    pub base: &'a str,
    /// Override the grace period (days), as the schedule did.
    pub grace_days: Option<i64>,
    /// The time of the re-check.
    pub now: DateTime<Utc>,
}

/// Announced removals the re-check keeps: one role's actions sharing a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// The role.
    pub role: String,
    /// Why they stay (`used 2026-11-25`, `filtered (opt-out: …)`).
    pub reason: String,
    /// The actions, in catalog order.
    pub actions: Vec<String>,
}

/// The outcome of a re-check.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every announced removal still stands: the head may be merged as it is.
    Unchanged,
    /// Some announced removals must not happen.
    Keep {
        /// What stays, and why.
        kept: Vec<Kept>,
        /// Role → the policies its file must hold instead (the recorded policies less what the
        /// re-plan still removes), for the roles that keep something.
        files: BTreeMap<String, PolicyMap>,
        /// How many announced removals still stand.
        remaining: usize,
    },
    /// No re-check could be made (the reason says why); the proposal must not be merged.
    Unverified(String),
}

/// A re-check: the state the proposal was made from, what it announced, and the verdict.
#[derive(Debug, Clone)]
pub struct Recheck {
    /// The recorded state (the parent of the branch's first proposal commit), when found.
    pub recorded: Option<Oid>,
    /// The announced removals, role by role (action names), from git.
    pub announced: BTreeMap<String, Vec<String>>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Recheck {
    fn unverified(recorded: Option<Oid>, why: impl Into<String>) -> Recheck {
        Recheck {
            recorded,
            announced: BTreeMap::new(),
            verdict: Verdict::Unverified(why.into()),
        }
    }
}

/// Re-checks the proposal at `req.head` for `req.account` (see the [module docs](self)).
/// `fetch` is called at most once, with the roles whose announced removal is not empty.
///
/// Errors are failures to read the repository; everything about the proposal itself (not a
/// proposal, a head that adds access, no fresh usage) is a [`Verdict::Unverified`].
pub fn recheck(
    ws: &Workspace,
    store: &PolicyStore,
    req: &RecheckRequest<'_>,
    fetch: &mut FetchInputs<'_>,
) -> Result<Recheck, OpsError> {
    let repo = store.repo();
    let account = req.account;
    let Some(head) = Oid::from_str(req.head)
        .ok()
        .filter(|id| repo.find_commit(*id).is_ok())
    else {
        return Ok(Recheck::unverified(
            None,
            format!(
                "commit {} is not in the local repository (fetch the proposal branches first)",
                req.head
            ),
        ));
    };
    let base = resolve_base(store, req.base)?;
    let Some(recorded) = recorded_state(store, head, base, account)? else {
        return Ok(Recheck::unverified(
            None,
            format!(
                "the branch has no repokid proposal commit for {account} since {}",
                req.base
            ),
        ));
    };
    let (rec, hd) = (recorded.to_string(), head.to_string());
    if let Some(other) = other_account_changed(store, recorded, head, account)? {
        return Ok(Recheck::unverified(
            Some(recorded),
            format!("the branch changes {POLICIES_DIR}/{other}/, which is not its account"),
        ));
    }
    let catalog = ws.catalog;
    let (sets, recorded_files) = match removals(store, catalog, &rec, &hd, account)? {
        Ok(x) => x,
        Err(why) => return Ok(Recheck::unverified(Some(recorded), why)),
    };
    let announced: BTreeMap<String, Vec<String>> = sets
        .iter()
        .map(|(role, set)| {
            let names = set.iter().map(|id| catalog.name(id).to_string()).collect();
            (role.clone(), names)
        })
        .collect();
    let done = |verdict| {
        Ok(Recheck {
            recorded: Some(recorded),
            announced: announced.clone(),
            verdict,
        })
    };
    if sets.is_empty() {
        return done(Verdict::Unchanged);
    }
    let roles: Vec<String> = sets.keys().cloned().collect();
    let (inventory, usage) = match fetch(account, &roles) {
        Ok(x) => x,
        Err(e) => return done(Verdict::Unverified(format!("no fresh usage data: {e}"))),
    };
    let opts = PlanOptions {
        accounts: vec![account.to_string()],
        roles: roles.clone(),
        grace_days: req.grace_days,
        rev: Some(rec.clone()),
        announced: Some(Announced::from([(account.to_string(), sets.clone())])),
    };
    let (_, planned) = super::plan(ws, Some(store), &inventory, &usage, &opts, req.now)?;
    let mut kept = Vec::new();
    let mut files = BTreeMap::new();
    let mut remaining = 0;
    for (role, announced) in &sets {
        let Some(p) = planned
            .iter()
            .find(|p| p.role.account == account && &p.role.name == role)
        else {
            return done(Verdict::Unverified(format!(
                "{role} is not in the live inventory of {account}"
            )));
        };
        let filtered = p.plan.ineligible.iter().find_map(|i| match i {
            Ineligible::Filtered { .. } => Some(i.summary()),
            _ => None,
        });
        if let Some(i) = p
            .plan
            .ineligible
            .iter()
            .find(|i| !matches!(i, Ineligible::Filtered { .. } | Ineligible::NothingToRemove))
        {
            return done(Verdict::Unverified(format!("{role}: {}", i.summary())));
        }
        let removable = if p.plan.eligible() {
            p.plan.decisions.removable()
        } else {
            catalog.empty_set()
        };
        if !removable.is_subset(announced) {
            // The engine limits removals to the announced set; never merge if it did not.
            return done(Verdict::Unverified(format!(
                "the re-plan of {role} removes actions that were not announced"
            )));
        }
        remaining += removable.len();
        let mut keep = announced.clone();
        keep.difference_with(&removable);
        if keep.is_empty() {
            continue;
        }
        kept.extend(kept_of(role, &keep, filtered, &p.plan, catalog));
        let file = match p.plan.proposed() {
            Some(m) => m.clone(),
            None => recorded_files.get(role).cloned().unwrap_or_default(),
        };
        files.insert(role.clone(), file);
    }
    if kept.is_empty() {
        return done(Verdict::Unchanged);
    }
    done(Verdict::Keep {
        kept,
        files,
        remaining,
    })
}

/// Role → the actions the branch removes, and role → its recorded file.
type Removals = (BTreeMap<String, ActionSet>, BTreeMap<String, PolicyMap>);

/// Per changed role of `account`, what the branch removes from the recorded state (`rec` → `hd`),
/// with the recorded file; `Err(why)` when the branch is not a removal-only proposal.
fn removals(
    store: &PolicyStore,
    catalog: &Catalog,
    rec: &str,
    hd: &str,
    account: &str,
) -> Result<Result<Removals, String>, OpsError> {
    let mut sets: BTreeMap<String, ActionSet> = BTreeMap::new();
    let mut recorded_files: BTreeMap<String, PolicyMap> = BTreeMap::new();
    for role in store.changed_roles(rec, hd, account)? {
        let (Some(before), Some(after)) = (
            store.read_role(rec, account, &role)?,
            store.read_role(hd, account, &role)?,
        ) else {
            return Ok(Err(format!(
                "the branch adds or deletes the file of {role}: not a removal"
            )));
        };
        let (b, a) = (analyze(&before, catalog), analyze(&after, catalog));
        let new_unknown = a.unknown.keys().any(|k| !b.unknown.contains_key(k));
        if !a.all.is_subset(&b.all) || new_unknown {
            return Ok(Err(format!(
                "the branch grants {role} actions the recorded state does not: not a removal"
            )));
        }
        let mut removed = b.all;
        removed.difference_with(&a.all);
        if !removed.is_empty() {
            sets.insert(role.clone(), removed);
            recorded_files.insert(role, before);
        }
    }
    Ok(Ok((sets, recorded_files)))
}

/// The announced removals `keep` of `role` that the re-plan keeps, grouped by reason: the
/// filter's when the role is filtered, else each decision group's.
fn kept_of(
    role: &str,
    keep: &ActionSet,
    filtered: Option<String>,
    plan: &RolePlan,
    catalog: &Catalog,
) -> Vec<Kept> {
    let names = |set: &ActionSet| -> Vec<String> {
        set.iter().map(|id| catalog.name(id).to_string()).collect()
    };
    if let Some(reason) = filtered {
        return vec![Kept {
            role: role.to_string(),
            reason,
            actions: names(keep),
        }];
    }
    let mut by_reason: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in &plan.decisions.groups {
        let mut part = g.actions.clone();
        part.intersect_with(keep);
        by_reason
            .entry(g.reason.summary())
            .or_default()
            .extend(names(&part));
    }
    by_reason
        .into_iter()
        .filter(|(_, actions)| !actions.is_empty())
        .map(|(reason, actions)| Kept {
            role: role.to_string(),
            reason,
            actions,
        })
        .collect()
}

/// The base branch's commit: `refs/remotes/origin/<base>`, else `refs/heads/<base>`, else `HEAD`.
fn resolve_base(store: &PolicyStore, base: &str) -> Result<Oid, OpsError> {
    let repo = store.repo();
    for name in [
        format!("refs/remotes/origin/{base}"),
        format!("refs/heads/{base}"),
        "HEAD".to_string(),
    ] {
        if let Ok(c) = repo.revparse_single(&name).and_then(|o| o.peel_to_commit()) {
            return Ok(c.id());
        }
    }
    Err(StoreError::Other(format!(
        "cannot resolve the base branch {base} (nor HEAD) in {}",
        store.root().display()
    ))
    .into())
}

/// The parent of the oldest proposal commit (`Repokid-Action: repo`, of `account` or of no
/// account) on the first-parent line from `head` back to its merge base with `base`.
fn recorded_state(
    store: &PolicyStore,
    head: Oid,
    base: Oid,
    account: &str,
) -> Result<Option<Oid>, OpsError> {
    let repo = store.repo();
    let ctx = |what: &str| StoreError::git(format!("{what} in {}", store.root().display()));
    let mut walk = repo.revwalk().map_err(ctx("walking the branch"))?;
    walk.push(head).map_err(ctx("walking the branch"))?;
    if let Ok(merge_base) = repo.merge_base(head, base) {
        walk.hide(merge_base).map_err(ctx("walking the branch"))?;
    }
    walk.simplify_first_parent()
        .map_err(ctx("walking the branch"))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)
        .map_err(ctx("walking the branch"))?;
    for id in walk {
        let id = id.map_err(ctx("walking the branch"))?;
        let commit = repo.find_commit(id).map_err(ctx("reading a commit"))?;
        let ours = matches!(commit_action(&commit), Some((Action::Repo, a)) if a.as_deref().is_none_or(|a| a == account));
        if ours {
            return Ok(commit.parent_id(0).ok());
        }
    }
    Ok(None)
}

/// The first account directory under `policies/`, other than `account`, that differs between
/// the two commits.
fn other_account_changed(
    store: &PolicyStore,
    a: Oid,
    b: Oid,
    account: &str,
) -> Result<Option<String>, OpsError> {
    let repo = store.repo();
    let ctx = || {
        StoreError::git(format!(
            "reading {POLICIES_DIR}/ in {}",
            store.root().display()
        ))
    };
    let entries = |id: Oid| -> Result<BTreeMap<String, Oid>, OpsError> {
        let tree = repo.find_commit(id).and_then(|c| c.tree()).map_err(ctx())?;
        let Ok(entry) = tree.get_path(std::path::Path::new(POLICIES_DIR)) else {
            return Ok(BTreeMap::new());
        };
        if entry.kind() != Some(ObjectType::Tree) {
            return Ok(BTreeMap::new());
        }
        let dir = repo.find_tree(entry.id()).map_err(ctx())?;
        Ok(dir
            .iter()
            .map(|e| (String::from_utf8_lossy(e.name_bytes()).into_owned(), e.id()))
            .filter(|(name, _)| name != account)
            .collect())
    };
    let (x, y) = (entries(a)?, entries(b)?);
    Ok(x.keys()
        .chain(y.keys())
        .find(|k| x.get(*k) != y.get(*k))
        .cloned())
}
