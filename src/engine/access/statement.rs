//! Statements compiled for the containment proof: actions as a catalog set plus the patterns that
//! reach beyond the catalog, resources as ARN patterns, conditions as constraints.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::automaton::{Pattern, Vars};
use super::condition::Conditions;
use super::resource::ArnPattern;
use crate::engine::actionset::ActionSet;
use crate::engine::catalog::{Catalog, Expansion};
use crate::engine::glob::has_wildcard;
use crate::engine::policy::{ActionKind, Effect, PolicyMap, Statement};

/// Whether a statement is on the side that must be covered (head Allows, base Denies) or the side
/// that covers (base Allows, head Denies). Where a statement is ill-formed, the first side reads
/// it as broadly as it could mean and the second as narrowly, so a proof stays sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Must be covered.
    Inner,
    /// Covers.
    Outer,
}

/// One `Action`/`NotAction` entry.
#[derive(Debug, Clone)]
pub struct ActionEntry {
    /// Lowercase, as IAM matches actions case-insensitively.
    pub lower: String,
    /// The entry as a glob.
    pub pattern: Pattern,
    /// Whether it has a wildcard.
    pub wildcard: bool,
    /// Whether it can match actions the catalog does not list: a wildcard (AWS adds actions),
    /// or a name the catalog does not know.
    pub open: bool,
}

/// A compiled statement.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Policy name.
    pub policy: String,
    /// Index in the policy's statements.
    pub index: usize,
    /// The `Sid`, if any.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// Whether the entries are `NotAction` exclusions.
    pub not_action: bool,
    /// For `Action`: the entries that reach beyond the catalog (wildcards, unknown names); for
    /// `NotAction`: every exclusion.
    pub actions: Vec<ActionEntry>,
    /// The catalog actions it matches.
    pub cat: ActionSet,
    /// Whether the resources are `NotResource` exclusions.
    pub not_resource: bool,
    /// The `Resource`/`NotResource` entries.
    pub resources: Vec<ArnPattern>,
    /// The `Condition` block.
    pub cond: Conditions,
    /// Resources, condition and variable mode as one string: statements with equal keys match
    /// the same (resource, context) pairs.
    pub key: String,
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Compiles one statement of a document (`vars_on`: the document substitutes policy variables).
pub fn compile(
    policy: &str,
    index: usize,
    st: &Statement,
    vars_on: bool,
    role: Role,
    catalog: &Catalog,
    expansions: &mut Expansions,
) -> Compiled {
    let not_action = st.kind() == ActionKind::NotAction;
    let mut matched = ActionSet::default();
    // Only entries that reach beyond the catalog (and every NotAction exclusion) need their text
    // and an automaton; a catalog name is fully described by its bit.
    let mut actions = Vec::new();
    for e in st.entries() {
        let known = match expansions.get(e.as_str()) {
            Some(Some(set)) => {
                matched.union_with(set);
                true
            }
            Some(None) => false,
            None => {
                let set = match catalog.expand(e) {
                    Expansion::Known(set) => Some(set),
                    Expansion::Unknown => None,
                };
                if let Some(set) = &set {
                    matched.union_with(set);
                }
                let known = set.is_some();
                expansions.insert(e.clone(), set);
                known
            }
        };
        let wildcard = has_wildcard(e);
        let open = wildcard || !known;
        if open || not_action {
            let lower = e.to_ascii_lowercase();
            actions.push(ActionEntry {
                pattern: Pattern::glob(&lower),
                open,
                wildcard,
                lower,
            });
        }
    }
    let cat = if not_action {
        let mut all = catalog.all();
        all.difference_with(&matched);
        all
    } else {
        matched
    };
    let fields = st.fields();
    let (not_resource, raw) = match (fields.get("Resource"), fields.get("NotResource")) {
        (Some(r), _) => (false, Some(r)),
        (None, Some(n)) => (true, Some(n)),
        (None, None) => (false, None),
    };
    let resources: Vec<ArnPattern> = match raw {
        Some(v) => strings(v)
            .iter()
            .map(|r| ArnPattern::new(r, vars_on))
            .collect(),
        // No resource at all (IAM rejects it): everything when it must be covered, nothing when
        // it covers.
        None if role == Role::Inner => vec![ArnPattern::new("*", false)],
        None => Vec::new(),
    };
    let cond_value = fields.get("Condition");
    // A missing resource reads differently by role, so it must not make keys equal across roles.
    let resource_key = match raw {
        Some(v) => v.to_string(),
        None => format!("(none, {role:?})"),
    };
    let key = format!(
        "{}|{}|{resource_key}|{}",
        u8::from(vars_on),
        u8::from(not_resource),
        cond_value.map(Value::to_string).unwrap_or_default()
    );
    Compiled {
        policy: policy.to_string(),
        index,
        sid: st.sid().map(str::to_string),
        effect: st.effect(),
        not_action,
        actions,
        cat,
        not_resource,
        resources,
        cond: Conditions::parse(cond_value, vars_on),
        key,
    }
}

/// Catalog expansions by entry as written, shared by the statements of both sides of a
/// comparison (most entries appear on both).
pub type Expansions = HashMap<String, Option<ActionSet>>;

/// Every statement of `map` with effect `effect`, compiled for `role`.
pub fn compile_all(
    map: &PolicyMap,
    effect: Effect,
    role: Role,
    catalog: &Catalog,
    expansions: &mut Expansions,
) -> Vec<Compiled> {
    let mut out = Vec::new();
    for (name, doc) in map {
        let vars_on = doc.has_policy_variables();
        for (i, st) in doc.statements().iter().enumerate() {
            if st.effect() == effect {
                out.push(compile(name, i, st, vars_on, role, catalog, expansions));
            }
        }
    }
    out
}

/// Covering statements that match the same (resource, context) pairs, with their actions merged.
#[derive(Debug)]
pub struct Group {
    /// The members' key (see [`Compiled::key`]).
    pub key: String,
    /// Indices of the statements in the covering list.
    pub members: Vec<usize>,
    /// Whether the resources are exclusions.
    pub not_resource: bool,
    /// The resources (of the first member; all members have the same).
    pub resources: Vec<ArnPattern>,
    /// The condition block (likewise).
    pub cond: Conditions,
    /// Catalog actions of all members.
    pub cat: ActionSet,
    /// `Action` names the catalog does not know, lowercase (a known name is in `cat`).
    pub literals: HashSet<String>,
    /// Wildcard `Action` entries.
    pub wildcards: Wildcards,
    /// Each member `NotAction` statement's exclusions.
    pub exclusions: Vec<Vec<Pattern>>,
    /// Whether some member grants every action (`Action: "*"`).
    pub universal: bool,
}

/// Groups covering statements by their key.
pub fn group(stmts: &[Compiled]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stmts.iter().enumerate() {
        let g = *by_key.entry(s.key.as_str()).or_insert_with(|| {
            groups.push(Group {
                key: s.key.clone(),
                members: Vec::new(),
                not_resource: s.not_resource,
                resources: s.resources.clone(),
                cond: s.cond.clone(),
                cat: ActionSet::default(),
                literals: HashSet::new(),
                wildcards: Wildcards::default(),
                exclusions: Vec::new(),
                universal: false,
            });
            groups.len() - 1
        });
        let g = &mut groups[g];
        g.members.push(i);
        g.cat.union_with(&s.cat);
        if s.not_action {
            g.exclusions
                .push(s.actions.iter().map(|a| a.pattern.clone()).collect());
        } else {
            for a in &s.actions {
                if a.pattern.is_universal() {
                    g.universal = true;
                } else if a.wildcard {
                    g.wildcards.push(&a.lower, a.pattern.clone());
                } else {
                    g.literals.insert(a.lower.clone());
                }
            }
        }
    }
    groups
}

impl Group {
    /// Whether this group alone grants every action of `s` (catalog and beyond).
    pub fn grants_all_of(&self, s: &Compiled, vars: &Vars) -> bool {
        s.cat.is_subset(&self.cat)
            && if s.not_action {
                self.covers_all_but(&s.actions, vars)
            } else {
                s.actions
                    .iter()
                    .filter(|a| a.open)
                    .all(|a| self.covers_open(a, vars))
            }
    }

    /// Whether the group grants the action named `lower` (a concrete name), whatever the
    /// catalog says.
    pub fn matches_name(&self, lower: &str) -> bool {
        self.universal
            || self.literals.contains(lower)
            || self.wildcards.matches(lower)
            || self
                .exclusions
                .iter()
                .any(|ex| !ex.iter().any(|e| e.matches(lower)))
    }

    /// Whether the group grants every action `entry` matches that the catalog does not list.
    pub fn covers_open(&self, entry: &ActionEntry, vars: &Vars) -> bool {
        if !entry.wildcard {
            return self.matches_name(&entry.lower);
        }
        self.universal
            || self.wildcards.contain(entry, vars)
            || self
                .exclusions
                .iter()
                .any(|ex| ex.iter().all(|e| entry.pattern.disjoint(e, vars)))
    }

    /// Whether the group grants every action outside `excluded` that the catalog does not list
    /// (the open part of a `NotAction` statement).
    pub fn covers_all_but(&self, excluded: &[ActionEntry], vars: &Vars) -> bool {
        self.universal
            || self.exclusions.iter().any(|ex| {
                ex.iter().all(|e| {
                    excluded
                        .iter()
                        .any(|x| e.contained_in(&x.pattern, vars).is_yes())
                })
            })
    }
}

/// Wildcard action entries, indexed by the literal text before their first wildcard: a pattern
/// can only match a name, or contain another pattern, whose own leading text starts with it. That
/// keeps a statement of a thousand `service:Get*` entries linear instead of quadratic.
#[derive(Debug, Default)]
pub struct Wildcards {
    patterns: Vec<Pattern>,
    texts: HashSet<String>,
    by_lead: HashMap<String, Vec<usize>>,
}

/// The text before the first wildcard.
fn lead(text: &str) -> &str {
    text.find(['*', '?']).map_or(text, |i| &text[..i])
}

impl Wildcards {
    fn push(&mut self, text: &str, pattern: Pattern) {
        if !self.texts.insert(text.to_string()) {
            return;
        }
        self.by_lead
            .entry(lead(text).to_string())
            .or_default()
            .push(self.patterns.len());
        self.patterns.push(pattern);
    }

    /// The patterns whose leading text is a prefix of `text`'s.
    fn candidates<'a>(&'a self, text: &'a str) -> impl Iterator<Item = &'a Pattern> + 'a {
        let lead = lead(text);
        lead.char_indices()
            .map(|(i, _)| i)
            .chain([lead.len()])
            .filter_map(move |i| self.by_lead.get(&lead[..i]))
            .flatten()
            .map(|i| &self.patterns[*i])
    }

    /// Whether one of them matches the concrete (lowercase) name.
    pub fn matches(&self, name: &str) -> bool {
        self.candidates(name).any(|p| p.matches(name))
    }

    /// Whether one of them contains every name `entry` matches.
    pub fn contain(&self, entry: &ActionEntry, vars: &Vars) -> bool {
        self.texts.contains(&entry.lower)
            || self
                .candidates(&entry.lower)
                .any(|p| entry.pattern.contained_in(p, vars).is_yes())
    }
}
