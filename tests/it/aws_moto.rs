//! The loop against "AWS": a moto server (IAM + STS with Access Advisor), two accounts reached
//! through AssumeRole, a policy repository, a bare repository standing in for GitHub, and the
//! `repokid` binary: sync, plan, propose, merge, apply, and live IAM checked against the files.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::common::moto::{self, MotoAccount};
use crate::common::{git, new_repo, repokid_env};
use serde_json::{Value, json};

const APP: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Data","Effect":"Allow","Action":["s3:GetObject","s3:PutObject","sqs:SendMessage","sqs:ReceiveMessage"],"Resource":"*"}]}"#;
const LEGACY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"*"}]}"#;
const WORKER: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":"*"}]}"#;
const QUEUE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","sns:Publish"],"Resource":"*"}]}"#;

fn days_ago(d: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(d)).to_rfc3339()
}

/// Roles in `acct`: `app` (uses s3, never sqs or dynamodb: loses sqs and its `legacy` policy),
/// `worker` (uses s3: unchanged) and `queue` (uses sqs, never sns: loses sns:Publish).
fn populate(acct: &MotoAccount) {
    acct.create_role("app", &[("data", APP), ("legacy", LEGACY)]);
    acct.create_role("worker", &[("s3", WORKER)]);
    acct.create_role("queue", &[("send", QUEUE)]);
    let used = |ns: &str, name: &str| json!({"ServiceNamespace": ns, "ServiceName": name, "LastAuthenticated": days_ago(1), "TotalAuthenticatedEntities": 1});
    let never = |ns: &str, name: &str| json!({"ServiceNamespace": ns, "ServiceName": name, "LastAuthenticated": null});
    moto::seed_access_advisor(&json!({
        acct.arn("app"): [used("s3", "Amazon S3"), never("sqs", "Amazon SQS"), never("dynamodb", "Amazon DynamoDB")],
        acct.arn("worker"): [used("s3", "Amazon S3")],
        acct.arn("queue"): [used("sqs", "Amazon SQS"), never("sns", "Amazon SNS")],
    }));
}

fn settings(accounts: &[&MotoAccount]) -> String {
    let ids: Vec<String> = accounts.iter().map(|a| format!("\"{}\"", a.id)).collect();
    format!(
        "accounts = [{}]\n\n[sources]\ninventory-source = \"aws\"\nusage-source = \"access-advisor\"\n\n\
         [aws]\nassume-role = \"RepokidRole\"\naccess-advisor-timeout-seconds = 60\nmax-attempts = 2\n\
         call-timeout-seconds = 5\n",
        ids.join(", ")
    )
}

/// Every byte a test saw from repokid, to check no secret is in it.
#[derive(Default)]
struct Seen(String);

impl Seen {
    fn run(
        &mut self,
        dir: &Path,
        args: &[&str],
        extra: &[(&str, String)],
    ) -> (i32, String, String) {
        let mut env = moto::aws_env();
        env.extend(extra.iter().cloned());
        let out = repokid_env(dir, args, &env);
        self.0.push_str(&out.1);
        self.0.push_str(&out.2);
        out
    }

    fn ok(&mut self, dir: &Path, args: &[&str]) -> String {
        let (code, out, err) = self.run(dir, args, &[]);
        assert_eq!(code, 0, "repokid {args:?} failed:\n{out}\n{err}");
        out
    }
}

/// The policy repository after sync and propose, the proposals merged on a bare "GitHub"
/// repository, and a fresh clone of main (what an Actions job checks out).
struct Merged {
    _tmp: tempfile::TempDir,
    work: tempfile::TempDir,
    checkout: PathBuf,
}

fn sync_propose_merge(accounts: &[&MotoAccount], seen: &mut Seen) -> Merged {
    let work = new_repo();
    let dir = work.path();
    std::fs::write(dir.join("repokid.toml"), settings(accounts)).unwrap();
    // The roles were created a moment ago; the age filter would keep them out of scope.
    std::fs::write(dir.join("filters.toml"), "[age]\nminimum_days = 0\n").unwrap();
    git(dir, &["add", "repokid.toml", "filters.toml"]);
    git(dir, &["commit", "-q", "-m", "settings"]);

    let out = seen.ok(dir, &["-vvv", "sync"]);
    for a in accounts {
        assert!(out.contains(&format!("{}: 3 added", a.id)), "{out}");
        let file: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("policies/{}/app.json", a.id))).unwrap(),
        )
        .unwrap();
        assert_eq!(file["data"], serde_json::from_str::<Value>(APP).unwrap());
    }

    let plan: Value = serde_json::from_str(&seen.ok(
        dir,
        &["-vv", "plan", "--grace-days", "0", "--format", "json"],
    ))
    .unwrap();
    for a in accounts {
        let role = |name: &str| {
            plan["roles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["account"] == a.id.as_str() && r["role"] == name)
                .unwrap_or_else(|| panic!("{name} of {} not planned: {plan}", a.id))
                .clone()
        };
        let removed = |name: &str| -> Vec<String> {
            role(name)["removed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["action"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            removed("app"),
            ["dynamodb:GetItem", "sqs:ReceiveMessage", "sqs:SendMessage"],
            "{}",
            role("app")
        );
        assert_eq!(removed("queue"), ["sns:Publish"]);
        assert!(removed("worker").is_empty());
    }

    seen.ok(dir, &["propose", "--grace-days", "0"]);

    // "GitHub": a bare repository; a reviewer merges each proposal with a merge commit.
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin.git");
    git(
        tmp.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    git(dir, &["remote", "add", "origin", origin.to_str().unwrap()]);
    let mut refs = vec!["main".to_string()];
    refs.extend(accounts.iter().map(|a| format!("repokid/propose/{}", a.id)));
    let mut push = vec!["push", "-q", "origin"];
    push.extend(refs.iter().map(String::as_str));
    git(dir, &push);
    let reviewer = tmp.path().join("reviewer");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            reviewer.to_str().unwrap(),
        ],
    );
    git(&reviewer, &["config", "user.name", "Reviewer"]);
    git(&reviewer, &["config", "user.email", "reviewer@example.com"]);
    for a in accounts {
        git(
            &reviewer,
            &[
                "merge",
                "-q",
                "--no-ff",
                "-m",
                &format!("Merge pull request: repokid/propose/{}", a.id),
                &format!("origin/repokid/propose/{}", a.id),
            ],
        );
    }
    git(&reviewer, &["push", "-q", "origin", "main"]);

    let checkout = tmp.path().join("checkout");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            origin.to_str().unwrap(),
            checkout.to_str().unwrap(),
        ],
    );
    Merged {
        _tmp: tmp,
        work,
        checkout,
    }
}

fn file_policies(checkout: &Path, account: &str, role: &str) -> serde_json::Map<String, Value> {
    let text =
        std::fs::read_to_string(checkout.join(format!("policies/{account}/{role}.json"))).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_object()
        .unwrap()
        .clone()
}

fn statuses(report: &Value, account: &str) -> Vec<(String, String)> {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == account)
        .unwrap_or_else(|| panic!("no report for {account}: {report}"))["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["role"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn sync_plan_propose_merge_apply_across_two_accounts() {
    let (a, b) = (MotoAccount::fresh(), MotoAccount::fresh());
    populate(&a);
    populate(&b);
    let mut seen = Seen::default();
    let merged = sync_propose_merge(&[&a, &b], &mut seen);
    let ci = merged.checkout.as_path();

    // Dry run: reads live state, writes nothing.
    let dry: Value =
        serde_json::from_str(&seen.ok(ci, &["-vvv", "apply", "--format", "json"])).unwrap();
    for acct in [&a, &b] {
        assert_eq!(
            statuses(&dry, &acct.id),
            pairs(&[("app", "would-apply"), ("queue", "would-apply")])
        );
        assert_eq!(acct.policies("app").len(), 2, "a dry run wrote to IAM");
    }
    assert!(git(ci, &["for-each-ref", "refs/repokid"]).is_empty());

    let applied: Value =
        serde_json::from_str(&seen.ok(ci, &["-vvv", "apply", "--commit", "--format", "json"]))
            .unwrap();
    for acct in [&a, &b] {
        assert_eq!(
            statuses(&applied, &acct.id),
            pairs(&[("app", "applied"), ("queue", "applied")])
        );
        // Live IAM now holds exactly the files.
        for role in ["app", "worker", "queue"] {
            assert_eq!(
                acct.policies(role),
                file_policies(ci, &acct.id, role),
                "{role} in {}",
                acct.id
            );
        }
        assert_eq!(
            git(
                ci,
                &["rev-parse", &format!("refs/repokid/applied/{}", acct.id)]
            ),
            git(ci, &["rev-parse", "HEAD"])
        );
    }
    // Puts and deletes only what changed: app's data (put) and legacy (delete), queue's send.
    let calls = &applied["aws_calls"];
    assert_eq!(calls["iam:PutRolePolicy"], 4, "{calls}");
    assert_eq!(calls["iam:DeleteRolePolicy"], 2, "{calls}");

    // Converged: a re-run has nothing to do, and a sync records nothing new.
    let again: Value =
        serde_json::from_str(&seen.ok(ci, &["apply", "--commit", "--format", "json"])).unwrap();
    for acct in [&a, &b] {
        assert!(statuses(&again, &acct.id).is_empty(), "{again}");
    }
    assert!(
        again["aws_calls"].as_object().unwrap().is_empty(),
        "{again}"
    );
    git(ci, &["config", "user.name", "CI"]);
    git(ci, &["config", "user.email", "ci@example.com"]);
    let out = seen.ok(ci, &["sync"]);
    assert!(
        out.contains(&format!("{}: unchanged, no commit", a.id)),
        "{out}"
    );

    // No credential anywhere: output and logs (at trace level, where the SDK logs signed
    // requests with the token header redacted), commits.
    for (i, _) in seen.0.match_indices("x-amz-security-token:") {
        assert!(seen.0[i..].starts_with("x-amz-security-token:** redacted"));
    }
    let history =
        git(merged.work.path(), &["log", "-p", "--all"]) + &git(ci, &["log", "-p", "--all"]);
    for text in [&seen.0, &history] {
        for secret in [
            moto::SECRET_KEY,
            moto::SESSION_TOKEN,
            "SecretAccessKey",
            "SessionToken",
        ] {
            let lower = text.to_lowercase();
            let at = lower.find(&secret.to_lowercase());
            assert!(
                at.is_none(),
                "{secret} appeared in output or history: …{}…",
                at.map(|i| &text[i.saturating_sub(300)..(i + 300).min(text.len())])
                    .unwrap_or_default()
            );
        }
    }
}

#[test]
fn a_policy_changed_out_of_band_after_the_merge_is_skipped_as_drift() {
    let a = MotoAccount::fresh();
    populate(&a);
    let mut seen = Seen::default();
    let merged = sync_propose_merge(&[&a], &mut seen);
    let ci = merged.checkout.as_path();

    // Someone edits app's policy in the console between merge and apply.
    let edited = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","kms:Decrypt"],"Resource":"*"}]}"#;
    a.put_policy("app", "data", edited);

    let summary = merged._tmp.path().join("summary.md");
    let (code, out, err) = seen.run(
        ci,
        &["apply", "--commit"],
        &[
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains(&format!("::error file=policies/{}/app.json", a.id)),
        "{out}"
    );
    assert!(out.contains("data (changed out of band)"), "{out}");
    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.contains("| `app` | drift |"), "{md}");
    assert!(md.contains("| `queue` | applied |"), "{md}");

    // app untouched (the out-of-band edit and the legacy policy stay), queue applied.
    let live = a.policies("app");
    assert_eq!(live["data"], serde_json::from_str::<Value>(edited).unwrap());
    assert!(live.contains_key("legacy"));
    assert_eq!(a.policies("queue"), file_policies(ci, &a.id, "queue"));
    // The baseline does not move while a role is unresolved.
    assert!(git(ci, &["for-each-ref", "refs/repokid"]).is_empty());
}

#[test]
fn emergency_rollback_commits_and_applies_at_once() {
    let a = MotoAccount::fresh();
    populate(&a);
    let mut seen = Seen::default();
    let merged = sync_propose_merge(&[&a], &mut seen);
    let ci = merged.checkout.as_path();
    git(ci, &["config", "user.name", "On-call"]);
    git(ci, &["config", "user.email", "oncall@example.com"]);
    seen.ok(ci, &["apply", "--commit"]);
    assert!(!a.policies("app").contains_key("legacy"));

    // The removal broke something: restore app's synced version right now.
    let versions: Value =
        serde_json::from_str(&seen.ok(ci, &["rollback", &a.id, "app", "--format", "json"]))
            .unwrap();
    let synced = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .position(|v| v["action"] == "sync")
        .unwrap();
    let out: Value = serde_json::from_str(&seen.ok(
        ci,
        &[
            "rollback",
            &a.id,
            "app",
            "--selection",
            &synced.to_string(),
            "--apply-now",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(out["applied"]["status"], "applied", "{out}");
    assert_eq!(out["branch"], "main");

    // IAM holds the restored file; the restore is a rollback commit on main; the baseline moved.
    let live = a.policies("app");
    assert_eq!(live, file_policies(ci, &a.id, "app"));
    assert_eq!(
        live["legacy"],
        serde_json::from_str::<Value>(LEGACY).unwrap()
    );
    let head = git(ci, &["log", "-1", "--format=%B"]);
    assert!(head.contains("Repokid-Action: rollback"), "{head}");
    assert_eq!(
        git(
            ci,
            &["rev-parse", &format!("refs/repokid/applied/{}", a.id)]
        ),
        git(ci, &["rev-parse", "HEAD"])
    );

    // With the role changed out of band since, an emergency restore is refused as drift (and
    // says so), though its commit stays as the record.
    a.put_policy("app", "data", WORKER);
    let (code, out, err) = seen.run(
        ci,
        &["rollback", &a.id, "app", "--selection", "1", "--apply-now"],
        &[],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains("was not applied"), "{err}");
    assert_eq!(
        a.policies("app")["data"],
        serde_json::from_str::<Value>(WORKER).unwrap()
    );
}

#[test]
fn an_out_of_band_change_that_was_synced_and_reviewed_is_applied_not_drift() {
    let a = MotoAccount::fresh();
    populate(&a);
    let mut seen = Seen::default();
    let merged = sync_propose_merge(&[&a], &mut seen);
    let ci = merged.checkout.as_path();
    git(ci, &["config", "user.name", "CI"]);
    git(ci, &["config", "user.email", "ci@example.com"]);
    seen.ok(ci, &["apply", "--commit"]);

    // Someone widens app in the console; the nightly sync records it, the proposal trims the
    // unused part again, and the reviewer merges.
    let widened = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Data","Effect":"Allow","Action":["s3:GetObject","sqs:SendMessage"],"Resource":"*"}]}"#;
    a.put_policy("app", "data", widened);
    seen.ok(ci, &["sync"]);
    seen.ok(ci, &["propose", "--grace-days", "0"]);
    git(
        ci,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge proposal",
            &format!("repokid/propose/{}", a.id),
        ],
    );

    // IAM holds what the sync recorded, not what was last applied: apply it, no drift.
    let out: Value =
        serde_json::from_str(&seen.ok(ci, &["apply", "--commit", "--format", "json"])).unwrap();
    assert_eq!(statuses(&out, &a.id), pairs(&[("app", "applied")]), "{out}");
    assert_eq!(a.policies("app"), file_policies(ci, &a.id, "app"));
    assert!(!a.policies("app")["data"].to_string().contains("sqs"));
}
