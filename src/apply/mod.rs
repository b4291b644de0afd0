//! `apply`: make IAM hold what the protected branch holds, never overwriting drift.
//!
//! For each account, the **baseline** is the last commit applied there, recorded as the ref
//! `refs/repokid/applied/<account>` (falling back to the account's last `sync` commit, which
//! recorded live state, when nothing was applied yet). Only roles whose file changed between the
//! baseline and the target are touched. For each: read the live inline policies, decide with
//! [`diff::decide`] (drift ⇒ skip the role), put new and changed policies, then delete removed
//! ones, then read back to confirm. The baseline ref moves to the target only when every changed
//! role of the account is confirmed, so a partial failure is simply retried by the next run, which
//! converges (policies already written read as in sync). The target must hold the recorded
//! baseline in its history: an older commit, or one whose history diverged, is refused for the
//! account ([`ApplyError::BaselineNotInHistory`]), because applying it would undo what was applied.
//!
//! Writes go through the [`LiveIam`] trait: AWS in production ([`crate::aws::Aws`]), anything in
//! tests. Without `commit`, nothing is written: the run reads live state and reports what it would
//! do.
//!
//! ```
//! use std::cell::RefCell;
//! use std::collections::BTreeMap;
//! use repokid::apply::{ApplyOptions, LiveError, LiveIam, RoleStatus, apply_account};
//! use repokid::engine::PolicyMap;
//! use repokid::engine::policy::{PolicyDocument, parse_policy_map};
//! use repokid::store::Action;
//! use repokid::store::git::{PolicyStore, WriteAccount};
//!
//! /// IAM as a map in memory: (role, policy) → document.
//! #[derive(Default)]
//! struct Memory(RefCell<BTreeMap<(String, String), String>>);
//!
//! impl LiveIam for Memory {
//!     fn read_inline(&self, _: &str, role: &str) -> Result<Option<PolicyMap>, LiveError> {
//!         let mut m = PolicyMap::new();
//!         for ((r, p), doc) in self.0.borrow().iter().filter(|((r, _), _)| r == role) {
//!             m.insert(p.clone(), PolicyDocument::parse(p, doc)?);
//!         }
//!         Ok(Some(m))
//!     }
//!     fn put_policy(&self, _: &str, role: &str, name: &str, doc: &str) -> Result<(), LiveError> {
//!         self.0.borrow_mut().insert((role.into(), name.into()), doc.into());
//!         Ok(())
//!     }
//!     fn delete_policy(&self, _: &str, role: &str, name: &str) -> Result<(), LiveError> {
//!         self.0.borrow_mut().remove(&(role.to_string(), name.to_string()));
//!         Ok(())
//!     }
//! }
//!
//! # fn main() -> anyhow::Result<()> {
//! let dir = tempfile::tempdir()?;
//! git2::Repository::init(dir.path())?;
//! let store = PolicyStore::open(dir.path())?;
//! let account = "111122223333";
//! let wide = r#"{"app": {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"], "Resource": "*"}]}}"#;
//! let narrow = r#"{"app": {"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}}"#;
//!
//! // IAM holds the wide policy; sync recorded it; then a reviewed change narrowed it.
//! let iam = Memory::default();
//! let live = serde_json::from_str::<serde_json::Value>(wide)?["app"].to_string();
//! iam.0.borrow_mut().insert(("web".into(), "app".into()), live);
//! let branch = store.current_branch()?;
//! let write = |text: &str, action: Action| -> anyhow::Result<()> {
//!     store.write_account(&WriteAccount {
//!         roles: [("web".to_string(), parse_policy_map("web", text)?)].into(),
//!         action,
//!         ..WriteAccount::new(branch.clone(), account)
//!     })?;
//!     Ok(())
//! };
//! write(wide, Action::Sync)?;
//! write(narrow, Action::Repo)?;
//!
//! let report = apply_account(&store, &iam, account, &ApplyOptions { commit: true, ..Default::default() })?;
//! assert_eq!(report.roles[0].status, RoleStatus::Applied);
//! assert!(report.recorded); // refs/repokid/applied/111122223333 now points at HEAD
//! assert!(!iam.0.borrow()[&("web".to_string(), "app".to_string())].contains("sqs"));
//! # Ok(())
//! # }
//! ```

pub mod diff;

use git2::Oid;
use serde::{Deserialize, Serialize};

use crate::engine::PolicyMap;
use crate::engine::policy::inline_size;
use crate::store::git::{PolicyStore, commit_action};
use crate::store::{Action, StoreError};
pub use diff::{DriftedPolicy, RoleChange, drift_diff};

/// An error from a [`LiveIam`] call; its message names the account, role and call.
pub type LiveError = Box<dyn std::error::Error + Send + Sync>;

/// Live inline policies of roles: read them, put one, delete one.
pub trait LiveIam {
    /// The role's inline policies as IAM holds them; `None` when the role does not exist.
    fn read_inline(&self, account: &str, role: &str) -> Result<Option<PolicyMap>, LiveError>;
    /// Creates or replaces one inline policy.
    fn put_policy(
        &self,
        account: &str,
        role: &str,
        name: &str,
        document: &str,
    ) -> Result<(), LiveError>;
    /// Deletes one inline policy (already absent is success).
    fn delete_policy(&self, account: &str, role: &str, name: &str) -> Result<(), LiveError>;
}

/// The ref recording the last commit applied to `account`.
pub fn applied_ref(account: &str) -> String {
    format!("refs/repokid/applied/{account}")
}

/// Why an account could not be applied at all.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No baseline: nothing applied yet and no sync commit to start from.
    #[error(
        "account {account}: no baseline (no {reference} and no sync commit for the account in {rev}); \
         run `repokid sync` first, or pass --baseline REV naming the commit whose files IAM holds"
    )]
    NoBaseline {
        /// The account.
        account: String,
        /// The ref that was looked for.
        reference: String,
        /// The target revision.
        rev: String,
    },
    /// The recorded baseline is not in the target's history: the target lacks changes that were
    /// already applied, and applying it would undo them.
    #[error(
        "account {account}: refs/repokid/applied/{account} is at {applied}, which is not in the \
         history of {rev} ({target}): {why}, so applying {rev} would undo changes already \
         applied. Apply the branch that holds {applied}; if the applied commit is really gone \
         (history rewritten), pass --baseline REV naming the commit whose files IAM holds, or \
         delete refs/repokid/applied/{account} to start again from the account's last sync"
    )]
    BaselineNotInHistory {
        /// The account.
        account: String,
        /// The commit `refs/repokid/applied/<account>` points at.
        applied: String,
        /// The target revision, as given.
        rev: String,
        /// The commit it resolved to.
        target: String,
        /// Why: the target is older than the applied commit, or the histories diverged.
        why: &'static str,
    },
    /// A git operation failed.
    #[error("{context}: {source}")]
    Git {
        /// What was being done.
        context: String,
        /// Why.
        #[source]
        source: git2::Error,
    },
}

fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> ApplyError {
    let context = context.into();
    move |source| ApplyError::Git { context, source }
}

/// What to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The revision holding the policies to apply (the protected branch; `HEAD`).
    pub rev: String,
    /// Write to IAM (otherwise a dry run that only reads).
    pub commit: bool,
    /// Use this revision as the baseline instead of the recorded one.
    pub baseline: Option<String>,
    /// IAM's limit on a role's inline policies; a larger target is refused.
    pub size_limit: usize,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            rev: "HEAD".into(),
            commit: false,
            baseline: None,
            size_limit: crate::engine::policy::INLINE_SIZE_LIMIT,
        }
    }
}

/// Where the baseline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaselineSource {
    /// `refs/repokid/applied/<account>`.
    Recorded,
    /// The account's last sync commit (nothing applied yet).
    LastSync,
    /// `--baseline`.
    Given,
}

/// What happened to one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleStatus {
    /// Live already equals the file.
    InSync,
    /// Dry run: these writes would be made.
    WouldApply,
    /// Written and confirmed by reading back.
    Applied,
    /// Changed out of band; left untouched.
    Drift,
    /// A call failed or the read-back differed; see the message.
    Failed,
    /// Not tried because an earlier role of the account failed.
    NotAttempted,
    /// Nothing to do by design (the file was removed); see the message.
    Skipped,
}

/// The outcome for one role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleApply {
    /// The role.
    pub role: String,
    /// What happened.
    pub status: RoleStatus,
    /// Policies put (or that would be).
    pub puts: Vec<String>,
    /// Policies deleted (or that would be).
    pub deletes: Vec<String>,
    /// Policies changed out of band.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftEntry>,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A drifted policy, for reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftEntry {
    /// The policy.
    pub policy: String,
    /// How it drifted.
    pub how: String,
    /// What changed out of band: a unified diff from the expected document to the live one
    /// ([`drift_diff`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub diff: String,
}

impl RoleApply {
    fn new(role: &str, status: RoleStatus) -> RoleApply {
        RoleApply {
            role: role.to_string(),
            status,
            puts: Vec::new(),
            deletes: Vec::new(),
            drift: Vec::new(),
            message: None,
        }
    }

    fn with_message(mut self, m: impl Into<String>) -> Self {
        self.message = Some(m.into());
        self
    }

    /// Whether this outcome blocks recording the baseline (and makes the run fail).
    pub fn is_failure(&self) -> bool {
        matches!(
            self.status,
            RoleStatus::Drift | RoleStatus::Failed | RoleStatus::NotAttempted
        )
    }
}

/// The outcome for one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountApply {
    /// The account.
    pub account: String,
    /// The commit applied.
    pub target: String,
    /// The baseline commit and where it came from.
    pub baseline: String,
    /// Where the baseline came from.
    pub baseline_source: BaselineSource,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Changed roles, in name order.
    pub roles: Vec<RoleApply>,
    /// Whether the baseline ref was moved to the target.
    pub recorded: bool,
}

impl AccountApply {
    /// Whether every changed role is in sync or was applied (or would be, in a dry run).
    pub fn succeeded(&self) -> bool {
        !self.roles.iter().any(RoleApply::is_failure)
    }
}

/// Applies `account` from the store at `opts.rev` to `live`.
pub fn apply_account(
    store: &PolicyStore,
    live: &dyn LiveIam,
    account: &str,
    opts: &ApplyOptions,
) -> Result<AccountApply, ApplyError> {
    let repo = store.repo();
    let target = resolve(repo, &opts.rev)?;
    let (baseline, baseline_source) = baseline(store, account, target, opts)?;
    // Applying a target that lacks an applied commit would undo it: an older commit of the
    // branch (a stale run), or a branch whose history no longer holds it.
    if baseline_source == BaselineSource::Recorded
        && baseline != target
        && !repo
            .graph_descendant_of(target, baseline)
            .map_err(git("comparing the baseline with the target"))?
    {
        let newer = repo
            .graph_descendant_of(baseline, target)
            .map_err(git("comparing the baseline with the target"))?;
        return Err(ApplyError::BaselineNotInHistory {
            account: account.to_string(),
            applied: baseline.to_string(),
            rev: opts.rev.clone(),
            target: target.to_string(),
            why: if newer {
                "it is newer than the target"
            } else {
                "the two histories diverged (rewritten, or the applied commit was never pushed)"
            },
        });
    }
    let (target_s, baseline_s) = (target.to_string(), baseline.to_string());
    let roles = store.changed_roles(&baseline_s, &target_s, account)?;
    // What IAM is expected to hold: a sync after the baseline recorded live state more recently
    // (an out-of-band change that was then synced and reviewed is not drift).
    let expected_s = last_sync_since(store, account, target, baseline)?
        .unwrap_or(baseline)
        .to_string();
    tracing::info!(account, baseline = %baseline_s, target = %target_s, changed = roles.len(), "applying");
    let mut out = Vec::with_capacity(roles.len());
    let mut stopped = false;
    for role in &roles {
        if stopped {
            out.push(
                RoleApply::new(role, RoleStatus::NotAttempted)
                    .with_message("not attempted: an earlier role of the account failed"),
            );
            continue;
        }
        let before = store.read_role(&expected_s, account, role)?;
        let after = store.read_role(&target_s, account, role)?;
        let result = apply_role(
            live,
            account,
            role,
            before.as_ref(),
            after.as_ref(),
            opts.commit,
            opts.size_limit,
        );
        // A failed call most likely means IAM is unreachable or refusing: stop the account
        // rather than pile up failures; the next run starts over from the same baseline.
        stopped = result.status == RoleStatus::Failed;
        out.push(result);
    }
    let mut report = AccountApply {
        account: account.to_string(),
        target: target_s,
        baseline: baseline_s,
        baseline_source,
        dry_run: !opts.commit,
        roles: out,
        recorded: false,
    };
    if opts.commit && report.succeeded() && baseline != target {
        let applied = report
            .roles
            .iter()
            .filter(|r| r.status == RoleStatus::Applied)
            .count();
        let message = format!("repokid apply: {applied} roles written in account {account}");
        record_applied(store, account, target, &message)?;
        report.recorded = true;
    }
    Ok(report)
}

/// Applies one role: `baseline` is the file IAM should hold (last applied), `target` the file to
/// apply (`None`: the file was removed, which never deletes anything).
pub fn apply_role(
    live: &dyn LiveIam,
    account: &str,
    role: &str,
    baseline: Option<&PolicyMap>,
    target: Option<&PolicyMap>,
    commit: bool,
    size_limit: usize,
) -> RoleApply {
    let Some(target) = target else {
        return RoleApply::new(role, RoleStatus::Skipped).with_message(
            "the role's file was removed; apply never deletes policies because a file is gone \
             (write {} to the file to remove all inline policies)",
        );
    };
    let size = inline_size(target);
    if size > size_limit {
        return RoleApply::new(role, RoleStatus::Failed).with_message(format!(
            "the file's inline policies are {size} characters, over IAM's limit of {size_limit}"
        ));
    }
    let current = match live.read_inline(account, role) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return RoleApply::new(role, RoleStatus::Drift)
                .with_message("the role does not exist in the account (deleted out of band?)");
        }
        Err(e) => return RoleApply::new(role, RoleStatus::Failed).with_message(e.to_string()),
    };
    let (puts, deletes) = match diff::decide(baseline, target, &current) {
        RoleChange::InSync => return RoleApply::new(role, RoleStatus::InSync),
        RoleChange::Drift { policies } => {
            let mut r = RoleApply::new(role, RoleStatus::Drift).with_message(
                "live policies differ from the last applied file: changed out of band, left untouched",
            );
            r.drift = policies
                .into_iter()
                .map(|p| DriftEntry {
                    diff: drift_diff(baseline, &current, &p.name),
                    policy: p.name,
                    how: p.how.to_string(),
                })
                .collect();
            return r;
        }
        RoleChange::Write { puts, deletes } => (puts, deletes),
    };
    let mut r = RoleApply::new(role, RoleStatus::WouldApply);
    r.puts = puts;
    r.deletes = deletes;
    if !commit {
        return r;
    }
    let total = r.puts.len() + r.deletes.len();
    let mut done = 0;
    for name in &r.puts {
        let Some(doc) = target.get(name) else {
            continue;
        };
        if let Err(e) = live.put_policy(account, role, name, &doc.to_value().to_string()) {
            r.status = RoleStatus::Failed;
            r.message = Some(format!("after {done} of {total} writes: {e}"));
            return r;
        }
        done += 1;
    }
    for name in &r.deletes {
        if let Err(e) = live.delete_policy(account, role, name) {
            r.status = RoleStatus::Failed;
            r.message = Some(format!("after {done} of {total} writes: {e}"));
            return r;
        }
        done += 1;
    }
    match live.read_inline(account, role) {
        Ok(Some(now)) if diff::decide(Some(target), target, &now) == RoleChange::InSync => {
            r.status = RoleStatus::Applied;
        }
        Ok(_) => {
            r.status = RoleStatus::Failed;
            r.message = Some("written, but reading back does not match the file".into());
        }
        Err(e) => {
            r.status = RoleStatus::Failed;
            r.message = Some(format!("written, but reading back failed: {e}"));
        }
    }
    r
}

fn resolve(repo: &git2::Repository, rev: &str) -> Result<Oid, ApplyError> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .map_err(git(format!("resolving {rev:?}")))
}

/// The baseline commit of `account`: `--baseline`, else the recorded ref, else the last sync
/// commit of the account reachable from `target`.
fn baseline(
    store: &PolicyStore,
    account: &str,
    target: Oid,
    opts: &ApplyOptions,
) -> Result<(Oid, BaselineSource), ApplyError> {
    let repo = store.repo();
    if let Some(rev) = &opts.baseline {
        return Ok((resolve(repo, rev)?, BaselineSource::Given));
    }
    let reference = applied_ref(account);
    if let Ok(r) = repo.find_reference(&reference)
        && let Ok(c) = r.peel_to_commit()
    {
        return Ok((c.id(), BaselineSource::Recorded));
    }
    let mut walk = repo.revwalk().map_err(git("walking history"))?;
    walk.push(target).map_err(git("walking history"))?;
    for id in walk {
        let id = id.map_err(git("walking history"))?;
        let commit = repo.find_commit(id).map_err(git("reading a commit"))?;
        if let Some((Action::Sync, Some(a))) = commit_action(&commit)
            && a == account
        {
            return Ok((id, BaselineSource::LastSync));
        }
    }
    Err(ApplyError::NoBaseline {
        account: account.to_string(),
        reference,
        rev: opts.rev.clone(),
    })
}

/// The newest sync commit of `account` reachable from `target` and made after `baseline` (a
/// descendant of it), if any.
fn last_sync_since(
    store: &PolicyStore,
    account: &str,
    target: Oid,
    baseline: Oid,
) -> Result<Option<Oid>, ApplyError> {
    let repo = store.repo();
    let mut walk = repo.revwalk().map_err(git("walking history"))?;
    walk.push(target).map_err(git("walking history"))?;
    walk.hide(baseline).map_err(git("walking history"))?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::TIME)
        .map_err(git("walking history"))?;
    for id in walk {
        let id = id.map_err(git("walking history"))?;
        let commit = repo.find_commit(id).map_err(git("reading a commit"))?;
        if let Some((Action::Sync, Some(a))) = commit_action(&commit)
            && a == account
            && repo.graph_descendant_of(id, baseline).unwrap_or(false)
        {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Moves `refs/repokid/applied/<account>` to `target`, with `message` (what was applied) in its
/// reflog.
pub fn record_applied(
    store: &PolicyStore,
    account: &str,
    target: Oid,
    message: &str,
) -> Result<(), ApplyError> {
    store
        .repo()
        .reference(&applied_ref(account), target, true, message)
        .map_err(git(format!("recording {}", applied_ref(account))))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::policy::{PolicyDocument, parse_policy_map};
    use crate::store::git::WriteAccount;

    /// IAM in memory: (role, policy) → document.
    #[derive(Default)]
    struct Memory(RefCell<BTreeMap<(String, String), String>>);

    impl LiveIam for Memory {
        fn read_inline(&self, _: &str, role: &str) -> Result<Option<PolicyMap>, LiveError> {
            let mut m = PolicyMap::new();
            for ((_, p), doc) in self.0.borrow().iter().filter(|((r, _), _)| r == role) {
                m.insert(p.clone(), PolicyDocument::parse(p, doc)?);
            }
            Ok(Some(m))
        }
        fn put_policy(&self, _: &str, role: &str, name: &str, doc: &str) -> Result<(), LiveError> {
            self.0
                .borrow_mut()
                .insert((role.into(), name.into()), doc.into());
            Ok(())
        }
        fn delete_policy(&self, _: &str, role: &str, name: &str) -> Result<(), LiveError> {
            self.0
                .borrow_mut()
                .remove(&(role.to_string(), name.to_string()));
            Ok(())
        }
    }

    const ACCOUNT: &str = "111122223333";

    fn doc(actions: &str) -> String {
        format!(
            r#"{{"Statement": [{{"Effect": "Allow", "Action": [{actions}], "Resource": "*"}}]}}"#
        )
    }

    /// Commits `web`'s policy `app` granting `actions` on `branch`; returns the commit.
    fn write(store: &PolicyStore, branch: &str, actions: &str, action: Action) -> Oid {
        let map = parse_policy_map("web", &format!(r#"{{"app": {}}}"#, doc(actions)))
            .expect("test policy");
        store
            .write_account(&WriteAccount {
                roles: [("web".to_string(), map)].into(),
                action,
                ..WriteAccount::new(branch, ACCOUNT)
            })
            .expect("commit")
            .expect("a change")
            .commit
    }

    fn commit_opts(rev: String) -> ApplyOptions {
        ApplyOptions {
            rev,
            commit: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_target_that_lacks_the_applied_commit_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        git2::Repository::init(dir.path()).expect("init");
        let store = PolicyStore::open(dir.path()).expect("store");
        let iam = Memory::default();
        iam.0.borrow_mut().insert(
            ("web".into(), "app".into()),
            doc(r#""s3:GetObject", "sqs:SendMessage", "sns:Publish""#),
        );
        let branch = store.current_branch().expect("branch");
        write(
            &store,
            &branch,
            r#""s3:GetObject", "sqs:SendMessage", "sns:Publish""#,
            Action::Sync,
        );
        let older = write(
            &store,
            &branch,
            r#""s3:GetObject", "sqs:SendMessage""#,
            Action::Repo,
        );
        let newer = write(&store, &branch, r#""s3:GetObject""#, Action::Repo);
        let r = apply_account(&store, &iam, ACCOUNT, &commit_opts(newer.to_string()))
            .expect("apply the tip");
        assert!(r.recorded && r.roles[0].status == RoleStatus::Applied);

        // A stale run for the older commit would put sqs:SendMessage back: refused.
        let err = apply_account(&store, &iam, ACCOUNT, &commit_opts(older.to_string()))
            .expect_err("an older target");
        assert!(
            matches!(&err, ApplyError::BaselineNotInHistory { why, .. } if why.contains("newer")),
            "{err}"
        );
        // So is a commit on another line of history that never saw the applied one.
        let side = store
            .repo()
            .find_commit(older)
            .and_then(|c| store.repo().branch("side", &c, false))
            .expect("branch");
        drop(side);
        let diverged = write(
            &store,
            "side",
            r#""s3:GetObject", "sns:Publish""#,
            Action::Repo,
        );
        let err = apply_account(&store, &iam, ACCOUNT, &commit_opts(diverged.to_string()))
            .expect_err("a diverged target");
        assert!(err.to_string().contains("diverged"), "{err}");
        assert!(!iam.0.borrow()[&("web".to_string(), "app".to_string())].contains("sqs"));
        assert_eq!(
            store
                .repo()
                .refname_to_id(&applied_ref(ACCOUNT))
                .expect("ref"),
            newer
        );

        // The same commit again, or --baseline, is allowed.
        let again = apply_account(&store, &iam, ACCOUNT, &commit_opts(newer.to_string()))
            .expect("the applied commit itself");
        assert!(again.roles.is_empty());
        let forced = apply_account(
            &store,
            &iam,
            ACCOUNT,
            &ApplyOptions {
                baseline: Some(newer.to_string()),
                ..commit_opts(older.to_string())
            },
        )
        .expect("--baseline overrides");
        assert_eq!(forced.baseline_source, BaselineSource::Given);
    }

    #[test]
    fn drift_is_reported_with_the_live_diff() {
        let dir = tempfile::tempdir().expect("tempdir");
        git2::Repository::init(dir.path()).expect("init");
        let store = PolicyStore::open(dir.path()).expect("store");
        let branch = store.current_branch().expect("branch");
        write(
            &store,
            &branch,
            r#""s3:GetObject", "sqs:SendMessage""#,
            Action::Sync,
        );
        let tip = write(&store, &branch, r#""s3:GetObject""#, Action::Repo);
        let iam = Memory::default();
        iam.0.borrow_mut().insert(
            ("web".into(), "app".into()),
            doc(r#""s3:GetObject", "sqs:SendMessage", "iam:PassRole""#),
        );
        let r = apply_account(&store, &iam, ACCOUNT, &commit_opts(tip.to_string())).expect("apply");
        let role = &r.roles[0];
        assert_eq!(role.status, RoleStatus::Drift);
        assert_eq!(role.drift[0].policy, "app");
        assert!(
            role.drift[0].diff.contains("+        \"iam:PassRole\""),
            "{}",
            role.drift[0].diff
        );
        assert!(!r.recorded);
    }
}
