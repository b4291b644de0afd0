//! Reporting and reduction of a miss.

use super::*;

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

/// Whether (base, head) is a miss: the oracle finds a violation and `compare` proves none.
pub(super) fn is_miss(base: &Model, head: &Model) -> Option<Violation> {
    let (b, h) = (base.to_json(), head.to_json());
    let v = first_violation(&b, &h)?;
    engine(&b, &h).grants_nothing_new().then_some(v)
}

/// Every model one step smaller than `m`.
pub(super) fn smaller(m: &Model) -> Vec<Model> {
    let mut out = Vec::new();
    for p in 0..m.pols.len() {
        let mut x = m.clone();
        x.pols.remove(p);
        out.push(x);
        for i in 0..m.pols[p].stmts.len() {
            let mut x = m.clone();
            x.pols[p].stmts.remove(i);
            x.cleanup();
            out.push(x);
            let s = &m.pols[p].stmts[i];
            for a in 0..s.actions.len() {
                if s.actions.len() > 1 {
                    let mut x = m.clone();
                    x.pols[p].stmts[i].actions.remove(a);
                    out.push(x);
                }
            }
            for r in 0..s.resources.len() {
                if s.resources.len() > 1 {
                    let mut x = m.clone();
                    x.pols[p].stmts[i].resources.remove(r);
                    out.push(x);
                }
            }
            for c in 0..s.conds.len() {
                let mut x = m.clone();
                x.pols[p].stmts[i].conds.remove(c);
                out.push(x);
                for v in 0..s.conds[c].values.len() {
                    if s.conds[c].values.len() > 1 {
                        let mut x = m.clone();
                        x.pols[p].stmts[i].conds[c].values.remove(v);
                        out.push(x);
                    }
                }
            }
            if s.sid.is_some() {
                let mut x = m.clone();
                x.pols[p].stmts[i].sid = None;
                out.push(x);
            }
        }
    }
    out
}

/// Greedy reduction of a miss: remove policies, statements, entries, constraints and values
/// from either side while the pair stays a miss.
pub(super) fn reduce(mut base: Model, mut head: Model) -> (Model, Model) {
    loop {
        let mut progressed = false;
        for b in smaller(&base) {
            if is_miss(&b, &head).is_some() {
                base = b;
                progressed = true;
                break;
            }
        }
        if !progressed {
            for h in smaller(&head) {
                if is_miss(&base, &h).is_some() {
                    head = h;
                    progressed = true;
                    break;
                }
            }
        }
        if !progressed {
            return (base, head);
        }
    }
}

pub(super) fn report_miss(label: &str, base: &Model, head: &Model, mutations: &[String]) -> String {
    let mut out = String::new();
    let v = is_miss(base, head).unwrap();
    writeln!(out, "MISS in {label}: compare() proved that head grants nothing new, and the oracle finds a request that contradicts it.").unwrap();
    writeln!(out, "mutations: {}", mutations.join("; ")).unwrap();
    writeln!(out, "base:\n{}", pretty(&base.to_json())).unwrap();
    writeln!(out, "head:\n{}", pretty(&head.to_json())).unwrap();
    writeln!(out, "{}", v.describe()).unwrap();
    let (rb, rh) = reduce(base.clone(), head.clone());
    let rv = is_miss(&rb, &rh).unwrap();
    writeln!(out, "\nREDUCED:").unwrap();
    writeln!(out, "base:\n{}", pretty(&rb.to_json())).unwrap();
    writeln!(out, "head:\n{}", pretty(&rh.to_json())).unwrap();
    writeln!(out, "{}", rv.describe()).unwrap();
    out
}

pub(super) fn secs(t: Instant) -> String {
    format!("{:.1} s", t.elapsed().as_secs_f64())
}

pub(super) fn pct(n: u64, d: u64) -> String {
    if d == 0 {
        "-".to_string()
    } else {
        format!("{:.3}%", 100.0 * n as f64 / d as f64)
    }
}

pub(super) fn pair_range(cfg: &Config) -> Vec<u64> {
    match cfg.show {
        Some(i) => vec![i],
        None => (0..cfg.pairs).collect(),
    }
}

pub(super) fn show(
    label: &str,
    i: u64,
    base: &Model,
    head: &Model,
    muts: &[String],
    c: &Comparison,
) {
    let (b, h) = (base.to_json(), head.to_json());
    eprintln!("--- {label} pair {i}: {}", muts.join("; "));
    eprintln!("base:\n{}\nhead:\n{}", pretty(&b), pretty(&h));
    for v in violations(&b, &h).iter().flatten() {
        eprintln!("oracle: {}", v.describe());
    }
    for f in &c.findings {
        eprintln!("finding: {}", f.message);
    }
    eprintln!("grants_nothing_new: {}", c.grants_nothing_new());
}
