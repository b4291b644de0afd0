//! What restoring a version of a role (or one service of it) gives.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::versions::RoleVersion;
use crate::engine::glob::glob_match;
use crate::engine::grants::{Grants, analyze};
use crate::engine::policy::{ActionKind, Effect, PolicyDocument, PolicyMap, Statement};
use crate::engine::{ActionSet, Catalog, Expansion};
use crate::store::StoreError;

/// What restoring a version would produce.
#[derive(Debug, Clone)]
pub struct Restore {
    /// The role's inline policies after the restore.
    pub policies: PolicyMap,
    /// Canonical names of the catalog actions granted after the restore and not now (then
    /// entries the catalog does not know, as written), sorted.
    pub comes_back: Vec<String>,
    /// Likewise for what is granted now and not after the restore.
    pub goes_away: Vec<String>,
}

/// Computes a restore from `versions` (as [`role_versions`](super::role_versions) returns them; `selection` 0 is the
/// newest) against the role's `current` policies. Pure: nothing is read or written.
///
/// * Without `service`: the selected version's policies, as they were. A version that deleted the
///   file is an error ("that version has no policies").
/// * With `service` (a prefix such as `s3`): `current`, plus for each Allow statement of the
///   selected version that granted actions of that service `current` no longer grants, a copy of
///   that statement (same Effect, Resource, Condition and other keys; `Sid` suffixed `Restored`,
///   kept unique) listing just those actions by canonical name (and the service's entries the
///   catalog does not know, as written), appended to the policy of the same name (created if
///   needed). The selected version's Deny statements that covered a restored action come back
///   too, narrowed to the restored actions, so nothing it denied becomes allowed.
///
/// The restore never grants an action the selected version did not grant (checked).
pub fn restore(
    versions: &[RoleVersion],
    current: &PolicyMap,
    selection: usize,
    service: Option<&str>,
    catalog: &Catalog,
) -> Result<Restore, StoreError> {
    let version = versions.get(selection).ok_or_else(|| {
        StoreError::Other(format!(
            "there is no version {selection}: the role has {} version(s), numbered from 0 (newest)",
            versions.len()
        ))
    })?;
    let Some(old) = &version.policies else {
        return Err(StoreError::Other(format!(
            "version {selection} (commit {}) deleted the role's file: that version has no policies",
            version.commit
        )));
    };
    let now = analyze(current, catalog);
    let policies = match service {
        None => old.clone(),
        Some(service) => restore_service(old, current, &now, service, catalog)?,
    };
    let then = analyze(old, catalog);
    let after = analyze(&policies, catalog);
    let comes_back = granted_minus(&after, &now, catalog);
    let goes_away = granted_minus(&now, &after, catalog);
    // Safety net: what comes back must have been granted by the selected version.
    let mut extra = after.all.clone();
    extra.difference_with(&then.all);
    extra.difference_with(&now.all);
    let extra = extra
        .iter()
        .next()
        .map(|id| catalog.name(id).to_string())
        .or_else(|| {
            after
                .unknown
                .iter()
                .find(|(k, _)| !then.unknown.contains_key(*k) && !now.unknown.contains_key(*k))
                .map(|(_, (written, _))| written.clone())
        });
    if let Some(extra) = extra {
        return Err(StoreError::Other(format!(
            "restoring version {selection} (commit {}) would grant {extra}, which that version did \
             not grant; nothing was changed",
            version.commit
        )));
    }
    Ok(Restore {
        policies,
        comes_back,
        goes_away,
    })
}

/// `current` plus copies of the statements of `old` that granted actions of `service` that are now
/// missing (see [`restore`]).
fn restore_service(
    old: &PolicyMap,
    current: &PolicyMap,
    now: &Grants,
    service: &str,
    catalog: &Catalog,
) -> Result<PolicyMap, StoreError> {
    let prefix = service.trim().to_ascii_lowercase();
    let svc = catalog.service(&prefix).ok_or_else(|| {
        StoreError::Other(format!(
            "unknown service {service:?}: it is not in the action catalog ({})",
            catalog.source()
        ))
    })?;
    let (start, end) = (svc.actions.start, svc.actions.end);
    let then = analyze(old, catalog);
    let mut out = current.clone();
    let mut restored = ActionSet::default();
    // Restored entries the catalog does not know: lowercase → as written.
    let mut restored_unknown: BTreeMap<String, String> = BTreeMap::new();
    for sg in &then.statements {
        let Some(doc) = old.get(&sg.policy) else {
            continue;
        };
        let Some(st) = doc.statements().get(sg.index) else {
            continue;
        };
        if st.effect() != Effect::Allow {
            continue;
        }
        let mut missing = sg.granted.restricted(start, end);
        missing.difference_with(&now.all);
        let mut names: Vec<String> = missing
            .iter()
            .map(|id| catalog.name(id).to_string())
            .collect();
        if st.kind() == ActionKind::Action {
            for (entry, expansion) in st.entries().iter().zip(&sg.entries) {
                let lower = entry.to_ascii_lowercase();
                if *expansion == Expansion::Unknown
                    && lower.split_once(':').is_some_and(|(s, _)| s == prefix)
                    && !now.unknown.contains_key(&lower)
                    && !names.iter().any(|n| n.eq_ignore_ascii_case(entry))
                {
                    names.push(entry.clone());
                    restored_unknown
                        .entry(lower)
                        .or_insert_with(|| entry.clone());
                }
            }
        }
        if names.is_empty() {
            continue;
        }
        restored.union_with(&missing);
        append_restored(&mut out, &sg.policy, doc, &st.with_actions(names))?;
    }
    if restored.is_empty() && restored_unknown.is_empty() {
        return Ok(out);
    }
    for (name, doc) in old {
        for st in doc.statements() {
            if st.effect() != Effect::Deny {
                continue;
            }
            let mut covered = deny_coverage(st, catalog);
            covered.intersect_with(&restored);
            let mut names: Vec<String> = covered
                .iter()
                .map(|id| catalog.name(id).to_string())
                .collect();
            names.extend(
                restored_unknown
                    .iter()
                    .filter(|(lower, _)| deny_covers_unknown(st, lower))
                    .map(|(_, written)| written.clone()),
            );
            if !names.is_empty() {
                append_restored(&mut out, name, doc, &st.with_actions(names))?;
            }
        }
    }
    Ok(out)
}

/// Catalog actions a Deny statement covers.
fn deny_coverage(st: &Statement, catalog: &Catalog) -> ActionSet {
    let mut listed = ActionSet::default();
    for entry in st.entries() {
        if let Expansion::Known(set) = catalog.expand(entry) {
            listed.union_with(&set);
        }
    }
    match st.kind() {
        ActionKind::Action => listed,
        ActionKind::NotAction => {
            let mut all = catalog.all();
            all.difference_with(&listed);
            all
        }
    }
}

/// Whether a Deny statement covers an entry the catalog does not know (lowercase).
fn deny_covers_unknown(st: &Statement, lower: &str) -> bool {
    let listed = st
        .entries()
        .iter()
        .any(|e| glob_match(e.to_ascii_lowercase().as_bytes(), lower.as_bytes()));
    match st.kind() {
        ActionKind::Action => listed,
        ActionKind::NotAction => !listed,
    }
}

/// Appends `st` (a copy of a statement of `source`, policy `name` of the selected version) to
/// policy `name` of `out`, with its Sid suffixed `Restored` and unique within the policy.
fn append_restored(
    out: &mut PolicyMap,
    name: &str,
    source: &PolicyDocument,
    st: &Statement,
) -> Result<(), StoreError> {
    let taken: HashSet<&str> = out
        .get(name)
        .map(|d| d.statements().iter().filter_map(Statement::sid).collect())
        .unwrap_or_default();
    let base = format!("{}Restored", st.sid().unwrap_or_default());
    let sid = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}{n}")
            }
        })
        .find(|s| !taken.contains(s.as_str()))
        .unwrap_or(base);
    let mut fields = Map::with_capacity(st.fields().len() + 1);
    if st.sid().is_none() {
        fields.insert("Sid".to_string(), Value::String(sid.clone()));
    }
    for (k, v) in st.fields() {
        let v = if k == "Sid" {
            Value::String(sid.clone())
        } else {
            v.clone()
        };
        fields.insert(k.clone(), v);
    }
    let built = PolicyDocument::from_value(
        name,
        serde_json::json!({ "Statement": [Value::Object(fields)] }),
    )
    .map_err(|e| StoreError::Other(format!("building the restored statement: {e}")))?;
    let Some(restored) = built.statements().first().cloned() else {
        return Err(StoreError::Other(
            "building the restored statement: no statement".to_string(),
        ));
    };
    match out.get_mut(name) {
        Some(doc) => {
            let mut statements = doc.statements().to_vec();
            statements.push(restored);
            *doc = doc.with_statements(statements);
        }
        None => {
            out.insert(name.to_string(), source.with_statements(vec![restored]));
        }
    }
    Ok(())
}

/// Canonical names of catalog actions in `a` and not `b`, then unknown entries (as written) in
/// `a` and not `b`; sorted case-insensitively.
fn granted_minus(a: &Grants, b: &Grants, catalog: &Catalog) -> Vec<String> {
    let mut set = a.all.clone();
    set.difference_with(&b.all);
    let mut names: Vec<String> = set.iter().map(|id| catalog.name(id).to_string()).collect();
    names.extend(
        a.unknown
            .iter()
            .filter(|(lower, _)| !b.unknown.contains_key(*lower))
            .map(|(_, (written, _))| written.clone()),
    );
    names.sort_by_key(|n| n.to_ascii_lowercase());
    names
}
