//! apply.yml beyond the happy path, with its job scripts against moto and a local git remote:
//! every run applies the branch's tip, so a merge followed by a commit outside policies/ (which
//! starts no run) is still applied by the merge's own run; and the scheduled catch-up applies a
//! merge whose own run never happened, listing the accounts that were behind.

use super::*;

/// A policy repository on a local bare `origin` whose main records `acct` (one sync commit):
/// `app` (policies `data` and `legacy`) and `queue`, as [`populate`] creates them in moto.
fn policy_origin(t: &Path, acct: &MotoAccount, api: Option<&str>) -> PathBuf {
    let seed = common::new_repo();
    let s = seed.path();
    let github = api
        .map(|url| format!("\n[github]\nrepo = \"{REPO}\"\napi-url = \"{url}\"\n"))
        .unwrap_or_default();
    std::fs::write(
        s.join("repokid.toml"),
        format!(
            "accounts = [\"{}\"]\n\n[sources]\ninventory-source = \"aws\"\n\n[aws]\n\
             assume-role = \"RepokidRole\"\nmax-attempts = 2\ncall-timeout-seconds = 5\n{github}",
            acct.id
        ),
    )
    .unwrap();
    git(s, &["add", "repokid.toml"]);
    git(s, &["commit", "-q", "-m", "repokid settings"]);
    let (code, out, err) =
        common::repokid_env(s, &["sync", "--account", &acct.id], &moto::aws_env());
    assert_eq!(code, 0, "{out}{err}");
    let origin = t.join("origin.git");
    git(
        t,
        &[
            "clone",
            "-q",
            "--bare",
            s.to_str().unwrap(),
            origin.to_str().unwrap(),
        ],
    );
    origin
}

/// Merges a pull request into origin's main as GitHub does with a merge commit: `role`'s file in
/// `acct` becomes `policies` (name → JSON document) on branch `repokid/propose/<acct>`, merged
/// with `--no-ff` as pull request `number`. Returns the merge commit.
fn merge_pr(
    origin: &Path,
    t: &Path,
    acct: &MotoAccount,
    number: u64,
    role: &str,
    policies: &[(&str, &str)],
) -> String {
    let dir = checkout(origin, t, &format!("author-{number}"));
    let branch = format!("repokid/propose/{}", acct.id);
    git(&dir, &["checkout", "-q", "-B", &branch]);
    let map: serde_json::Map<String, Value> = policies
        .iter()
        .map(|(name, doc)| (name.to_string(), serde_json::from_str(doc).unwrap()))
        .collect();
    let path = format!("policies/{}/{role}.json", acct.id);
    std::fs::write(
        dir.join(&path),
        serde_json::to_string_pretty(&Value::Object(map)).unwrap() + "\n",
    )
    .unwrap();
    let who = [
        "-c",
        "user.name=Reviewer",
        "-c",
        "user.email=reviewer@example.com",
    ];
    git(
        &dir,
        &[
            &who[..],
            &["commit", "-q", "-am", &format!("narrow {role}")],
        ]
        .concat(),
    );
    git(&dir, &["checkout", "-q", "main"]);
    let message = format!("Merge pull request #{number} from acme/{branch}");
    git(
        &dir,
        &[
            &who[..],
            &["merge", "-q", "--no-ff", "-m", &message, &branch],
        ]
        .concat(),
    );
    git(&dir, &["push", "-q", "origin", "main"]);
    rev(&dir, "HEAD")
}

/// Pushes a commit to origin's main that touches nothing under policies/.
fn push_readme(origin: &Path, t: &Path, text: &str) -> String {
    let dir = checkout(origin, t, &format!("readme-{}", text.len()));
    std::fs::write(dir.join("README.md"), text).unwrap();
    git(&dir, &["add", "README.md"]);
    git(
        &dir,
        &[
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.com",
            "commit",
            "-q",
            "-m",
            "readme",
        ],
    );
    git(&dir, &["push", "-q", "origin", "main"]);
    rev(&dir, "HEAD")
}

/// A job's checkout of `commit`: what actions/checkout gives a run started for it (the branch
/// `main` at that commit, whatever origin's main is now).
fn checkout_at(origin: &Path, t: &Path, name: &str, commit: &str) -> PathBuf {
    let dir = checkout(origin, t, name);
    git(&dir, &["checkout", "-q", "-B", "main", commit]);
    dir
}

const APP_NARROW: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Data","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"*"}]}"#;
const QUEUE_NARROW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage"],"Resource":"*"}]}"#;

fn applied(origin: &Path, acct: &MotoAccount) -> String {
    rev(origin, &format!("refs/repokid/applied/{}", acct.id))
}

#[test]
fn a_merge_followed_by_a_commit_outside_policies_is_still_applied() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = policy_origin(t, &acct, None);
    let mut runner = Runner::default();

    // The merge touches policies/ and starts a run; the README commit right after starts none
    // (apply.yml's paths filter). The merge's run starts when the tip is already the README.
    let merge = merge_pr(&origin, t, &acct, 5, "app", &[("data", APP_NARROW)]);
    let tip = push_readme(&origin, t, "IAM policies\n");

    let ck = checkout_at(&origin, t, "prepare", &merge);
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
    );
    assert_eq!(batches(&prep), vec![vec![acct.id.clone()]]);

    let ck = checkout_at(&origin, t, "apply", &merge);
    let job = runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[("ACCOUNTS", acct.id.clone()), ("APPLY_ROLE", String::new())],
    );
    assert!(
        job.stdout.contains(&format!(
            "origin/main is at {}, not {}",
            &tip[..10],
            &merge[..10]
        )) && job.stdout.contains("applying the tip, which holds it"),
        "{}",
        job.stdout
    );
    // The merged policy is in IAM, and the applied ref is the tip, not the merge.
    let app = acct.policies("app");
    assert_eq!(app.keys().collect::<Vec<_>>(), ["data"], "{app:?}");
    assert_eq!(
        app["data"],
        serde_json::from_str::<Value>(APP_NARROW).unwrap()
    );
    assert_eq!(applied(&origin, &acct), tip);

    // Nothing is left pending.
    let ck = checkout(&origin, t, "prepare-after");
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
    );
    assert_eq!(prep.outputs["count"], "0");
    assert!(prep.stdout.contains("Nothing to apply"), "{}", prep.stdout);
}

#[test]
fn the_scheduled_run_applies_a_merge_whose_own_run_never_happened() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = policy_origin(t, &acct, None);
    let mut runner = Runner::default();

    // A first merge is applied by its own run.
    let first = merge_pr(&origin, t, &acct, 5, "app", &[("data", APP_NARROW)]);
    let ck = checkout_at(&origin, t, "apply-1", &first);
    runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[("ACCOUNTS", acct.id.clone()), ("APPLY_ROLE", String::new())],
    );
    assert_eq!(applied(&origin, &acct), first);

    // A second merge whose run never started (merged with the workflow's own token, or the run
    // failed to start).
    let second = merge_pr(&origin, t, &acct, 6, "queue", &[("send", QUEUE_NARROW)]);
    assert!(
        acct.policies("queue")["send"]
            .to_string()
            .contains("sns:Publish")
    );

    // The scheduled run checks out the default branch: prepare finds the account behind and
    // says since which commit; apply applies it.
    let ck = checkout(&origin, t, "prepare-scheduled");
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
    );
    assert_eq!(batches(&prep), vec![vec![acct.id.clone()]]);
    let row = format!("| {} | {} |", acct.id, &first[..10]);
    assert!(
        prep.stdout
            .contains(&format!("Accounts behind {}", &second[..10]))
            && prep.stdout.contains(&row),
        "{}",
        prep.stdout
    );
    assert!(runner.seen.contains(&row), "the job summary lists it");

    let ck = checkout(&origin, t, "apply-scheduled");
    let job = runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[
            ("ACCOUNTS", batches(&prep)[0].join(" ")),
            ("APPLY_ROLE", String::new()),
        ],
    );
    assert!(job.stdout.contains("queue"), "{}", job.stdout);
    assert_eq!(
        acct.policies("queue")["send"],
        serde_json::from_str::<Value>(QUEUE_NARROW).unwrap()
    );
    assert_eq!(applied(&origin, &acct), second);
    assert!(
        runner
            .seen
            .contains(&format!("| {} | `queue` | applied | send |", acct.id)),
        "the job summary says what was applied:\n{}",
        runner.seen
    );
}

#[test]
fn apply_runs_after_merges_on_a_schedule_and_by_hand_on_the_default_branch_only() {
    let text = workflow_text("apply.yml");
    let on = text.split("\npermissions:").next().unwrap();
    for trigger in [
        "\n  push:\n    branches: [main]\n",
        "\n  schedule:\n    - cron: ",
        "\n  workflow_dispatch:\n",
    ] {
        assert!(on.contains(trigger), "apply.yml lacks {trigger:?}:\n{on}");
    }
    // A scheduled event carries no repository, so the default-branch test alone would skip
    // every scheduled run; scheduled runs always run on the default branch.
    let cond = job_block(&text, "apply")
        .lines()
        .find_map(|l| value(l, "if"))
        .unwrap();
    assert!(
        cond.contains("github.event_name == 'schedule' ||")
            && cond.contains("github.event.repository.default_branch")
            && cond.contains("needs.prepare.outputs.count != '0'"),
        "{cond}"
    );
}
