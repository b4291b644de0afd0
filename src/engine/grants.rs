//! What a role's inline policies grant: every Allow statement's entries expanded against the
//! catalog once, so decisions and the rewrite share the work.

use std::collections::BTreeMap;

use super::actionset::ActionSet;
use super::catalog::{Catalog, Expansion};
use super::policy::{ActionKind, Effect, PolicyMap};

/// One statement's expansion.
#[derive(Debug, Clone)]
pub struct StatementGrant {
    /// Policy name.
    pub policy: String,
    /// Index of the statement in the policy.
    pub index: usize,
    /// Whether the statement is an Allow that is not marked NOREPO (the only kind the rewrite
    /// may change).
    pub rewritable: bool,
    /// Each `Action`/`NotAction` entry expanded (empty for Deny statements, which are never
    /// expanded).
    pub entries: Vec<Expansion>,
    /// Catalog actions the statement grants (empty for Deny).
    pub granted: ActionSet,
}

/// Everything a role's inline policies grant.
#[derive(Debug, Clone)]
pub struct Grants {
    /// Per statement, in policy-name then statement order.
    pub statements: Vec<StatementGrant>,
    /// Catalog actions granted by any Allow statement.
    pub all: ActionSet,
    /// Catalog actions granted by an Allow statement marked NOREPO.
    pub norepo: ActionSet,
    /// Allow `Action` entries the catalog does not know, lowercase → as first written, with
    /// whether a NOREPO statement holds them.
    pub unknown: BTreeMap<String, (String, bool)>,
}

/// Expands every Allow statement of `policies`.
pub fn analyze(policies: &PolicyMap, catalog: &Catalog) -> Grants {
    let mut grants = Grants {
        statements: Vec::new(),
        all: catalog.empty_set(),
        norepo: catalog.empty_set(),
        unknown: BTreeMap::new(),
    };
    for (name, doc) in policies {
        for (index, st) in doc.statements().iter().enumerate() {
            if st.effect() == Effect::Deny {
                grants.statements.push(StatementGrant {
                    policy: name.clone(),
                    index,
                    rewritable: false,
                    entries: Vec::new(),
                    granted: ActionSet::default(),
                });
                continue;
            }
            let norepo = st.is_norepo();
            let entries: Vec<Expansion> = st.entries().iter().map(|e| catalog.expand(e)).collect();
            let mut matched = catalog.empty_set();
            for (entry, exp) in st.entries().iter().zip(&entries) {
                match exp {
                    Expansion::Known(set) => matched.union_with(set),
                    Expansion::Unknown if st.kind() == ActionKind::Action => {
                        let slot = grants
                            .unknown
                            .entry(entry.to_ascii_lowercase())
                            .or_insert_with(|| (entry.clone(), false));
                        slot.1 |= norepo;
                    }
                    Expansion::Unknown => {}
                }
            }
            let granted = match st.kind() {
                ActionKind::Action => matched,
                ActionKind::NotAction => {
                    let mut all = catalog.all();
                    all.difference_with(&matched);
                    all
                }
            };
            grants.all.union_with(&granted);
            if norepo {
                grants.norepo.union_with(&granted);
            }
            grants.statements.push(StatementGrant {
                policy: name.clone(),
                index,
                rewritable: !norepo,
                entries,
                granted,
            });
        }
    }
    grants
}
