//! What applying one role takes, decided from three states of its inline policies: the file at
//! the baseline (what was last applied, so what IAM should hold), the file at the target (what the
//! protected branch holds now) and what IAM holds live. Pure: no I/O.
//!
//! Per policy name, with `b`, `t`, `l` the baseline, target and live documents (absent allowed):
//! * `l == t` — already there (unchanged, or written by an earlier, interrupted run): nothing.
//! * `l == b` — IAM holds what was last applied: write `t` (put), or delete when `t` is absent.
//! * otherwise — changed out of band (**drift**): the whole role is skipped, nothing written.
//!
//! Accepting `l == t` is what makes a re-run after a partial failure converge without ever
//! overwriting a change the tool did not make.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::engine::PolicyMap;

/// The writes one role needs, or why it must be left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    /// Live IAM already equals the target.
    InSync,
    /// Write these (puts before deletes).
    Write {
        /// Policies to put (new or changed), by name.
        puts: Vec<String>,
        /// Policies to delete, by name.
        deletes: Vec<String>,
    },
    /// Live IAM differs from both the baseline and the target for these policies: never
    /// overwritten.
    Drift {
        /// The policies that differ.
        policies: Vec<DriftedPolicy>,
    },
}

/// A policy changed out of band.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedPolicy {
    /// Its name.
    pub name: String,
    /// How live differs: `added out of band`, `deleted out of band` or `changed out of band`.
    pub how: &'static str,
}

/// How a drifted policy differs: a unified diff from what IAM was expected to hold (the file last
/// applied or synced) to what it holds live, both pretty-printed with object keys sorted so that
/// only real differences show. An absent side is empty.
pub fn drift_diff(expected: Option<&PolicyMap>, live: &PolicyMap, name: &str) -> String {
    let text = |v: Option<Value>| {
        v.map(|v| serde_json::to_string_pretty(&sorted(&v)).unwrap_or_default() + "\n")
            .unwrap_or_default()
    };
    let (e, l) = (text(doc(expected, name)), text(doc(Some(live), name)));
    similar::TextDiff::from_lines(&e, &l)
        .unified_diff()
        .context_radius(3)
        .header(&format!("expected/{name}"), &format!("live/{name}"))
        .to_string()
}

/// `v` with the keys of every object sorted (arrays keep their order).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn doc(map: Option<&PolicyMap>, name: &str) -> Option<Value> {
    map.and_then(|m| m.get(name)).map(|d| d.to_value())
}

/// Decides what applying `target` over `live` takes, given `baseline` (the file that was last
/// applied; `None` when the role had no file then). JSON objects compare by content, not key order.
pub fn decide(baseline: Option<&PolicyMap>, target: &PolicyMap, live: &PolicyMap) -> RoleChange {
    let names: BTreeSet<&String> = baseline
        .into_iter()
        .flat_map(|m| m.keys())
        .chain(target.keys())
        .chain(live.keys())
        .collect();
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    let mut drift = Vec::new();
    for name in names {
        let (b, t, l) = (
            doc(baseline, name),
            doc(Some(target), name),
            doc(Some(live), name),
        );
        if l == t {
            continue;
        }
        if l == b {
            if t.is_some() {
                puts.push(name.clone());
            } else {
                deletes.push(name.clone());
            }
            continue;
        }
        drift.push(DriftedPolicy {
            name: name.clone(),
            how: match (&b, &l) {
                (None, Some(_)) => "added out of band",
                (Some(_), None) => "deleted out of band",
                _ => "changed out of band",
            },
        });
    }
    if !drift.is_empty() {
        RoleChange::Drift { policies: drift }
    } else if puts.is_empty() && deletes.is_empty() {
        RoleChange::InSync
    } else {
        RoleChange::Write { puts, deletes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::policy::parse_policy_map;

    fn map(text: &str) -> PolicyMap {
        parse_policy_map("t", text).expect("test map")
    }

    const A: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","sqs:SendMessage"],"Resource":"*"}]}"#;
    const A2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*"}]}"#;
    const X: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}"#;

    #[test]
    fn a_merged_removal_is_written_puts_before_deletes() {
        let b = map(&format!(r#"{{"app":{A},"old":{X}}}"#));
        let t = map(&format!(r#"{{"app":{A2}}}"#));
        assert_eq!(
            decide(Some(&b), &t, &b),
            RoleChange::Write {
                puts: vec!["app".into()],
                deletes: vec!["old".into()]
            }
        );
    }

    #[test]
    fn live_equal_to_target_is_in_sync_even_half_way() {
        let b = map(&format!(r#"{{"app":{A},"old":{X}}}"#));
        let t = map(&format!(r#"{{"app":{A2}}}"#));
        assert_eq!(decide(Some(&b), &t, &t), RoleChange::InSync);
        // Interrupted after the put, before the delete: only the delete is left.
        let half = map(&format!(r#"{{"app":{A2},"old":{X}}}"#));
        assert_eq!(
            decide(Some(&b), &t, &half),
            RoleChange::Write {
                puts: vec![],
                deletes: vec!["old".into()]
            }
        );
    }

    #[test]
    fn out_of_band_changes_are_drift_and_nothing_is_written() {
        let b = map(&format!(r#"{{"app":{A}}}"#));
        let t = map(&format!(r#"{{"app":{A2}}}"#));
        let live = map(&format!(r#"{{"app":{X}}}"#));
        assert_eq!(
            decide(Some(&b), &t, &live),
            RoleChange::Drift {
                policies: vec![DriftedPolicy {
                    name: "app".into(),
                    how: "changed out of band"
                }]
            }
        );
        let added = map(&format!(r#"{{"app":{A},"extra":{X}}}"#));
        assert!(matches!(
            decide(Some(&b), &t, &added),
            RoleChange::Drift { .. }
        ));
        let deleted = map("{}");
        assert!(matches!(
            decide(Some(&b), &t, &deleted),
            RoleChange::Drift { .. }
        ));
    }

    #[test]
    fn key_order_and_whitespace_do_not_count_as_drift() {
        let b = map(&format!(r#"{{"app":{A}}}"#));
        let t = map(&format!(r#"{{"app":{A2}}}"#));
        let reordered = map(
            r#"{"app": {"Statement": [{"Resource": "*", "Action": ["s3:GetObject", "sqs:SendMessage"], "Effect": "Allow"}], "Version": "2012-10-17"}}"#,
        );
        assert_eq!(
            decide(Some(&b), &t, &reordered),
            RoleChange::Write {
                puts: vec!["app".into()],
                deletes: vec![]
            }
        );
    }

    #[test]
    fn the_drift_diff_shows_what_changed_out_of_band_and_nothing_else() {
        let b = map(&format!(r#"{{"app":{A}}}"#));
        // Same content as A with keys in another order, plus one action.
        let live = map(
            r#"{"app": {"Statement": [{"Resource": "*", "Action": ["s3:GetObject", "sqs:SendMessage", "iam:PassRole"], "Effect": "Allow"}], "Version": "2012-10-17"}}"#,
        );
        let d = drift_diff(Some(&b), &live, "app");
        assert!(d.starts_with("--- expected/app\n+++ live/app\n"), "{d}");
        let changed: Vec<&str> = d
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        assert_eq!(
            changed,
            [
                "-        \"sqs:SendMessage\"",
                "+        \"sqs:SendMessage\",",
                "+        \"iam:PassRole\""
            ],
            "{d}"
        );
        // Added out of band: everything is new.
        let d = drift_diff(None, &live, "app");
        assert!(
            d.lines().skip(2).filter(|l| l.starts_with('+')).count() > 5,
            "{d}"
        );
    }

    #[test]
    fn a_role_new_since_the_baseline_must_match_live() {
        let t = map(&format!(r#"{{"app":{A}}}"#));
        assert_eq!(decide(None, &t, &t), RoleChange::InSync);
        assert!(matches!(
            decide(None, &t, &map("{}")),
            RoleChange::Write { .. }
        ));
        let other = map(&format!(r#"{{"app":{X}}}"#));
        assert!(matches!(decide(None, &t, &other), RoleChange::Drift { .. }));
    }
}
