//! What history answers: a role's versions (for rollback), since when each of its permissions has
//! been granted (for the grace period), and what every tool commit changed (stats).
//!
//! Everything walks **first-parent** history from a revision, so on a branch that receives pull
//! requests as merge commits, a merge counts as the one change that landed (at the merge's time).
//! Times are committer times: when a change landed on the branch, not when it was first written.
//!
//! * [`role_versions`] — a role's versions, for rollback; [`restore`] computes what restoring one
//!   (or one service of it) gives.
//! * [`permission_ages`] — since when each action of a role has been granted, for the grace
//!   period; [`account_permission_ages`] answers for every role of an account in one walk.
//! * [`stats`] — one row per role file changed by a tool commit; [`stats_to_csv`].
//!
//! A role's *version* is a commit where the blob at `policies/<account>/<role>.json` differs from
//! the one at the commit's first parent, found by tree lookups by path (no diffs); the big tree of
//! an account's directory is read only for commits that changed it. Stats and account-wide ages
//! compare a commit's tree with its first parent's, descending only into directories whose ids
//! differ, and read each tree once (a commit's parent trees are the next commit's trees), so the
//! cost follows the number of changes, not the size of the store. (libgit2's `diff_tree_to_tree`
//! gives the same answer but reads every changed directory twice; on the stats benchmark it alone
//! took longer than all of `stats`.)

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};
use git2::{Commit, FileMode, ObjectType, Oid, Repository, Tree};
use serde::Serialize;
use serde_json::{Map, Value};

use super::git::commit_action;
use super::{Action, POLICIES_DIR, StoreError, role_path};
use crate::engine::glob::glob_match;
use crate::engine::grants::{Grants, analyze};
use crate::engine::policy::{
    ActionKind, Effect, PolicyDocument, PolicyError, PolicyMap, Statement, parse_policy_map,
};
use crate::engine::{ActionSet, Catalog, Expansion, PermissionAges};

/// One version of a role's file: a commit on the first-parent line where the file's content
/// changed (it appeared, changed, or was deleted).
#[derive(Debug, Clone)]
pub struct RoleVersion {
    /// The commit that made this version.
    pub commit: Oid,
    /// When the commit landed (committer time).
    pub time: DateTime<Utc>,
    /// What the tool did, from the commit's `Repokid-Action` trailer (`None` for commits written
    /// by hand or by other tools).
    pub action: Option<Action>,
    /// The commit's subject line.
    pub subject: String,
    /// The role's inline policies in this version; `None` when this commit deleted the file.
    pub policies: Option<PolicyMap>,
    /// Number of catalog actions this version grants (0 when deleted).
    pub permissions: usize,
}

/// The versions of `policies/<account>/<role>.json`, newest first: one per commit on the
/// first-parent line from `rev` where the file's blob changed, including the commit that deleted
/// it (a version with `policies: None`). Empty if the file never existed.
///
/// `account` and `role` must have been validated with [`super::names`]. An unreadable version is
/// an error naming the file and the commit.
pub fn role_versions(
    repo: &Repository,
    rev: &str,
    account: &str,
    role: &str,
    catalog: &Catalog,
) -> Result<Vec<RoleVersion>, StoreError> {
    let shown = role_path(account, role).display().to_string();
    let mut changes = FileChanges::new(repo, rev, account, role)?;
    let mut versions = Vec::new();
    while let Some(Change { commit, blob, .. }) = changes.next_change()? {
        let policies = match blob {
            Some(blob) => Some(read_policies(repo, blob, &shown, commit.id())?),
            None => None,
        };
        let permissions = policies
            .as_ref()
            .map_or(0, |p| analyze(p, catalog).all.len());
        versions.push(RoleVersion {
            commit: commit.id(),
            time: commit_time(&commit)?,
            action: commit_action(&commit)
                .or_else(|| merged_action(&commit))
                .map(|(action, _)| action),
            subject: subject(&commit),
            policies,
            permissions,
        });
    }
    Ok(versions)
}

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

/// A merge commit without trailers (GitHub's "Create a merge commit") takes the action of the
/// branch it merged, whose tip carries the trailers; its changes are read against the first parent.
fn merged_action(commit: &Commit<'_>) -> Option<(Action, Option<String>)> {
    if commit.parent_count() < 2 {
        return None;
    }
    commit.parent(1).ok().as_ref().and_then(commit_action)
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

/// `<role>.json` → role.
fn role_of(file: &str) -> Option<&str> {
    file.strip_suffix(".json").filter(|r| !r.is_empty())
}

/// One changed role file in one tool commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsRow {
    /// When the commit landed (committer time).
    pub date: DateTime<Utc>,
    /// The commit.
    #[serde(serialize_with = "serialize_oid")]
    pub commit: Oid,
    /// The role's account.
    pub account: String,
    /// The role's name.
    pub role: String,
    /// What the tool did (the `Repokid-Action` trailer).
    pub action: Action,
    /// Catalog actions granted after the commit (0 if it deleted the file).
    pub permissions: usize,
    /// Catalog actions granted before the commit and not after.
    pub removed: usize,
    /// Catalog actions granted after the commit and not before.
    pub added: usize,
}

fn serialize_oid<S: serde::Serializer>(oid: &Oid, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(oid)
}

/// Walks the first-parent history from `rev`, newest first, and for every commit with a
/// `Repokid-Action` trailer emits one row per role file it changed (added, changed or deleted;
/// renames are seen as a deletion and an addition). Commits without the trailer are skipped.
///
/// With `since`, the walk stops at the first commit that landed before it. Counts are of catalog
/// actions (entries the catalog does not know are not counted). An unreadable role file is an
/// error naming the file and the commit.
pub fn stats(
    repo: &Repository,
    rev: &str,
    catalog: &Catalog,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<StatsRow>, StoreError> {
    let mut next = Some(resolve(repo, rev)?);
    let mut rows = Vec::new();
    // Grants by blob. Walking newest first, a blob is first needed as the "before" side of the
    // commit that replaced it, then as the "after" side of the (older) commit that introduced it;
    // the second use takes it out, which keeps the cache to about one entry per role.
    let mut granted: HashMap<Oid, ActionSet> = HashMap::new();
    let mut trees = Trees::new(repo);
    while let Some(commit) = next.take() {
        let time = commit_time(&commit)?;
        if since.is_some_and(|since| time < since) {
            break;
        }
        let parent = first_parent(&commit)?;
        if let Some((action, _)) = commit_action(&commit).or_else(|| merged_action(&commit)) {
            let id = commit.id();
            let parent_id = parent.as_ref().map_or(id, Commit::id);
            let changes = trees.changed_role_files(
                parent.as_ref().map(Commit::tree_id),
                commit.tree_id(),
                id,
            )?;
            for change in changes {
                let shown = role_path(&change.account, &change.role)
                    .display()
                    .to_string();
                let before = match change.old {
                    Some(blob) => match granted.get(&blob) {
                        Some(set) => set.clone(),
                        None => {
                            let set = grants_of(repo, blob, &shown, parent_id, catalog)?;
                            granted.insert(blob, set.clone());
                            set
                        }
                    },
                    None => ActionSet::default(),
                };
                let after = match change.new {
                    Some(blob) => match granted.remove(&blob) {
                        Some(set) => set,
                        None => grants_of(repo, blob, &shown, id, catalog)?,
                    },
                    None => ActionSet::default(),
                };
                let mut removed = before.clone();
                removed.difference_with(&after);
                let mut added = after.clone();
                added.difference_with(&before);
                rows.push(StatsRow {
                    date: time,
                    commit: id,
                    account: change.account,
                    role: change.role,
                    action,
                    permissions: after.len(),
                    removed: removed.len(),
                    added: added.len(),
                });
            }
        }
        trees.step();
        next = parent;
    }
    Ok(rows)
}

/// The CSV header of [`stats_to_csv`].
pub const STATS_CSV_HEADER: &str = "date,commit,account,role,action,permissions,removed,added";

/// Renders stats rows as CSV: the header line once, then one line per row (dates in RFC 3339,
/// UTC; full commit ids). Fields are quoted when they need it (IAM role names may contain commas).
pub fn stats_to_csv(rows: &[StatsRow]) -> String {
    let mut out = String::with_capacity(STATS_CSV_HEADER.len() + 1 + rows.len() * 100);
    out.push_str(STATS_CSV_HEADER);
    out.push('\n');
    for r in rows {
        let fields = [
            r.date.to_rfc3339_opts(SecondsFormat::Secs, true),
            r.commit.to_string(),
            csv_field(&r.account),
            csv_field(&r.role),
            r.action.as_str().to_string(),
            r.permissions.to_string(),
            r.removed.to_string(),
            r.added.to_string(),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// What restoring a version would produce.
#[derive(Debug, Clone)]
pub struct Restore {
    /// The role's inline policies after the restore.
    pub policies: PolicyMap,
    /// Canonical names of the catalog actions granted after the restore and not now (then
    /// entries the catalog does not know, as written), sorted.
    pub comes_back: Vec<String>,
    /// Likewise for what is granted now and not after the restore.
    pub goes_away: Vec<String>,
}

/// Computes a restore from `versions` (as [`role_versions`] returns them; `selection` 0 is the
/// newest) against the role's `current` policies. Pure: nothing is read or written.
///
/// * Without `service`: the selected version's policies, as they were. A version that deleted the
///   file is an error ("that version has no policies").
/// * With `service` (a prefix such as `s3`): `current`, plus for each Allow statement of the
///   selected version that granted actions of that service `current` no longer grants, a copy of
///   that statement (same Effect, Resource, Condition and other keys; `Sid` suffixed `Restored`,
///   kept unique) listing just those actions by canonical name (and the service's entries the
///   catalog does not know, as written), appended to the policy of the same name (created if
///   needed). The selected version's Deny statements that covered a restored action come back
///   too, narrowed to the restored actions, so nothing it denied becomes allowed.
///
/// The restore never grants an action the selected version did not grant (checked).
pub fn restore(
    versions: &[RoleVersion],
    current: &PolicyMap,
    selection: usize,
    service: Option<&str>,
    catalog: &Catalog,
) -> Result<Restore, StoreError> {
    let version = versions.get(selection).ok_or_else(|| {
        StoreError::Other(format!(
            "there is no version {selection}: the role has {} version(s), numbered from 0 (newest)",
            versions.len()
        ))
    })?;
    let Some(old) = &version.policies else {
        return Err(StoreError::Other(format!(
            "version {selection} (commit {}) deleted the role's file: that version has no policies",
            version.commit
        )));
    };
    let now = analyze(current, catalog);
    let policies = match service {
        None => old.clone(),
        Some(service) => restore_service(old, current, &now, service, catalog)?,
    };
    let then = analyze(old, catalog);
    let after = analyze(&policies, catalog);
    let comes_back = granted_minus(&after, &now, catalog);
    let goes_away = granted_minus(&now, &after, catalog);
    // Safety net: what comes back must have been granted by the selected version.
    let mut extra = after.all.clone();
    extra.difference_with(&then.all);
    extra.difference_with(&now.all);
    let extra = extra
        .iter()
        .next()
        .map(|id| catalog.name(id).to_string())
        .or_else(|| {
            after
                .unknown
                .iter()
                .find(|(k, _)| !then.unknown.contains_key(*k) && !now.unknown.contains_key(*k))
                .map(|(_, (written, _))| written.clone())
        });
    if let Some(extra) = extra {
        return Err(StoreError::Other(format!(
            "restoring version {selection} (commit {}) would grant {extra}, which that version did \
             not grant; nothing was changed",
            version.commit
        )));
    }
    Ok(Restore {
        policies,
        comes_back,
        goes_away,
    })
}

/// `current` plus copies of the statements of `old` that granted actions of `service` that are now
/// missing (see [`restore`]).
fn restore_service(
    old: &PolicyMap,
    current: &PolicyMap,
    now: &Grants,
    service: &str,
    catalog: &Catalog,
) -> Result<PolicyMap, StoreError> {
    let prefix = service.trim().to_ascii_lowercase();
    let svc = catalog.service(&prefix).ok_or_else(|| {
        StoreError::Other(format!(
            "unknown service {service:?}: it is not in the action catalog ({})",
            catalog.source()
        ))
    })?;
    let (start, end) = (svc.actions.start, svc.actions.end);
    let then = analyze(old, catalog);
    let mut out = current.clone();
    let mut restored = ActionSet::default();
    // Restored entries the catalog does not know: lowercase → as written.
    let mut restored_unknown: BTreeMap<String, String> = BTreeMap::new();
    for sg in &then.statements {
        let Some(doc) = old.get(&sg.policy) else {
            continue;
        };
        let Some(st) = doc.statements().get(sg.index) else {
            continue;
        };
        if st.effect() != Effect::Allow {
            continue;
        }
        let mut missing = sg.granted.restricted(start, end);
        missing.difference_with(&now.all);
        let mut names: Vec<String> = missing
            .iter()
            .map(|id| catalog.name(id).to_string())
            .collect();
        if st.kind() == ActionKind::Action {
            for (entry, expansion) in st.entries().iter().zip(&sg.entries) {
                let lower = entry.to_ascii_lowercase();
                if *expansion == Expansion::Unknown
                    && lower.split_once(':').is_some_and(|(s, _)| s == prefix)
                    && !now.unknown.contains_key(&lower)
                    && !names.iter().any(|n| n.eq_ignore_ascii_case(entry))
                {
                    names.push(entry.clone());
                    restored_unknown
                        .entry(lower)
                        .or_insert_with(|| entry.clone());
                }
            }
        }
        if names.is_empty() {
            continue;
        }
        restored.union_with(&missing);
        append_restored(&mut out, &sg.policy, doc, &st.with_actions(names))?;
    }
    if restored.is_empty() && restored_unknown.is_empty() {
        return Ok(out);
    }
    for (name, doc) in old {
        for st in doc.statements() {
            if st.effect() != Effect::Deny {
                continue;
            }
            let mut covered = deny_coverage(st, catalog);
            covered.intersect_with(&restored);
            let mut names: Vec<String> = covered
                .iter()
                .map(|id| catalog.name(id).to_string())
                .collect();
            names.extend(
                restored_unknown
                    .iter()
                    .filter(|(lower, _)| deny_covers_unknown(st, lower))
                    .map(|(_, written)| written.clone()),
            );
            if !names.is_empty() {
                append_restored(&mut out, name, doc, &st.with_actions(names))?;
            }
        }
    }
    Ok(out)
}

/// Catalog actions a Deny statement covers.
fn deny_coverage(st: &Statement, catalog: &Catalog) -> ActionSet {
    let mut listed = ActionSet::default();
    for entry in st.entries() {
        if let Expansion::Known(set) = catalog.expand(entry) {
            listed.union_with(&set);
        }
    }
    match st.kind() {
        ActionKind::Action => listed,
        ActionKind::NotAction => {
            let mut all = catalog.all();
            all.difference_with(&listed);
            all
        }
    }
}

/// Whether a Deny statement covers an entry the catalog does not know (lowercase).
fn deny_covers_unknown(st: &Statement, lower: &str) -> bool {
    let listed = st
        .entries()
        .iter()
        .any(|e| glob_match(e.to_ascii_lowercase().as_bytes(), lower.as_bytes()));
    match st.kind() {
        ActionKind::Action => listed,
        ActionKind::NotAction => !listed,
    }
}

/// Appends `st` (a copy of a statement of `source`, policy `name` of the selected version) to
/// policy `name` of `out`, with its Sid suffixed `Restored` and unique within the policy.
fn append_restored(
    out: &mut PolicyMap,
    name: &str,
    source: &PolicyDocument,
    st: &Statement,
) -> Result<(), StoreError> {
    let taken: HashSet<&str> = out
        .get(name)
        .map(|d| d.statements().iter().filter_map(Statement::sid).collect())
        .unwrap_or_default();
    let base = format!("{}Restored", st.sid().unwrap_or_default());
    let sid = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}{n}")
            }
        })
        .find(|s| !taken.contains(s.as_str()))
        .unwrap_or(base);
    let mut fields = Map::with_capacity(st.fields().len() + 1);
    if st.sid().is_none() {
        fields.insert("Sid".to_string(), Value::String(sid.clone()));
    }
    for (k, v) in st.fields() {
        let v = if k == "Sid" {
            Value::String(sid.clone())
        } else {
            v.clone()
        };
        fields.insert(k.clone(), v);
    }
    let built = PolicyDocument::from_value(
        name,
        serde_json::json!({ "Statement": [Value::Object(fields)] }),
    )
    .map_err(|e| StoreError::Other(format!("building the restored statement: {e}")))?;
    let Some(restored) = built.statements().first().cloned() else {
        return Err(StoreError::Other(
            "building the restored statement: no statement".to_string(),
        ));
    };
    match out.get_mut(name) {
        Some(doc) => {
            let mut statements = doc.statements().to_vec();
            statements.push(restored);
            *doc = doc.with_statements(statements);
        }
        None => {
            out.insert(name.to_string(), source.with_statements(vec![restored]));
        }
    }
    Ok(())
}

/// Canonical names of catalog actions in `a` and not `b`, then unknown entries (as written) in
/// `a` and not `b`; sorted case-insensitively.
fn granted_minus(a: &Grants, b: &Grants, catalog: &Catalog) -> Vec<String> {
    let mut set = a.all.clone();
    set.difference_with(&b.all);
    let mut names: Vec<String> = set.iter().map(|id| catalog.name(id).to_string()).collect();
    names.extend(
        a.unknown
            .iter()
            .filter(|(lower, _)| !b.unknown.contains_key(*lower))
            .map(|(_, (written, _))| written.clone()),
    );
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names
}

/// A commit where the blob at a path changed.
struct Change<'r> {
    commit: Commit<'r>,
    /// The blob it left at the path (`None`: no file).
    blob: Option<Oid>,
    /// The first parent and the blob at the path there, if there was a file.
    before: Option<(Oid, Oid)>,
}

/// Where a role's file is in one commit.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Located {
    /// The account directory's tree.
    dir: Option<Oid>,
    /// The file's blob.
    blob: Option<Oid>,
}

/// First-parent walk from a commit yielding the commits where a role file's blob changed. Only
/// small trees are read for commits that leave the account's directory alone.
struct FileChanges<'r> {
    trees: Trees<'r>,
    account: String,
    file: String,
    /// The next commit to look at, with where the file is in it.
    next: Option<(Commit<'r>, Located)>,
}

impl<'r> FileChanges<'r> {
    fn new(repo: &'r Repository, rev: &str, account: &str, role: &str) -> Result<Self, StoreError> {
        let start = resolve(repo, rev)?;
        let mut walk = FileChanges {
            trees: Trees::new(repo),
            account: account.to_string(),
            file: format!("{role}.json"),
            next: None,
        };
        let at = walk.locate(&start, None)?;
        walk.next = Some((start, at));
        Ok(walk)
    }

    /// Where the file is in `commit`; `known` is where it is in a commit with possibly the same
    /// account directory.
    fn locate(
        &mut self,
        commit: &Commit<'r>,
        known: Option<Located>,
    ) -> Result<Located, StoreError> {
        let id = commit.id();
        let policies = self
            .trees
            .subtree(Some(commit.tree_id()), POLICIES_DIR, id)?;
        let dir = self.trees.subtree(policies, &self.account, id)?;
        if let Some(known) = known.filter(|k| k.dir == dir) {
            return Ok(known);
        }
        let blob = match dir {
            Some(dir) => self
                .trees
                .get(dir, id)?
                .get_name(&self.file)
                .filter(is_file)
                .map(|e| e.id()),
            None => None,
        };
        Ok(Located { dir, blob })
    }

    /// The next (older) commit that changed the blob.
    fn next_change(&mut self) -> Result<Option<Change<'r>>, StoreError> {
        while let Some((commit, at)) = self.next.take() {
            let before = match first_parent(&commit)? {
                Some(parent) => {
                    let there = if parent.tree_id() == commit.tree_id() {
                        at
                    } else {
                        self.locate(&parent, Some(at))?
                    };
                    self.trees.step();
                    let before = there.blob.map(|b| (parent.id(), b));
                    self.next = Some((parent, there));
                    before
                }
                None => None,
            };
            if before.map(|(_, b)| b) != at.blob {
                return Ok(Some(Change {
                    commit,
                    blob: at.blob,
                    before,
                }));
            }
        }
        Ok(None)
    }
}

/// Whether a tree entry is a regular file (not a directory, symlink or submodule).
fn is_file(e: &git2::TreeEntry<'_>) -> bool {
    e.kind() == Some(ObjectType::Blob)
        && [FileMode::Blob, FileMode::BlobExecutable]
            .iter()
            .any(|m| i32::from(*m) == e.filemode())
}

fn repo_name(repo: &Repository) -> String {
    repo.workdir().unwrap_or(repo.path()).display().to_string()
}

fn resolve<'r>(repo: &'r Repository, rev: &str) -> Result<Commit<'r>, StoreError> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(StoreError::git(format!(
            "resolving {rev} in {}",
            repo_name(repo)
        )))
}

fn first_parent<'r>(commit: &Commit<'r>) -> Result<Option<Commit<'r>>, StoreError> {
    if commit.parent_count() == 0 {
        return Ok(None);
    }
    commit.parent(0).map(Some).map_err(StoreError::git(format!(
        "reading the parent of commit {}",
        commit.id()
    )))
}

fn commit_time(commit: &Commit<'_>) -> Result<DateTime<Utc>, StoreError> {
    let secs = commit.time().seconds();
    DateTime::from_timestamp(secs, 0).ok_or_else(|| {
        StoreError::Other(format!(
            "commit {} has an out-of-range time ({secs} s)",
            commit.id()
        ))
    })
}

fn subject(commit: &Commit<'_>) -> String {
    commit
        .summary_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn read_policies(
    repo: &Repository,
    blob: Oid,
    path: &str,
    commit: Oid,
) -> Result<PolicyMap, StoreError> {
    let blob = repo
        .find_blob(blob)
        .map_err(StoreError::git(format!("reading {path} at {commit}")))?;
    let bad = |source| StoreError::BadFile {
        path: path.to_string(),
        rev: commit.to_string(),
        source,
    };
    let text = std::str::from_utf8(blob.content()).map_err(|e| {
        bad(PolicyError {
            policy: path.to_string(),
            place: "file".to_string(),
            message: format!("not UTF-8: {e}"),
        })
    })?;
    parse_policy_map(path, text).map_err(bad)
}

fn grants_of(
    repo: &Repository,
    blob: Oid,
    path: &str,
    commit: Oid,
    catalog: &Catalog,
) -> Result<ActionSet, StoreError> {
    Ok(analyze(&read_policies(repo, blob, path, commit)?, catalog).all)
}

/// A role file that differs between two trees.
struct FileChange {
    account: String,
    role: String,
    /// The blob before (`None`: no file).
    old: Option<Oid>,
    /// The blob after (`None`: deleted).
    new: Option<Oid>,
}

/// Trees read during a first-parent walk, kept for one step: the trees of a commit's parent,
/// read to compare the two, are the trees of the next commit visited. So each tree is read once
/// (libgit2 caches only small trees, and an account directory with thousands of roles is not
/// small).
struct Trees<'r> {
    repo: &'r Repository,
    current: HashMap<Oid, Tree<'r>>,
    previous: HashMap<Oid, Tree<'r>>,
}

impl<'r> Trees<'r> {
    fn new(repo: &'r Repository) -> Self {
        Trees {
            repo,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    /// Moves on to the next commit: trees not used since the last step are dropped.
    fn step(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }

    fn get(&mut self, id: Oid, commit: Oid) -> Result<Tree<'r>, StoreError> {
        if let Some(tree) = self.current.get(&id) {
            return Ok(tree.clone());
        }
        let tree = match self.previous.remove(&id) {
            Some(tree) => tree,
            None => self.repo.find_tree(id).map_err(StoreError::git(format!(
                "reading tree {id} of commit {commit}"
            )))?,
        };
        self.current.insert(id, tree.clone());
        Ok(tree)
    }

    /// The id of subtree `name` of tree `id`, if there is a directory by that name.
    fn subtree(
        &mut self,
        id: Option<Oid>,
        name: &str,
        commit: Oid,
    ) -> Result<Option<Oid>, StoreError> {
        let Some(id) = id else {
            return Ok(None);
        };
        let tree = self.get(id, commit)?;
        Ok(tree
            .get_name(name)
            .filter(|e| e.kind() == Some(ObjectType::Tree))
            .map(|e| e.id()))
    }

    /// The role files (`policies/<account>/<role>.json`) that differ between two root trees.
    /// Directories whose ids are equal are not read: the cost follows the changes.
    fn changed_role_files(
        &mut self,
        old_root: Option<Oid>,
        new_root: Oid,
        commit: Oid,
    ) -> Result<Vec<FileChange>, StoreError> {
        let mut out = Vec::new();
        if old_root == Some(new_root) {
            return Ok(out);
        }
        let old = self.subtree(old_root, POLICIES_DIR, commit)?;
        let new = self.subtree(Some(new_root), POLICIES_DIR, commit)?;
        if old == new {
            return Ok(out);
        }
        let accounts = self.differing_entries(old, new, ObjectType::Tree, commit)?;
        for (account, old, new) in accounts {
            for (file, old, new) in self.differing_entries(old, new, ObjectType::Blob, commit)? {
                if let Some(role) = role_of(&file) {
                    out.push(FileChange {
                        account: account.clone(),
                        role: role.to_string(),
                        old,
                        new,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Entries of `kind` (directories, or regular files) whose ids differ between two trees (either
    /// may be absent), by name in git's order, with the ids on each side.
    #[allow(clippy::type_complexity)]
    fn differing_entries(
        &mut self,
        old: Option<Oid>,
        new: Option<Oid>,
        kind: ObjectType,
        commit: Oid,
    ) -> Result<Vec<(String, Option<Oid>, Option<Oid>)>, StoreError> {
        let old = old.map(|id| self.get(id, commit)).transpose()?;
        let new = new.map(|id| self.get(id, commit)).transpose()?;
        let wanted = |e: &git2::TreeEntry<'_>| match kind {
            ObjectType::Blob => is_file(e),
            other => e.kind() == Some(other),
        };
        let mut a = old
            .iter()
            .flat_map(|t| t.iter())
            .filter(|e| wanted(e))
            .peekable();
        let mut b = new
            .iter()
            .flat_map(|t| t.iter())
            .filter(|e| wanted(e))
            .peekable();
        let mut out = Vec::new();
        let name = |e: &git2::TreeEntry<'_>| String::from_utf8_lossy(e.name_bytes()).into_owned();
        loop {
            // Within one kind, git orders entries by name bytes.
            let order = match (a.peek(), b.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(x), Some(y)) => x.name_bytes().cmp(y.name_bytes()),
            };
            match order {
                Ordering::Less => {
                    if let Some(x) = a.next() {
                        out.push((name(&x), Some(x.id()), None));
                    }
                }
                Ordering::Greater => {
                    if let Some(y) = b.next() {
                        out.push((name(&y), None, Some(y.id())));
                    }
                }
                Ordering::Equal => {
                    if let (Some(x), Some(y)) = (a.next(), b.next())
                        && x.id() != y.id()
                    {
                        out.push((name(&x), Some(x.id()), Some(y.id())));
                    }
                }
            }
        }
        Ok(out)
    }
}
