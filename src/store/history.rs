//! What history answers: a role's versions (for rollback), since when each of its permissions has
//! been granted (for the grace period), and what every tool commit changed (stats).
//!
//! Everything walks **first-parent** history from a revision, so on a branch that receives pull
//! requests as merge commits, a merge counts as the one change that landed (at the merge's time).
//! Times are committer times: when a change landed on the branch, not when it was first written.
//!
//! A role's *version* is a commit where the blob at `policies/<account>/<role>.json` differs from
//! the one at the commit's first parent, found by tree lookups by path (no diffs). Stats diff each
//! tool commit's tree against its first parent restricted to `policies/`; git skips subtrees whose
//! ids did not change, so the cost follows the number of changes, not the size of the store.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use git2::{Commit, DiffOptions, ErrorCode, FileMode, ObjectType, Oid, Repository, Tree};
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
    let path = role_path(account, role);
    let shown = path.display().to_string();
    let mut changes = FileChanges::new(repo, rev, path)?;
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
            action: commit_action(&commit).map(|(action, _)| action),
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
    let path = role_path(account, role);
    let shown = path.display().to_string();
    let mut changes = FileChanges::new(repo, rev, path)?;
    let Some(Change {
        commit: newest,
        blob: Some(blob),
        mut before,
    }) = changes.next_change()?
    else {
        return Ok(PermissionAges::Unknown);
    };
    let current = analyze(&read_policies(repo, blob, &shown, newest.id())?, catalog);
    let mut since: HashMap<String, DateTime<Utc>> =
        HashMap::with_capacity(current.all.len() + current.unknown.len());
    // Actions granted by every version from the newest to the one made at `run_start`.
    let mut active = current.all;
    let mut active_unknown: HashSet<String> = current.unknown.into_keys().collect();
    let mut run_start = commit_time(&newest)?;
    loop {
        // What the file held before that version (known without finding the commit that wrote
        // it): the runs of the actions it lacks end here.
        let older = match before {
            None => None,
            Some((parent, blob)) => match read_policies(repo, blob, &shown, parent) {
                Ok(p) => Some(analyze(&p, catalog)),
                Err(e @ StoreError::BadFile { .. }) => {
                    tracing::warn!(
                        "{e}; treating every permission of {shown} as granted only since the next version"
                    );
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let ended = match &older {
            Some(g) => {
                let mut ended = active.clone();
                ended.difference_with(&g.all);
                active.intersect_with(&g.all);
                ended
            }
            None => std::mem::take(&mut active),
        };
        for id in ended.iter() {
            since.insert(catalog.lower_name(id).to_string(), run_start);
        }
        active_unknown.retain(|name| {
            let kept = older.as_ref().is_some_and(|g| g.unknown.contains_key(name));
            if !kept {
                since.insert(name.clone(), run_start);
            }
            kept
        });
        if active.is_empty() && active_unknown.is_empty() {
            break;
        }
        // Some runs go on: find when the older content was written.
        let Some(change) = changes.next_change()? else {
            break;
        };
        run_start = commit_time(&change.commit)?;
        before = change.before;
    }
    // Runs that reach the file's first version.
    for id in active.iter() {
        since.insert(catalog.lower_name(id).to_string(), run_start);
    }
    for name in active_unknown {
        since.insert(name, run_start);
    }
    Ok(PermissionAges::PerAction {
        since,
        fallback: None,
    })
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
    let mut opts = DiffOptions::new();
    opts.pathspec(POLICIES_DIR)
        .skip_binary_check(true)
        .ignore_submodules(true);
    while let Some(commit) = next.take() {
        let time = commit_time(&commit)?;
        if since.is_some_and(|since| time < since) {
            break;
        }
        let parent = first_parent(&commit)?;
        if let Some((action, _)) = commit_action(&commit) {
            let id = commit.id();
            let tree = tree_of(&commit)?;
            let parent_tree = parent.as_ref().map(tree_of).transpose()?;
            let diff = repo
                .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut opts))
                .map_err(StoreError::git(format!(
                    "comparing {POLICIES_DIR}/ at {id} with its parent"
                )))?;
            for delta in diff.deltas() {
                let (old, new) = (delta.old_file(), delta.new_file());
                let Some(path) = new.path().or(old.path()) else {
                    continue;
                };
                let Some((account, role)) = split_role_path(path) else {
                    continue;
                };
                let shown = path.display().to_string();
                let before = match file_blob(&old) {
                    Some(blob) => {
                        let parent_id = parent.as_ref().map_or(id, Commit::id);
                        match granted.get(&blob) {
                            Some(set) => set.clone(),
                            None => {
                                let set = grants_of(repo, blob, &shown, parent_id, catalog)?;
                                granted.insert(blob, set.clone());
                                set
                            }
                        }
                    }
                    None => ActionSet::default(),
                };
                let after = match file_blob(&new) {
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
                    account,
                    role,
                    action,
                    permissions: after.len(),
                    removed: removed.len(),
                    added: added.len(),
                });
            }
        }
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
    let not_granted_then = granted_minus(&after, &then, catalog);
    if let Some(extra) = comes_back.iter().find(|a| not_granted_then.contains(a)) {
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
    let mut restored_unknown: Vec<String> = Vec::new();
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
                    restored_unknown.push(lower);
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
                    .filter(|u| deny_covers_unknown(st, u))
                    .cloned(),
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

/// First-parent walk from a commit yielding the commits where the blob at a path changed.
struct FileChanges<'r> {
    /// The next commit to look at, with the blob at the path in it.
    next: Option<(Commit<'r>, Option<Oid>)>,
    path: PathBuf,
}

impl<'r> FileChanges<'r> {
    fn new(repo: &'r Repository, rev: &str, path: PathBuf) -> Result<Self, StoreError> {
        let start = resolve(repo, rev)?;
        let blob = blob_at(&tree_of(&start)?, &path, start.id())?;
        Ok(FileChanges {
            next: Some((start, blob)),
            path,
        })
    }

    /// The next (older) commit that changed the blob.
    fn next_change(&mut self) -> Result<Option<Change<'r>>, StoreError> {
        while let Some((commit, blob)) = self.next.take() {
            let before = match first_parent(&commit)? {
                Some(parent) => {
                    // Same tree, same blob: skip the path lookup.
                    let b = if parent.tree_id() == commit.tree_id() {
                        blob
                    } else {
                        blob_at(&tree_of(&parent)?, &self.path, parent.id())?
                    };
                    let before = b.map(|b| (parent.id(), b));
                    self.next = Some((parent, b));
                    before
                }
                None => None,
            };
            if before.map(|(_, b)| b) != blob {
                return Ok(Some(Change {
                    commit,
                    blob,
                    before,
                }));
            }
        }
        Ok(None)
    }
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

fn tree_of<'r>(commit: &Commit<'r>) -> Result<Tree<'r>, StoreError> {
    commit.tree().map_err(StoreError::git(format!(
        "reading the tree of commit {}",
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

/// The blob at `path` in `tree`, if there is a file there.
fn blob_at(tree: &Tree<'_>, path: &Path, commit: Oid) -> Result<Option<Oid>, StoreError> {
    match tree.get_path(path) {
        Ok(entry) if entry.kind() == Some(ObjectType::Blob) => Ok(Some(entry.id())),
        Ok(_) => Ok(None),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(source) => Err(StoreError::Git {
            context: format!("looking up {} at {commit}", path.display()),
            source,
        }),
    }
}

/// The blob on one side of a delta, if that side is a regular file.
fn file_blob(file: &git2::DiffFile<'_>) -> Option<Oid> {
    let id = file.id();
    let is_file = matches!(file.mode(), FileMode::Blob | FileMode::BlobExecutable);
    (is_file && !id.is_zero()).then_some(id)
}

/// `policies/<account>/<role>.json` → (account, role); anything else → `None`.
fn split_role_path(path: &Path) -> Option<(String, String)> {
    let mut parts = path.iter().map(|p| p.to_str());
    let (Some(Some(dir)), Some(Some(account)), Some(Some(file)), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let role = file.strip_suffix(".json")?;
    (dir == POLICIES_DIR && !account.is_empty() && !role.is_empty())
        .then(|| (account.to_string(), role.to_string()))
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
