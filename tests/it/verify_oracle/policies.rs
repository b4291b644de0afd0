//! Policies: a model the generator and mutations work on, serialised to JSON for both sides.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Cond {
    pub(super) op: String,
    pub(super) key: String,
    pub(super) values: Vec<Value>,
    /// Written as a list even with one value.
    pub(super) list: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Stmt {
    pub(super) sid: Option<String>,
    pub(super) allow: bool,
    pub(super) not_action: bool,
    pub(super) actions: Vec<String>,
    pub(super) not_resource: bool,
    pub(super) resources: Vec<String>,
    pub(super) conds: Vec<Cond>,
    /// Lists written as lists even with one entry.
    pub(super) list: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pol {
    pub(super) name: String,
    pub(super) version: Option<&'static str>,
    /// A single statement written as an object, not an array.
    pub(super) single: bool,
    pub(super) stmts: Vec<Stmt>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Model {
    pub(super) pols: Vec<Pol>,
}

pub(super) fn strings_json(v: &[String], list: bool) -> Value {
    if v.len() == 1 && !list {
        Value::String(v[0].clone())
    } else {
        Value::Array(v.iter().cloned().map(Value::String).collect())
    }
}

impl Stmt {
    pub(super) fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(s) = &self.sid {
            m.insert("Sid".into(), json!(s));
        }
        m.insert(
            "Effect".into(),
            json!(if self.allow { "Allow" } else { "Deny" }),
        );
        m.insert(
            (if self.not_action {
                "NotAction"
            } else {
                "Action"
            })
            .into(),
            strings_json(&self.actions, self.list),
        );
        m.insert(
            (if self.not_resource {
                "NotResource"
            } else {
                "Resource"
            })
            .into(),
            strings_json(&self.resources, self.list),
        );
        if !self.conds.is_empty() {
            let mut block = Map::new();
            for c in &self.conds {
                let keys = block
                    .entry(c.op.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let v = if c.values.len() == 1 && !c.list {
                    c.values[0].clone()
                } else {
                    Value::Array(c.values.clone())
                };
                keys.as_object_mut().unwrap().insert(c.key.clone(), v);
            }
            m.insert("Condition".into(), Value::Object(block));
        }
        Value::Object(m)
    }
}

impl Model {
    pub(super) fn to_json(&self) -> Value {
        let mut out = Map::new();
        for p in &self.pols {
            let mut doc = Map::new();
            if let Some(v) = p.version {
                doc.insert("Version".into(), json!(v));
            }
            let stmts: Vec<Value> = p.stmts.iter().map(Stmt::to_json).collect();
            doc.insert(
                "Statement".into(),
                if p.single && stmts.len() == 1 {
                    stmts[0].clone()
                } else {
                    Value::Array(stmts)
                },
            );
            out.insert(p.name.clone(), Value::Object(doc));
        }
        Value::Object(out)
    }

    pub(super) fn refs(&self, pred: impl Fn(&Stmt) -> bool) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (p, pol) in self.pols.iter().enumerate() {
            for (i, s) in pol.stmts.iter().enumerate() {
                if pred(s) {
                    out.push((p, i));
                }
            }
        }
        out
    }

    pub(super) fn pick(
        &self,
        rng: &mut Rng,
        pred: impl Fn(&Stmt) -> bool,
    ) -> Option<(usize, usize)> {
        let all = self.refs(pred);
        (!all.is_empty()).then(|| all[rng.below(all.len())])
    }

    pub(super) fn stmt(&mut self, at: (usize, usize)) -> &mut Stmt {
        &mut self.pols[at.0].stmts[at.1]
    }

    pub(super) fn fresh_name(&self) -> String {
        (0..)
            .map(|i| format!("p{i}"))
            .find(|n| self.pols.iter().all(|p| &p.name != n))
            .unwrap()
    }

    /// Drops statements left without actions or resources and policies left without statements,
    /// and keeps one constraint per (operator, key) as JSON would.
    pub(super) fn cleanup(&mut self) {
        for p in &mut self.pols {
            p.stmts
                .retain(|s| !s.actions.is_empty() && !s.resources.is_empty());
            for s in &mut p.stmts {
                let mut seen = BTreeSet::new();
                let mut kept = Vec::new();
                for c in s.conds.drain(..).rev() {
                    if seen.insert((c.op.clone(), c.key.clone())) {
                        kept.push(c);
                    }
                }
                kept.reverse();
                s.conds = kept;
            }
        }
        self.pols.retain(|p| !p.stmts.is_empty());
    }

    pub(super) fn where_(&self, at: (usize, usize)) -> String {
        format!("{}[{}]", self.pols[at.0].name, at.1)
    }
}

pub(super) fn policy_map(v: &Value) -> PolicyMap {
    policy_map_from_value("oracle", v.clone()).unwrap()
}

pub(super) fn engine(base: &Value, head: &Value) -> Comparison {
    compare(&policy_map(base), &policy_map(head), Catalog::embedded())
}
