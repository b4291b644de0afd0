//! apply.yml beyond the happy path, with its job scripts against moto, a local git remote and a
//! stand-in for GitHub's API that keeps state (tests/it/common/fake_github.rs): every run applies
//! the branch's tip, so a merge followed by a commit outside policies/ (which starts no run) is
//! still applied by the merge's own run; the scheduled catch-up applies a merge whose own run
//! never happened, listing the accounts that were behind; and the results reach the merged pull
//! request (one comment, kept current) and, on failure, the tracking issue, which a later
//! successful run closes.

use std::sync::{Arc, Mutex};

use super::*;

use crate::common::fake_github;

/// The stateful GitHub stand-in, served by wiremock.
struct StatefulApi {
    _rt: tokio::runtime::Runtime,
    server: MockServer,
    state: Arc<Mutex<fake_github::State>>,
}

impl StatefulApi {
    fn start() -> StatefulApi {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let fake = fake_github::FakeGitHub::new(REPO);
        let state = fake.state.clone();
        rt.block_on(Mock::given(any()).respond_with(fake).mount(&server));
        StatefulApi {
            _rt: rt,
            server,
            state,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, fake_github::State> {
        self.state.lock().unwrap()
    }
}

/// apply.yml's apply job for `acct`, as the matrix runs it.
fn apply_env(acct: &MotoAccount) -> [(&'static str, String); 3] {
    [
        ("ACCOUNTS", acct.id.clone()),
        ("APPLY_ROLE", String::new()),
        ("GITHUB_TOKEN", TOKEN.into()),
    ]
}

/// A policy repository on a local bare `origin` whose main records `acct` (one sync commit):
/// `app` (policies `data` and `legacy`) and `queue`, as [`populate`] creates them in moto.
fn policy_origin(t: &Path, acct: &MotoAccount, api: &StatefulApi) -> PathBuf {
    let seed = common::new_repo();
    let s = seed.path();
    let github = format!(
        "\n[github]\nrepo = \"{REPO}\"\napi-url = \"{}\"\n",
        api.server.uri()
    );
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
/// with `--no-ff` as pull request `number` (which GitHub associates with the merge commit).
/// Returns the merge commit.
fn merge_pr(
    api: &StatefulApi,
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
    let merge = rev(&dir, "HEAD");
    api.state().commit_prs.insert(merge.clone(), vec![number]);
    merge
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
    let api = StatefulApi::start();
    let origin = policy_origin(t, &acct, &api);
    let mut runner = Runner::default();

    // The merge touches policies/ and starts a run; the README commit right after starts none
    // (apply.yml's paths filter). The merge's run starts when the tip is already the README.
    let merge = merge_pr(&api, &origin, t, &acct, 5, "app", &[("data", APP_NARROW)]);
    let tip = push_readme(&origin, t, "IAM policies\n");

    let ck = checkout_at(&origin, t, "prepare", &merge);
    let prep = runner.ok(
        ("apply.yml", "prepare"),
        &ck,
        &[("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
    );
    assert_eq!(batches(&prep), vec![vec![acct.id.clone()]]);

    let ck = checkout_at(&origin, t, "apply", &merge);
    let job = runner.ok(("apply.yml", "apply"), &ck, &apply_env(&acct));
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
    // The merged pull request is told, though its run applied a later commit.
    let comments = api.state().comments_on(5);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0]
            .body
            .contains(&format!("account {}: applied", acct.id))
            && comments[0].body.contains("| `app` | applied | data |"),
        "{}",
        comments[0].body
    );

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
    let api = StatefulApi::start();
    let origin = policy_origin(t, &acct, &api);
    let mut runner = Runner::default();

    // A first merge is applied by its own run.
    let first = merge_pr(&api, &origin, t, &acct, 5, "app", &[("data", APP_NARROW)]);
    let ck = checkout_at(&origin, t, "apply-1", &first);
    runner.ok(("apply.yml", "apply"), &ck, &apply_env(&acct));
    assert_eq!(applied(&origin, &acct), first);

    // A second merge whose run never started (merged with the workflow's own token, or the run
    // failed to start).
    let second = merge_pr(
        &api,
        &origin,
        t,
        &acct,
        6,
        "queue",
        &[("send", QUEUE_NARROW)],
    );
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
            ("GITHUB_TOKEN", TOKEN.into()),
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
    // Each merged pull request has one comment: #5 from its own run, #6 from the catch-up.
    for pr in [5, 6] {
        let comments = api.state().comments_on(pr);
        assert_eq!(comments.len(), 1, "#{pr}: {comments:?}");
        assert!(comments[0].body.contains("applied"), "{}", comments[0].body);
    }
    assert!(
        api.state().comments_on(6)[0]
            .body
            .contains("| `queue` | applied | send |")
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
    // The results are posted with the job's own token, which may comment and manage issues.
    let block = job_block(&text, "apply");
    for permission in ["pull-requests: write", "issues: write"] {
        assert!(
            block.contains(permission),
            "apply lacks {permission}:\n{block}"
        );
    }
    let run = step_blocks(&text, "apply")
        .into_iter()
        .find(|s| field(s, "run").is_some())
        .unwrap();
    assert_eq!(
        field(&run, "GITHUB_TOKEN").as_deref(),
        Some("${{ github.token }}")
    );
}

#[test]
fn a_failed_apply_is_reported_on_the_pr_and_in_a_tracking_issue_that_a_later_run_closes() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let api = StatefulApi::start();
    let origin = policy_origin(t, &acct, &api);
    let mut runner = Runner::default();
    let merge = merge_pr(
        &api,
        &origin,
        t,
        &acct,
        7,
        "queue",
        &[("send", QUEUE_NARROW)],
    );
    // Someone changes the role by hand before the apply: drift.
    acct.put_policy("queue", "send", OUT_OF_BAND);
    let issues = |api: &StatefulApi| -> Vec<u64> {
        api.state()
            .open_issues("repokid:apply-failed")
            .iter()
            .map(|i| i.number)
            .collect()
    };

    // Two runs while the drift lasts: each fails; the pull request has one comment saying what
    // drifted, with the live diff, and one tracking issue is open, with one comment for the
    // account.
    for attempt in 1..=2 {
        let ck = checkout(&origin, t, &format!("apply-drift-{attempt}"));
        let job = runner.run(("apply.yml", "apply"), &ck, &apply_env(&acct));
        assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
        assert!(
            job.stdout
                .contains("tracking issue #901 (repokid:apply-failed)"),
            "{}",
            job.stdout
        );
        let comments = api.state().comments_on(7);
        assert_eq!(comments.len(), 1, "attempt {attempt}: {comments:?}");
        assert_eq!(comments[0].edits, attempt - 1, "updated, not added");
        let body = &comments[0].body;
        assert!(
            body.contains(&format!("account {}: not applied: drift", acct.id))
                && body.contains("| `queue` | **skipped: drift** |")
                && body.contains("```diff\n--- expected/send\n+++ live/send\n")
                && body
                    .lines()
                    .any(|l| l.starts_with('+') && l.contains("sns:Subscribe"))
                && body.contains(&format!("https://github.com/{REPO}/actions/runs/")),
            "{body}"
        );
        assert_eq!(issues(&api), [901], "attempt {attempt}");
        let ic = api.state().comments_on(901);
        assert_eq!(ic.len(), 1, "{ic:?}");
        assert!(
            ic[0].body.contains("state=failing") && ic[0].body.contains("`queue`: skipped: drift"),
            "{}",
            ic[0].body
        );
    }
    assert_eq!(
        acct.policies("queue")["send"],
        serde_json::from_str::<Value>(OUT_OF_BAND).unwrap(),
        "drift was overwritten"
    );
    assert!(
        git(&origin, &["for-each-ref", "refs/repokid/applied"]).is_empty(),
        "a drifted account's baseline must not move"
    );

    // The owner undoes the change; the next run applies the merge, the comment says so, and
    // the issue is closed.
    acct.put_policy("queue", "send", QUEUE);
    let ck = checkout(&origin, t, "apply-fixed");
    let job = runner.ok(("apply.yml", "apply"), &ck, &apply_env(&acct));
    assert!(
        job.stdout
            .contains("tracking issue #901 (repokid:apply-failed): closed"),
        "{}",
        job.stdout
    );
    assert_eq!(
        acct.policies("queue")["send"],
        serde_json::from_str::<Value>(QUEUE_NARROW).unwrap()
    );
    assert_eq!(applied(&origin, &acct), merge);
    let comments = api.state().comments_on(7);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .contains(&format!("account {}: applied", acct.id))
            && comments[0].body.contains("| `queue` | applied | send |"),
        "{}",
        comments[0].body
    );
    assert!(issues(&api).is_empty());
    {
        let st = api.state();
        assert_eq!(st.issues[&901].state_reason.as_deref(), Some("completed"));
        let ic = st.comments_on(901);
        assert!(ic[0].body.contains("state=resolved"), "{}", ic[0].body);
        assert!(ic.last().unwrap().body.contains("Closing"));
    }
    assert!(!runner.seen.contains(TOKEN), "the token was printed");
}
