//! The property tests.

use super::*;

/// Random pairs (widening, narrowing and neutral mutations): every pair the oracle finds
/// widening, `compare` flags. Zero misses.
#[test]
pub(super) fn random_pairs_have_no_misses() {
    let cfg = config();
    let start = Instant::now();
    let mut forms = Forms::default();
    let (mut pairs, mut widening, mut flagged, mut misses) = (0u64, 0u64, 0u64, 0u64);
    let (mut seg_only_plain, mut plain_only, mut unproved_quiet) = (0u64, 0u64, 0u64);
    let mut first: Option<String> = None;
    let (mut t_oracle, mut t_engine) = (0f64, 0f64);
    for i in pair_range(&cfg) {
        let mut rng = Rng::for_pair(cfg.seed, 1, i);
        let base = gen_model(&mut rng, &mut forms);
        let mut head = base.clone();
        let muts: Vec<String> = (0..1 + rng.below(3))
            .map(|_| mutate_random(&mut rng, &mut head))
            .collect();
        let (b, h) = (base.to_json(), head.to_json());
        let t = Instant::now();
        let [seg, plain] = violations(&b, &h);
        t_oracle += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let c = engine(&b, &h);
        t_engine += t.elapsed().as_secs_f64();
        if cfg.show.is_some() {
            show("random", i, &base, &head, &muts, &c);
        }
        pairs += 1;
        match (&seg, &plain) {
            (Some(_), None) => seg_only_plain += 1,
            (None, Some(_)) => plain_only += 1,
            _ => {}
        }
        if seg.is_some() || plain.is_some() {
            widening += 1;
            if c.grants_nothing_new() {
                misses += 1;
                if first.is_none() {
                    first = Some(report_miss(
                        &format!("random pair {i} (seed {:#x})", cfg.seed),
                        &base,
                        &head,
                        &muts,
                    ));
                }
            } else {
                flagged += 1;
            }
        } else if !c.grants_nothing_new() {
            unproved_quiet += 1;
        }
    }
    eprintln!(
        "verify oracle, random pairs (seed {:#x}):\n  \
         pairs run:                         {pairs}\n  \
         oracle finds a widening:           {widening} ({} of pairs; {seg_only_plain} under the \
         segment reading only, {plain_only} under the plain reading only)\n  \
         verify fails (not proved):         {}\n  \
         .. on the oracle's widenings:      {flagged} (must be all)\n  \
         .. on pairs widening nothing here: {unproved_quiet} (widening beyond the universe, or \
         not provable statement by statement)\n  \
         misses:                            {misses}\n  \
         forms: {}\n  \
         elapsed:                           {} (oracle {t_oracle:.1} s, compare {t_engine:.1} s)",
        cfg.seed,
        pct(widening, pairs),
        flagged + unproved_quiet,
        forms.describe(),
        secs(start)
    );
    if let Some(report) = first {
        panic!("{misses} miss(es); the first:\n{report}");
    }
}

/// Removal-only pairs: the oracle agrees they widen nothing, and `compare` proves at least 99%.
#[test]
pub(super) fn removal_only_pairs_are_proved() {
    let cfg = config();
    let start = Instant::now();
    let mut forms = Forms::default();
    let (mut pairs, mut proved) = (0u64, 0u64);
    let mut by_kind: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut unproved: Vec<String> = Vec::new();
    let (mut t_oracle, mut t_engine) = (0f64, 0f64);
    for i in pair_range(&cfg) {
        let mut rng = Rng::for_pair(cfg.seed, 2, i);
        let base = gen_model(&mut rng, &mut forms);
        let mut head = base.clone();
        let mut kinds = BTreeSet::new();
        let muts: Vec<String> = (0..1 + rng.below(3))
            .map(|_| {
                let (k, d) = mutate_removal(&mut rng, &mut head);
                kinds.insert(k);
                d
            })
            .collect();
        let (b, h) = (base.to_json(), head.to_json());
        let t = Instant::now();
        let sanity = first_violation(&b, &h);
        t_oracle += t.elapsed().as_secs_f64();
        if let Some(v) = sanity {
            panic!(
                "removal-only pair {i} widens per the oracle (a bug in the mutations or the \
                 oracle): {}\nbase:\n{}\nhead:\n{}\n{}",
                muts.join("; "),
                pretty(&b),
                pretty(&h),
                v.describe()
            );
        }
        let t = Instant::now();
        let c = engine(&b, &h);
        t_engine += t.elapsed().as_secs_f64();
        if cfg.show.is_some() {
            show("removal-only", i, &base, &head, &muts, &c);
        }
        pairs += 1;
        let ok = c.grants_nothing_new();
        proved += u64::from(ok);
        for k in &kinds {
            let e = by_kind.entry(k).or_default();
            e.0 += 1;
            e.1 += u64::from(ok);
        }
        if !ok && unproved.len() < 5 {
            unproved.push(format!(
                "pair {i}: {}\nbase: {}\nhead: {}\nfindings: {}",
                muts.join("; "),
                serde_json::to_string(&b).unwrap(),
                serde_json::to_string(&h).unwrap(),
                c.findings
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
    }
    let kinds: Vec<String> = by_kind
        .iter()
        .map(|(k, (n, p))| format!("{k} {}", pct(*p, *n)))
        .collect();
    let rate = proved as f64 / pairs.max(1) as f64;
    eprintln!(
        "verify oracle, removal-only pairs (seed {:#x}):\n  \
         pairs run:                         {pairs} (the oracle agrees none widens)\n  \
         proved:                            {proved} ({})\n  \
         proved by mutation kind present:   {}\n  \
         forms: {}\n  \
         elapsed:                           {} (oracle {t_oracle:.1} s, compare {t_engine:.1} s)",
        cfg.seed,
        pct(proved, pairs),
        kinds.join(", "),
        forms.describe(),
        secs(start)
    );
    if !unproved.is_empty() {
        eprintln!("unproved examples:\n{}", unproved.join("\n\n"));
    }
    assert!(
        rate >= 0.99 || cfg.show.is_some(),
        "only {} of removal-only pairs proved (need 99%)",
        pct(proved, pairs)
    );
}
