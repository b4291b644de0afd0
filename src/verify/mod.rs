//! The check every pull request runs: are the changed policy files what IAM accepts, and is it
//! proved that no role gains access?
//!
//! [`verify`] compares the head revision of a pull request with the **merge base** of the head and
//! the base branch (as `git diff base...head` does), so commits that land on the base branch
//! after the pull request was opened do not count. For every file under `policies/` that differs:
//!
//! * **Validity** — the path is `policies/<12-digit account>/<RoleName>.json` and a regular file
//!   (and `policies/` itself a directory); the content is UTF-8 JSON that parses strictly
//!   (duplicate keys are errors); every document follows the grammar IAM enforces on
//!   identity-based policies ([`crate::engine::grammar`]); policy names are valid; the role's
//!   inline size (IAM's rule, whitespace excluded) is within the limit. Each error names
//!   `file:line`.
//! * **No new access** — [`crate::engine::access::compare`] proves, under IAM's evaluation logic,
//!   that every request the head's policies allow the merge base's allowed too, and that every
//!   request the merge base's Deny statements denied stays denied. What it cannot prove is a
//!   *widening*, explained with one example request. A new role file is compared with nothing;
//!   deleting a file, a policy, a statement or an action is a removal.
//! * **Sync commits** — a proposal branch may carry a `Repokid-Action: sync` commit that records
//!   live state already in IAM (a new account, an out-of-band change). When a role's widening
//!   disappears once compared with the newest such commit of its account, the report says the
//!   access was recorded by that commit rather than added by the pull request. It still needs the
//!   allow label: a trailer is only text anyone can write.
//!
//! Reads go through the [`PolicyStore`]'s repository (objects only, never the working tree);
//! nothing here prints.

mod file;
mod locate;
mod report;

use std::collections::BTreeMap;

use git2::{Delta, DiffOptions, ErrorCode, Oid, Repository, Sort, Tree};

use self::file::{
    Entry, check_head, entry, entry_of, parse_role_path, problem, read_side, statement_path,
};
use self::locate::LineIndex;
use self::report::git_err;
pub use self::report::{
    Change, FileReport, Origin, PlacedFinding, Problem, VerifyError, VerifyReport, Widening,
};
use crate::engine::access::{Comparison, FindingKind, compare};
use crate::engine::catalog::Catalog;
use crate::engine::grammar::PathSeg;
use crate::engine::policy::PolicyMap;
use crate::store::git::{PolicyStore, commit_action};
use crate::store::{Action, POLICIES_DIR};

/// Verifies the policy files changed between the merge base of `base` and `head`, and `head`
/// (both branch, tag, commit or `HEAD`). See the [module documentation](self) for what is
/// checked. Problems and widenings are in the report; an error means the check could not run.
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
    let (base_tree, head_tree) = (tree_of(repo, merge_base)?, tree_of(repo, head_id)?);
    let mut errors = Vec::new();
    // A `policies` that is a link (or a file) would make every role file look deleted.
    let kind = match entry(repo, &head_tree, POLICIES_DIR)? {
        Entry::Other("a directory") | Entry::Missing => None,
        Entry::Other(kind) => Some(kind),
        Entry::File(_) => Some("a regular file"),
    };
    if let Some(kind) = kind {
        errors.push(problem(
            POLICIES_DIR,
            None,
            None,
            format!("is {kind} at head; the policy store must be a directory"),
        ));
    }
    let syncs = sync_commits(repo, merge_base, head_id)?;
    let mut files = Vec::new();
    for changed in changed_paths(repo, &base_tree, &head_tree)? {
        files.push(check_file(repo, changed, &syncs, catalog, size_limit)?);
    }
    Ok(VerifyReport {
        base: base.to_string(),
        head: head.to_string(),
        merge_base: merge_base.to_string(),
        head_commit: head_id.to_string(),
        size_limit,
        errors,
        files,
    })
}

fn tree_of(repo: &Repository, id: Oid) -> Result<Tree<'_>, VerifyError> {
    repo.find_commit(id)
        .and_then(|c| c.tree())
        .map_err(git_err(format!("reading the tree of {id}")))
}

/// The sync commits between the merge base and the head, newest first, with their account.
fn sync_commits(
    repo: &Repository,
    merge_base: Oid,
    head: Oid,
) -> Result<Vec<(Oid, Option<String>)>, VerifyError> {
    let mut walk = repo
        .revwalk()
        .map_err(git_err("walking the pull request"))?;
    walk.set_sorting(Sort::TOPOLOGICAL)
        .and_then(|()| walk.push(head))
        .and_then(|()| walk.hide(merge_base))
        .map_err(git_err("walking the pull request"))?;
    let mut out = Vec::new();
    for id in walk {
        let id = id.map_err(git_err("walking the pull request"))?;
        let commit = repo
            .find_commit(id)
            .map_err(git_err(format!("reading commit {id}")))?;
        if let Some((Action::Sync, account)) = commit_action(&commit) {
            out.push((id, account));
        }
    }
    Ok(out)
}

/// One side of a changed path: its object id and file mode, `None` when absent.
type Side = Option<(Oid, i32)>;

/// A path under `policies/` that differs between the trees.
struct Changed {
    path: String,
    change: Change,
    old: Side,
    new: Side,
}

/// The paths under `policies/` that differ between the trees, sorted, with both sides' objects
/// (so nothing is looked up by path again).
fn changed_paths(
    repo: &Repository,
    old: &Tree<'_>,
    new: &Tree<'_>,
) -> Result<Vec<Changed>, VerifyError> {
    let mut opts = DiffOptions::new();
    opts.pathspec(format!("{POLICIES_DIR}/"))
        .include_typechange(true)
        .ignore_submodules(false);
    let diff = repo
        .diff_tree_to_tree(Some(old), Some(new), Some(&mut opts))
        .map_err(git_err(format!("comparing {POLICIES_DIR}/")))?;
    let prefix = format!("{POLICIES_DIR}/");
    let side = |f: git2::DiffFile<'_>| f.exists().then(|| (f.id(), i32::from(f.mode())));
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
            let (old, new) = (side(delta.old_file()), side(delta.new_file()));
            out.insert(
                path.clone(),
                Changed {
                    path,
                    change,
                    old,
                    new,
                },
            );
        }
    }
    Ok(out.into_values().collect())
}

fn check_file(
    repo: &Repository,
    Changed {
        path,
        change,
        old,
        new,
    }: Changed,
    syncs: &[(Oid, Option<String>)],
    catalog: &Catalog,
    size_limit: usize,
) -> Result<FileReport, VerifyError> {
    let path = path.as_str();
    let role_path = parse_role_path(path).ok();
    let mut report = FileReport {
        path: path.to_string(),
        change,
        account: role_path.as_ref().map(|(a, _)| a.clone()),
        role: role_path.as_ref().map(|(_, r)| r.clone()),
        size: None,
        errors: Vec::new(),
        notes: Vec::new(),
        widening: None,
    };
    // A deleted file is a removal: the role's inline policies are all deleted.
    if change == Change::Deleted {
        return Ok(report);
    }
    let head = if parse_role_path(path).is_ok() {
        entry_of(repo, new, path)?
    } else {
        Entry::Missing
    };
    let Some(parsed) = check_head(head, &mut report, size_limit)? else {
        return Ok(report);
    };
    let Some((account, role)) = role_path else {
        return Ok(report);
    };
    let base = read_side(
        entry_of(repo, old, path)?,
        path,
        &mut report.notes,
        "the merge base",
    );
    let new_role = base.is_none();
    let base = base.unwrap_or_default();
    let comparison = compare(&base, &parsed.map, catalog);
    if comparison.grants_nothing_new() {
        return Ok(report);
    }
    let origin = origin(repo, path, &account, &parsed.map, syncs, catalog)?;
    let index = LineIndex::new(&parsed.text);
    let Comparison {
        findings,
        added_actions,
        added_sample,
    } = comparison;
    let findings = findings
        .into_iter()
        .map(|f| {
            let at = match f.kind {
                FindingKind::Allow => statement_path(&parsed, &f.policy, f.statement),
                FindingKind::Deny if parsed.map.contains_key(&f.policy) => {
                    vec![PathSeg::Key(f.policy.clone())]
                }
                FindingKind::Deny => Vec::new(),
            };
            let line = if at.is_empty() { None } else { index.line(&at) };
            PlacedFinding { finding: f, line }
        })
        .collect();
    report.widening = Some(Widening {
        file: path.to_string(),
        account,
        role,
        new_role,
        origin,
        findings,
        added_actions,
        added_sample,
    });
    Ok(report)
}

/// Whether the newest sync commit of the account recorded this role's widening: compared with
/// the file at that commit, the head adds nothing.
fn origin(
    repo: &Repository,
    path: &str,
    account: &str,
    head: &PolicyMap,
    syncs: &[(Oid, Option<String>)],
    catalog: &Catalog,
) -> Result<Origin, VerifyError> {
    let Some((sync, _)) = syncs
        .iter()
        .find(|(_, a)| a.as_deref().is_none_or(|a| a == account))
    else {
        return Ok(Origin::Change);
    };
    let tree = tree_of(repo, *sync)?;
    let mut ignored = Vec::new();
    let recorded = read_side(
        entry(repo, &tree, path)?,
        path,
        &mut ignored,
        "the sync commit",
    );
    Ok(match recorded {
        Some(map) if compare(&map, head, catalog).grants_nothing_new() => Origin::Sync {
            commit: sync.to_string(),
        },
        _ => Origin::Change,
    })
}
