//! Mutations: random ones (widening and narrowing) and removal-only ones.

use super::*;

pub(super) const RANDOM_KINDS: &[&str] = &[
    "add-action",
    "drop-action",
    "replace-resource",
    "add-resource",
    "drop-resource",
    "drop-condition",
    "loosen-condition",
    "change-operator",
    "delete-statement",
    "add-statement",
    "move-action",
    "move-statement",
    "flip-not",
    "flip-effect",
    "split-statement",
    "merge-statements",
    "change-case",
    "toggle-version",
];

/// Inserts `s` into a random policy of `m`, or a new one.
pub(super) fn insert_stmt(rng: &mut Rng, m: &mut Model, s: Stmt) -> String {
    if m.pols.is_empty() || rng.chance(25) {
        let name = m.fresh_name();
        m.pols.push(Pol {
            name: name.clone(),
            version: gen_version(rng),
            single: rng.chance(50),
            stmts: vec![s],
        });
        name
    } else {
        let p = rng.below(m.pols.len());
        let i = rng.below(m.pols[p].stmts.len() + 1);
        m.pols[p].stmts.insert(i, s);
        format!("{}[{i}]", m.pols[p].name)
    }
}

/// The family a constraint's operator belongs to, as the list of operators to switch between.
pub(super) fn op_family(base: &str) -> &'static [&'static str] {
    for ops in [STR_OPS, NUM_OPS, DATE_OPS, IP_OPS, ARN_OPS] {
        if ops.contains(&base) {
            return ops;
        }
    }
    &[]
}

pub(super) fn split_op(op: &str) -> (&str, &str, bool) {
    let (q, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        ("ForAllValues:", r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        ("ForAnyValue:", r)
    } else {
        ("", op)
    };
    match rest.strip_suffix("IfExists") {
        Some(b) => (q, b, true),
        None => (q, rest, false),
    }
}

pub(super) fn key_index(key: &str) -> Option<usize> {
    KEYS.iter().position(|k| k.eq_ignore_ascii_case(key))
}

/// One random mutation (widening, narrowing or neutral), described. `None` when it does not
/// apply to `m`.
pub(super) fn apply_random(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "add-action" | "drop-action" | "replace-resource" | "add-resource" | "drop-resource" => {
            mutate_entries(kind, rng, m)
        }
        "drop-condition" | "loosen-condition" | "change-operator" => {
            mutate_conditions(kind, rng, m)
        }
        "delete-statement" | "add-statement" | "move-action" | "move-statement" | "flip-not"
        | "flip-effect" | "split-statement" | "merge-statements" => mutate_statements(kind, rng, m),
        "change-case" | "toggle-version" => mutate_spelling(kind, rng, m),
        _ => unreachable!("{kind}"),
    }
}

/// Mutations of a statement's action and resource entries.
fn mutate_entries(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "add-action" => {
            let at = m.pick(rng, |_| true)?;
            let a = action_entry(rng);
            m.stmt(at).actions.push(a.clone());
            Some(format!("{kind} {a} to {}", m.where_(at)))
        }
        "drop-action" => {
            let at = m.pick(rng, |s| s.actions.len() > 1)?;
            let s = m.stmt(at);
            let a = s.actions.remove(rng.below(s.actions.len()));
            Some(format!("{kind} {a} from {}", m.where_(at)))
        }
        "replace-resource" => {
            let at = m.pick(rng, |_| true)?;
            let r = resource_entry(rng);
            let s = m.stmt(at);
            let i = rng.below(s.resources.len());
            let old = std::mem::replace(&mut s.resources[i], r.clone());
            Some(format!("{kind} {old} by {r} in {}", m.where_(at)))
        }
        "add-resource" => {
            let at = m.pick(rng, |_| true)?;
            let r = resource_entry(rng);
            m.stmt(at).resources.push(r.clone());
            Some(format!("{kind} {r} to {}", m.where_(at)))
        }
        "drop-resource" => {
            let at = m.pick(rng, |s| s.resources.len() > 1)?;
            let s = m.stmt(at);
            let r = s.resources.remove(rng.below(s.resources.len()));
            Some(format!("{kind} {r} from {}", m.where_(at)))
        }
        _ => unreachable!("{kind}"),
    }
}

/// Mutations of a statement's conditions.
fn mutate_conditions(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "drop-condition" => {
            let at = m.pick(rng, |s| !s.conds.is_empty())?;
            let s = m.stmt(at);
            let c = s.conds.remove(rng.below(s.conds.len()));
            Some(format!("{kind} {} {} from {}", c.op, c.key, m.where_(at)))
        }
        "loosen-condition" => {
            let at = m.pick(rng, |s| !s.conds.is_empty())?;
            let s = m.stmt(at);
            let ci = rng.below(s.conds.len());
            let c = &mut s.conds[ci];
            let pool = if c.op == "Null" {
                null_values()
            } else {
                values_for(key_index(&c.key)?)
            };
            let v = rng.pick(&pool);
            let how = if rng.chance(50) {
                c.values.push(v.clone());
                c.list = true;
                "add value"
            } else {
                let i = rng.below(c.values.len());
                c.values[i] = v.clone();
                "set value"
            };
            let d = format!("{kind}: {how} {v} to {} {}", c.op, c.key);
            Some(format!("{d} in {}", m.where_(at)))
        }
        "change-operator" => {
            let at = m.pick(rng, |s| s.conds.iter().any(|c| c.op != "Null"))?;
            let s = m.stmt(at);
            let idx: Vec<usize> = (0..s.conds.len())
                .filter(|i| s.conds[*i].op != "Null")
                .collect();
            let c = &mut s.conds[rng.pick(&idx)];
            let (q, base, if_exists) = split_op(&c.op);
            let (mut q, mut base, mut if_exists) = (q.to_string(), base.to_string(), if_exists);
            match rng.below(3) {
                0 => if_exists = !if_exists,
                1 => q = rng.pick(&["", "ForAllValues:", "ForAnyValue:"]).to_string(),
                _ => {
                    let fam = op_family(&base);
                    if fam.is_empty() {
                        return None;
                    }
                    base = rng.pick(fam).to_string();
                }
            }
            let new = format!("{q}{base}{}", if if_exists { "IfExists" } else { "" });
            if new == c.op {
                return None;
            }
            let old = std::mem::replace(&mut c.op, new.clone());
            let d = format!("{kind} {old} to {new} on {}", c.key);
            Some(format!("{d} in {}", m.where_(at)))
        }
        _ => unreachable!("{kind}"),
    }
}

/// Mutations of whole statements: deleted, added, moved, flipped, split, merged.
fn mutate_statements(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "delete-statement" => {
            let at = m.pick(rng, |_| true)?;
            let d = format!("{kind} {}", m.where_(at));
            m.pols[at.0].stmts.remove(at.1);
            Some(d)
        }
        "add-statement" => {
            let s = gen_stmt(rng, None, None);
            let eff = if s.allow { "Allow" } else { "Deny" };
            let at = insert_stmt(rng, m, s);
            Some(format!("{kind} ({eff}) at {at}"))
        }
        "move-action" => {
            let from = m.pick(rng, |s| !s.not_action)?;
            let to = m.pick(rng, |s| !s.not_action)?;
            if from == to {
                return None;
            }
            let s = m.stmt(from);
            let a = s.actions.remove(rng.below(s.actions.len()));
            m.stmt(to).actions.push(a.clone());
            Some(format!(
                "{kind} {a} from {} to {}",
                m.where_(from),
                m.where_(to)
            ))
        }
        "move-statement" => {
            let at = m.pick(rng, |_| true)?;
            let d = m.where_(at);
            let s = m.pols[at.0].stmts.remove(at.1);
            let to = insert_stmt(rng, m, s);
            Some(format!("{kind} {d} to {to}"))
        }
        "flip-not" => {
            let at = m.pick(rng, |_| true)?;
            let s = m.stmt(at);
            let what = if rng.chance(50) {
                s.not_action = !s.not_action;
                "Action/NotAction"
            } else {
                s.not_resource = !s.not_resource;
                "Resource/NotResource"
            };
            Some(format!("{kind} {what} of {}", m.where_(at)))
        }
        "flip-effect" => {
            let at = m.pick(rng, |_| true)?;
            let s = m.stmt(at);
            s.allow = !s.allow;
            Some(format!("{kind} of {}", m.where_(at)))
        }
        "split-statement" => {
            let at = m.pick(rng, |s| !s.not_action && s.actions.len() > 1)?;
            let s = m.stmt(at);
            let k = 1 + rng.below(s.actions.len() - 1);
            let mut second = s.clone();
            second.actions = s.actions.split_off(k);
            second.sid = None;
            let d = format!("{kind} {}", m.where_(at));
            m.pols[at.0].stmts.insert(at.1 + 1, second);
            Some(d)
        }
        "merge-statements" => {
            let a = m.pick(rng, |s| !s.not_action)?;
            let allow = m.pols[a.0].stmts[a.1].allow;
            let b = m.pick(rng, |s| !s.not_action && s.allow == allow)?;
            if a == b {
                return None;
            }
            let moved = m.pols[b.0].stmts[b.1].actions.clone();
            m.stmt(a).actions.extend(moved);
            let d = format!("{kind} {} into {}", m.where_(b), m.where_(a));
            m.pols[b.0].stmts.remove(b.1);
            Some(d)
        }
        _ => unreachable!("{kind}"),
    }
}

/// Mutations of spelling: letter case, the policy language version.
fn mutate_spelling(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "change-case" => {
            let at = m.pick(rng, |_| true)?;
            let s = m.stmt(at);
            if !s.conds.is_empty() && rng.chance(50) {
                let i = rng.below(s.conds.len());
                let c = &mut s.conds[i];
                c.key = if c.key.chars().any(|x| x.is_ascii_uppercase()) {
                    c.key.to_ascii_lowercase()
                } else {
                    c.key.to_ascii_uppercase()
                };
            } else {
                let i = rng.below(s.actions.len());
                s.actions[i] = s.actions[i].to_ascii_uppercase();
            }
            Some(format!("{kind} in {}", m.where_(at)))
        }
        "toggle-version" => {
            let p = rng.below(m.pols.len().max(1));
            let pol = m.pols.get_mut(p)?;
            pol.version = match pol.version {
                Some(_) => None,
                None => Some("2012-10-17"),
            };
            Some(format!("{kind} of {}", pol.name))
        }
        _ => unreachable!("{kind}"),
    }
}

pub(super) fn mutate_random(rng: &mut Rng, m: &mut Model) -> String {
    loop {
        let kind = rng.pick(RANDOM_KINDS);
        if let Some(d) = apply_random(kind, rng, m) {
            m.cleanup();
            return d;
        }
    }
}

pub(super) const REMOVAL_KINDS: &[&str] = &[
    "drop-allow-action",
    "narrow-allow-resource",
    "add-allow-condition",
    "add-deny",
    "delete-allow-statement",
];

/// One removal-only mutation; `None` when it does not apply.
pub(super) fn apply_removal(kind: &str, rng: &mut Rng, m: &mut Model) -> Option<String> {
    match kind {
        "drop-allow-action" => {
            let at = m.pick(rng, |s| s.allow && !s.not_action)?;
            let d = m.where_(at);
            let s = m.stmt(at);
            if s.actions.len() > 1 {
                let a = s.actions.remove(rng.below(s.actions.len()));
                Some(format!("{kind} {a} from {d}"))
            } else {
                m.pols[at.0].stmts.remove(at.1);
                Some(format!("{kind}: delete {d} (its only action)"))
            }
        }
        "narrow-allow-resource" => {
            let at = m.pick(rng, |s| {
                s.allow && !s.not_resource && s.resources.iter().any(|r| !narrower(r).is_empty())
            })?;
            let s = m.stmt(at);
            let idx: Vec<usize> = (0..s.resources.len())
                .filter(|i| !narrower(&s.resources[*i]).is_empty())
                .collect();
            let i = rng.pick(&idx);
            let new = rng.pick(&narrower(&s.resources[i])).to_string();
            let old = std::mem::replace(&mut s.resources[i], new.clone());
            Some(format!("{kind} {old} to {new} in {}", m.where_(at)))
        }
        "add-allow-condition" => {
            let at = m.pick(rng, |s| s.allow)?;
            let family = rng.pick(&FAMILIES[1..]);
            let c = gen_cond(rng, family);
            let s = m.stmt(at);
            if s.conds.iter().any(|x| x.op == c.op && x.key == c.key) {
                return None;
            }
            let d = format!("{kind} {} {} {:?}", c.op, c.key, c.values);
            s.conds.push(c);
            Some(format!("{d} to {}", m.where_(at)))
        }
        "add-deny" => {
            let s = gen_stmt(rng, Some(false), None);
            let at = insert_stmt(rng, m, s);
            Some(format!("{kind} at {at}"))
        }
        "delete-allow-statement" => {
            let at = m.pick(rng, |s| s.allow)?;
            let d = m.where_(at);
            m.pols[at.0].stmts.remove(at.1);
            Some(format!("{kind} {d}"))
        }
        _ => unreachable!("{kind}"),
    }
}

pub(super) fn mutate_removal(rng: &mut Rng, m: &mut Model) -> (&'static str, String) {
    loop {
        let kind = rng.pick(REMOVAL_KINDS);
        if let Some(d) = apply_removal(kind, rng, m) {
            m.cleanup();
            return (kind, d);
        }
    }
}
