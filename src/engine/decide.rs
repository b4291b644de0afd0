//! Decisions with evidence: for every action a role is granted, whether it can go and why.
//!
//! The model is Repokid's, with its defects fixed (reference §14): a service with no usage entry
//! is kept (W4), the grace period matches exact actions and fails closed when the age is unknown
//! (W1), NOREPO permissions are never counted as removable (W13), and everything is computed from
//! the policies given — the recorded state — never from a cache (W3).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::actionset::ActionSet;
use super::catalog::{ActionId, Catalog};
use super::grants::Grants;
use super::history::PermissionAges;
use super::settings::EngineSettings;
use super::usage::{LastAccessed, RoleUsage};

/// Why an action is removable or kept. The two `*Unused` variants are the removable ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// Removable: no action of the service was used within the usage window.
    ServiceUnused {
        /// When the service was last used (`never`, or a date before the window).
        last_used: LastAccessed,
    },
    /// Removable: the service is used, but AWS tracks this action at action level and it was not
    /// used within the window (only with action-level data and `action_level` on).
    ActionUnused {
        /// When the action was last used.
        last_used: LastAccessed,
    },
    /// Kept: used within the window (a malformed or future timestamp counts as used).
    Used {
        /// When it was last used.
        last_used: LastAccessed,
    },
    /// Kept: the usage data has no entry for the service, which proves nothing (fail closed).
    NoUsageEntry,
    /// Kept: the service is used and AWS does not track this action at action level.
    NotTrackedAtActionLevel {
        /// When the service was last used.
        service_last_used: LastAccessed,
    },
    /// Kept: `iam:PassRole` is not an API call, so Access Advisor never shows it used.
    PassRole,
    /// Kept: granted too recently for usage data to show its use.
    GracePeriod {
        /// Since when it has been granted; `None` when history does not say (fail closed).
        since: Option<DateTime<Utc>>,
    },
    /// Kept: granted by a statement whose Sid starts with `NOREPO`.
    NoRepo,
    /// Kept: the catalog does not know this action, so nothing can be said about its use.
    UnknownAction,
    /// Kept: removable, but not part of the announced (scheduled) removal.
    NotAnnounced,
    /// Decided by a hook (see [`crate::hooks`]): kept although unused, or removed although kept
    /// for usage reasons.
    Hook {
        /// The hook's name.
        hook: String,
        /// The hook's reason.
        #[serde(rename = "hook_reason")]
        reason: String,
        /// Whether the hook made the action removable.
        removable: bool,
    },
}

impl Reason {
    /// Whether the action can be removed.
    pub fn is_removable(&self) -> bool {
        matches!(
            self,
            Reason::ServiceUnused { .. }
                | Reason::ActionUnused { .. }
                | Reason::Hook {
                    removable: true,
                    ..
                }
        )
    }

    /// Whether the action is kept only because of what the usage data says (`Used`,
    /// `NoUsageEntry`, `NotTrackedAtActionLevel`): the only kept actions a hook may remove.
    pub fn is_kept_for_usage(&self) -> bool {
        matches!(
            self,
            Reason::Used { .. } | Reason::NoUsageEntry | Reason::NotTrackedAtActionLevel { .. }
        )
    }

    /// The kebab-case name of the variant, as in the JSON `reason` tag.
    pub fn key(&self) -> &'static str {
        match self {
            Reason::ServiceUnused { .. } => "service-unused",
            Reason::ActionUnused { .. } => "action-unused",
            Reason::Used { .. } => "used",
            Reason::NoUsageEntry => "no-usage-entry",
            Reason::NotTrackedAtActionLevel { .. } => "not-tracked-at-action-level",
            Reason::PassRole => "pass-role",
            Reason::GracePeriod { .. } => "grace-period",
            Reason::NoRepo => "no-repo",
            Reason::UnknownAction => "unknown-action",
            Reason::NotAnnounced => "not-announced",
            Reason::Hook { .. } => "hook",
        }
    }

    /// A short phrase for tables and PR bodies.
    pub fn summary(&self) -> String {
        match self {
            Reason::ServiceUnused {
                last_used: LastAccessed::Never,
            } => "service never used".into(),
            Reason::ServiceUnused { last_used } => format!("service unused since {last_used}"),
            Reason::ActionUnused {
                last_used: LastAccessed::Never,
            } => "action never used".into(),
            Reason::ActionUnused { last_used } => format!("action unused since {last_used}"),
            Reason::Used { last_used } => format!("used {last_used}"),
            Reason::NoUsageEntry => "no usage entry for the service (kept)".into(),
            Reason::NotTrackedAtActionLevel { service_last_used } => {
                format!("not tracked at action level; service used {service_last_used}")
            }
            Reason::PassRole => "iam:PassRole is not tracked by Access Advisor (kept)".into(),
            Reason::GracePeriod { since: Some(t) } => {
                format!("grace period: granted since {}", t.format("%Y-%m-%d"))
            }
            Reason::GracePeriod { since: None } => "grace period: age unknown (kept)".into(),
            Reason::NoRepo => "NOREPO statement".into(),
            Reason::UnknownAction => "unknown action (kept)".into(),
            Reason::NotAnnounced => "not in the announced removal".into(),
            Reason::Hook { hook, reason, .. } => format!("decided by hook {hook}: {reason}"),
        }
    }
}

/// Actions sharing one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionGroup {
    /// The actions.
    pub actions: ActionSet,
    /// Their shared reason.
    pub reason: Reason,
}

/// Decisions for every action a role is granted, grouped by service and reason (a role granted
/// `"*"` has tens of thousands of actions but only a few hundred distinct decisions).
#[derive(Debug, Clone, Default)]
pub struct Decisions {
    /// Groups in service order; within a service, in order of first appearance.
    pub groups: Vec<DecisionGroup>,
    /// Entries the catalog does not know, as written.
    pub unknown: Vec<(String, Reason)>,
}

impl Decisions {
    /// Every decided catalog action with its reason, group by group.
    pub fn iter(&self) -> impl Iterator<Item = (ActionId, &Reason)> {
        self.groups
            .iter()
            .flat_map(|g| g.actions.iter().map(move |id| (id, &g.reason)))
    }

    /// Every decided catalog action with its reason, in catalog order.
    pub fn sorted(&self) -> Vec<(ActionId, &Reason)> {
        let mut v: Vec<_> = self.iter().collect();
        v.sort_unstable_by_key(|(id, _)| *id);
        v
    }

    /// The reason for one action, if it is granted.
    pub fn reason(&self, id: ActionId) -> Option<&Reason> {
        self.groups
            .iter()
            .find(|g| g.actions.contains(id))
            .map(|g| &g.reason)
    }

    /// The removable catalog actions.
    pub fn removable(&self) -> ActionSet {
        let mut set = ActionSet::default();
        for g in self.groups.iter().filter(|g| g.reason.is_removable()) {
            set.union_with(&g.actions);
        }
        set
    }

    /// Number of removable actions.
    pub fn removable_count(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.reason.is_removable())
            .map(|g| g.actions.len())
            .sum()
    }

    /// Gives `actions` (which must be decided already) the decision `reason`: they leave their
    /// groups (emptied groups are dropped) and join, service by service, that service's group with
    /// this reason, or a new one after the service's last group.
    pub fn reassign(&mut self, actions: &ActionSet, reason: Reason, catalog: &Catalog) {
        if actions.is_empty() {
            return;
        }
        for g in &mut self.groups {
            g.actions.difference_with(actions);
        }
        self.groups.retain(|g| !g.actions.is_empty());
        let mut next = actions.next_at_or_after(0);
        while let Some(first) = next {
            let range = catalog.service_of(first).actions.clone();
            next = actions.next_at_or_after(range.end);
            let part = actions.restricted(range.start, range.end);
            let in_service = |g: &DecisionGroup| {
                g.actions
                    .next_at_or_after(range.start)
                    .is_some_and(|id| id < range.end)
            };
            if let Some(g) = self
                .groups
                .iter_mut()
                .find(|g| g.reason == reason && in_service(g))
            {
                g.actions.union_with(&part);
                continue;
            }
            let at = self
                .groups
                .iter()
                .rposition(in_service)
                .map(|i| i + 1)
                .or_else(|| {
                    self.groups.iter().position(|g| {
                        g.actions
                            .next_at_or_after(0)
                            .is_some_and(|id| id >= range.end)
                    })
                })
                .unwrap_or(self.groups.len());
            self.groups.insert(
                at,
                DecisionGroup {
                    actions: part,
                    reason: reason.clone(),
                },
            );
        }
    }

    fn push(&mut self, id: ActionId, reason: Reason, service_start: usize) {
        match self.groups[service_start..]
            .iter_mut()
            .find(|g| g.reason == reason)
        {
            Some(g) => {
                g.actions.insert(id);
            }
            None => self.groups.push(DecisionGroup {
                actions: [id].into_iter().collect(),
                reason,
            }),
        }
    }

    fn push_set(&mut self, actions: ActionSet, reason: Reason) {
        if !actions.is_empty() {
            self.groups.push(DecisionGroup { actions, reason });
        }
    }
}

/// Everything [`decide`] needs besides the grants.
#[derive(Debug, Clone, Copy)]
pub struct DecisionContext<'a> {
    /// The role's usage data.
    pub usage: &'a RoleUsage,
    /// Since when each action has been granted.
    pub ages: &'a PermissionAges,
    /// When set, only these actions may be removed (a schedule announced earlier).
    pub announced: Option<&'a ActionSet>,
    /// The engine settings.
    pub settings: &'a EngineSettings,
    /// The current time.
    pub now: DateTime<Utc>,
}

/// Decides every granted action, one service at a time: the service-level verdict is shared by
/// all of its actions, and only NOREPO grants, `iam:PassRole`, action-level data and per-action
/// ages are looked at action by action.
pub fn decide(grants: &Grants, ctx: &DecisionContext<'_>, catalog: &Catalog) -> Decisions {
    let window_start = ctx.now - Duration::days(ctx.settings.usage_window_days);
    let grace_start = ctx.now - Duration::days(ctx.settings.grace_days);
    let used = |la: &LastAccessed| match la {
        LastAccessed::Never => false,
        LastAccessed::At(t) => *t > window_start,
        LastAccessed::Malformed(_) => true,
    };
    let pass_role = catalog.lookup("iam:passrole");
    // Whether the gate's answer can differ between actions of one service.
    let per_action_gate =
        matches!(ctx.ages, PermissionAges::PerAction { .. }) || ctx.announced.is_some();

    let mut out = Decisions::default();
    let mut next = grants.all.next_at_or_after(0);
    while let Some(first) = next {
        let service = catalog.service_of(first);
        let (start, end) = (service.actions.start, service.actions.end);
        next = grants.all.next_at_or_after(end);
        let mut granted = grants.all.restricted(start, end);
        let group_start = out.groups.len();

        let norepo = grants.norepo.restricted(start, end);
        granted.difference_with(&norepo);
        out.push_set(norepo, Reason::NoRepo);
        if let Some(pr) = pass_role.filter(|id| granted.contains(*id)) {
            granted.remove(pr);
            out.push(pr, Reason::PassRole, group_start);
        }

        let base = match ctx.usage.services.get(&service.prefix) {
            None => Reason::NoUsageEntry,
            Some(su) if !used(&su.last_accessed) => Reason::ServiceUnused {
                last_used: su.last_accessed.clone(),
            },
            Some(su) => match (&su.actions, ctx.settings.action_level) {
                (Some(tracked), true) => {
                    for id in granted.iter() {
                        let action = &catalog.lower_name(id)[service.prefix.len() + 1..];
                        let reason = match tracked.get(action) {
                            Some(la) if used(la) => Reason::Used {
                                last_used: la.clone(),
                            },
                            Some(la) => gate(
                                Reason::ActionUnused {
                                    last_used: la.clone(),
                                },
                                id,
                                catalog.lower_name(id),
                                ctx,
                                grace_start,
                            ),
                            None => Reason::NotTrackedAtActionLevel {
                                service_last_used: su.last_accessed.clone(),
                            },
                        };
                        out.push(id, reason, group_start);
                    }
                    continue;
                }
                _ => Reason::Used {
                    last_used: su.last_accessed.clone(),
                },
            },
        };
        if !base.is_removable() {
            out.push_set(granted, base);
        } else if per_action_gate {
            for id in granted.iter() {
                let reason = gate(base.clone(), id, catalog.lower_name(id), ctx, grace_start);
                out.push(id, reason, group_start);
            }
        } else {
            // Uniform or unknown ages and no announcement: one answer for the whole service.
            let reason = gate(base, first, catalog.lower_name(first), ctx, grace_start);
            out.push_set(granted, reason);
        }
    }
    for (written, norepo) in grants.unknown.values() {
        let reason = if *norepo {
            Reason::NoRepo
        } else {
            Reason::UnknownAction
        };
        out.unknown.push((written.clone(), reason));
    }
    out
}

/// The checks that can still keep a removable action: the grace period, then the announcement.
fn gate(
    removable: Reason,
    id: ActionId,
    lower_name: &str,
    ctx: &DecisionContext<'_>,
    grace_start: DateTime<Utc>,
) -> Reason {
    if ctx.settings.grace_days > 0 {
        match ctx.ages.since(lower_name) {
            None => return Reason::GracePeriod { since: None },
            Some(t) if t > grace_start => return Reason::GracePeriod { since: Some(t) },
            Some(_) => {}
        }
    }
    if ctx.announced.is_some_and(|a| !a.contains(id)) {
        return Reason::NotAnnounced;
    }
    removable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_the_json_tag() {
        let all = [
            Reason::ServiceUnused {
                last_used: LastAccessed::Never,
            },
            Reason::ActionUnused {
                last_used: LastAccessed::Never,
            },
            Reason::Used {
                last_used: LastAccessed::Never,
            },
            Reason::NoUsageEntry,
            Reason::NotTrackedAtActionLevel {
                service_last_used: LastAccessed::Never,
            },
            Reason::PassRole,
            Reason::GracePeriod { since: None },
            Reason::NoRepo,
            Reason::UnknownAction,
            Reason::NotAnnounced,
            Reason::Hook {
                hook: "h".into(),
                reason: "r".into(),
                removable: false,
            },
        ];
        for r in all {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(v["reason"], r.key(), "{r:?}");
        }
    }
}
