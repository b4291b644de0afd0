//! Reading and writing role files as commits.
//!
//! [`PolicyStore`] reads `policies/<account>/<RoleName>.json` straight from the tree of any
//! revision (never from the working tree) and writes a whole account as one commit built directly
//! in the object database: blobs in canonical form ([`to_canonical_json`]), trees with a tree
//! builder, a commit with the trailers described in [`super`], and only then the branch ref.
//!
//! When the branch written is the one checked out (and the repository has a working tree), the
//! write first refuses if `policies/<account>/` has uncommitted changes, and afterwards brings that
//! directory's files and index entries up to date, so `git status` stays clean. Any other branch
//! changes by objects and ref alone.
//!
//! Large writes (a first sync of thousands of roles) collect their objects in memory and store
//! them as one pack; small ones write loose objects, as `git add` would.
//!
//! ```no_run
//! # fn main() -> Result<(), repokid::store::StoreError> {
//! use std::collections::BTreeMap;
//! use std::path::Path;
//! use repokid::store::Action;
//! use repokid::store::git::{PolicyStore, WriteAccount, WriteMode};
//!
//! let store = PolicyStore::open(Path::new("."))?;
//! let live = BTreeMap::new(); // role name → inline policies, from the inventory
//! let written = store.write_account(&WriteAccount {
//!     mode: WriteMode::ReplaceAll,
//!     action: Action::Sync,
//!     roles: live,
//!     ..WriteAccount::new("main", "123456789012")
//! })?;
//! match written {
//!     Some(w) => println!("{} ({} added)", w.commit, w.added.len()),
//!     None => println!("nothing changed"),
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use git2::{
    Commit, ErrorCode, ObjectType, Oid, Repository, Signature, Status, StatusOptions, Tree,
    TreeBuilder,
};

use super::names::{validate_account_id, validate_policy_name, validate_role_name};
use super::{Action, POLICIES_DIR, StoreError, trailers};
use crate::engine::policy::{PolicyError, PolicyMap, parse_policy_map, to_canonical_json};

/// Git file modes of tree entries.
const MODE_BLOB: i32 = 0o100_644;
const MODE_BLOB_EXECUTABLE: i32 = 0o100_755;
const MODE_TREE: i32 = 0o040_000;

/// The name and e-mail used when neither the request nor the repository's configuration gives a
/// signature.
pub const FALLBACK_SIGNATURE: (&str, &str) = ("repokid", "repokid@localhost");

/// From this many new files on, a commit's objects are written as one pack rather than loose:
/// thousands of loose objects (a first sync) cost a file each and make git want to `gc`, while a
/// few hundred are cheaper loose than delta-searched (`git add` writes loose objects too).
const PACK_THRESHOLD: usize = 1000;

/// From this many roles on, rendering is spread over threads.
const PARALLEL_RENDER_MIN: usize = 256;

/// How many role names a generated commit body lists per kind of change before summarising.
const BODY_LIST_LIMIT: usize = 100;

/// A git repository holding `policies/<account>/<RoleName>.json` files.
pub struct PolicyStore {
    repo: Repository,
}

impl std::fmt::Debug for PolicyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyStore")
            .field("root", &self.root())
            .finish()
    }
}

/// Which roles a [`WriteAccount`] changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The account's roles become exactly the given ones: roles absent from the map are deleted
    /// (a sync records the complete live state).
    ReplaceAll,
    /// Only the given roles are written; the others are left as they are (proposals, rollbacks).
    Upsert,
}

/// One commit's worth of changes to an account's role files.
#[derive(Debug, Clone)]
pub struct WriteAccount {
    /// The branch to commit to (`main`, `repokid/123456789012`), without `refs/heads/`.
    pub branch: String,
    /// Where to start `branch` if it does not exist yet (branch, tag, commit); `None` means `HEAD`
    /// (or an initial commit when `HEAD` has no commits).
    pub base: Option<String>,
    /// The 12-digit account id.
    pub account: String,
    /// Role name → its inline policies.
    pub roles: BTreeMap<String, PolicyMap>,
    /// Whether roles absent from `roles` are deleted.
    pub mode: WriteMode,
    /// The `Repokid-Action` trailer.
    pub action: Action,
    /// The commit subject. Empty: `repokid <action>: <account> (N added, N changed, N removed)`.
    pub subject: String,
    /// The commit body for humans. Empty: the roles added, changed and removed, by name.
    pub body: String,
    /// Trailers after the standard ones (`Repokid-Removed-Actions`, …), in order.
    pub extra_trailers: Vec<(String, String)>,
    /// Author and committer `(name, email)`; `None` uses the repository's `user.name` and
    /// `user.email`, or [`FALLBACK_SIGNATURE`] when those are not configured.
    pub author: Option<(String, String)>,
    /// The commit time; `None` is now. (Recording history after the fact, and the demo.)
    pub time: Option<chrono::DateTime<chrono::Utc>>,
    /// Other files written in the same commit (a proposal's review report): repository-relative
    /// path (`/`-separated, like `.repokid/reports/123456789012.md`) → content. Paths must be
    /// relative, without empty, `.`, `..` or `.git` components, outside `policies/`, and distinct;
    /// missing directories are created. A file whose content differs from the parent commit's is a
    /// change of its own (committed even when no role file changes); one that is already there,
    /// byte for byte, is not. When the branch is checked out, the files must be clean in the
    /// working tree and are updated there with the role files.
    pub extra_files: Vec<(String, String)>,
}

impl WriteAccount {
    /// A request for `branch` and `account` with no roles, [`WriteMode::Upsert`],
    /// [`Action::Sync`], a generated message and the default author; fill in the rest with struct
    /// update syntax.
    pub fn new(branch: impl Into<String>, account: impl Into<String>) -> WriteAccount {
        WriteAccount {
            branch: branch.into(),
            base: None,
            account: account.into(),
            roles: BTreeMap::new(),
            mode: WriteMode::Upsert,
            action: Action::Sync,
            subject: String::new(),
            body: String::new(),
            extra_trailers: Vec::new(),
            author: None,
            time: None,
            extra_files: Vec::new(),
        }
    }
}

/// What a [`PolicyStore::write_account`] commit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new commit (the branch now points at it).
    pub commit: Oid,
    /// Roles whose file was created, sorted.
    pub added: Vec<String>,
    /// Roles whose file changed, sorted.
    pub changed: Vec<String>,
    /// Roles whose file was deleted, sorted.
    pub removed: Vec<String>,
}

/// A role file to be written: role name, blob id, canonical text, file mode.
struct NewFile {
    role: String,
    id: Oid,
    text: String,
    mode: i32,
}

/// An extra file to be written ([`WriteAccount::extra_files`]): repository-relative path, blob
/// id, content, file mode.
struct NewExtra<'a> {
    path: &'a str,
    id: Oid,
    text: &'a str,
    mode: i32,
}

impl PolicyStore {
    /// Opens the repository containing `path` (searching upward, like `git`).
    pub fn open(path: &Path) -> Result<PolicyStore, StoreError> {
        let repo = Repository::discover(path).map_err(StoreError::git(format!(
            "opening the git repository at or above {}",
            path.display()
        )))?;
        Ok(PolicyStore { repo })
    }

    /// Wraps an already-open repository.
    pub fn from_repository(repo: Repository) -> PolicyStore {
        PolicyStore { repo }
    }

    /// The underlying repository (for history walks).
    pub fn repo(&self) -> &Repository {
        &self.repo
    }

    /// The repository's working tree, or its git directory when it is bare.
    pub fn root(&self) -> &Path {
        self.repo.workdir().unwrap_or_else(|| self.repo.path())
    }

    fn ctx(&self, what: impl std::fmt::Display) -> String {
        format!("{what} in {}", self.root().display())
    }

    /// The tree of `rev`, or `None` when `rev` is `HEAD` and `HEAD` has no commits yet.
    fn rev_tree(&self, rev: &str) -> Result<Option<Tree<'_>>, StoreError> {
        match self.repo.revparse_single(rev) {
            Ok(object) => object.peel_to_tree().map(Some).map_err(StoreError::git(
                self.ctx(format!("reading the tree of {rev:?}")),
            )),
            Err(e) if rev == "HEAD" && self.head_is_unborn() => {
                drop(e);
                Ok(None)
            }
            Err(e) => Err(StoreError::git(
                self.ctx(format!("resolving revision {rev:?}")),
            )(e)),
        }
    }

    fn head_is_unborn(&self) -> bool {
        matches!(self.repo.head(), Err(e) if e.code() == ErrorCode::UnbornBranch)
    }

    /// The subtree at `path` of `tree`, `None` if there is nothing there; an error if it is not a
    /// directory.
    fn subtree<'r>(
        &'r self,
        tree: &Tree<'r>,
        path: &str,
        rev: &str,
    ) -> Result<Option<Tree<'r>>, StoreError> {
        let entry = match tree.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError::git(
                    self.ctx(format!("reading {path} at {rev}")),
                )(e));
            }
        };
        if entry.kind() != Some(ObjectType::Tree) {
            return Err(StoreError::Other(
                self.ctx(format!("{path} at {rev} is not a directory")),
            ));
        }
        self.repo
            .find_tree(entry.id())
            .map(Some)
            .map_err(StoreError::git(
                self.ctx(format!("reading {path} at {rev}")),
            ))
    }

    /// The accounts with a directory under `policies/` at `rev` (branch, tag, commit or `HEAD`),
    /// sorted. Files directly under `policies/` are ignored; a directory whose name is not a
    /// 12-digit account id is an error.
    pub fn accounts(&self, rev: &str) -> Result<Vec<String>, StoreError> {
        let Some(root) = self.rev_tree(rev)? else {
            return Ok(Vec::new());
        };
        let Some(policies) = self.subtree(&root, POLICIES_DIR, rev)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in policies.iter() {
            if entry.kind() != Some(ObjectType::Tree) {
                continue;
            }
            let name = String::from_utf8_lossy(entry.name_bytes());
            validate_account_id(&name).map_err(|e| {
                StoreError::Other(self.ctx(format!("{POLICIES_DIR}/{name} at {rev}: {e}")))
            })?;
            out.push(name.into_owned());
        }
        Ok(out)
    }

    /// Every role of `account` at `rev` (branch, tag, commit or `HEAD`): role name → inline
    /// policies. An account without a directory has no roles (an empty map). Reads objects only,
    /// never the working tree.
    ///
    /// Errors: [`StoreError::BadFile`] for a file that does not parse or is not named
    /// `<RoleName>.json`, naming the file and `rev`.
    pub fn read_account(
        &self,
        rev: &str,
        account: &str,
    ) -> Result<BTreeMap<String, PolicyMap>, StoreError> {
        validate_account_id(account)?;
        let mut out = BTreeMap::new();
        let Some(root) = self.rev_tree(rev)? else {
            return Ok(out);
        };
        let dir = account_dir(account);
        let Some(tree) = self.subtree(&root, &dir, rev)? else {
            return Ok(out);
        };
        for entry in tree.iter() {
            let (role, path) = self.role_entry(&dir, &entry, rev)?;
            let map = self.read_blob(&path, entry.id(), rev)?;
            out.insert(role, map);
        }
        Ok(out)
    }

    /// One role's inline policies at `rev`; `None` if it has no file there.
    pub fn read_role(
        &self,
        rev: &str,
        account: &str,
        role: &str,
    ) -> Result<Option<PolicyMap>, StoreError> {
        validate_account_id(account)?;
        validate_role_name(role)?;
        let Some(root) = self.rev_tree(rev)? else {
            return Ok(None);
        };
        let dir = account_dir(account);
        let Some(tree) = self.subtree(&root, &dir, rev)? else {
            return Ok(None);
        };
        match tree.get_name(&format!("{role}.json")) {
            None => Ok(None),
            Some(entry) => {
                let (_, path) = self.role_entry(&dir, &entry, rev)?;
                self.read_blob(&path, entry.id(), rev).map(Some)
            }
        }
    }

    /// The roles of `account` whose file differs between revisions `from` and `to` (added,
    /// changed or removed), sorted. Compares blob ids only; nothing is parsed.
    pub fn changed_roles(
        &self,
        from: &str,
        to: &str,
        account: &str,
    ) -> Result<Vec<String>, StoreError> {
        validate_account_id(account)?;
        let dir = account_dir(account);
        let ids = |rev: &str| -> Result<BTreeMap<String, Oid>, StoreError> {
            let mut out = BTreeMap::new();
            let Some(root) = self.rev_tree(rev)? else {
                return Ok(out);
            };
            if let Some(tree) = self.subtree(&root, &dir, rev)? {
                for entry in tree.iter() {
                    let (role, _) = self.role_entry(&dir, &entry, rev)?;
                    out.insert(role, entry.id());
                }
            }
            Ok(out)
        };
        let (a, b) = (ids(from)?, ids(to)?);
        let mut roles: Vec<String> = a
            .iter()
            .filter(|(role, id)| b.get(*role) != Some(id))
            .map(|(role, _)| role.clone())
            .chain(b.keys().filter(|role| !a.contains_key(*role)).cloned())
            .collect();
        roles.sort();
        Ok(roles)
    }

    /// Checks that a tree entry of an account directory is a regular file `<RoleName>.json`;
    /// returns the role name and the file's path.
    fn role_entry(
        &self,
        dir: &str,
        entry: &git2::TreeEntry<'_>,
        rev: &str,
    ) -> Result<(String, String), StoreError> {
        let name = String::from_utf8_lossy(entry.name_bytes());
        let path = format!("{dir}/{name}");
        let bad = |message: String| StoreError::BadFile {
            path: path.clone(),
            rev: rev.to_string(),
            source: PolicyError {
                policy: path.clone(),
                place: "file name".to_string(),
                message,
            },
        };
        let mode = entry.filemode();
        if entry.kind() != Some(ObjectType::Blob)
            || (mode != MODE_BLOB && mode != MODE_BLOB_EXECUTABLE)
        {
            return Err(bad(
                "not a regular file; an account directory holds only <RoleName>.json files"
                    .to_string(),
            ));
        }
        let Some(role) = name.strip_suffix(".json") else {
            return Err(bad(
                "not a role file; an account directory holds only <RoleName>.json files"
                    .to_string(),
            ));
        };
        validate_role_name(role).map_err(|e| bad(e.to_string()))?;
        Ok((role.to_string(), path))
    }

    fn read_blob(&self, path: &str, id: Oid, rev: &str) -> Result<PolicyMap, StoreError> {
        let blob = self.repo.find_blob(id).map_err(StoreError::git(
            self.ctx(format!("reading {path} at {rev}")),
        ))?;
        let bad = |place: &str, message: String| StoreError::BadFile {
            path: path.to_string(),
            rev: rev.to_string(),
            source: PolicyError {
                policy: path.to_string(),
                place: place.to_string(),
                message,
            },
        };
        let text = std::str::from_utf8(blob.content())
            .map_err(|e| bad("file", format!("not UTF-8: {e}")))?;
        let map = parse_policy_map(path, text).map_err(|source| StoreError::BadFile {
            path: path.to_string(),
            rev: rev.to_string(),
            source,
        })?;
        for name in map.keys() {
            validate_policy_name(name).map_err(|e| bad("policy name", e.to_string()))?;
        }
        Ok(map)
    }

    /// The branch `HEAD` points to (even before its first commit), `None` when `HEAD` is
    /// detached.
    pub fn head_branch(&self) -> Result<Option<String>, StoreError> {
        let head = self
            .repo
            .find_reference("HEAD")
            .map_err(StoreError::git(self.ctx("reading HEAD")))?;
        Ok(head
            .symbolic_target_bytes()
            .and_then(|t| t.strip_prefix(b"refs/heads/"))
            .map(|b| String::from_utf8_lossy(b).into_owned()))
    }

    /// The branch `HEAD` points to (even before its first commit); an error when `HEAD` is
    /// detached.
    pub fn current_branch(&self) -> Result<String, StoreError> {
        self.head_branch()?.ok_or_else(|| {
            StoreError::Other(self.ctx("HEAD is detached; check out a branch first"))
        })
    }

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
        let branch_tip = match self.repo.find_reference(&refname) {
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

    /// Writes the blobs, trees and commit of `o` into `w`'s object database; returns the commit
    /// and every object written, with a path hint for delta compression.
    fn write_objects(
        &self,
        w: &Repository,
        o: &NewObjects<'_>,
    ) -> Result<(Oid, Vec<(Oid, String)>), git2::Error> {
        let dir = account_dir(o.account);
        let mut written = Vec::with_capacity(o.files.len() + 4);
        for f in o.files {
            let id = w.blob(f.text.as_bytes())?;
            debug_assert_eq!(id, f.id);
            written.push((id, format!("{dir}/{}.json", f.role)));
        }
        let find = |id: Option<Oid>| id.map(|id| w.find_tree(id)).transpose();

        let old_account = find(o.old_account)?;
        let mut account = w.treebuilder(old_account.as_ref())?;
        for f in o.files {
            account.insert(format!("{}.json", f.role), f.id, f.mode)?;
        }
        for role in o.removed {
            account.remove(format!("{role}.json"))?;
        }
        let account_id = put_tree(account)?;

        let old_policies = find(o.old_policies)?;
        let mut policies = w.treebuilder(old_policies.as_ref())?;
        set_entry(&mut policies, o.account, account_id)?;
        let policies_id = put_tree(policies)?;

        let old_root = find(o.old_root)?;
        let mut root = w.treebuilder(old_root.as_ref())?;
        set_entry(&mut root, POLICIES_DIR, policies_id)?;
        for extra in o.extras {
            let id = w.blob(extra.text.as_bytes())?;
            debug_assert_eq!(id, extra.id);
            written.push((id, extra.path.to_string()));
            let parts: Vec<&str> = extra.path.split('/').collect();
            insert_at(w, &mut root, &parts, id, extra.mode)?;
        }
        // The root tree is written even when empty: a commit needs one.
        let root_id = root.write()?;
        for (id, path) in [(account_id, dir), (policies_id, POLICIES_DIR.to_string())] {
            if let Some(id) = id {
                written.push((id, path));
            }
        }
        if !o.extras.is_empty() {
            // The directories holding extra files, as they are in the new tree (a pack must have
            // every new object).
            let new_root = w.find_tree(root_id)?;
            let mut dirs = std::collections::BTreeSet::new();
            for extra in o.extras {
                let mut end = 0;
                while let Some(i) = extra.path[end..].find('/') {
                    end += i;
                    dirs.insert(&extra.path[..end]);
                    end += 1;
                }
            }
            for d in dirs {
                let entry = new_root.get_path(Path::new(d))?;
                written.push((entry.id(), d.to_string()));
            }
        }
        written.push((root_id, String::new()));

        let tree = w.find_tree(root_id)?;
        let parent = o.parent.map(|id| w.find_commit(id)).transpose()?;
        let parents: Vec<&Commit<'_>> = parent.iter().collect();
        let commit = w.commit(None, &o.signature, &o.signature, o.message, &tree, &parents)?;
        written.push((commit, String::new()));
        Ok((commit, written))
    }

    /// [`Self::write_objects`] for many objects: they are collected in memory and stored as one
    /// pack (delta-compressed, one file) instead of one loose file each.
    fn write_objects_packed(&self, o: &NewObjects<'_>) -> Result<Oid, git2::Error> {
        // A second handle whose object database writes to memory; reads fall through to disk.
        let w = Repository::open(self.repo.path())?;
        let odb = w.odb()?;
        let mempack = odb.add_new_mempack_backend(1000)?;
        let (commit, written) = self.write_objects(&w, o)?;
        let mut pb = w.packbuilder()?;
        pb.set_threads(0);
        for (id, path) in &written {
            pb.insert_object(*id, Some(path.as_str()).filter(|p| !p.is_empty()))?;
        }
        let mut pack = git2::Buf::new();
        pb.write_buf(&mut pack)?;
        drop(pb);
        let target = self.repo.odb()?;
        let mut writer = target.packwriter()?;
        std::io::Write::write_all(&mut writer, &pack)
            .map_err(|e| git2::Error::from_str(&format!("writing the pack: {e}")))?;
        writer.commit()?;
        mempack.reset()?;
        Ok(commit)
    }

    fn validate(&self, req: &WriteAccount) -> Result<(), StoreError> {
        validate_account_id(&req.account)?;
        for (role, map) in &req.roles {
            validate_role_name(role)?;
            for policy in map.keys() {
                validate_policy_name(policy)?;
            }
        }
        let branch_ok = !req.branch.is_empty()
            && git2::Branch::name_is_valid(&req.branch).unwrap_or(false)
            && req.branch != "HEAD";
        if !branch_ok {
            return Err(StoreError::Other(format!(
                "invalid branch name {:?} (nothing was written)",
                req.branch
            )));
        }
        if req.subject.contains(['\n', '\r']) {
            return Err(StoreError::Other(format!(
                "commit subject {:?} must be one line (nothing was written)",
                req.subject
            )));
        }
        for (key, value) in &req.extra_trailers {
            if !is_trailer_key(key) {
                return Err(StoreError::Other(format!(
                    "invalid trailer key {key:?}: use letters, digits and '-' (nothing was written)"
                )));
            }
            if value.contains(['\n', '\r']) {
                return Err(StoreError::Other(format!(
                    "trailer {key} must be one line, found {value:?} (nothing was written)"
                )));
            }
        }
        for (i, (path, _)) in req.extra_files.iter().enumerate() {
            validate_extra_path(path).map_err(|why| {
                StoreError::Other(format!(
                    "invalid extra file path {path:?}: {why} (nothing was written)"
                ))
            })?;
            for (other, _) in &req.extra_files[..i] {
                let nested =
                    |a: &str, b: &str| b.strip_prefix(a).is_some_and(|rest| rest.starts_with('/'));
                if other == path || nested(other, path) || nested(path, other) {
                    return Err(StoreError::Other(format!(
                        "extra files {other:?} and {path:?} collide (nothing was written)"
                    )));
                }
            }
        }
        if let Some((name, email)) = &req.author {
            Signature::now(name, email).map_err(|e| {
                StoreError::Other(format!(
                    "invalid author {name:?} <{email}>: {} (nothing was written)",
                    e.message()
                ))
            })?;
        }
        Ok(())
    }

    fn signature(&self, req: &WriteAccount) -> Result<Signature<'static>, StoreError> {
        let fallback = || Signature::now(FALLBACK_SIGNATURE.0, FALLBACK_SIGNATURE.1);
        let sig = match &req.author {
            Some((name, email)) => Signature::now(name, email),
            None => self.repo.signature().or_else(|_| fallback()),
        }
        .map_err(StoreError::git("making the commit signature"))?;
        match req.time {
            None => Ok(sig),
            Some(t) => {
                let (name, email) = (
                    sig.name().unwrap_or(FALLBACK_SIGNATURE.0),
                    sig.email().unwrap_or(FALLBACK_SIGNATURE.1),
                );
                Signature::new(name, email, &git2::Time::new(t.timestamp(), 0))
                    .map_err(StoreError::git("making the commit signature"))
            }
        }
    }

    /// [`StoreError::Dirty`] if one of `req.extra_files` has staged, unstaged or untracked changes
    /// in the working tree.
    fn refuse_if_extras_dirty(&self, req: &WriteAccount) -> Result<(), StoreError> {
        for (path, _) in &req.extra_files {
            let status = match self.repo.status_file(Path::new(path)) {
                Ok(s) => s,
                Err(e) if e.code() == ErrorCode::NotFound => continue,
                Err(e) => {
                    return Err(StoreError::git(
                        self.ctx(format!("checking {path} for changes")),
                    )(e));
                }
            };
            if status != Status::CURRENT && !status.contains(Status::IGNORED) {
                return Err(StoreError::Dirty {
                    path: self.root().join(path).display().to_string(),
                });
            }
        }
        Ok(())
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

    /// [`StoreError::Dirty`] if `policies/<account>/` has staged, unstaged or untracked changes in
    /// the working tree.
    fn refuse_if_dirty(&self, account: &str) -> Result<(), StoreError> {
        let dir = account_dir(account);
        let prefix = format!("{dir}/");
        let mut opts = StatusOptions::new();
        opts.pathspec(&prefix)
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false)
            .include_unmodified(false)
            .exclude_submodules(true);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(StoreError::git(
                self.ctx(format!("checking {dir} for changes")),
            ))?;
        let dirty = statuses.iter().any(|s| {
            s.status() != Status::CURRENT
                && !s.status().contains(Status::IGNORED)
                && s.path_bytes().starts_with(prefix.as_bytes())
        });
        if dirty {
            return Err(StoreError::Dirty {
                path: self.root().join(&dir).display().to_string(),
            });
        }
        Ok(())
    }

    /// Brings `dir`'s files and index entries in line with a commit that wrote `files` and deleted
    /// `removed`.
    fn update_worktree(
        &self,
        dir: &str,
        files: &[NewFile],
        removed: &[String],
        extras: &[NewExtra<'_>],
    ) -> Result<(), String> {
        let workdir = self
            .repo
            .workdir()
            .ok_or_else(|| "the repository has no working tree".to_string())?;
        let abs_dir = workdir.join(dir);
        let mut index = self
            .repo
            .index()
            .map_err(|e| format!("opening the index: {}", e.message()))?;
        index
            .read(false)
            .map_err(|e| format!("reading the index: {}", e.message()))?;
        if !files.is_empty() {
            std::fs::create_dir_all(&abs_dir)
                .map_err(|e| format!("creating {}: {e}", abs_dir.display()))?;
        }
        for f in files {
            let rel = format!("{dir}/{}.json", f.role);
            let abs = abs_dir.join(format!("{}.json", f.role));
            std::fs::write(&abs, f.text.as_bytes())
                .map_err(|e| format!("writing {}: {e}", abs.display()))?;
            let entry = index_entry(&abs, &rel, f.id, f.mode)?;
            index
                .add(&entry)
                .map_err(|e| format!("updating the index for {rel}: {}", e.message()))?;
        }
        for role in removed {
            let rel = format!("{dir}/{role}.json");
            let abs = abs_dir.join(format!("{role}.json"));
            match std::fs::remove_file(&abs) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("deleting {}: {e}", abs.display())),
            }
            index
                .remove_path(Path::new(&rel))
                .map_err(|e| format!("updating the index for {rel}: {}", e.message()))?;
        }
        if !removed.is_empty() {
            // Like git, leave no empty directories behind (these fail harmlessly when not empty).
            let _ = std::fs::remove_dir(&abs_dir);
            let _ = std::fs::remove_dir(workdir.join(POLICIES_DIR));
        }
        for extra in extras {
            let abs = workdir.join(extra.path);
            if let Some(parent) = abs.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("creating {}: {e}", parent.display()))?;
            }
            std::fs::write(&abs, extra.text.as_bytes())
                .map_err(|e| format!("writing {}: {e}", abs.display()))?;
            let entry = index_entry(&abs, extra.path, extra.id, extra.mode)?;
            index
                .add(&entry)
                .map_err(|e| format!("updating the index for {}: {}", extra.path, e.message()))?;
        }
        index
            .write()
            .map_err(|e| format!("writing the index: {}", e.message()))
    }
}

/// The state a write starts from.
struct OldState<'r> {
    /// The parent commit's tree.
    root: Option<Tree<'r>>,
    /// Its `policies` tree.
    policies: Option<Tree<'r>>,
    /// Its `policies/<account>` tree.
    account: Option<Tree<'r>>,
    /// Role name → blob id and file mode of its file.
    roles: BTreeMap<String, (Oid, i32)>,
}

/// Everything a commit writes, for [`PolicyStore::write_objects`].
struct NewObjects<'a> {
    account: &'a str,
    files: &'a [NewFile],
    removed: &'a [String],
    extras: &'a [NewExtra<'a>],
    old_root: Option<Oid>,
    old_policies: Option<Oid>,
    old_account: Option<Oid>,
    parent: Option<Oid>,
    signature: Signature<'static>,
    message: &'a str,
}

/// Writes a tree builder's tree; `None` (nothing written) when it is empty, as git has no empty
/// directories.
fn put_tree(tb: TreeBuilder<'_>) -> Result<Option<Oid>, git2::Error> {
    if tb.is_empty() {
        Ok(None)
    } else {
        tb.write().map(Some)
    }
}

/// Points `name` at the subtree `id`, or removes it when the subtree is gone.
fn set_entry(tb: &mut TreeBuilder<'_>, name: &str, id: Option<Oid>) -> Result<(), git2::Error> {
    match id {
        Some(id) => tb.insert(name, id, MODE_TREE).map(drop),
        None if tb.get(name)?.is_some() => tb.remove(name),
        None => Ok(()),
    }
}

/// Puts the blob `id` at `parts` (a path split at `/`) under the tree being built by `tb`,
/// creating or updating the directories on the way.
fn insert_at(
    w: &Repository,
    tb: &mut TreeBuilder<'_>,
    parts: &[&str],
    id: Oid,
    mode: i32,
) -> Result<(), git2::Error> {
    match parts {
        [] => Err(git2::Error::from_str("empty path")),
        [name] => tb.insert(*name, id, mode).map(drop),
        [dir, rest @ ..] => {
            let old = match tb.get(*dir)? {
                Some(e) if e.kind() == Some(ObjectType::Tree) => Some(w.find_tree(e.id())?),
                Some(_) => {
                    return Err(git2::Error::from_str(&format!("{dir} is not a directory")));
                }
                None => None,
            };
            let mut sub = w.treebuilder(old.as_ref())?;
            insert_at(w, &mut sub, rest, id, mode)?;
            let sub_id = sub.write()?;
            tb.insert(*dir, sub_id, MODE_TREE).map(drop)
        }
    }
}

/// Why `path` cannot be an extra file's path, if it cannot.
fn validate_extra_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty");
    }
    if path.starts_with('/') {
        return Err("must be relative to the repository root");
    }
    if path.contains(['\\', '\0']) {
        return Err("backslashes and NUL are not allowed");
    }
    for part in path.split('/') {
        match part {
            "" => return Err("empty path component"),
            "." | ".." => return Err("`.` and `..` are not allowed"),
            p if p.eq_ignore_ascii_case(".git") => return Err("`.git` is not allowed"),
            _ => {}
        }
    }
    if path
        .split('/')
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case(POLICIES_DIR))
    {
        return Err("policies/ holds only role files");
    }
    Ok(())
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

/// An index entry for a file just written, with its stat data so `git status` need not re-read it.
fn index_entry(abs: &Path, rel: &str, id: Oid, mode: i32) -> Result<git2::IndexEntry, String> {
    let meta = std::fs::metadata(abs).map_err(|e| format!("reading {}: {e}", abs.display()))?;
    let path = rel.as_bytes().to_vec();
    // The low 12 bits of the flags hold the path length (capped), as in git.
    let flags = path.len().min(0xfff) as u16;
    #[cfg(unix)]
    let entry = {
        use std::os::unix::fs::MetadataExt;
        // Git stores these truncated to 32 bits, so the casts are what git does.
        git2::IndexEntry {
            ctime: git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32),
            mtime: git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32),
            dev: meta.dev() as u32,
            ino: meta.ino() as u32,
            mode: mode as u32,
            uid: meta.uid(),
            gid: meta.gid(),
            file_size: meta.len() as u32,
            id,
            flags,
            flags_extended: 0,
            path,
        }
    };
    #[cfg(not(unix))]
    let entry = {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default();
        let time = git2::IndexTime::new(mtime.as_secs() as i32, mtime.subsec_nanos());
        git2::IndexEntry {
            ctime: time,
            mtime: time,
            dev: 0,
            ino: 0,
            mode: mode as u32,
            uid: 0,
            gid: 0,
            file_size: meta.len() as u32,
            id,
            flags,
            flags_extended: 0,
            path,
        }
    };
    Ok(entry)
}

/// `policies/<account>` (the account must have been validated).
fn account_dir(account: &str) -> String {
    format!("{POLICIES_DIR}/{account}")
}

fn is_trailer_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The commit message: subject, body, then the trailers.
fn commit_message(
    req: &WriteAccount,
    added: &[String],
    changed: &[String],
    removed: &[String],
) -> String {
    let mut msg = String::new();
    let subject = req.subject.trim();
    if subject.is_empty() {
        let _ = write!(
            msg,
            "repokid {}: {} ({} added, {} changed, {} removed)",
            req.action.as_str(),
            req.account,
            added.len(),
            changed.len(),
            removed.len()
        );
    } else {
        msg.push_str(subject);
    }
    msg.push_str("\n\n");
    let body = req.body.trim_matches(['\n', '\r']);
    if body.trim().is_empty() {
        for (label, roles) in [("Added", added), ("Changed", changed), ("Removed", removed)] {
            if roles.is_empty() {
                continue;
            }
            let _ = write!(msg, "{label}: ");
            let shown = roles.len().min(BODY_LIST_LIMIT);
            msg.push_str(&roles[..shown].join(", "));
            if roles.len() > shown {
                let _ = write!(msg, " and {} more", roles.len() - shown);
            }
            msg.push('\n');
        }
        msg.push('\n');
    } else {
        msg.push_str(body);
        msg.push_str("\n\n");
    }
    let standard = [
        (trailers::ACTION, req.action.as_str().to_string()),
        (trailers::ACCOUNT, req.account.clone()),
        (trailers::ROLES_ADDED, added.len().to_string()),
        (trailers::ROLES_CHANGED, changed.len().to_string()),
        (trailers::ROLES_REMOVED, removed.len().to_string()),
    ];
    for (key, value) in standard.iter().map(|(k, v)| (*k, v.as_str())).chain(
        req.extra_trailers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        let _ = writeln!(msg, "{key}: {}", value.trim());
    }
    msg
}

/// The trailers of a commit message: the `Key: value` lines of its last paragraph, in order. A
/// line starting with whitespace continues the previous value. Empty when the message has only
/// one paragraph or its last paragraph is not all trailers.
pub fn parse_trailers(message: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = message
        .trim_end()
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .collect();
    // The last paragraph starts after the last blank line; there must be one (the subject is
    // never a trailer block).
    let Some(blank) = lines.iter().rposition(|l| l.trim().is_empty()) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for line in &lines[blank + 1..] {
        if line.starts_with([' ', '\t']) {
            match out.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                    continue;
                }
                None => return Vec::new(),
            }
        }
        match line.split_once(':') {
            Some((key, value)) if is_trailer_key(key) => {
                out.push((key.to_string(), value.trim().to_string()));
            }
            _ => return Vec::new(),
        }
    }
    out
}

/// What a commit written by the tool did: its `Repokid-Action` and, when present and valid, its
/// `Repokid-Account`. `None` for commits without a (known) action trailer.
pub fn commit_action(commit: &Commit<'_>) -> Option<(Action, Option<String>)> {
    let message = String::from_utf8_lossy(commit.message_bytes());
    let trailers = parse_trailers(&message);
    let action = trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(trailers::ACTION))
        .and_then(|(_, v)| Action::parse(v))?;
    let account = trailers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(trailers::ACCOUNT))
        .map(|(_, v)| v.clone())
        .filter(|a| validate_account_id(a).is_ok());
    Some((action, account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_of_the_last_paragraph() {
        let msg = "repokid sync: 123456789012 (1 added, 0 changed, 0 removed)\n\n\
                   Added: web\n\n\
                   Repokid-Action: sync\nRepokid-Account: 123456789012\n\
                   Repokid-Roles-Added: 1\n";
        assert_eq!(
            parse_trailers(msg),
            vec![
                ("Repokid-Action".to_string(), "sync".to_string()),
                ("Repokid-Account".to_string(), "123456789012".to_string()),
                ("Repokid-Roles-Added".to_string(), "1".to_string()),
            ]
        );
    }

    #[test]
    fn not_trailers() {
        assert!(parse_trailers("Fix: a subject only").is_empty());
        assert!(parse_trailers("subject\n\nA body line.\nKey: value\n").is_empty());
        assert!(parse_trailers("").is_empty());
        assert_eq!(
            parse_trailers("s\r\n\r\nKey: a\r\n  b\r\n"),
            vec![("Key".to_string(), "a b".to_string())]
        );
    }

    #[test]
    fn generated_message() {
        let mut req = WriteAccount::new("main", "123456789012");
        req.extra_trailers = vec![("Repokid-Removed-Actions".into(), "42".into())];
        let msg = commit_message(&req, &["a".into(), "b".into()], &[], &["c".into()]);
        assert_eq!(
            msg,
            "repokid sync: 123456789012 (2 added, 0 changed, 1 removed)\n\n\
             Added: a, b\nRemoved: c\n\n\
             Repokid-Action: sync\nRepokid-Account: 123456789012\n\
             Repokid-Roles-Added: 2\nRepokid-Roles-Changed: 0\nRepokid-Roles-Removed: 1\n\
             Repokid-Removed-Actions: 42\n"
        );
        let parsed = parse_trailers(&msg);
        assert_eq!(parsed.len(), 6);
        assert_eq!(parsed[5].1, "42");
    }

    #[test]
    fn long_lists_are_summarised() {
        let req = WriteAccount::new("main", "123456789012");
        let many: Vec<String> = (0..BODY_LIST_LIMIT + 5).map(|i| format!("r{i}")).collect();
        let msg = commit_message(&req, &many, &[], &[]);
        assert!(msg.contains(" and 5 more\n"), "{msg}");
    }
}
