//! The check every pull request runs: are the changed policy files valid, and do they grant
//! anything the base did not?
//!
//! [`verify`] compares the head revision of a pull request with the **merge base** of the head and
//! the base branch (as `git diff base...head` does), so commits that land on the base branch
//! after the pull request was opened do not count. For every file under `policies/` that differs:
//!
//! * **Validity** — the path is `policies/<12-digit account>/<RoleName>.json` and a regular file;
//!   the content is UTF-8 JSON that parses strictly (duplicate keys are errors; syntax errors name
//!   the line and column); it is an object of valid policy names → documents the policy model
//!   accepts; and the role's inline size (IAM's rule, whitespace excluded) is within the limit.
//! * **Added access** — the actions the role's Allow statements grant at head, minus those they
//!   granted at the merge base, each named with where it comes from: the policy, the statement and
//!   the entry (`s3:GetObject`, a wildcard such as `s3:Get*`, or `NotAction`). Wildcards and
//!   `NotAction` are expanded against the [`Catalog`]; an entry the catalog does not know counts
//!   as added (named as written) unless an entry of the base already covered it.
//! * **Wildcards** — every wildcard (and `NotAction`) in a changed file is listed with how many
//!   actions it expands to now and how many of those the role was granted at the merge base; one
//!   that expands beyond the base grants *widens* the role (and its extra actions are added
//!   access).
//!
//! What is compared is the set of **actions**, deliberately simple and conservative: a statement
//! grants its actions whatever its `Resource` or `Condition` says, and Deny statements subtract
//! nothing. Consequently a change that only widens the resources (or loosens the conditions) of an
//! action the role already had is *not* reported as added access. A new role file grants
//! everything it lists as added access; deleting a file, a policy, a statement or an action is a
//! removal and always passes.
//!
//! Reads go through the [`PolicyStore`]'s repository (objects only, never the working tree);
//! nothing here prints.

use std::collections::BTreeMap;

use git2::{Delta, DiffOptions, ErrorCode, FileMode, ObjectType, Oid, Repository, Tree};
use serde::Serialize;

use crate::engine::catalog::{Catalog, Expansion};
use crate::engine::glob::{glob_match, has_wildcard};
use crate::engine::grants::analyze;
use crate::engine::json::parse_strict;
use crate::engine::policy::{
    ActionKind, Effect, PolicyError, PolicyMap, inline_size, policy_map_from_value,
};
use crate::store::POLICIES_DIR;
use crate::store::git::PolicyStore;
use crate::store::names::{validate_account_id, validate_policy_name, validate_role_name};

/// Everything [`verify`] found.
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
    /// Every changed file under `policies/`, sorted by path.
    pub files: Vec<FileReport>,
}

impl VerifyReport {
    /// Every problem of every file, in file order.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.files.iter().flat_map(|f| f.errors.iter())
    }

    /// Every role that gains access, in file order.
    pub fn added_access(&self) -> impl Iterator<Item = &AddedAccess> {
        self.files.iter().filter_map(|f| f.added.as_ref())
    }

    /// Whether every changed file is valid.
    pub fn is_valid(&self) -> bool {
        self.problems().next().is_none()
    }

    /// Whether any role gains access.
    pub fn adds_access(&self) -> bool {
        self.added_access().next().is_some()
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
    /// added).
    pub notes: Vec<String>,
    /// The access the role gains, `None` when it gains none.
    pub added: Option<AddedAccess>,
    /// Every wildcard and `NotAction` of the file's Allow statements at head.
    pub wildcards: Vec<WildcardUse>,
}

impl FileReport {
    /// Whether the file is valid and adds nothing.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.added.is_none()
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

/// The access one role gains.
#[derive(Debug, Clone, Serialize)]
pub struct AddedAccess {
    /// The role's file.
    pub file: String,
    /// The account.
    pub account: String,
    /// The role.
    pub role: String,
    /// Whether the role file is new (absent at the merge base).
    pub new_role: bool,
    /// Every action granted at head but not at the merge base, sorted case-insensitively:
    /// catalog names, then entries the catalog does not know, as written.
    pub actions: Vec<String>,
    /// Where they come from: each entry at head that grants something new, in policy and
    /// statement order. An action granted by several entries is listed under each.
    pub sources: Vec<Source>,
}

/// What kind of entry grants an added action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// An exact action in `Action`.
    Action,
    /// A wildcard in `Action` (`s3:Get*`).
    Wildcard,
    /// A `NotAction` statement: everything but the listed actions.
    NotAction,
    /// An `Action` entry the catalog does not know.
    Unknown,
}

/// One entry at head that grants actions the role did not have at the merge base.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// Policy name.
    pub policy: String,
    /// 0-based index of the statement in the policy (as in `Statement[1]`).
    pub statement: usize,
    /// The statement's `Sid`, if any.
    pub sid: Option<String>,
    /// Kind of entry.
    pub kind: SourceKind,
    /// The entry as written; `NotAction` for a NotAction statement.
    pub entry: String,
    /// For a NotAction statement: the actions it excludes, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    /// 1-based line of the entry in the head file, when found.
    pub line: Option<usize>,
    /// How many catalog actions the entry grants now (0 for an unknown entry).
    pub expands_to: usize,
    /// The actions it grants that the role did not have, sorted.
    pub added: Vec<String>,
}

impl Source {
    /// `` `s3:Get*` in policy app Statement[1] `` — or for NotAction,
    /// `` `NotAction [iam:*]` in policy app Statement[1] ``.
    pub fn describe(&self) -> String {
        let entry = match self.kind {
            SourceKind::NotAction => format!("NotAction [{}]", self.excluded.join(", ")),
            _ => self.entry.clone(),
        };
        let sid = self
            .sid
            .as_deref()
            .map(|s| format!(" (Sid {s:?})"))
            .unwrap_or_default();
        format!(
            "`{entry}` in policy {} Statement[{}]{sid}",
            self.policy, self.statement
        )
    }
}

/// A wildcard (or `NotAction`) of an Allow statement in a changed file, against the role's grants
/// at the merge base.
#[derive(Debug, Clone, Serialize)]
pub struct WildcardUse {
    /// Policy name.
    pub policy: String,
    /// 0-based statement index.
    pub statement: usize,
    /// The entry as written; `NotAction` for a NotAction statement.
    pub entry: String,
    /// 1-based line in the head file, when found.
    pub line: Option<usize>,
    /// How many catalog actions it grants now.
    pub expands_to: usize,
    /// How many of those the role was granted at the merge base.
    pub granted_at_base: usize,
    /// How many it grants beyond the base grants (`expands_to - granted_at_base`).
    pub beyond_base: usize,
    /// Whether it widens the role (`beyond_base > 0`).
    pub widens: bool,
}

/// [`verify`] could not run (as opposed to finding problems, which are in the report).
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

fn git_err(context: impl Into<String>) -> impl FnOnce(git2::Error) -> VerifyError {
    let context = context.into();
    move |source| VerifyError::Git { context, source }
}

/// Verifies the policy files changed between the merge base of `base` and `head`, and `head`
/// (both branch, tag, commit or `HEAD`). See the [module documentation](self) for what is
/// checked. Problems and added access are in the report; an error means the check could not run.
pub fn verify(
    store: &PolicyStore,
    base: &str,
    head: &str,
    catalog: &Catalog,
    size_limit: usize,
) -> Result<VerifyReport, VerifyError> {
    let repo = store.repo();
    let resolve = |rev: &str| -> Result<Oid, VerifyError> {
        repo.revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|source| VerifyError::Revision {
                rev: rev.to_string(),
                repo: store.root().display().to_string(),
                source,
            })
    };
    let (base_id, head_id) = (resolve(base)?, resolve(head)?);
    let merge_base = match repo.merge_base(base_id, head_id) {
        Ok(id) => id,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return Err(VerifyError::NoMergeBase {
                base: base.to_string(),
                head: head.to_string(),
            });
        }
        Err(e) => {
            return Err(git_err(format!(
                "finding the merge base of {base} and {head}"
            ))(e));
        }
    };
    let tree_of = |id: Oid| {
        repo.find_commit(id)
            .and_then(|c| c.tree())
            .map_err(git_err(format!("reading the tree of {id}")))
    };
    let (base_tree, head_tree) = (tree_of(merge_base)?, tree_of(head_id)?);
    let changes = changed_paths(repo, &base_tree, &head_tree)?;
    let mut files = Vec::with_capacity(changes.len());
    for (path, change) in changes {
        files.push(check_file(
            repo, &base_tree, &head_tree, &path, change, catalog, size_limit,
        )?);
    }
    Ok(VerifyReport {
        base: base.to_string(),
        head: head.to_string(),
        merge_base: merge_base.to_string(),
        head_commit: head_id.to_string(),
        size_limit,
        files,
    })
}

/// The paths under `policies/` that differ between the trees, sorted, with how they changed.
fn changed_paths(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
) -> Result<Vec<(String, Change)>, VerifyError> {
    let mut opts = DiffOptions::new();
    opts.pathspec(format!("{POLICIES_DIR}/"))
        .include_typechange(true)
        .ignore_submodules(false);
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), Some(&mut opts))
        .map_err(git_err(format!("comparing {POLICIES_DIR}/")))?;
    let prefix = format!("{POLICIES_DIR}/");
    let mut out = BTreeMap::new();
    for delta in diff.deltas() {
        let change = match delta.status() {
            Delta::Added => Change::Added,
            Delta::Deleted => Change::Deleted,
            Delta::Unmodified => continue,
            _ => Change::Modified,
        };
        let file = if change == Change::Deleted {
            delta.old_file()
        } else {
            delta.new_file()
        };
        let Some(path) = file.path() else { continue };
        let path = path.to_string_lossy().replace('\\', "/");
        if path.starts_with(&prefix) {
            out.insert(path, change);
        }
    }
    Ok(out.into_iter().collect())
}

/// A role file's account and role, when `path` is `policies/<account>/<RoleName>.json` with both
/// valid.
fn parse_role_path(path: &str) -> Result<(String, String), String> {
    let parts: Vec<&str> = path.split('/').collect();
    let [dir, account, file] = parts.as_slice() else {
        return Err(format!(
            "not a role file: files under {POLICIES_DIR}/ must be \
             {POLICIES_DIR}/<12-digit account>/<RoleName>.json"
        ));
    };
    debug_assert_eq!(*dir, POLICIES_DIR);
    let Some(role) = file.strip_suffix(".json") else {
        return Err(format!(
            "not a role file: files under {POLICIES_DIR}/ must be \
             {POLICIES_DIR}/<12-digit account>/<RoleName>.json"
        ));
    };
    validate_account_id(account).map_err(|e| e.to_string())?;
    validate_role_name(role).map_err(|e| e.to_string())?;
    Ok((account.to_string(), role.to_string()))
}

/// The content of a regular file at `path` in `tree`; `Ok(None)` when there is none (or it is not
/// a regular file), with the file mode's description as the error for other kinds.
fn regular_file(
    repo: &Repository,
    tree: &Tree<'_>,
    path: &str,
) -> Result<Option<Result<Vec<u8>, &'static str>>, VerifyError> {
    let entry = match tree.get_path(std::path::Path::new(path)) {
        Ok(e) => e,
        Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(git_err(format!("reading {path}"))(e)),
    };
    let mode = entry.filemode();
    let kind = if mode == i32::from(FileMode::Link) {
        Some("a symbolic link")
    } else if mode == i32::from(FileMode::Commit) {
        Some("a submodule")
    } else if entry.kind() != Some(ObjectType::Blob) {
        Some("a directory")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Ok(Some(Err(kind)));
    }
    let blob = repo
        .find_blob(entry.id())
        .map_err(git_err(format!("reading {path}")))?;
    Ok(Some(Ok(blob.content().to_vec())))
}

fn problem(file: &str, line: Option<usize>, column: Option<usize>, message: String) -> Problem {
    Problem {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

fn check_file(
    repo: &Repository,
    base_tree: &Tree<'_>,
    head_tree: &Tree<'_>,
    path: &str,
    change: Change,
    catalog: &Catalog,
    size_limit: usize,
) -> Result<FileReport, VerifyError> {
    let role_path = parse_role_path(path);
    let mut report = FileReport {
        path: path.to_string(),
        change,
        account: role_path.as_ref().ok().map(|(a, _)| a.clone()),
        role: role_path.as_ref().ok().map(|(_, r)| r.clone()),
        size: None,
        errors: Vec::new(),
        notes: Vec::new(),
        added: None,
        wildcards: Vec::new(),
    };
    if change == Change::Deleted {
        return Ok(report);
    }
    let (account, role) = match role_path {
        Ok(x) => x,
        Err(message) => {
            report.errors.push(problem(path, None, None, message));
            return Ok(report);
        }
    };
    let bytes = match regular_file(repo, head_tree, path)? {
        Some(Ok(bytes)) => bytes,
        Some(Err(kind)) => {
            report.errors.push(problem(
                path,
                None,
                None,
                format!("is {kind}; a role file must be a regular file"),
            ));
            return Ok(report);
        }
        // The diff said it is there; a race with nothing to check.
        None => return Ok(report),
    };
    let parsed = match parse_file(path, &bytes) {
        Ok(p) => p,
        Err(p) => {
            report.errors.push(p);
            return Ok(report);
        }
    };
    let locator = Locator::new(parsed.text);
    for name in parsed.map.keys() {
        if let Err(e) = validate_policy_name(name) {
            report.errors.push(problem(
                path,
                locator.policy_line(name),
                None,
                e.to_string(),
            ));
        }
    }
    let size = inline_size(&parsed.map);
    report.size = Some(size);
    if size > size_limit {
        report.errors.push(problem(
            path,
            None,
            None,
            format!(
                "the role's inline policies are {size} characters (whitespace excluded), over \
                 the limit of {size_limit}"
            ),
        ));
    }

    // The merge base's version; one that cannot be read grants nothing, so everything counts.
    let mut new_role = false;
    let base_map = match regular_file(repo, base_tree, path)? {
        None => {
            new_role = true;
            PolicyMap::new()
        }
        Some(Err(kind)) => {
            report.notes.push(format!(
                "was {kind} at the merge base; everything it grants counts as added"
            ));
            PolicyMap::new()
        }
        Some(Ok(old)) => match parse_file(path, &old) {
            Ok(p) => p.map,
            Err(p) => {
                report.notes.push(format!(
                    "did not parse at the merge base ({}); everything it grants counts as added",
                    p.message
                ));
                PolicyMap::new()
            }
        },
    };
    let (sources, wildcards) = compare(&base_map, &parsed.map, &locator, catalog);
    report.wildcards = wildcards;
    if !sources.is_empty() {
        let mut actions: Vec<String> = sources
            .iter()
            .flat_map(|s| s.added.iter().cloned())
            .collect();
        actions.sort_by_cached_key(|a| (a.to_ascii_lowercase(), a.clone()));
        actions.dedup();
        report.added = Some(AddedAccess {
            file: path.to_string(),
            account,
            role,
            new_role,
            actions,
            sources,
        });
    }
    Ok(report)
}

struct Parsed<'a> {
    text: &'a str,
    map: PolicyMap,
}

/// Parses a role file strictly; the problem names the line and column where known.
fn parse_file<'a>(path: &str, bytes: &'a [u8]) -> Result<Parsed<'a>, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        problem(
            path,
            Some(line),
            Some(column),
            "not UTF-8: a role file must be UTF-8 JSON".to_string(),
        )
    })?;
    let value = parse_strict(text).map_err(|e| json_problem(path, &e))?;
    if !value.is_object() {
        return Err(problem(
            path,
            Some(1),
            None,
            "must be a JSON object of policy name → policy document".to_string(),
        ));
    }
    let map = policy_map_from_value(path, value).map_err(|e| policy_problem(path, text, &e))?;
    Ok(Parsed { text, map })
}

/// A serde_json error as `file:line:column: message`, without serde_json's own ` at line …`.
fn json_problem(path: &str, e: &serde_json::Error) -> Problem {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
    let (line, column) = if e.line() == 0 {
        (None, None)
    } else {
        (Some(e.line()), Some(e.column()))
    };
    problem(path, line, column, format!("invalid JSON: {message}"))
}

/// A policy model error, placed at the line of the policy's name where that can be found.
fn policy_problem(path: &str, text: &str, e: &PolicyError) -> Problem {
    let line = Locator::new(text).policy_line(&e.policy);
    let message = if e.policy == path {
        format!("{}: {}", e.place, e.message)
    } else {
        e.to_string()
    };
    problem(path, line, None, message)
}

/// 1-based line and column (in characters) of byte `offset`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, column)
}

/// Finds lines in a role file's text cheaply: the top-level keys (policy names) are located once,
/// and an entry is the n-th occurrence of its quoted form within its policy's part of the text.
/// Documents written as URL-encoded strings have no findable entries (only the policy's line).
struct Locator<'a> {
    text: &'a str,
    /// Decoded top-level key → byte offset of its opening quote.
    keys: Vec<(String, usize)>,
}

impl<'a> Locator<'a> {
    fn new(text: &'a str) -> Self {
        Locator {
            text,
            keys: top_level_keys(text),
        }
    }

    fn line_at(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// Byte range of the policy's key and value.
    fn region(&self, policy: &str) -> Option<(usize, usize)> {
        let i = self.keys.iter().position(|(k, _)| k == policy)?;
        let start = self.keys[i].1;
        let end = self.keys.get(i + 1).map_or(self.text.len(), |(_, o)| *o);
        Some((start, end))
    }

    fn policy_line(&self, policy: &str) -> Option<usize> {
        self.region(policy).map(|(start, _)| self.line_at(start))
    }

    /// Line of the `nth` (0-based) occurrence of `needle` (a JSON string, quoted) after the
    /// policy's key; the policy's line when it cannot be found.
    fn find(&self, policy: &str, needle: &str, nth: usize) -> Option<usize> {
        let (start, end) = self.region(policy)?;
        let key_len = serde_json::to_string(policy).map_or(0, |k| k.len());
        let from = (start + key_len).min(end);
        let found = self
            .text
            .get(from..end)
            .and_then(|part| part.match_indices(needle).nth(nth).map(|(i, _)| from + i));
        Some(self.line_at(found.unwrap_or(start)))
    }
}

/// The top-level keys of a JSON object text (already known to parse) with the byte offsets of
/// their opening quotes.
fn top_level_keys(text: &str) -> Vec<(String, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let (mut depth, mut expect_key, mut i) = (0usize, false, 0usize);
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if depth == 1 && expect_key {
                    if let Some(Ok(key)) = text
                        .get(start..(i + 1).min(b.len()))
                        .map(serde_json::from_str::<String>)
                    {
                        out.push((key, start));
                    }
                    expect_key = false;
                }
            }
            b'{' | b'[' => {
                depth += 1;
                if depth == 1 && b[i] == b'{' {
                    expect_key = true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expect_key = true,
            _ => {}
        }
        i += 1;
    }
    out
}

/// What the base granted, for deciding whether head entries are new.
struct BaseGrants {
    /// Catalog actions granted by Allow statements.
    all: crate::engine::ActionSet,
    /// Lowercase entries of Allow `Action` lists.
    patterns: Vec<String>,
    /// Lowercase exclusions of each Allow `NotAction` statement.
    not_actions: Vec<Vec<String>>,
}

impl BaseGrants {
    fn new(map: &PolicyMap, catalog: &Catalog) -> Self {
        let mut patterns = Vec::new();
        let mut not_actions = Vec::new();
        for doc in map.values() {
            for st in doc
                .statements()
                .iter()
                .filter(|s| s.effect() == Effect::Allow)
            {
                let lower = st.entries().iter().map(|e| e.to_ascii_lowercase());
                match st.kind() {
                    ActionKind::Action => patterns.extend(lower),
                    ActionKind::NotAction => not_actions.push(lower.collect()),
                }
            }
        }
        BaseGrants {
            all: analyze(map, catalog).all,
            patterns,
            not_actions,
        }
    }

    /// Whether an entry the catalog does not know was already granted: the same entry, a base
    /// wildcard matching it (as text), or a base NotAction that does not exclude it.
    fn covers_unknown(&self, entry: &str) -> bool {
        let e = entry.to_ascii_lowercase();
        let m = |p: &String| glob_match(p.as_bytes(), e.as_bytes());
        self.patterns.iter().any(m) || self.not_actions.iter().any(|ex| !ex.iter().any(m))
    }
}

/// The head entries that grant something the base did not, and every wildcard of the head.
fn compare(
    base: &PolicyMap,
    head: &PolicyMap,
    locator: &Locator<'_>,
    catalog: &Catalog,
) -> (Vec<Source>, Vec<WildcardUse>) {
    let base = BaseGrants::new(base, catalog);
    let grants = analyze(head, catalog);
    let mut sources = Vec::new();
    let mut wildcards = Vec::new();
    let names = |set: &crate::engine::ActionSet| -> Vec<String> {
        set.iter().map(|id| catalog.name(id).to_string()).collect()
    };
    // How often each (policy, entry) was seen in earlier statements, to find the n-th occurrence.
    let mut seen: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut seen_not_action: BTreeMap<&str, usize> = BTreeMap::new();
    for sg in &grants.statements {
        let Some(st) = head
            .get(&sg.policy)
            .and_then(|doc| doc.statements().get(sg.index))
        else {
            continue;
        };
        let policy = sg.policy.as_str();
        let source = |kind, entry: &str, excluded: Vec<String>, line, expands_to, added| Source {
            policy: sg.policy.clone(),
            statement: sg.index,
            sid: st.sid().map(str::to_string),
            kind,
            entry: entry.to_string(),
            excluded,
            line,
            expands_to,
            added,
        };
        if st.kind() == ActionKind::NotAction {
            let n = seen_not_action.entry(policy).or_default();
            let nth = *n;
            *n += 1;
            for e in st.entries() {
                *seen.entry((policy, e.as_str())).or_default() += 1;
            }
            if st.effect() == Effect::Deny {
                continue;
            }
            let line = locator.find(policy, "\"NotAction\"", nth);
            let mut within = sg.granted.clone();
            within.intersect_with(&base.all);
            let mut added = sg.granted.clone();
            added.difference_with(&base.all);
            wildcards.push(WildcardUse {
                policy: sg.policy.clone(),
                statement: sg.index,
                entry: "NotAction".to_string(),
                line,
                expands_to: sg.granted.len(),
                granted_at_base: within.len(),
                beyond_base: added.len(),
                widens: !added.is_empty(),
            });
            if !added.is_empty() {
                sources.push(source(
                    SourceKind::NotAction,
                    "NotAction",
                    st.entries().to_vec(),
                    line,
                    sg.granted.len(),
                    names(&added),
                ));
            }
            continue;
        }
        for (j, entry) in st.entries().iter().enumerate() {
            let n = seen.entry((policy, entry.as_str())).or_default();
            let nth = *n;
            *n += 1;
            if st.effect() == Effect::Deny {
                continue;
            }
            let line = || {
                serde_json::to_string(entry)
                    .ok()
                    .and_then(|needle| locator.find(policy, &needle, nth))
            };
            match sg.entries.get(j) {
                Some(Expansion::Known(set)) => {
                    let mut added = set.clone();
                    added.difference_with(&base.all);
                    let wildcard = has_wildcard(entry);
                    if wildcard {
                        let mut within = set.clone();
                        within.intersect_with(&base.all);
                        wildcards.push(WildcardUse {
                            policy: sg.policy.clone(),
                            statement: sg.index,
                            entry: entry.clone(),
                            line: line(),
                            expands_to: set.len(),
                            granted_at_base: within.len(),
                            beyond_base: added.len(),
                            widens: !added.is_empty(),
                        });
                    }
                    if !added.is_empty() {
                        let kind = if wildcard {
                            SourceKind::Wildcard
                        } else {
                            SourceKind::Action
                        };
                        sources.push(source(
                            kind,
                            entry,
                            Vec::new(),
                            line(),
                            set.len(),
                            names(&added),
                        ));
                    }
                }
                Some(Expansion::Unknown) | None => {
                    if !base.covers_unknown(entry) {
                        sources.push(source(
                            SourceKind::Unknown,
                            entry,
                            Vec::new(),
                            line(),
                            0,
                            vec![entry.clone()],
                        ));
                    }
                }
            }
        }
    }
    (sources, wildcards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_paths() {
        assert_eq!(
            parse_role_path("policies/111122223333/web.json").unwrap(),
            ("111122223333".to_string(), "web".to_string())
        );
        for bad in [
            "policies/README.md",
            "policies/111122223333/web.yaml",
            "policies/11112222333/web.json",
            "policies/111122223333/sub/web.json",
            "policies/111122223333/a b.json",
        ] {
            assert!(parse_role_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn locator_finds_keys_and_entries() {
        let text = "{\n  \"a\": {\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\"}]},\n  \"b\": {\n    \"Statement\": [\n      {\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\",\n \"s3:GetObject\"]}]}\n}\n";
        let loc = Locator::new(text);
        assert_eq!(
            loc.keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(loc.policy_line("b"), Some(3));
        assert_eq!(loc.find("a", "\"s3:GetObject\"", 0), Some(2));
        assert_eq!(loc.find("b", "\"s3:GetObject\"", 0), Some(5));
        assert_eq!(loc.find("b", "\"s3:GetObject\"", 1), Some(6));
        // Not found: the policy's line.
        assert_eq!(loc.find("b", "\"x\"", 0), Some(3));
        assert_eq!(loc.find("c", "\"x\"", 0), None);
    }

    #[test]
    fn problems_name_line_and_column() {
        let e = parse_file("p.json", b"{\n  \"a\": 1,\n}\n").err().unwrap();
        assert_eq!(e.line, Some(3));
        assert!(
            e.to_string()
                .starts_with("p.json:3:1: invalid JSON: trailing comma"),
            "{e}"
        );
        let e = parse_file("p.json", b"{\n\"a\": \"\xff\"}").err().unwrap();
        assert_eq!((e.line, e.column), (Some(2), Some(7)));
        let e = parse_file("p.json", b"{\"a\": {\"Statement\": 1}}")
            .err()
            .unwrap();
        assert!(e.message.contains("Statement"), "{e}");
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn unknown_entries_covered_by_base_patterns() {
        let catalog = Catalog::embedded();
        let map = crate::engine::policy::parse_policy_map(
            "f",
            r#"{"p":{"Statement":[{"Effect":"Allow","Action":"newsvc:*"},{"Effect":"Allow","NotAction":"iam:*"}]}}"#,
        )
        .unwrap();
        let base = BaseGrants::new(&map, catalog);
        assert!(base.covers_unknown("NewSvc:DoThing"));
        assert!(base.covers_unknown("other:Thing"));
        assert!(!base.covers_unknown("iam:FutureThing"));
    }
}
