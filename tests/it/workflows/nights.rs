//! Nights of the shipped loop: live state recorded on main, ages accumulating.

use super::*;

/// A pull request the merging stand-in knows.
#[derive(Clone)]
struct StoredPr {
    number: u64,
    head: String,
    state: &'static str,
    merged: bool,
    body: String,
}

/// GitHub's pull requests as far as `propose --open-pr` and `record` use them, remembered, and
/// merged for real into the bare repository standing in for GitHub (a merge commit on main, as
/// GitHub's "Create a merge commit" makes).
struct MergingGitHub {
    origin: PathBuf,
    prs: std::sync::Mutex<Vec<StoredPr>>,
    /// Refuse merges, as a branch whose required checks have not run yet does.
    refuse: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn stored_json(p: &StoredPr) -> Value {
    let mut v = pr_json(p.number, &p.head, &p.body);
    v["state"] = json!(p.state);
    v["merged"] = json!(p.merged);
    v["merged_at"] = if p.merged {
        json!("2026-01-01T00:00:00Z")
    } else {
        Value::Null
    };
    v
}

impl Respond for MergingGitHub {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let path = r.url.path().trim_start_matches(&format!("/repos/{REPO}"));
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let mut prs = self.prs.lock().unwrap();
        let number =
            |p: &str| -> Option<u64> { p.strip_prefix("/pulls/")?.split('/').next()?.parse().ok() };
        match (r.method.as_str(), path) {
            ("GET", "/pulls") => {
                let head = r
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "head")
                    .map(|(_, v)| {
                        v.split_once(':')
                            .map_or(v.to_string(), |(_, b)| b.to_string())
                    });
                let list: Vec<Value> = prs
                    .iter()
                    .rev()
                    .filter(|p| head.as_deref().is_none_or(|h| h == p.head))
                    .map(stored_json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("POST", "/pulls") => {
                let p = StoredPr {
                    number: 301 + prs.len() as u64,
                    head: body["head"].as_str().unwrap_or_default().to_string(),
                    state: "open",
                    merged: false,
                    body: body["body"].as_str().unwrap_or_default().to_string(),
                };
                prs.push(p.clone());
                ResponseTemplate::new(201).set_body_json(stored_json(&p))
            }
            ("PATCH", p) if number(p).is_some() => {
                let n = number(p).unwrap();
                let Some(pr) = prs.iter_mut().find(|x| x.number == n) else {
                    return ResponseTemplate::new(404);
                };
                if let Some(b) = body["body"].as_str() {
                    pr.body = b.to_string();
                }
                ResponseTemplate::new(200).set_body_json(stored_json(pr))
            }
            ("PUT", p) if p.ends_with("/merge") && self.refuse.load(Ordering::Relaxed) => {
                ResponseTemplate::new(405).set_body_json(
                    json!({"message": "Required status check \"verify\" is expected."}),
                )
            }
            ("PUT", p) if p.ends_with("/merge") => {
                let n = number(p).unwrap_or_default();
                let Some(pr) = prs.iter_mut().find(|x| x.number == n && x.state == "open") else {
                    return ResponseTemplate::new(404);
                };
                let head = git(
                    &self.origin,
                    &["rev-parse", &format!("refs/heads/{}", pr.head)],
                );
                if body["sha"].as_str() != Some(head.trim()) {
                    return ResponseTemplate::new(409)
                        .set_body_json(json!({"message": "Head branch was modified"}));
                }
                let tree = git(
                    &self.origin,
                    &["merge-tree", "--write-tree", "main", head.trim()],
                );
                let title = body["commit_title"].as_str().unwrap_or("merge");
                let merge = git(
                    &self.origin,
                    &[
                        "commit-tree",
                        tree.trim(),
                        "-p",
                        "main",
                        "-p",
                        head.trim(),
                        "-m",
                        title,
                    ],
                );
                git(
                    &self.origin,
                    &["update-ref", "refs/heads/main", merge.trim()],
                );
                pr.state = "closed";
                pr.merged = true;
                ResponseTemplate::new(200)
                    .set_body_json(json!({"merged": true, "sha": merge.trim()}))
            }
            ("POST", p) if p.starts_with("/issues/") && p.ends_with("/labels") => {
                ResponseTemplate::new(200).set_body_json(json!([]))
            }
            ("POST", p) if p.ends_with("/requested_reviewers") => {
                ResponseTemplate::new(201).set_body_json(json!({}))
            }
            _ => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

#[test]
fn nights_of_the_shipped_loop_record_live_state_and_propose_after_the_grace_period() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let git_server = GitServer::start(TOKEN);
    let (origin, url) = git_server.bare_repo("iam");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    rt.block_on(
        Mock::given(any())
            .respond_with(MergingGitHub {
                origin: origin.clone(),
                prs: std::sync::Mutex::new(Vec::new()),
                refuse: refuse.clone(),
            })
            .mount(&server),
    );
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();

    // The default engine settings: a 14-day grace period, usage no older than 5 days.
    let seed = common::new_repo();
    let s = seed.path();
    std::fs::write(
        s.join("repokid.toml"),
        settings_toml(&[&acct.id], "", &server.uri(), &url),
    )
    .unwrap();
    std::fs::write(s.join("filters.toml"), "[age]\nminimum_days = 0\n").unwrap();
    git(s, &["add", "repokid.toml", "filters.toml"]);
    git(s, &["commit", "-q", "-m", "repokid settings"]);
    git(s, &["push", "-q", origin.to_str().unwrap(), "main"]);

    let start = chrono::Utc::now();
    let proposal = format!("refs/heads/repokid/propose/{}", acct.id);
    let mut night = |n: i64| -> Job {
        let now = start + chrono::Duration::days(n);
        moto::set_access_advisor_clock(&acct.id, now);
        let ck = checkout(&origin, t, &format!("night-{n}"));
        runner.ok(
            ("propose.yml", "propose"),
            &ck,
            &[
                ("ACCOUNTS", acct.id.clone()),
                ("SCHEDULE", "false".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID_NOW", now.to_rfc3339()),
            ],
        )
    };
    let syncs_on_main = || {
        git(
            &origin,
            &["log", "--format=%H", "--grep=Repokid-Action: sync", "main"],
        )
        .lines()
        .count()
    };

    // Night 0: the account's roles are recorded; the recording waits (its checks have not run);
    // every permission is new, so nothing is proposed.
    let job = night(0);
    assert!(
        job.stdout.contains("#301 waits to be merged"),
        "{}",
        job.stdout
    );
    assert_eq!(syncs_on_main(), 0);
    let recorded = rev(&origin, &format!("refs/heads/repokid/record/{}", acct.id));
    // Night 1: the same live state: the waiting commit (dated night 0) is merged, not a new one.
    refuse.store(false, Ordering::Relaxed);
    let job = night(1);
    assert!(
        job.stdout.contains("recorded: #301 merged"),
        "{}",
        job.stdout
    );
    assert_eq!(syncs_on_main(), 1);
    let on_main = git(
        &origin,
        &[
            "log",
            "--format=%H %ct",
            "--grep=Repokid-Action: sync",
            "main",
        ],
    );
    assert!(on_main.starts_with(&recorded), "{on_main} vs {recorded}");
    let dated: i64 = on_main.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(
        (dated - start.timestamp()).abs() < 60,
        "the recording is dated night 0: {on_main}"
    );
    assert!(
        !git(
            &origin,
            &[
                "for-each-ref",
                "--format=%(refname)",
                "refs/heads/repokid/propose/"
            ]
        )
        .contains(&acct.id),
        "a proposal on the first night"
    );

    // Nights 7 and 13: live state unchanged, nothing recorded again (the ages keep running).
    for n in [7, 13] {
        let job = night(n);
        assert!(
            !job.stdout.contains("recorded:"),
            "night {n}: {}",
            job.stdout
        );
        assert_eq!(syncs_on_main(), 1, "night {n}");
        assert!(
            !git(
                &origin,
                &[
                    "for-each-ref",
                    "--format=%(refname)",
                    "refs/heads/repokid/propose/"
                ]
            )
            .contains(&acct.id),
            "night {n}: a proposal within the grace period"
        );
    }

    // Night 15: past the 14-day grace period, the first proposal, based on what main recorded.
    night(15);
    let tip = rev(&origin, &proposal);
    let on_top = git(&origin, &["rev-list", "--count", &format!("main..{tip}")]);
    assert_eq!(
        on_top.trim(),
        "1",
        "the proposal carries no sync commit of its own"
    );
    let proposed = git(
        &origin,
        &["show", &format!("{tip}:policies/{}/app.json", acct.id)],
    );
    assert!(!proposed.contains("sqs:"), "{proposed}");
    assert!(proposed.contains("s3:GetObject"), "{proposed}");
}
