//! Exact minimization: replace a list of actions by wildcards that grant exactly the same catalog
//! actions (iam-facts.md §4, "maximal pure prefix cover").
//!
//! Within a service, the actions sharing a lowercase prefix are one contiguous range of the
//! catalog. A prefix is *pure* when every action in its range is wanted; `Prefix*` is then safe
//! (today). For each wanted action the shortest pure prefix is taken, so the emitted patterns are
//! the maximal pure nodes of the implicit trie: exact by construction, with no action granted
//! that was not wanted and none lost. Unlike policyuniverse, an action that is itself a prefix
//! of wanted siblings (`cloudformation:DescribeStacks` → `DescribeStackSet`) gets `Prefix*`,
//! never a bare name that silently drops them.

use super::actionset::ActionSet;
use super::catalog::{AccessLevel, ActionId, Catalog, Service};

/// Where a wildcard may cut an action name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutMode {
    /// Only at CamelCase word boundaries (`s3:GetObject*`, not `s3:GetObjectT*`), or the whole
    /// service (`s3:*`). Reads better and is the first choice.
    WordBoundary,
    /// At any character: the smallest exact cover.
    AnyCharacter,
}

/// Options for [`cover`].
#[derive(Debug, Clone, Copy)]
pub struct CoverOptions<'a> {
    /// Where cuts may fall.
    pub mode: CutMode,
    /// Whether a wildcard may cover any Permissions-management action.
    pub allow_permissions_management: bool,
    /// Permissions-management actions a wildcard may cover even when that is off: those the
    /// original statement already granted through a wildcard (or `NotAction`), so covering them
    /// again grants nothing the author had not already granted by pattern.
    pub pm_already_wildcarded: Option<&'a ActionSet>,
}

/// Patterns that cover every action of `targets`, each pattern matching only actions in `wanted`
/// (in this catalog). `targets` must be a subset of `wanted`. Patterns come out in catalog order,
/// in canonical case.
pub fn cover(
    catalog: &Catalog,
    wanted: &ActionSet,
    targets: &ActionSet,
    opts: CoverOptions,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = targets.next_at_or_after(0);
    while let Some(first) = next {
        let service = catalog.service_of(first);
        let (start, end) = (service.actions.start, service.actions.end);
        next = targets.next_at_or_after(end);
        // The common case for broad grants: the whole service is wanted, so `svc:*` it is.
        if wanted.contains_range(start, end) && end - start > 1 && pm_ok(catalog, start, end, &opts)
        {
            out.push(format!("{}:*", service.prefix));
            continue;
        }
        let in_service: Vec<ActionId> = targets.restricted(start, end).iter().collect();
        cover_service(catalog, service, wanted, &in_service, opts, &mut out);
    }
    out
}

/// Whether a wildcard over the whole of `start..end` respects the Permissions-management rule.
fn pm_ok(catalog: &Catalog, start: ActionId, end: ActionId, opts: &CoverOptions) -> bool {
    if opts.allow_permissions_management {
        return true;
    }
    let mut pm = catalog.permissions_management().restricted(start, end);
    if let Some(w) = opts.pm_already_wildcarded {
        pm.difference_with(w);
    }
    pm.is_empty()
}

fn cover_service(
    catalog: &Catalog,
    service: &Service,
    wanted: &ActionSet,
    targets: &[ActionId],
    opts: CoverOptions,
    out: &mut Vec<String>,
) {
    let base = service.actions.start;
    let n = (service.actions.end - base) as usize;
    // Prefix sums over the service's range: unwanted actions, and Permissions-management ones.
    let mut unwanted = vec![0u32; n + 1];
    let mut pm = vec![0u32; n + 1];
    for i in 0..n {
        let id = base + i as ActionId;
        unwanted[i + 1] = unwanted[i] + u32::from(!wanted.contains(id));
        let guarded = catalog.level(id) == AccessLevel::PermissionsManagement
            && !opts.pm_already_wildcarded.is_some_and(|w| w.contains(id));
        pm[i + 1] = pm[i] + u32::from(guarded);
    }
    let count = |sums: &[u32], r: &std::ops::Range<ActionId>| {
        sums[(r.end - base) as usize] - sums[(r.start - base) as usize]
    };
    let skip = service.prefix.len() + 1;
    let mut t = 0;
    while t < targets.len() {
        let id = targets[t];
        let canonical = &catalog.name(id)[skip..];
        let lower = &catalog.lower_name(id)[skip..];
        let mut end = id + 1;
        let mut pattern = None;
        for cut in cut_points(canonical, opts.mode) {
            let r = catalog.prefix_range(service, &lower[..cut]);
            if r.len() <= 1 {
                // Only this action is left under the prefix: its exact name is best.
                break;
            }
            let pure = count(&unwanted, &r) == 0;
            let pm_ok = opts.allow_permissions_management || count(&pm, &r) == 0;
            if pure && pm_ok {
                pattern = Some(if cut == 0 {
                    format!("{}:*", service.prefix)
                } else {
                    // Every name in the range shares the prefix; take its canonical case.
                    format!("{}*", &catalog.name(r.start)[..skip + cut])
                });
                end = r.end;
                break;
            }
        }
        out.push(pattern.unwrap_or_else(|| catalog.name(id).to_string()));
        while t < targets.len() && targets[t] < end {
            t += 1;
        }
    }
}

/// Candidate prefix lengths, shortest first: the empty prefix (the whole service), then word
/// boundaries or every character, then the full name (`Name*` covering its extensions).
fn cut_points(canonical: &str, mode: CutMode) -> impl Iterator<Item = usize> + '_ {
    let bytes = canonical.as_bytes();
    (0..=bytes.len()).filter(move |&i| match mode {
        CutMode::AnyCharacter => true,
        CutMode::WordBoundary => {
            i == 0
                || i == bytes.len()
                || (bytes[i].is_ascii_uppercase() && !bytes[i - 1].is_ascii_uppercase())
                || bytes[i - 1] == b'-'
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::Expansion;

    fn set(c: &Catalog, patterns: &[&str]) -> ActionSet {
        let mut s = c.empty_set();
        for p in patterns {
            if let Expansion::Known(e) = c.expand(p) {
                s.union_with(&e);
            }
        }
        s
    }

    fn opts(mode: CutMode) -> CoverOptions<'static> {
        CoverOptions {
            mode,
            allow_permissions_management: false,
            pm_already_wildcarded: None,
        }
    }

    fn reexpand(c: &Catalog, patterns: &[String]) -> ActionSet {
        set(c, &patterns.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn describe_stacks_family_is_not_under_granted() {
        let c = Catalog::embedded();
        let wanted = set(
            c,
            &[
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackSet",
                "cloudformation:DescribeStackSetOperation",
            ],
        );
        for mode in [CutMode::WordBoundary, CutMode::AnyCharacter] {
            let out = cover(c, &wanted, &wanted, opts(mode));
            assert_eq!(reexpand(c, &out), wanted, "{out:?}");
        }
        assert_eq!(
            cover(c, &wanted, &wanted, opts(CutMode::AnyCharacter)),
            vec!["cloudformation:DescribeStacks*"]
        );
    }

    #[test]
    fn get_object_without_its_extensions_stays_exact() {
        let c = Catalog::embedded();
        let wanted = set(c, &["s3:GetObject", "s3:PutObject"]);
        let out = cover(c, &wanted, &wanted, opts(CutMode::AnyCharacter));
        assert_eq!(out, vec!["s3:GetObject", "s3:PutObject"]);
    }

    #[test]
    fn whole_service_and_word_boundaries() {
        let c = Catalog::embedded();
        let all_sqs = set(c, &["sqs:*"]);
        // sqs has Permissions-management actions (AddPermission): no `sqs:*` unless allowed.
        let out = cover(c, &all_sqs, &all_sqs, opts(CutMode::WordBoundary));
        assert_eq!(reexpand(c, &out), all_sqs);
        assert!(!out.contains(&"sqs:*".to_string()));
        let out = cover(
            c,
            &all_sqs,
            &all_sqs,
            CoverOptions {
                mode: CutMode::WordBoundary,
                allow_permissions_management: true,
                pm_already_wildcarded: None,
            },
        );
        assert_eq!(out, vec!["sqs:*"]);
        let gets = set(c, &["s3:Get*", "s3:List*"]);
        let out = cover(c, &gets, &gets, opts(CutMode::WordBoundary));
        assert_eq!(reexpand(c, &out), gets);
        assert!(
            out.iter()
                .all(|p| p.starts_with("s3:Get") || p.starts_with("s3:List"))
        );
    }

    #[test]
    fn covers_only_targets_but_may_use_wanted() {
        let c = Catalog::embedded();
        let wanted = set(c, &["ec2:Describe*"]);
        let targets = set(c, &["ec2:DescribeInstances"]);
        let out = cover(c, &wanted, &targets, opts(CutMode::WordBoundary));
        let got = reexpand(c, &out);
        assert!(targets.is_subset(&got));
        assert!(got.is_subset(&wanted));
    }
}
