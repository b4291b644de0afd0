//! What every tool commit changed: one row per role file (`repokid stats`).

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use git2::{Commit, Oid, Repository};
use serde::Serialize;

use super::walk::{Trees, commit_time, first_parent, grants_of, merged_action, resolve};
use crate::engine::{ActionSet, Catalog};
use crate::store::git::commit_action;
use crate::store::{Action, StoreError, role_path};

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
