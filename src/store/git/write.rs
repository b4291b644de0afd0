//! Writing an account as one commit: what changes, the objects, then the branch, then (when the
//! branch is checked out) the working tree.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{Commit, ErrorCode, ObjectType, Oid, Tree};

use super::message::commit_message;
use super::{
    MODE_BLOB, MODE_BLOB_EXECUTABLE, NewExtra, NewFile, NewObjects, OldState, PACK_THRESHOLD,
    PARALLEL_RENDER_MIN, PolicyStore, WriteAccount, WriteMode, Written, account_dir,
};
use crate::engine::policy::{PolicyMap, to_canonical_json};
use crate::store::{POLICIES_DIR, StoreError};

impl PolicyStore {
    /// Writes `req.roles` to `policies/<account>/` on `req.branch` as one commit, and returns what
    /// changed, or `None` (and commits nothing) when the files already say exactly that.
    ///
    /// * Every account id, role name, policy name, the branch name and the trailers are checked
    ///   first; nothing is written if any is invalid.
    /// * Objects are written first, then the commit, and only then does the branch move (refusing
    ///   if another writer moved it meanwhile).
    /// * If `req.branch` is checked out in a working tree: [`StoreError::Dirty`] (nothing written)
    ///   when `policies/<account>/` has staged, unstaged or untracked changes; after the commit, the
    ///   directory's files and index entries are updated to match. If that update fails the error
    ///   says so: the commit stands, and
    ///   `git restore --source=HEAD --staged --worktree -- policies/<account>` recovers.
    /// * Otherwise only objects and the ref change; the working tree is untouched.
    pub fn write_account(&self, req: &WriteAccount) -> Result<Option<Written>, StoreError> {
        self.validate(req)?;
        let refname = format!("refs/heads/{}", req.branch);
        let checked_out =
            !self.repo.is_bare() && self.head_branch()?.as_deref() == Some(&req.branch);
        let (branch_tip, parent) = self.branch_start(req, &refname, checked_out)?;
        let rev = format!("branch {}", req.branch);
        let dir = account_dir(&req.account);
        // Rendering is most of the CPU time of a large write; it runs while the working tree is
        // checked and the old trees are read.
        let (old, rendered) = std::thread::scope(|scope| {
            let renderer = scope.spawn(|| render_all(&req.roles));
            let old = self.read_old(req, parent.as_ref(), checked_out, &dir, &rev);
            match renderer.join() {
                Ok(rendered) => (old, rendered),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        });
        let OldState {
            root: old_root,
            policies: old_policies,
            account: old_account,
            roles: existing,
        } = old?;
        let rendered = rendered?;
        let RoleChanges {
            added,
            changed,
            files,
            removed,
        } = diff_roles(req, &existing, rendered);
        let extras = self.changed_extras(req, old_root.as_ref(), &rev)?;
        if files.is_empty() && removed.is_empty() && extras.is_empty() {
            return Ok(None);
        }

        // Objects (blobs, trees, the commit), then the ref.
        let message = commit_message(req, &added, &changed, &removed);
        let objects = NewObjects {
            account: &req.account,
            files: &files,
            removed: &removed,
            extras: &extras,
            old_root: old_root.as_ref().map(Tree::id),
            old_policies: old_policies.as_ref().map(Tree::id),
            old_account: old_account.as_ref().map(Tree::id),
            parent: parent.as_ref().map(Commit::id),
            signature: self.signature(req)?,
            message: &message,
        };
        let commit = if files.len() >= PACK_THRESHOLD {
            self.write_objects_packed(&objects)
        } else {
            self.write_objects(&self.repo, &objects)
                .map(|(commit, _)| commit)
        }
        .map_err(|e| {
            StoreError::git(self.ctx(format!(
                "writing the commit for {dir} on branch {}",
                req.branch
            )))(e)
        })?;
        let subject = message.lines().next().unwrap_or_default();
        let reflog = match &parent {
            Some(_) => format!("commit: {subject}"),
            None => format!("commit (initial): {subject}"),
        };
        let moved = match &branch_tip {
            Some(tip) => self
                .repo
                .reference_matching(&refname, commit, true, tip.id(), &reflog),
            None => self.repo.reference(&refname, commit, false, &reflog),
        };
        if let Err(e) = moved {
            return Err(StoreError::Other(self.ctx(format!(
                "moving branch {} to the new commit {commit} failed (did another writer update it \
                 meanwhile?); the branch was not changed: {e}",
                req.branch
            ))));
        }

        if checked_out {
            let mut paths = dir.clone();
            for extra in &extras {
                paths.push(' ');
                paths.push_str(extra.path);
            }
            let updated = self.update_worktree(&dir, &files, &removed, &extras);
            updated.map_err(|e| {
                StoreError::Other(self.ctx(format!(
                    "committed {commit} on branch {}, but updating the working tree failed: {e}; \
                     run `git restore --source=HEAD --staged --worktree -- {paths}` to bring \
                     them up to date",
                    req.branch
                )))
            })?;
        }

        Ok(Some(Written {
            commit,
            added,
            changed,
            removed,
        }))
    }

    /// The branch's tip (`None` when the branch does not exist yet) and the parent of the new
    /// commit: the tip, else `req.base`, else `HEAD` (`None` for an initial commit).
    fn branch_start(
        &self,
        req: &WriteAccount,
        refname: &str,
        checked_out: bool,
    ) -> Result<(Option<Commit<'_>>, Option<Commit<'_>>), StoreError> {
        let branch_tip = match self.repo.find_reference(refname) {
            Ok(r) => Some(r.peel_to_commit().map_err(StoreError::git(
                self.ctx(format!("reading branch {}", req.branch)),
            ))?),
            Err(e) if e.code() == ErrorCode::NotFound => None,
            Err(e) => {
                return Err(StoreError::git(
                    self.ctx(format!("reading branch {}", req.branch)),
                )(e));
            }
        };
        let parent = match (&branch_tip, &req.base) {
            (Some(tip), _) => Some(tip.clone()),
            (None, Some(base)) if checked_out => {
                return Err(StoreError::Other(self.ctx(format!(
                    "branch {} is checked out but has no commits; it cannot be started at {base} \
                     (nothing was written)",
                    req.branch
                ))));
            }
            (None, Some(base)) => Some(
                self.repo
                    .revparse_single(base)
                    .and_then(|o| o.peel_to_commit())
                    .map_err(StoreError::git(self.ctx(format!(
                        "resolving base {base:?} for new branch {}",
                        req.branch
                    ))))?,
            ),
            (None, None) => match self.repo.head() {
                Ok(head) => Some(head.peel_to_commit().map_err(StoreError::git(
                    self.ctx(format!("reading HEAD to start branch {}", req.branch)),
                ))?),
                Err(e) if matches!(e.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => None,
                Err(e) => return Err(StoreError::git(self.ctx("reading HEAD"))(e)),
            },
        };
        Ok((branch_tip, parent))
    }

    /// What `req` starts from: refuses if the account directory is dirty (when `checked_out`),
    /// then reads the parent's trees and the account's role files.
    fn read_old<'r>(
        &'r self,
        req: &WriteAccount,
        parent: Option<&Commit<'r>>,
        checked_out: bool,
        dir: &str,
        rev: &str,
    ) -> Result<OldState<'r>, StoreError> {
        if checked_out {
            // The index is updated after the commit; refuse now rather than fail then.
            let lock = self.repo.path().join("index.lock");
            if lock.exists() {
                return Err(StoreError::Other(format!(
                    "{} exists: another git process is using the index (nothing was written)",
                    lock.display()
                )));
            }
            self.refuse_if_dirty(&req.account)?;
            self.refuse_if_extras_dirty(req)?;
        }
        let root = match parent {
            Some(c) => Some(c.tree().map_err(StoreError::git(
                self.ctx(format!("reading the tree of {}", c.id())),
            ))?),
            None => None,
        };
        let policies = match &root {
            Some(t) => self.subtree(t, POLICIES_DIR, rev)?,
            None => None,
        };
        let account = match &root {
            Some(t) => self.subtree(t, dir, rev)?,
            None => None,
        };
        let mut roles = BTreeMap::new();
        if let Some(tree) = &account {
            for entry in tree.iter() {
                match self.role_entry(dir, &entry, rev) {
                    Ok((role, _)) => {
                        roles.insert(role, (entry.id(), entry.filemode()));
                    }
                    // A sync would have to delete a file it does not understand; refuse instead.
                    Err(e) if req.mode == WriteMode::ReplaceAll => return Err(e),
                    Err(_) => {}
                }
            }
        }
        Ok(OldState {
            root,
            policies,
            account,
            roles,
        })
    }

    /// The extra files of `req` whose content differs from the parent tree's (`old_root`), with
    /// their blob ids. An error when a path, or a directory on the way, is taken by something else
    /// (a directory where the file goes, a file where a directory goes).
    fn changed_extras<'a>(
        &self,
        req: &'a WriteAccount,
        old_root: Option<&Tree<'_>>,
        rev: &str,
    ) -> Result<Vec<NewExtra<'a>>, StoreError> {
        let mut out = Vec::new();
        for (path, text) in &req.extra_files {
            let id = Oid::hash_object(ObjectType::Blob, text.as_bytes())
                .map_err(StoreError::git("hashing an extra file"))?;
            let mut mode = MODE_BLOB;
            if let Some(root) = old_root {
                let mut dir = String::new();
                let dirs = path.rsplit_once('/').map_or("", |(d, _)| d);
                for part in dirs.split('/').filter(|p| !p.is_empty()) {
                    if !dir.is_empty() {
                        dir.push('/');
                    }
                    dir.push_str(part);
                    match root.get_path(Path::new(&dir)) {
                        Ok(e) if e.kind() != Some(ObjectType::Tree) => {
                            return Err(StoreError::Other(self.ctx(format!(
                                "cannot write {path} on {rev}: {dir} is a file (nothing was written)"
                            ))));
                        }
                        Ok(_) => {}
                        Err(e) if e.code() == ErrorCode::NotFound => break,
                        Err(e) => {
                            return Err(StoreError::git(
                                self.ctx(format!("reading {dir} at {rev}")),
                            )(e));
                        }
                    }
                }
                match root.get_path(Path::new(path)) {
                    Ok(e) if e.kind() != Some(ObjectType::Blob) => {
                        return Err(StoreError::Other(self.ctx(format!(
                            "cannot write {path} on {rev}: it is a directory (nothing was written)"
                        ))));
                    }
                    Ok(e) if e.id() == id => continue,
                    Ok(e) if e.filemode() == MODE_BLOB_EXECUTABLE => mode = MODE_BLOB_EXECUTABLE,
                    Ok(_) => {}
                    Err(e) if e.code() == ErrorCode::NotFound => {}
                    Err(e) => {
                        return Err(StoreError::git(
                            self.ctx(format!("reading {path} at {rev}")),
                        )(e));
                    }
                }
            }
            out.push(NewExtra {
                path,
                id,
                text,
                mode,
            });
        }
        Ok(out)
    }
}

/// The canonical text of every role's file and its blob id, in the map's order. Rendering is
/// most of a sync's CPU time, so large maps are split over the available cores.
fn render_all(roles: &BTreeMap<String, PolicyMap>) -> Result<Vec<(String, Oid)>, StoreError> {
    fn one(map: &PolicyMap) -> Result<(String, Oid), StoreError> {
        let text = to_canonical_json(map);
        let id = Oid::hash_object(ObjectType::Blob, text.as_bytes())
            .map_err(StoreError::git("hashing a policy file"))?;
        Ok((text, id))
    }
    let maps: Vec<&PolicyMap> = roles.values().collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || maps.len() < PARALLEL_RENDER_MIN {
        return maps.into_iter().map(one).collect();
    }
    let chunk = maps.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = maps
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|m| one(m)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(maps.len());
        for worker in workers {
            match worker.join() {
                Ok(part) => {
                    for item in part {
                        out.push(item?);
                    }
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(out)
    })
}

/// Compares the rendered files with the existing ones: the roles added and changed, the files
/// to write (unchanged ones skipped, existing file modes kept), and the roles removed (only when
/// `req` replaces the account's roles).
fn diff_roles(
    req: &WriteAccount,
    existing: &BTreeMap<String, (Oid, i32)>,
    rendered: Vec<(String, Oid)>,
) -> RoleChanges {
    let mut added = Vec::new();
    let mut changed = Vec::new();
    let mut files = Vec::new();
    for ((role, _), (text, id)) in req.roles.iter().zip(rendered) {
        let mode = match existing.get(role) {
            Some((old, _)) if *old == id => continue,
            Some((_, mode)) => {
                changed.push(role.clone());
                *mode
            }
            None => {
                added.push(role.clone());
                MODE_BLOB
            }
        };
        files.push(NewFile {
            role: role.clone(),
            id,
            text,
            mode,
        });
    }
    let removed: Vec<String> = match req.mode {
        WriteMode::ReplaceAll => existing
            .keys()
            .filter(|r| !req.roles.contains_key(*r))
            .cloned()
            .collect(),
        WriteMode::Upsert => Vec::new(),
    };
    RoleChanges {
        added,
        changed,
        files,
        removed,
    }
}

/// What a write changes in the account's directory ([`diff_roles`]).
struct RoleChanges {
    added: Vec<String>,
    changed: Vec<String>,
    files: Vec<NewFile>,
    removed: Vec<String>,
}
