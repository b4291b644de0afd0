//! What [`verify`](super::verify) reports, and why it could not run.

use serde::Serialize;

use crate::engine::access::Finding;

/// Everything [`verify`](super::verify()) found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The base revision as given (`main`, `origin/main`).
    pub base: String,
    /// The head revision as given (`HEAD`).
    pub head: String,
    /// The merge base of the two: the commit the head is compared with.
    pub merge_base: String,
    /// The head commit.
    pub head_commit: String,
    /// The inline size limit the files were checked against.
    pub size_limit: usize,
    /// Problems with the policy store as a whole (e.g. `policies` is not a directory).
    pub errors: Vec<Problem>,
    /// Every changed file under `policies/`, sorted by path.
    pub files: Vec<FileReport>,
}

impl VerifyReport {
    /// Every problem, the store's first, then each file's in file order.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.errors
            .iter()
            .chain(self.files.iter().flat_map(|f| f.errors.iter()))
    }

    /// Every role that gains access (or could not be proved not to), in file order.
    pub fn widenings(&self) -> impl Iterator<Item = &Widening> {
        self.files.iter().filter_map(|f| f.widening.as_ref())
    }

    /// Whether every changed file is valid.
    pub fn is_valid(&self) -> bool {
        self.problems().next().is_none()
    }

    /// Whether any role gains access.
    pub fn adds_access(&self) -> bool {
        self.widenings().next().is_some()
    }
}

/// How a file changed between the merge base and the head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// New at head.
    Added,
    /// Present at both, with different content (or a different file type).
    Modified,
    /// Gone at head (a removal: always fine).
    Deleted,
}

impl Change {
    /// `added`, `modified` or `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Modified => "modified",
            Change::Deleted => "deleted",
        }
    }
}

/// One changed file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// Path relative to the repository root (`policies/111122223333/web.json`).
    pub path: String,
    /// How it changed.
    pub change: Change,
    /// The account, when the path is a valid role file path.
    pub account: Option<String>,
    /// The role, when the path is a valid role file path.
    pub role: Option<String>,
    /// The role's inline size at head (IAM's rule), when the file parsed.
    pub size: Option<usize>,
    /// What is wrong with the file at head; empty when it is valid.
    pub errors: Vec<Problem>,
    /// Remarks that are not errors (a base version that did not parse, so everything counts as
    /// new).
    pub notes: Vec<String>,
    /// The access the role gains, `None` when it is proved to gain none.
    pub widening: Option<Widening>,
}

impl FileReport {
    /// Whether the file is valid and proved to add nothing.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.widening.is_none()
    }
}

/// Something wrong with a file at head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    /// `file:line:column: message`, leaving out what is unknown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a role's widening comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Origin {
    /// The pull request's own changes.
    Change,
    /// A sync commit of the pull request recorded it as live state already in IAM: compared with
    /// that commit, the head adds nothing.
    Sync {
        /// The sync commit.
        commit: String,
    },
}

/// A finding placed in the head file.
#[derive(Debug, Clone, Serialize)]
pub struct PlacedFinding {
    /// What was not proved.
    #[serde(flatten)]
    pub finding: Finding,
    /// 1-based line in the head file: the statement for an Allow, the policy for a Deny that is
    /// gone or changed (none when the policy is gone).
    pub line: Option<usize>,
}

/// The access one role gains, or could not be proved not to gain.
#[derive(Debug, Clone, Serialize)]
pub struct Widening {
    /// The role's file.
    pub file: String,
    /// The account.
    pub account: String,
    /// The role.
    pub role: String,
    /// Whether the role file is new (absent at the merge base).
    pub new_role: bool,
    /// Where it comes from.
    pub origin: Origin,
    /// What was not proved, each with an example request.
    pub findings: Vec<PlacedFinding>,
    /// How many catalog actions the head grants that the merge base granted nowhere.
    pub added_actions: usize,
    /// The first of those by name.
    pub added_sample: Vec<String>,
}

/// [`verify`](super::verify()) could not run (as opposed to finding problems, which are in the report).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A revision does not resolve to a commit.
    #[error("cannot resolve {rev:?} to a commit in {repo}: {}", source.message())]
    Revision {
        /// The revision as given.
        rev: String,
        /// The repository.
        repo: String,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// The two revisions share no history.
    #[error(
        "{base:?} and {head:?} have no common ancestor (in a shallow clone, fetch enough history: \
         actions/checkout with fetch-depth: 0)"
    )]
    NoMergeBase {
        /// The base revision.
        base: String,
        /// The head revision.
        head: String,
    },
    /// Reading the repository failed.
    #[error("{context}: {}", source.message())]
    Git {
        /// What was being done.
        context: String,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
}

pub(super) fn git_err(context: impl Into<String>) -> impl FnOnce(git2::Error) -> VerifyError {
    let context = context.into();
    move |source| VerifyError::Git { context, source }
}
