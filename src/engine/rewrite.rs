//! The rewrite: remove decided actions from a role's inline policies with the smallest edit.
//!
//! * A statement that loses nothing is left exactly as written (Deny and NOREPO statements are
//!   never touched at all).
//! * In a statement that loses actions, every entry that loses nothing stays as written (an exact
//!   name is put in canonical case); an entry that loses something is replaced by what remains of
//!   it, as canonical names. Sid, Effect, Resource, Condition and unknown keys are kept.
//!   `NotAction` becomes an explicit `Action` list, in place.
//! * Statements left with no action are dropped, and policies left with no statement are deleted;
//!   both are reported.
//! * Only if the result is over the size limit are the replaced lists minimized into exact
//!   wildcards ([`super::minimize`]), largest savings first: word-boundary cuts, then any cut. If
//!   even that does not fit, the rewrite is refused with the figure.

use std::collections::HashSet;

use serde::Serialize;

use super::actionset::ActionSet;
use super::catalog::{Catalog, Expansion};
use super::glob::has_wildcard;
use super::grants::Grants;
use super::minimize::{CoverOptions, CutMode, cover};
use super::policy::{ActionKind, PolicyMap, inline_size, value_size};
use super::settings::EngineSettings;

/// A statement, by policy and position (and Sid, to help a reader find it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementRef {
    /// Policy name.
    pub policy: String,
    /// 0-based index in the original policy.
    pub index: usize,
    /// The statement's Sid, if it has one.
    pub sid: Option<String>,
}

/// The rewritten policies and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    /// The remaining policies (untouched ones included).
    pub policies: PolicyMap,
    /// Statements whose actions changed.
    pub changed_statements: Vec<StatementRef>,
    /// Statements dropped because no action remained.
    pub removed_statements: Vec<StatementRef>,
    /// Policies deleted because no statement remained.
    pub removed_policies: Vec<String>,
    /// The cut mode minimization needed, if it was needed.
    pub minimized: Option<CutMode>,
    /// Inline size before (IAM's rule).
    pub size_before: usize,
    /// Inline size after.
    pub size_after: usize,
}

/// The rewrite would not fit IAM's size limit even minimized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error(
    "the rewritten inline policies would be {size} characters, over IAM's {limit}-character limit by {over} even after exact minimization"
)]
pub struct OverSizeLimit {
    /// Size of the policies before the rewrite.
    pub size_before: usize,
    /// Smallest size reached.
    pub size: usize,
    /// The limit.
    pub limit: usize,
    /// `size - limit`.
    pub over: usize,
}

/// One service's share of a changed statement's replaced actions.
struct Group {
    targets: ActionSet,
    /// Their cover, once minimized; `None` means the canonical names of `targets`.
    patterns: Option<Vec<String>>,
    /// What the group costs in the compact JSON array now (see [`cost`]).
    cost: usize,
}

struct Pending {
    policy: String,
    index: usize,
    kept: Vec<String>,
    wanted: ActionSet,
    /// Actions the original statement granted by a wildcard or `NotAction`.
    wildcarded: ActionSet,
    groups: Vec<Group>,
}

impl Pending {
    fn actions(&self, catalog: &Catalog) -> Vec<String> {
        let mut out = self.kept.clone();
        for g in &self.groups {
            match &g.patterns {
                Some(p) => out.extend(p.iter().cloned()),
                None => out.extend(g.targets.iter().map(|id| catalog.name(id).to_string())),
            }
        }
        out
    }

    /// Size of this statement's Action list beyond what `kept` alone costs.
    fn extra_cost(&self) -> usize {
        self.groups.iter().map(|g| g.cost).sum()
    }
}

/// Removes `remove` from the policies' rewritable statements.
pub fn rewrite(
    policies: &PolicyMap,
    grants: &Grants,
    remove: &ActionSet,
    catalog: &Catalog,
    settings: &EngineSettings,
) -> Result<Rewrite, OverSizeLimit> {
    let size_before = inline_size(policies);
    let mut pending: Vec<Pending> = Vec::new();
    for g in &grants.statements {
        if !g.rewritable || !g.granted.intersects(remove) {
            continue;
        }
        let Some(st) = policies
            .get(&g.policy)
            .and_then(|d| d.statements().get(g.index))
        else {
            continue;
        };
        let mut wanted = g.granted.clone();
        wanted.difference_with(remove);
        let mut kept = Vec::new();
        let mut seen = HashSet::new();
        let mut explicit = catalog.empty_set();
        let mut wildcarded = catalog.empty_set();
        if st.kind() == ActionKind::NotAction {
            explicit = wanted.clone();
            wildcarded = g.granted.clone();
        } else {
            for (entry, exp) in st.entries().iter().zip(&g.entries) {
                if let Expansion::Known(set) = exp
                    && has_wildcard(entry)
                {
                    wildcarded.union_with(set);
                }
            }
            let mut kept_union = catalog.empty_set();
            for (entry, exp) in st.entries().iter().zip(&g.entries) {
                match exp {
                    Expansion::Known(set) if set.intersects(remove) => explicit.union_with(set),
                    Expansion::Known(set) => {
                        kept_union.union_with(set);
                        let written = match catalog.lookup(entry) {
                            Some(id) if !has_wildcard(entry) => catalog.name(id).to_string(),
                            _ => entry.clone(),
                        };
                        if seen.insert(written.to_ascii_lowercase()) {
                            kept.push(written);
                        }
                    }
                    Expansion::Unknown => {
                        if seen.insert(entry.to_ascii_lowercase()) {
                            kept.push(entry.clone());
                        }
                    }
                }
            }
            explicit.difference_with(remove);
            explicit.difference_with(&kept_union);
        }
        pending.push(Pending {
            policy: g.policy.clone(),
            index: g.index,
            kept,
            wanted,
            wildcarded,
            groups: split_by_service(catalog, &explicit),
        });
    }

    // Estimate the result's size without materialising long lists: the current size, less each
    // changed statement's action value, plus its new list. Minimize, largest savings first, only
    // while that is over the limit; the real size is checked once the result is built.
    let limit = settings.size_limit;
    let mut estimate = size_before;
    for p in &pending {
        let st = &policies[&p.policy].statements()[p.index];
        let original = st.fields().get(st.kind().key()).map_or(0, value_size);
        let kept: usize = p.kept.iter().map(|k| k.len() + 3).sum();
        // NotAction becomes Action (3 characters shorter); the list's brackets stay.
        estimate = (estimate + kept + p.extra_cost() + 2).saturating_sub(original + 1);
        if st.kind() == ActionKind::NotAction {
            estimate = estimate.saturating_sub(3);
        }
    }
    let mut minimized = None;
    for mode in [CutMode::WordBoundary, CutMode::AnyCharacter] {
        if estimate <= limit {
            break;
        }
        estimate = minimize_greedily(
            catalog,
            &mut pending,
            estimate,
            limit,
            mode,
            settings.minimize_permissions_management,
        );
        minimized = Some(mode);
    }
    let out = assemble(policies, &pending, catalog);
    let size_after = inline_size(&out.policies);
    if size_after > limit {
        return Err(OverSizeLimit {
            size_before,
            size: size_after,
            limit,
            over: size_after - limit,
        });
    }
    Ok(Rewrite {
        minimized,
        size_before,
        size_after,
        ..out
    })
}

fn split_by_service(catalog: &Catalog, ids: &ActionSet) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut next = ids.next_at_or_after(0);
    while let Some(first) = next {
        let service = catalog.service_of(first);
        let (start, end) = (service.actions.start, service.actions.end);
        next = ids.next_at_or_after(end);
        let targets = ids.restricted(start, end);
        let cost = targets.iter().map(|id| catalog.name(id).len() + 3).sum();
        groups.push(Group {
            targets,
            patterns: None,
            cost,
        });
    }
    groups
}

/// What a list of entries costs in a compact JSON array: quotes and a comma each.
fn cost(patterns: &[String]) -> usize {
    patterns.iter().map(|p| p.len() + 3).sum()
}

/// Replaces groups by their cover until `size` fits; returns the new size. Groups are tried
/// largest first (a group can save at most what it costs), so only as many covers are computed
/// as the limit needs.
fn minimize_greedily(
    catalog: &Catalog,
    pending: &mut [Pending],
    mut size: usize,
    limit: usize,
    mode: CutMode,
    allow_permissions_management: bool,
) -> usize {
    let mut order: Vec<(usize, usize, usize)> = pending
        .iter()
        .enumerate()
        .flat_map(|(pi, p)| {
            p.groups
                .iter()
                .enumerate()
                .map(move |(gi, g)| (g.cost, pi, gi))
        })
        .collect();
    order.sort_by(|a, b| b.cmp(a));
    for (_, pi, gi) in order {
        if size <= limit {
            break;
        }
        let p = &pending[pi];
        let opts = CoverOptions {
            mode,
            allow_permissions_management,
            pm_already_wildcarded: Some(&p.wildcarded),
        };
        let patterns = cover(catalog, &p.wanted, &p.groups[gi].targets, opts);
        let new = cost(&patterns);
        let g = &mut pending[pi].groups[gi];
        if new < g.cost {
            size = size.saturating_sub(g.cost - new);
            g.cost = new;
            g.patterns = Some(patterns);
        }
    }
    size
}

/// Builds the output policies.
fn assemble(policies: &PolicyMap, pending: &[Pending], catalog: &Catalog) -> Rewrite {
    let mut out = Rewrite {
        policies: PolicyMap::new(),
        changed_statements: Vec::new(),
        removed_statements: Vec::new(),
        removed_policies: Vec::new(),
        minimized: None,
        size_before: 0,
        size_after: 0,
    };
    for (name, doc) in policies {
        let mut statements = Vec::with_capacity(doc.statements().len());
        let mut changed = false;
        for (index, st) in doc.statements().iter().enumerate() {
            let Some(p) = pending
                .iter()
                .find(|p| p.policy == *name && p.index == index)
            else {
                statements.push(st.clone());
                continue;
            };
            changed = true;
            let r = StatementRef {
                policy: name.clone(),
                index,
                sid: st.sid().map(str::to_string),
            };
            let actions = p.actions(catalog);
            if actions.is_empty() {
                out.removed_statements.push(r);
            } else {
                statements.push(st.with_actions(actions));
                out.changed_statements.push(r);
            }
        }
        if !changed {
            out.policies.insert(name.clone(), doc.clone());
        } else if statements.is_empty() {
            out.removed_policies.push(name.clone());
        } else {
            out.policies
                .insert(name.clone(), doc.with_statements(statements));
        }
    }
    out
}
