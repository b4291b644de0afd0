//! Reading and writing role files as commits.
//!
//! [`PolicyStore`] reads `policies/<account>/<RoleName>.json` straight from the tree of any
//! revision (never from the working tree) and writes a whole account as one commit built directly
//! in the object database: blobs in canonical form
//! ([`to_canonical_json`](crate::engine::policy::to_canonical_json)), trees with a tree builder, a
//! commit with the trailers described in [`super`], and only then the branch ref.
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
//!
//! The module is split by concern: this file holds the store and the request types; `read`
//! reads role files from any revision; `write` turns a request into a commit (`objects` builds
//! the blobs, trees and commit, `validate` checks the request first, `worktree` keeps a
//! checked-out branch's files and index in step); `message` writes and reads commit messages.

mod message;
mod objects;
mod read;
mod validate;
mod worktree;
mod write;

use std::collections::BTreeMap;
use std::path::Path;

use git2::{ErrorCode, ObjectType, Oid, Repository, Signature, Tree};

use super::{Action, POLICIES_DIR, StoreError};
use crate::engine::policy::PolicyMap;

pub use message::{commit_action, parse_trailers};

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

/// `policies/<account>` (the account must have been validated).
fn account_dir(account: &str) -> String {
    format!("{POLICIES_DIR}/{account}")
}
