//! Hooks in the removable-permission calculation (Repokid's `DURING_REPOABLE_CALCULATION`).
//!
//! A hook sees, per role, which actions the engine would remove and which it keeps, and answers
//! with verdicts: `keep` an action the engine would remove, or `remove` an action the engine keeps
//! only because of what the usage data says (`Used`, `NoUsageEntry`, `NotTrackedAtActionLevel`).
//! NOREPO grants, `iam:PassRole`, unknown actions, the grace period, an announced removal and
//! actions the role does not grant are never removed by a hook; such verdicts are ignored with a
//! warning. Every decision a hook changes carries [`Reason::Hook`] naming it.
//!
//! Hooks come in two forms with the same results: a [`DecisionHook`] trait object registered by
//! library users (`Workspace::hooks`), and a [`CommandHook`] declared in `repokid.toml` as a
//! `[[hooks]]` entry: an external command given the [`HookContext`] as JSON on stdin, printing a
//! JSON array of [`HookVerdict`]s on stdout, within a timeout.
//!
//! Hooks run in ascending priority (ties keep registration order); each sees the decisions as the
//! previous hooks left them, and the last word on an action is the last hook's.
//! A `keep` on an action already kept, or a `remove` on one already removable, changes nothing
//! (the engine's evidence stays). A hook may `remove` again an action an earlier hook kept, if
//! the engine would have removed it or kept it for usage reasons.
//!
//! A [`BatchDecisionHook`] (or a `[[hooks]]` entry with `batch = true`) sees every role of an
//! account at once, after the per-role hooks.
//!
//! Hooks around `ops::propose` (before and after each account and role) are in [`lifecycle`].

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{ActionSet, Catalog, Decisions, Reason, Role};

pub mod lifecycle;

pub use lifecycle::{CommandLifecycleHook, LifecycleEvent, LifecycleEventKind, LifecycleHook};

/// What a hook sees for one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookContext {
    /// 12-digit account id.
    pub account: String,
    /// Role name.
    pub role: String,
    /// Role ARN.
    pub arn: String,
    /// The actions currently decided removable (canonical names, catalog order).
    pub potentially_removable: Vec<String>,
    /// Every other granted catalog action (canonical names, catalog order).
    pub kept: Vec<String>,
    /// The usage window, in days.
    pub usage_window_days: i64,
}

/// A hook's answer for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Keep the action although the engine would remove it.
    #[serde(alias = "Keep")]
    Keep,
    /// Remove the action although the engine keeps it for usage reasons.
    #[serde(alias = "Remove")]
    Remove,
}

/// One verdict: `{"action": "s3:GetObject", "verdict": "keep", "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookVerdict {
    /// The action (any case; matched against the catalog).
    pub action: String,
    /// Keep or remove.
    pub verdict: Verdict,
    /// Why, for reviewers.
    pub reason: String,
}

/// A hook that failed: the role it ran for is not rightsized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("hook {hook}: {message}")]
pub struct HookError {
    /// The hook's name.
    pub hook: String,
    /// What happened.
    pub message: String,
}

impl HookError {
    /// An error for `hook`.
    pub fn new(hook: impl Into<String>, message: impl Into<String>) -> Self {
        HookError {
            hook: hook.into(),
            message: message.into(),
        }
    }
}

impl From<HookError> for crate::engine::HookFailure {
    fn from(e: HookError) -> Self {
        crate::engine::HookFailure {
            hook: e.hook,
            message: e.message,
        }
    }
}

/// A hook in the removable-permission calculation.
pub trait DecisionHook: Send + Sync {
    /// The name shown in evidence and errors.
    fn name(&self) -> &str;

    /// Hooks run in ascending priority.
    fn priority(&self) -> i32 {
        0
    }

    /// The verdicts for one role; an error makes the role ineligible.
    fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError>;
}

/// The context for `role` from the current decisions.
pub fn context(
    decisions: &Decisions,
    role: &Role,
    usage_window_days: i64,
    catalog: &Catalog,
) -> HookContext {
    let mut potentially_removable = Vec::new();
    let mut kept = Vec::new();
    for (id, reason) in decisions.sorted() {
        let name = catalog.name(id).to_string();
        if reason.is_removable() {
            potentially_removable.push(name);
        } else {
            kept.push(name);
        }
    }
    HookContext {
        account: role.account.clone(),
        role: role.name.clone(),
        arn: role.arn.clone(),
        potentially_removable,
        kept,
        usage_window_days,
    }
}

/// Runs `hooks` in ascending priority (stable) over `decisions` of `role`, each seeing the
/// decisions as the previous ones left them. On error `decisions` may be partly changed; the
/// caller discards them (as `plan_role` does).
pub fn apply_hooks(
    decisions: &mut Decisions,
    hooks: &[&dyn DecisionHook],
    role: &Role,
    usage_window_days: i64,
    catalog: &Catalog,
) -> Result<(), HookError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let mut ordered: Vec<&dyn DecisionHook> = hooks.to_vec();
    ordered.sort_by_key(|h| h.priority());
    let original = decisions.clone();
    for hook in ordered {
        let ctx = context(decisions, role, usage_window_days, catalog);
        let verdicts = hook.decide(&ctx)?;
        apply_verdicts(
            decisions,
            &original,
            hook.name(),
            verdicts
                .into_iter()
                .map(|v| (v.action, v.verdict, v.reason)),
            role,
            catalog,
        );
    }
    Ok(())
}

/// Applies one hook's verdicts to `decisions` of `role` under the rules of this module
/// (`original` are the engine's decisions, before any hook). Returns whether anything changed.
pub(crate) fn apply_verdicts(
    decisions: &mut Decisions,
    original: &Decisions,
    hook: &str,
    verdicts: impl IntoIterator<Item = (String, Verdict, String)>,
    role: &Role,
    catalog: &Catalog,
) -> bool {
    let mut changed = false;
    for (action, verdict, reason) in verdicts {
        let Some(id) = catalog.lookup(&action) else {
            tracing::warn!(hook, action = %action, role = %role.name, "hook verdict on an unknown action ignored");
            continue;
        };
        let Some(current) = decisions.reason(id) else {
            tracing::warn!(hook, action = %action, role = %role.name, "hook verdict on an action the role does not grant ignored");
            continue;
        };
        let change = match verdict {
            Verdict::Keep => current.is_removable(),
            Verdict::Remove => {
                let allowed = original
                    .reason(id)
                    .is_some_and(|r| r.is_removable() || r.is_kept_for_usage());
                if !allowed {
                    tracing::warn!(hook, action = %action, role = %role.name, kept = %current.summary(), "hook cannot remove this action; ignored");
                }
                allowed && !current.is_removable()
            }
        };
        if change {
            let set: ActionSet = [id].into_iter().collect();
            decisions.reassign(
                &set,
                Reason::Hook {
                    hook: hook.to_string(),
                    reason,
                    removable: verdict == Verdict::Remove,
                },
                catalog,
            );
            changed = true;
        }
    }
    changed
}

/// One verdict of a [`BatchDecisionHook`]: a [`HookVerdict`] naming its role,
/// `{"role": "web", "action": "s3:GetObject", "verdict": "keep", "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchVerdict {
    /// The role (name, as in its [`HookContext`]).
    pub role: String,
    /// The action (any case; matched against the catalog).
    pub action: String,
    /// Keep or remove.
    pub verdict: Verdict,
    /// Why, for reviewers.
    pub reason: String,
}

/// A hook that sees every role of an account at once (Repokid's
/// `DURING_REPOABLE_CALCULATION_BATCH`), e.g. to consult CloudTrail once for many roles.
///
/// It runs once per account, after the per-role [`DecisionHook`]s, over the roles whose
/// decisions were computed (filtered roles, roles without usable usage data and roles whose
/// per-role hook failed are not shown). Its verdicts follow the per-role rules; verdicts naming a
/// role not in the batch are ignored with a warning. Batch hooks run in ascending priority, each
/// seeing the decisions as the previous ones left them. An error makes every role of the batch
/// ineligible ([`crate::engine::Ineligible::HookFailed`] naming the hook).
pub trait BatchDecisionHook: Send + Sync {
    /// The name shown in evidence and errors.
    fn name(&self) -> &str;

    /// Batch hooks run in ascending priority.
    fn priority(&self) -> i32 {
        0
    }

    /// The verdicts for the roles of one account; an error makes all of them ineligible.
    fn decide_batch(&self, roles: &[HookContext]) -> Result<Vec<BatchVerdict>, HookError>;
}

/// A batch hook run as an external command (a `[[hooks]]` entry with `batch = true`): a JSON
/// array of [`HookContext`]s on stdin, a JSON array of [`BatchVerdict`]s expected on stdout.
/// Failures are as for [`CommandHook`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandBatchHook {
    /// The hook's name.
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Batch hooks run in ascending priority.
    pub priority: i32,
    /// How long the command may run (per account).
    pub timeout: Duration,
}

impl BatchDecisionHook for CommandBatchHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> i32 {
        self.priority
    }

    fn decide_batch(&self, roles: &[HookContext]) -> Result<Vec<BatchVerdict>, HookError> {
        call_json(
            &self.command,
            &roles,
            self.timeout,
            "an array of batch verdicts",
        )
        .map_err(|message| HookError::new(&self.name, message))
    }
}

/// A hook run as an external command: the [`HookContext`] as JSON on stdin, a JSON array of
/// [`HookVerdict`]s expected on stdout. A non-zero exit, a timeout (the command is killed) or
/// output that is not such an array is a [`HookError`] naming the hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandHook {
    /// The hook's name.
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Hooks run in ascending priority.
    pub priority: i32,
    /// How long the command may run.
    pub timeout: Duration,
}

impl DecisionHook for CommandHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> i32 {
        self.priority
    }

    fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
        call_json(&self.command, ctx, self.timeout, "an array of verdicts")
            .map_err(|message| HookError::new(&self.name, message))
    }
}

/// Runs `command` with `input` as JSON on stdin and reads its stdout as JSON of type `O`;
/// `expected` describes `O` in the error message (which quotes the tail of the output).
pub(crate) fn call_json<I: serde::Serialize + ?Sized, O: serde::de::DeserializeOwned>(
    command: &[String],
    input: &I,
    timeout: Duration,
    expected: &str,
) -> Result<O, String> {
    let input = serde_json::to_vec(input).map_err(|e| format!("cannot encode the input: {e}"))?;
    let stdout = run_command(command, &input, timeout)?;
    serde_json::from_slice(&stdout).map_err(|e| {
        format!(
            "invalid JSON on stdout (expected {expected}): {e}; output: {}",
            tail(&stdout)
        )
    })
}

/// The last few hundred characters of a command's output, for error messages.
pub(crate) fn tail(bytes: &[u8]) -> String {
    const MAX: usize = 400;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let skip = text.chars().count() - MAX;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

/// Runs `command` with `input` on stdin and returns its stdout, or a message saying what went
/// wrong (spawn failure, timeout, non-zero exit with the tail of stderr).
pub(crate) fn run_command(
    command: &[String],
    input: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| "the command is empty".to_string())?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let deadline = Instant::now() + timeout;

    // Feed stdin and drain stdout/stderr in threads so no pipe can fill up and block the child.
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        std::thread::spawn(move || {
            // A command that exits without reading its input is not an error here.
            let _ = stdin.write_all(&input);
        });
    }
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                let _ = tx.send(buf);
            });
        } else {
            let _ = tx.send(Vec::new());
        }
        rx
    };
    let out_rx = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_rx = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );

    let timed_out = || format!("timed out after {} s (killed)", timeout.as_secs_f64());
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(timed_out());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot wait for {program:?}: {e}"));
            }
        }
    };
    // A process the command left behind may hold the pipes open: bound the wait by the deadline.
    let remaining = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(100))
    };
    let stdout = out_rx.recv_timeout(remaining()).map_err(|_| timed_out())?;
    let stderr = err_rx.recv_timeout(remaining()).unwrap_or_default();
    if !status.success() {
        let code = status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("code {c}"));
        return Err(format!(
            "exited with {code}; stderr: {}",
            if stderr.is_empty() {
                "(empty)".to_string()
            } else {
                tail(&stderr)
            }
        ));
    }
    Ok(stdout)
}
