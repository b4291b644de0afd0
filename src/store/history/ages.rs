//! Since when each permission of a role has been granted, for the grace period.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use git2::{Commit, ObjectType, Oid, Repository};

use super::walk::{
    Change, FileChanges, Trees, commit_time, first_parent, read_policies, resolve, role_of,
};
use crate::engine::grants::{Grants, analyze};
use crate::engine::{ActionSet, Catalog, PermissionAges};
use crate::store::{POLICIES_DIR, StoreError, role_path};

/// Since when each action the role's file grants at `rev` has been granted without a break: an
/// action's time is that of the oldest version in the unbroken run of versions (newest first)
/// that grant it. Keys are catalog actions by lowercase name, plus `Action` entries the catalog
/// does not know, lowercased (as [`PermissionAges`] expects); the result is
/// [`PermissionAges::PerAction`] with no fallback.
///
/// A wildcard counts as granting what it expands to, so `s3:*` narrowed to `s3:GetObject` keeps
/// the wildcard's time for `s3:GetObject`. A deleted file breaks every run. An older version that
/// cannot be read also breaks every run (with a warning): its actions cannot be shown to have been
/// granted, and a younger age keeps more under the grace period (fail closed).
///
/// No file at `rev` (never created, or deleted) → [`PermissionAges::Unknown`]. The walk stops as
/// soon as every run has ended.
pub fn permission_ages(
    repo: &Repository,
    rev: &str,
    account: &str,
    role: &str,
    catalog: &Catalog,
) -> Result<PermissionAges, StoreError> {
    let shown = role_path(account, role).display().to_string();
    let mut changes = FileChanges::new(repo, rev, account, role)?;
    let Some(Change {
        commit: newest,
        blob: Some(blob),
        mut before,
    }) = changes.next_change()?
    else {
        return Ok(PermissionAges::Unknown);
    };
    let current = analyze(&read_policies(repo, blob, &shown, newest.id())?, catalog);
    let mut runs = Runs::new(current, commit_time(&newest)?);
    loop {
        // What the file held before that version (known without finding the commit that wrote
        // it): the runs of the actions it lacks end here.
        let older = older_grants(repo, before, &shown, catalog)?;
        if !runs.older(older.as_ref()) {
            break;
        }
        // Some runs go on: find when the older content was written.
        let Some(change) = changes.next_change()? else {
            break;
        };
        runs.run_start = commit_time(&change.commit)?;
        before = change.before;
    }
    Ok(runs.finish(catalog, false))
}

/// [`permission_ages`] for every role file of `account` at `rev`, by role name, from one walk of
/// the history (one tree comparison per commit that changed the account's directory), instead of
/// one walk per role. Roles without a file at `rev` are absent (their ages are unknown); a role
/// file at `rev` that cannot be read is an error, as for [`permission_ages`]. The walk stops as
/// soon as every role's runs have ended.
///
/// To keep a whole account's answer small, a role whose granted actions all have the same age
/// gets [`PermissionAges::Uniform`] (the same answer for every action it grants); the others get
/// the same [`PermissionAges::PerAction`] as [`permission_ages`].
pub fn account_permission_ages(
    repo: &Repository,
    rev: &str,
    account: &str,
    catalog: &Catalog,
) -> Result<BTreeMap<String, PermissionAges>, StoreError> {
    let mut commit = resolve(repo, rev)?;
    let mut trees = Trees::new(repo);
    let id = commit.id();
    let policies = trees.subtree(Some(commit.tree_id()), POLICIES_DIR, id)?;
    let mut dir = trees.subtree(policies, account, id)?;
    let mut open: HashMap<String, Runs> = HashMap::new();
    let time = commit_time(&commit)?;
    for (file, _, blob) in trees.differing_entries(None, dir, ObjectType::Blob, id)? {
        let (Some(role), Some(blob)) = (role_of(&file), blob) else {
            continue;
        };
        let shown = role_path(account, role).display().to_string();
        let current = analyze(&read_policies(repo, blob, &shown, id)?, catalog);
        open.insert(role.to_string(), Runs::new(current, time));
    }
    let mut done = BTreeMap::new();
    while !open.is_empty() {
        let parent = first_parent(&commit)?;
        let parent_dir = match &parent {
            Some(p) if p.tree_id() == commit.tree_id() => dir,
            Some(p) => {
                let policies = trees.subtree(Some(p.tree_id()), POLICIES_DIR, p.id())?;
                trees.subtree(policies, account, p.id())?
            }
            None => None,
        };
        if parent_dir != dir {
            let id = commit.id();
            let changes = trees.differing_entries(parent_dir, dir, ObjectType::Blob, id)?;
            for (file, old, _) in changes {
                let Some(role) = role_of(&file) else {
                    continue;
                };
                let Some(runs) = open.get_mut(role) else {
                    continue;
                };
                // This commit made the version the role's runs have reached.
                runs.run_start = commit_time(&commit)?;
                let shown = role_path(account, role).display().to_string();
                let before = old
                    .zip(parent.as_ref().map(Commit::id))
                    .map(|(b, p)| (p, b));
                let older = older_grants(repo, before, &shown, catalog)?;
                if !runs.older(older.as_ref())
                    && let Some(runs) = open.remove(role)
                {
                    done.insert(role.to_string(), runs.finish(catalog, true));
                }
            }
        }
        trees.step();
        match parent {
            Some(p) => {
                commit = p;
                dir = parent_dir;
            }
            None => break,
        }
    }
    for (role, runs) in open {
        done.insert(role, runs.finish(catalog, true));
    }
    Ok(done)
}

/// The runs of one role's currently granted actions, followed from the newest version back.
struct Runs {
    /// Catalog actions granted by every version from the newest to the one made at `run_start`.
    active: ActionSet,
    /// Likewise for entries the catalog does not know (lowercase).
    active_unknown: HashSet<String>,
    /// When the oldest version reached so far was made.
    run_start: DateTime<Utc>,
    /// Ended runs, kept as sets until the end (most answers are uniform and need no names).
    ended: Vec<(ActionSet, DateTime<Utc>)>,
    /// Ended runs of unknown entries.
    ended_unknown: Vec<(String, DateTime<Utc>)>,
}

impl Runs {
    fn new(current: Grants, newest: DateTime<Utc>) -> Runs {
        Runs {
            active: current.all,
            active_unknown: current.unknown.into_keys().collect(),
            run_start: newest,
            ended: Vec::new(),
            ended_unknown: Vec::new(),
        }
    }

    /// The content before the version made at `run_start` (`None`: no file, or unreadable) ends
    /// the runs of what it does not grant. Whether any run goes on.
    fn older(&mut self, older: Option<&Grants>) -> bool {
        let ended = match older {
            Some(g) => {
                let mut ended = self.active.clone();
                ended.difference_with(&g.all);
                self.active.intersect_with(&g.all);
                ended
            }
            None => std::mem::take(&mut self.active),
        };
        if !ended.is_empty() {
            self.ended.push((ended, self.run_start));
        }
        let (ended_unknown, run_start) = (&mut self.ended_unknown, self.run_start);
        self.active_unknown.retain(|name| {
            let kept = older.is_some_and(|g| g.unknown.contains_key(name));
            if !kept {
                ended_unknown.push((name.clone(), run_start));
            }
            kept
        });
        !(self.active.is_empty() && self.active_unknown.is_empty())
    }

    /// The ages, with the runs still going counted from `run_start` (the file's first version).
    /// `compact`: [`PermissionAges::Uniform`] when every action has the same age.
    fn finish(mut self, catalog: &Catalog, compact: bool) -> PermissionAges {
        let still = !(self.active.is_empty() && self.active_unknown.is_empty());
        if still {
            self.ended
                .push((std::mem::take(&mut self.active), self.run_start));
            let run_start = self.run_start;
            self.ended_unknown
                .extend(self.active_unknown.drain().map(|n| (n, run_start)));
        }
        if compact {
            let mut times = self
                .ended
                .iter()
                .map(|(_, t)| t)
                .chain(self.ended_unknown.iter().map(|(_, t)| t));
            let first = times.next().copied().unwrap_or(self.run_start);
            if times.all(|t| *t == first) {
                return PermissionAges::Uniform(first);
            }
        }
        let mut since = HashMap::new();
        for (set, t) in &self.ended {
            for id in set.iter() {
                since.insert(catalog.lower_name(id).to_string(), *t);
            }
        }
        since.extend(self.ended_unknown);
        PermissionAges::PerAction {
            since,
            fallback: None,
        }
    }
}

/// The grants of an older version of a role file (`before`: the commit it is read at and the
/// blob). An unreadable file counts as granting nothing (see [`permission_ages`]).
fn older_grants(
    repo: &Repository,
    before: Option<(Oid, Oid)>,
    shown: &str,
    catalog: &Catalog,
) -> Result<Option<Grants>, StoreError> {
    let Some((commit, blob)) = before else {
        return Ok(None);
    };
    match read_policies(repo, blob, shown, commit) {
        Ok(p) => Ok(Some(analyze(&p, catalog))),
        Err(e @ StoreError::BadFile { .. }) => {
            tracing::warn!(
                "{e}; treating every permission of {shown} as granted only since the next version"
            );
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
