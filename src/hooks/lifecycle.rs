//! Lifecycle hooks around `ops::propose` (Repokid's `BEFORE_REPO_ROLES`, `AFTER_REPO` and
//! `AFTER_REPO_ROLES`) and `repokid schedule` (`AFTER_SCHEDULE_REPO`: `after-schedule`, once per
//! scheduled pull request; a failure is reported and the schedule stands).
//!
//! Per account with at least one eligible role, `propose` fires `before-account` (the roles about
//! to be proposed), writes the commit, then fires `after-role` for each proposed role and
//! `after-account` last. Hooks run in ascending priority (ties keep registration order). A failing
//! `before-account` hook stops that account's proposal (nothing is written for it, later hooks do
//! not run); failures of the after-hooks are reported but do not undo the commit, and every hook
//! still runs.
//!
//! Hooks come in two forms: a [`LifecycleHook`] trait object (`Workspace::lifecycle_hooks`), which
//! sees every event, and a [`CommandLifecycleHook`] declared as a `[[hooks]]` entry with
//! `events = [...]`, which runs only for the events listed, with the event as JSON on stdin.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HookError, run_command};

/// An event in the life of a proposal, as hooks see it (JSON tagged by `"event"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum LifecycleEvent {
    /// Before anything is written for `account`.
    BeforeAccount {
        /// 12-digit account id.
        account: String,
        /// The eligible roles about to be proposed, in inventory order.
        roles: Vec<String>,
    },
    /// After the account's commit is written, once per proposed role.
    AfterRole {
        /// 12-digit account id.
        account: String,
        /// The role.
        role: String,
        /// The actions removed from it (canonical names).
        removed: Vec<String>,
        /// Errors proposing this role (empty when its policies are in the commit; a role's write
        /// cannot fail apart from its account's today).
        errors: Vec<String>,
    },
    /// After the account's commit is written and the `after-role` hooks ran.
    AfterAccount {
        /// 12-digit account id.
        account: String,
        /// The proposed roles.
        roles: Vec<String>,
        /// The commit, when anything changed.
        commit: Option<String>,
        /// The proposal branch.
        branch: String,
        /// The `after-role` hook failures of this account (`hook NAME: message`).
        errors: Vec<String>,
    },
    /// After `repokid schedule` opened or updated the account's scheduled pull request
    /// (Repokid's `AFTER_SCHEDULE_REPO`).
    AfterSchedule {
        /// 12-digit account id.
        account: String,
        /// The scheduled roles.
        roles: Vec<String>,
        /// The pull request number.
        pull_request: u64,
        /// Its web address.
        url: String,
        /// The earliest merge time (RFC 3339).
        not_before: String,
    },
}

impl LifecycleEvent {
    /// Which kind of event this is.
    pub fn kind(&self) -> LifecycleEventKind {
        match self {
            LifecycleEvent::BeforeAccount { .. } => LifecycleEventKind::BeforeAccount,
            LifecycleEvent::AfterRole { .. } => LifecycleEventKind::AfterRole,
            LifecycleEvent::AfterAccount { .. } => LifecycleEventKind::AfterAccount,
            LifecycleEvent::AfterSchedule { .. } => LifecycleEventKind::AfterSchedule,
        }
    }
}

/// The kinds of [`LifecycleEvent`], as named in `events = [...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleEventKind {
    /// `before-account`.
    BeforeAccount,
    /// `after-role`.
    AfterRole,
    /// `after-account`.
    AfterAccount,
    /// `after-schedule`.
    AfterSchedule,
}

impl LifecycleEventKind {
    /// The name used in settings and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEventKind::BeforeAccount => "before-account",
            LifecycleEventKind::AfterRole => "after-role",
            LifecycleEventKind::AfterAccount => "after-account",
            LifecycleEventKind::AfterSchedule => "after-schedule",
        }
    }
}

impl std::fmt::Display for LifecycleEventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hook around `ops::propose`.
pub trait LifecycleHook: Send + Sync {
    /// The name shown in errors.
    fn name(&self) -> &str;

    /// Hooks run in ascending priority.
    fn priority(&self) -> i32 {
        0
    }

    /// Called for every event; an error on `before-account` stops that account's proposal.
    fn on(&self, event: &LifecycleEvent) -> Result<(), HookError>;
}

/// A lifecycle hook run as an external command, for the events it lists: the [`LifecycleEvent`]
/// as JSON on stdin; stdout is ignored; a non-zero exit or a timeout (the command is killed) is a
/// [`HookError`] naming the hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLifecycleHook {
    /// The hook's name.
    pub name: String,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Hooks run in ascending priority.
    pub priority: i32,
    /// How long the command may run per event.
    pub timeout: Duration,
    /// The events it runs for.
    pub events: Vec<LifecycleEventKind>,
}

impl LifecycleHook for CommandLifecycleHook {
    fn name(&self) -> &str {
        &self.name
    }

    fn priority(&self) -> i32 {
        self.priority
    }

    fn on(&self, event: &LifecycleEvent) -> Result<(), HookError> {
        if !self.events.contains(&event.kind()) {
            return Ok(());
        }
        let input = serde_json::to_vec(event)
            .map_err(|e| HookError::new(&self.name, format!("cannot encode the event: {e}")))?;
        run_command(&self.command, &input, self.timeout)
            .map(|_| ())
            .map_err(|message| HookError::new(&self.name, message))
    }
}

/// `hooks` in ascending priority, ties in registration order.
fn ordered(hooks: &[Box<dyn LifecycleHook>]) -> Vec<&dyn LifecycleHook> {
    let mut ordered: Vec<&dyn LifecycleHook> = hooks.iter().map(|h| h.as_ref()).collect();
    ordered.sort_by_key(|h| h.priority());
    ordered
}

/// Runs `hooks` on `event` in ascending priority, stopping at the first failure.
pub fn run_until_failure(
    hooks: &[Box<dyn LifecycleHook>],
    event: &LifecycleEvent,
) -> Result<(), HookError> {
    for hook in ordered(hooks) {
        hook.on(event)?;
    }
    Ok(())
}

/// Runs every hook of `hooks` on `event` in ascending priority and returns their failures.
pub fn run_all(hooks: &[Box<dyn LifecycleHook>], event: &LifecycleEvent) -> Vec<HookError> {
    ordered(hooks)
        .into_iter()
        .filter_map(|hook| hook.on(event).err())
        .collect()
}
