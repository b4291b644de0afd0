//! Callbacks: announced removals and failing callbacks.

use super::*;

#[test]
fn callback_removals_outside_an_announced_set_are_not_announced() {
    use repokid::engine::{EngineSettings, HookFailure, PermissionAges, PlanInput, plan_role};
    let c = Catalog::embedded();
    let r = role("web");
    let u = usage();
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let announced: repokid::engine::ActionSet = ["ec2:RunInstances", "s3:PutObject"]
        .iter()
        .map(|a| c.lookup(a).unwrap())
        .collect();
    let hook = Fixed::new(
        "h",
        0,
        &[
            ("s3:PutObject", Verdict::Remove),
            ("s3:GetObject", Verdict::Remove),
        ],
    );
    let hooks: Vec<&dyn DecisionHook> = vec![&hook];
    let callback = |d: &mut repokid::engine::Decisions| {
        repokid::hooks::apply_hooks(d, &hooks, &r, 90, c).map_err(HookFailure::from)
    };
    let p = plan_role(
        &PlanInput {
            role: &r,
            usage: Some(&u),
            ages: &ages,
            filter_hits: &[],
            announced: Some(&announced),
            on_decisions: Some(&callback),
        },
        &EngineSettings::default(),
        c,
        now(),
    );
    assert!(p.eligible(), "{:?}", p.ineligible);
    let planned = PlannedRole {
        role: r.clone(),
        plan: p,
    };
    assert_eq!(removable(&planned), ["ec2:RunInstances", "s3:PutObject"]);
    assert_eq!(*reason_of(&planned, "s3:GetObject"), Reason::NotAnnounced);
    assert_eq!(
        *reason_of(&planned, "ec2:DescribeInstances"),
        Reason::NotAnnounced
    );
    // Every group still holds the actions of one service, groups in service order.
    let services: Vec<&str> = planned
        .plan
        .decisions
        .groups
        .iter()
        .map(|g| {
            let ids: Vec<_> = g.actions.iter().collect();
            let s = &c.service_of(ids[0]).prefix;
            assert!(ids.iter().all(|id| &c.service_of(*id).prefix == s));
            s.as_str()
        })
        .collect();
    let mut sorted = services.clone();
    sorted.sort_unstable();
    assert_eq!(services, sorted);
}

#[test]
fn a_failing_callback_changes_nothing() {
    use repokid::engine::{EngineSettings, HookFailure, PermissionAges, PlanInput, plan_role};
    let r = role("web");
    let u = usage();
    let ages = PermissionAges::Uniform(now() - Duration::days(400));
    let callback = |d: &mut repokid::engine::Decisions| {
        d.groups.clear();
        Err(HookFailure {
            hook: "broken".into(),
            message: "no".into(),
        })
    };
    let input = PlanInput {
        role: &r,
        usage: Some(&u),
        ages: &ages,
        filter_hits: &[],
        announced: None,
        on_decisions: Some(&callback),
    };
    let p = plan_role(
        &input,
        &EngineSettings::default(),
        Catalog::embedded(),
        now(),
    );
    assert_eq!(
        p.ineligible,
        [Ineligible::HookFailed {
            hook: "broken".into(),
            message: "no".into()
        }]
    );
    assert_eq!(p.ineligible[0].summary(), "hook broken failed: no");
    assert!(p.rewrite.is_none());
    assert_eq!(p.decisions.removable_count(), 2);
    assert!(format!("{input:?}").contains("<callback>"));
}
