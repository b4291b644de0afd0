//! Does one version of a role's policies grant anything the other did not? A proof under IAM's
//! evaluation logic for identity-based policies, in the spirit of Access Analyzer's
//! `CheckNoNewAccess`: offline, explained, and never wrong in the unsafe direction.
//!
//! **The question.** A request is (action, resource, request context). A role's policies are
//! evaluated together: a request is allowed when some Allow statement matches it and no Deny
//! statement does. The role may hold permissions its file does not show (attached managed
//! policies), which its inline Deny statements also restrict. So `head` grants nothing new over
//! `base` when, for every request,
//!
//! 1. if head's Allow statements match it and head's Deny statements do not, base's Allow
//!    statements match it; and
//! 2. if base's Deny statements match it, head's Deny statements match it too (whatever else
//!    the role is granted stays denied).
//!
//! **The proof** ([`compare`]) is statement by statement and sound by construction: each head
//! Allow statement must be covered by base Allow statements, each base Deny statement by head
//! Deny statements ([`prove`]). Covering means, for each resource entry, the pooled actions of the
//! base statements whose resources contain it ([`resource`], ARN glob containment under every
//! plausible reading of IAM's matching) and whose conditions the head's conditions imply
//! ([`condition`]). Actions are compared through the [`Catalog`] (exact, as bitsets) and, for
//! whatever reaches beyond it — wildcards that will match actions AWS adds, names the catalog
//! does not know, `NotAction` — by pattern containment on automata ([`automaton`]). When a step
//! cannot be shown the answer is "not proved", with the reason and one example request: being
//! incomplete in the safe direction is allowed, a miss in the unsafe direction is not.

pub mod automaton;
pub mod condition;
pub mod prove;
pub mod resource;
pub mod statement;

use serde::Serialize;

use self::automaton::Vars;
use self::prove::{Gap, Missing};
use self::statement::{Compiled, Expansions, Group, Role, compile_all, group};
use super::actionset::ActionSet;
use super::catalog::Catalog;
use super::policy::{Effect, PolicyMap};

/// How many added action names a [`Comparison`] keeps (the count is always exact).
pub const ADDED_SAMPLE: usize = 20;

/// Which rule a finding breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// A head Allow statement matches requests base's Allow statements were not shown to match.
    Allow,
    /// A base Deny statement matches requests head's Deny statements were not shown to match.
    Deny,
}

/// One request the change newly allows (or no longer denies), as an example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The action (a catalog name, a name the catalog does not know, or a pattern for actions
    /// the catalog does not list yet).
    pub action: String,
    /// The resource, as the statement writes it.
    pub resource: String,
    /// The request context, when that is where the difference lies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

/// Something the proof could not show.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Which rule.
    pub kind: FindingKind,
    /// The statement's policy (in head for `allow`, in base for `deny`).
    pub policy: String,
    /// The statement's index in its policy.
    pub statement: usize,
    /// The statement's `Sid`, if any.
    pub sid: Option<String>,
    /// An example request.
    pub request: Request,
    /// How many catalog actions share the gap (0 when it is only about actions beyond the
    /// catalog).
    pub actions: usize,
    /// One sentence a reviewer reads: what head allows, and what base allowed instead.
    pub message: String,
}

/// The outcome of [`compare`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// What could not be proved; empty when head grants nothing new.
    pub findings: Vec<Finding>,
    /// How many catalog actions head's Allow statements grant and base's grant nowhere.
    pub added_actions: usize,
    /// The first of those, by name (at most [`ADDED_SAMPLE`]).
    pub added_sample: Vec<String>,
}

impl Comparison {
    /// Whether head was proved to grant nothing base did not.
    pub fn grants_nothing_new(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Proves (or fails to prove) that `head` grants nothing `base` did not, for one role. See the
/// [module documentation](self).
pub fn compare(base: &PolicyMap, head: &PolicyMap, catalog: &Catalog) -> Comparison {
    let vars = Vars::default();
    let mut expansions = Expansions::new();
    let head_allow = compile_all(head, Effect::Allow, Role::Inner, catalog, &mut expansions);
    let base_allow = compile_all(base, Effect::Allow, Role::Outer, catalog, &mut expansions);
    let base_groups = group(&base_allow);
    let mut findings = Vec::new();
    for gap in prove::uncovered(&head_allow, &base_groups, &vars) {
        findings.push(explain(
            FindingKind::Allow,
            &gap,
            &head_allow,
            &base_groups,
            catalog,
        ));
    }
    drop(base_groups);
    let base_deny = compile_all(base, Effect::Deny, Role::Inner, catalog, &mut expansions);
    if !base_deny.is_empty() {
        let head_deny = compile_all(head, Effect::Deny, Role::Outer, catalog, &mut expansions);
        let head_groups = group(&head_deny);
        for gap in prove::uncovered(&base_deny, &head_groups, &vars) {
            findings.push(explain(
                FindingKind::Deny,
                &gap,
                &base_deny,
                &head_groups,
                catalog,
            ));
        }
    }
    let union = |stmts: &[Compiled]| {
        let mut all = ActionSet::default();
        for s in stmts {
            all.union_with(&s.cat);
        }
        all
    };
    let mut added = union(&head_allow);
    added.difference_with(&union(&base_allow));
    Comparison {
        findings,
        added_actions: added.len(),
        added_sample: added
            .iter()
            .take(ADDED_SAMPLE)
            .map(|id| catalog.name(id).to_string())
            .collect(),
    }
}

/// How an outer group's resources read in a sentence.
fn group_place(g: &Group) -> String {
    let list: Vec<&str> = g.resources.iter().map(|r| r.text()).collect();
    let shown = list.iter().take(3).copied().collect::<Vec<_>>().join(", ");
    let more = if list.len() > 3 {
        format!(" (and {} more)", list.len() - 3)
    } else {
        String::new()
    };
    if g.not_resource {
        format!("every resource except [{shown}{more}]")
    } else if list.is_empty() {
        "no resource".to_string()
    } else {
        format!("{shown}{more}")
    }
}

fn explain(
    kind: FindingKind,
    gap: &Gap,
    inner: &[Compiled],
    groups: &[Group],
    catalog: &Catalog,
) -> Finding {
    let s = &inner[gap.stmt];
    let (action, actions, beyond) = match &gap.missing {
        Missing::Catalog { count, first } => (catalog.name(*first).to_string(), *count, None),
        Missing::Open(name) if name.contains(['*', '?']) => (
            name.clone(),
            0,
            Some(format!(
                "{name} also matches actions the catalog does not list yet (AWS adds actions)"
            )),
        ),
        Missing::Open(name) => (
            name.clone(),
            0,
            Some(format!("{name} is not in the catalog")),
        ),
        Missing::AllBut => {
            let ex: Vec<&str> = s.actions.iter().map(|a| a.lower.as_str()).collect();
            (
                format!("any action except [{}]", ex.join(", ")),
                0,
                Some("a NotAction also matches actions the catalog does not list yet".to_string()),
            )
        }
    };
    let place = gap.place_text.clone();
    let mut context = None;
    // What the other side had for that action instead.
    let other = if gap.granting.is_empty() {
        match kind {
            FindingKind::Allow => "base allowed it nowhere".to_string(),
            FindingKind::Deny => "head no longer denies it".to_string(),
        }
    } else if let Some(g) = gap.resource_ok.first() {
        let g = &groups[*g];
        let cond = s
            .cond
            .unimplied(&g.cond, &Vars::default())
            .map(|c| c.describe())
            .unwrap_or_else(|| "its condition".to_string());
        context = Some(format!("a request where {cond} does not hold"));
        match kind {
            FindingKind::Allow => format!(
                "base allowed it on {} only with Condition {cond}, which head does not require",
                group_place(g)
            ),
            FindingKind::Deny => format!(
                "head denies it on {} only with Condition {cond}, which base's Deny did not require",
                group_place(g)
            ),
        }
    } else {
        let places: Vec<String> = gap
            .granting
            .iter()
            .take(3)
            .map(|g| group_place(&groups[*g]))
            .collect();
        match kind {
            FindingKind::Allow => format!("base allowed it only on {}", places.join("; ")),
            FindingKind::Deny => format!("head denies it only on {}", places.join("; ")),
        }
    };
    let subject = match kind {
        FindingKind::Allow => format!("head allows {action} on {place}"),
        FindingKind::Deny => format!("base denied {action} on {place}"),
    };
    let count = if actions > 1 {
        format!(" ({actions} actions like this)")
    } else {
        String::new()
    };
    let mut message = format!("{subject}{count}; {other}");
    if let Some(b) = beyond {
        message.push_str(&format!(" ({b})"));
    }
    Finding {
        kind,
        policy: s.policy.clone(),
        statement: s.index,
        sid: s.sid.clone(),
        request: Request {
            action,
            resource: place,
            context,
        },
        actions,
        message,
    }
}

#[cfg(test)]
mod tests;
