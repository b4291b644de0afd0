//! Decision hooks in the engine: what a hook may keep or remove, in priority order.

use super::*;

#[test]
fn without_hooks_ec2_goes_and_the_rest_stays() {
    let (_, planned) = run(&workspace(Vec::new()), &["web"]);
    assert!(planned[0].plan.eligible());
    assert_eq!(
        removable(&planned[0]),
        ["ec2:DescribeInstances", "ec2:RunInstances"]
    );
}

#[test]
fn hook_keeps_a_removable_action_and_the_evidence_names_it() {
    let hook = Fixed::new("keeper", 0, &[("EC2:runinstances", Verdict::Keep)]);
    let (report, planned) = run(&workspace(vec![Box::new(hook)]), &["web"]);
    let p = &planned[0];
    assert!(p.plan.eligible());
    assert_eq!(removable(p), ["ec2:DescribeInstances"]);
    let r = reason_of(p, "ec2:RunInstances");
    assert_eq!(
        *r,
        Reason::Hook {
            hook: "keeper".into(),
            reason: "keeper says so".into(),
            removable: false
        }
    );
    assert_eq!(r.summary(), "decided by hook keeper: keeper says so");
    assert_eq!(report.roles[0].kept.get("hook"), Some(&1));
    let policies = report.roles[0].policies.as_ref().unwrap().to_string();
    assert!(policies.contains("ec2:RunInstances"), "{policies}");
    assert!(!policies.contains("ec2:DescribeInstances"), "{policies}");
}

#[test]
fn hook_marks_a_used_action_removable() {
    let hook = Fixed::new("cloudtrail", 0, &[("s3:PutObject", Verdict::Remove)]);
    let (report, planned) = run(&workspace(vec![Box::new(hook)]), &["web"]);
    let p = &planned[0];
    assert_eq!(
        removable(p),
        ["ec2:DescribeInstances", "ec2:RunInstances", "s3:PutObject"]
    );
    assert!(matches!(
        reason_of(p, "s3:PutObject"),
        Reason::Hook { hook, removable: true, .. } if hook == "cloudtrail"
    ));
    let removed = &report.roles[0].removed;
    let put = removed.iter().find(|r| r.action == "s3:PutObject").unwrap();
    let json = serde_json::to_value(put).unwrap();
    assert_eq!(json["reason"], "hook");
    assert_eq!(json["hook"], "cloudtrail");
    assert_eq!(json["hook_reason"], "cloudtrail says so");
    let policies = report.roles[0].policies.as_ref().unwrap().to_string();
    assert!(!policies.contains("s3:PutObject") && policies.contains("s3:GetObject"));
}

#[test]
fn hook_cannot_remove_norepo_passrole_unknown_or_ungranted_actions() {
    let hook = Fixed::new(
        "greedy",
        0,
        &[
            ("sqs:SendMessage", Verdict::Remove),
            ("iam:PassRole", Verdict::Remove),
            ("s3:DeleteBucket", Verdict::Remove),
            ("nope:Nothing", Verdict::Remove),
        ],
    );
    let (_, planned) = run(&workspace(vec![Box::new(hook)]), &["web"]);
    let p = &planned[0];
    assert_eq!(removable(p), ["ec2:DescribeInstances", "ec2:RunInstances"]);
    assert_eq!(*reason_of(p, "sqs:SendMessage"), Reason::NoRepo);
    assert_eq!(*reason_of(p, "iam:PassRole"), Reason::PassRole);
    let c = Catalog::embedded();
    assert!(
        p.plan
            .decisions
            .reason(c.lookup("s3:DeleteBucket").unwrap())
            .is_none()
    );
}

static ORDER: Mutex<Vec<&str>> = Mutex::new(Vec::new());

#[test]
fn hooks_run_in_ascending_priority_and_see_earlier_verdicts() {
    let mut late = Fixed::new("late", 5, &[("ec2:RunInstances", Verdict::Remove)]);
    late.log = Some(&ORDER);
    let mut early = Fixed::new("early", -1, &[("ec2:RunInstances", Verdict::Keep)]);
    early.log = Some(&ORDER);
    let mut middle = Fixed::new("middle", 0, &[]);
    middle.log = Some(&ORDER);
    let ws = workspace(vec![Box::new(late), Box::new(early), Box::new(middle)]);
    let (_, planned) = run(&ws, &["web"]);
    assert_eq!(*ORDER.lock().unwrap(), ["early", "middle", "late"]);
    // `late` overrode `early`'s keep and has the last word.
    assert!(matches!(
        reason_of(&planned[0], "ec2:RunInstances"),
        Reason::Hook { hook, removable: true, .. } if hook == "late"
    ));
}

#[test]
fn later_hooks_see_the_context_as_earlier_hooks_left_it() {
    struct Probe(Mutex<Vec<HookContext>>);
    impl DecisionHook for Probe {
        fn name(&self) -> &str {
            "probe"
        }
        fn priority(&self) -> i32 {
            9
        }
        fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
            self.0.lock().unwrap().push(ctx.clone());
            Ok(Vec::new())
        }
    }
    static PROBE: Probe = Probe(Mutex::new(Vec::new()));
    struct ByRef(&'static Probe);
    impl DecisionHook for ByRef {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn priority(&self) -> i32 {
            self.0.priority()
        }
        fn decide(&self, ctx: &HookContext) -> Result<Vec<HookVerdict>, HookError> {
            self.0.decide(ctx)
        }
    }
    let keep = Fixed::new("keep", 1, &[("ec2:RunInstances", Verdict::Keep)]);
    let ws = workspace(vec![Box::new(ByRef(&PROBE)), Box::new(keep)]);
    run(&ws, &["web"]);
    let seen = PROBE.0.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let ctx = &seen[0];
    assert_eq!(ctx.account, ACCOUNT);
    assert_eq!(ctx.role, "web");
    assert_eq!(ctx.arn, "arn:aws:iam::123456789012:role/web");
    assert_eq!(ctx.usage_window_days, 90);
    assert_eq!(ctx.potentially_removable, ["ec2:DescribeInstances"]);
    assert!(ctx.kept.iter().any(|a| a == "ec2:RunInstances"));
    assert!(ctx.kept.iter().any(|a| a == "s3:GetObject"));
}
