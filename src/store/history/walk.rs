//! First-parent walks and tree reads shared by the history questions.

use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use git2::{Commit, FileMode, ObjectType, Oid, Repository, Tree};

use crate::engine::grants::analyze;
use crate::engine::policy::{PolicyError, PolicyMap, parse_policy_map};
use crate::engine::{ActionSet, Catalog};
use crate::store::git::commit_action;
use crate::store::{Action, POLICIES_DIR, StoreError};

/// A merge commit without trailers (GitHub's "Create a merge commit") takes the action of the
/// branch it merged, whose tip carries the trailers; its changes are read against the first parent.
pub(super) fn merged_action(commit: &Commit<'_>) -> Option<(Action, Option<String>)> {
    if commit.parent_count() < 2 {
        return None;
    }
    commit.parent(1).ok().as_ref().and_then(commit_action)
}

/// `<role>.json` → role.
pub(super) fn role_of(file: &str) -> Option<&str> {
    file.strip_suffix(".json").filter(|r| !r.is_empty())
}

/// A commit where the blob at a path changed.
pub(super) struct Change<'r> {
    pub(super) commit: Commit<'r>,
    /// The blob it left at the path (`None`: no file).
    pub(super) blob: Option<Oid>,
    /// The first parent and the blob at the path there, if there was a file.
    pub(super) before: Option<(Oid, Oid)>,
}

/// Where a role's file is in one commit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Located {
    /// The account directory's tree.
    dir: Option<Oid>,
    /// The file's blob.
    blob: Option<Oid>,
}

/// First-parent walk from a commit yielding the commits where a role file's blob changed. Only
/// small trees are read for commits that leave the account's directory alone.
pub(super) struct FileChanges<'r> {
    trees: Trees<'r>,
    account: String,
    file: String,
    /// The next commit to look at, with where the file is in it.
    next: Option<(Commit<'r>, Located)>,
}

impl<'r> FileChanges<'r> {
    pub(super) fn new(
        repo: &'r Repository,
        rev: &str,
        account: &str,
        role: &str,
    ) -> Result<Self, StoreError> {
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
    pub(super) fn locate(
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
    pub(super) fn next_change(&mut self) -> Result<Option<Change<'r>>, StoreError> {
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
pub(super) fn is_file(e: &git2::TreeEntry<'_>) -> bool {
    e.kind() == Some(ObjectType::Blob)
        && [FileMode::Blob, FileMode::BlobExecutable]
            .iter()
            .any(|m| i32::from(*m) == e.filemode())
}

pub(super) fn repo_name(repo: &Repository) -> String {
    repo.workdir().unwrap_or(repo.path()).display().to_string()
}

pub(super) fn resolve<'r>(repo: &'r Repository, rev: &str) -> Result<Commit<'r>, StoreError> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map_err(StoreError::git(format!(
            "resolving {rev} in {}",
            repo_name(repo)
        )))
}

pub(super) fn first_parent<'r>(commit: &Commit<'r>) -> Result<Option<Commit<'r>>, StoreError> {
    if commit.parent_count() == 0 {
        return Ok(None);
    }
    commit.parent(0).map(Some).map_err(StoreError::git(format!(
        "reading the parent of commit {}",
        commit.id()
    )))
}

pub(super) fn commit_time(commit: &Commit<'_>) -> Result<DateTime<Utc>, StoreError> {
    let secs = commit.time().seconds();
    DateTime::from_timestamp(secs, 0).ok_or_else(|| {
        StoreError::Other(format!(
            "commit {} has an out-of-range time ({secs} s)",
            commit.id()
        ))
    })
}

pub(super) fn subject(commit: &Commit<'_>) -> String {
    commit
        .summary_bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

pub(super) fn read_policies(
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

pub(super) fn grants_of(
    repo: &Repository,
    blob: Oid,
    path: &str,
    commit: Oid,
    catalog: &Catalog,
) -> Result<ActionSet, StoreError> {
    Ok(analyze(&read_policies(repo, blob, path, commit)?, catalog).all)
}

/// A role file that differs between two trees.
pub(super) struct FileChange {
    pub(super) account: String,
    pub(super) role: String,
    /// The blob before (`None`: no file).
    pub(super) old: Option<Oid>,
    /// The blob after (`None`: deleted).
    pub(super) new: Option<Oid>,
}

/// Trees read during a first-parent walk, kept for one step: the trees of a commit's parent,
/// read to compare the two, are the trees of the next commit visited. So each tree is read once
/// (libgit2 caches only small trees, and an account directory with thousands of roles is not
/// small).
pub(super) struct Trees<'r> {
    repo: &'r Repository,
    current: HashMap<Oid, Tree<'r>>,
    previous: HashMap<Oid, Tree<'r>>,
}

impl<'r> Trees<'r> {
    pub(super) fn new(repo: &'r Repository) -> Self {
        Trees {
            repo,
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    /// Moves on to the next commit: trees not used since the last step are dropped.
    pub(super) fn step(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }

    pub(super) fn get(&mut self, id: Oid, commit: Oid) -> Result<Tree<'r>, StoreError> {
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
    pub(super) fn subtree(
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
    pub(super) fn changed_role_files(
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
    pub(super) fn differing_entries(
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
