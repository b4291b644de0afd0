//! The containment proof: every request an inner statement matches is matched by some outer
//! statement, shown per resource entry of the inner statement.
//!
//! For one inner statement and one of its resource entries, the *covering* groups are the outer
//! groups whose resources contain that entry and whose conditions the inner statement's
//! conditions imply. Each covering group matches every (resource, context) pair the entry can
//! meet, so their actions may be pooled: the inner statement's catalog actions must lie in the
//! pool's catalog actions, and each of its entries that reaches beyond the catalog (a wildcard, a
//! name the catalog does not know, a `NotAction`) must be covered by one covering statement by
//! pattern. What is not proved becomes a [`Gap`] with one example action.

use std::collections::HashMap;

use super::automaton::Vars;
use super::resource::ArnPattern;
use super::statement::{Compiled, Group};
use crate::engine::actionset::ActionSet;

/// What the inner statement matches for one of its resource entries.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    /// One `Resource` entry.
    One(&'a ArnPattern),
    /// All resources except these (`NotResource`).
    AllBut(&'a [ArnPattern]),
}

impl Place<'_> {
    /// `arn:aws:s3:::*`, or `every resource except [a, b]`.
    pub fn describe(&self) -> String {
        match self {
            Place::One(r) => r.text().to_string(),
            Place::AllBut(ex) => format!("every resource except [{}]", texts(ex)),
        }
    }
}

fn texts(rs: &[ArnPattern]) -> String {
    rs.iter()
        .map(ArnPattern::text)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether group `g`'s resources contain every resource of `place`.
fn resources_cover(place: Place<'_>, g: &Group, vars: &Vars) -> bool {
    match (place, g.not_resource) {
        (Place::One(r), false) => g.resources.iter().any(|q| r.contained_in(q, vars).is_yes()),
        (Place::One(r), true) => g.resources.iter().all(|m| r.disjoint(m, vars)),
        (Place::AllBut(_), false) => g.resources.iter().any(ArnPattern::is_universal),
        (Place::AllBut(ex), true) => g
            .resources
            .iter()
            .all(|m| ex.iter().any(|n| m.contained_in(n, vars).is_yes())),
    }
}

/// An example action the proof could not cover.
#[derive(Debug, Clone)]
pub enum Missing {
    /// Catalog actions: how many, and the first (by catalog order).
    Catalog {
        /// How many catalog actions are not covered.
        count: usize,
        /// The first of them (an id in the catalog).
        first: u32,
    },
    /// An entry reaching beyond the catalog (its lowercase text).
    Open(String),
    /// The part of a `NotAction` statement beyond the catalog.
    AllBut,
}

/// A part of an inner statement no outer statement was shown to cover.
#[derive(Debug, Clone)]
pub struct Gap {
    /// The inner statement (index into the inner list).
    pub stmt: usize,
    /// Which resources.
    pub place_text: String,
    /// What is missing.
    pub missing: Missing,
    /// Groups that grant the example action somewhere (indices into the outer groups).
    pub granting: Vec<usize>,
    /// Of those, the groups whose resources cover the place (they failed on conditions).
    pub resource_ok: Vec<usize>,
}

/// Proves inner ⊆ outer statement by statement; returns what could not be shown.
pub fn uncovered(inner: &[Compiled], groups: &[Group], vars: &Vars) -> Vec<Gap> {
    let mut gaps = Vec::new();
    // Covering groups per (inner key, resource entry), shared by statements with equal keys.
    let mut cache: HashMap<(String, usize), (Vec<usize>, ActionSet)> = HashMap::new();
    let by_key: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.key.as_str(), i))
        .collect();
    for (si, s) in inner.iter().enumerate() {
        // The common case (a statement kept or trimmed by a proposal): the outer statements with
        // the same resources and condition match every request it can meet.
        if by_key
            .get(s.key.as_str())
            .is_some_and(|g| groups[*g].grants_all_of(s, vars))
        {
            continue;
        }
        let places: Vec<Place<'_>> = if s.not_resource {
            vec![Place::AllBut(&s.resources)]
        } else {
            s.resources.iter().map(Place::One).collect()
        };
        for (pi, place) in places.iter().enumerate() {
            let cache_key = (s.key.clone(), pi);
            if !cache.contains_key(&cache_key) {
                let mut covering = Vec::new();
                let mut pool = ActionSet::default();
                for (gi, g) in groups.iter().enumerate() {
                    if resources_cover(*place, g, vars) && s.cond.unimplied(&g.cond, vars).is_none()
                    {
                        covering.push(gi);
                        pool.union_with(&g.cat);
                    }
                }
                cache.insert(cache_key.clone(), (covering, pool));
            }
            let Some((covering, pool)) = cache.get(&cache_key) else {
                continue;
            };
            let mut missing_cat = s.cat.clone();
            missing_cat.difference_with(pool);
            let missing = if let Some(first) = missing_cat.next_at_or_after(0) {
                Some(Missing::Catalog {
                    count: missing_cat.len(),
                    first,
                })
            } else if s.not_action {
                (!covering
                    .iter()
                    .any(|g| groups[*g].covers_all_but(&s.actions, vars)))
                .then_some(Missing::AllBut)
            } else {
                s.actions
                    .iter()
                    .filter(|a| a.open)
                    .find(|a| !covering.iter().any(|g| groups[*g].covers_open(a, vars)))
                    .map(|a| Missing::Open(a.lower.clone()))
            };
            let Some(missing) = missing else { continue };
            let granting: Vec<usize> = groups
                .iter()
                .enumerate()
                .filter(|(_, g)| match &missing {
                    Missing::Catalog { first, .. } => g.cat.contains(*first),
                    Missing::Open(name) => g.matches_name(name),
                    Missing::AllBut => g.universal || !g.exclusions.is_empty(),
                })
                .map(|(i, _)| i)
                .collect();
            let resource_ok = granting
                .iter()
                .copied()
                .filter(|g| resources_cover(*place, &groups[*g], vars))
                .collect();
            gaps.push(Gap {
                stmt: si,
                place_text: place.describe(),
                missing,
                granting,
                resource_ok,
            });
        }
    }
    gaps
}
