//! Only reviewed code runs: where the repokid binary comes from.

use super::*;

/// Where the workflows keep the binary: the runner's temporary directory, outside every checkout.
const BINARY_PATH: &str = "${{ runner.temp }}/repokid-bin/repokid";

/// A policy repository as a team makes it from this one (this repository's `scripts/`, settings
/// for `accounts` and the GitHub stand-ins `api` (API URL, git URL), `extra` files, `exec` among
/// them executable; with `synced`, each account recorded from moto), pushed to `origin` as main.
fn policy_repo(
    origin: &Path,
    accounts: &[&str],
    synced: bool,
    api: Option<(&str, &str)>,
    extra: &[(&str, &str)],
    exec: &[&str],
) -> tempfile::TempDir {
    let seed = common::new_repo();
    let s = seed.path();
    copy_dir(&root().join("scripts"), &s.join("scripts"));
    let mut settings = format!(
        "accounts = [{}]\n\n[sources]\ninventory-source = \"aws\"\nusage-source = \"access-advisor\"\n\n\
         [aws]\nassume-role = \"RepokidRole\"\naccess-advisor-timeout-seconds = 60\nmax-attempts = 2\n\
         call-timeout-seconds = 5\n\n[engine]\ngrace-days = 0\n",
        accounts
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some((api_url, git_url)) = api {
        settings.push_str(&format!(
            "\n[github]\nrepo = \"{REPO}\"\napi-url = \"{api_url}\"\ngit-url = \"{git_url}\"\n"
        ));
    }
    let mut files = vec![
        ("repokid.toml", settings.as_str()),
        ("filters.toml", "[age]\nminimum_days = 0\n"),
    ];
    files.extend_from_slice(extra);
    write_files(s, &files, exec);
    git(s, &["add", "-A"]);
    git(s, &["commit", "-q", "-m", "policy repository"]);
    for account in accounts.iter().filter(|_| synced) {
        let (code, out, err) =
            common::repokid_env(s, &["sync", "--account", account], &moto::aws_env());
        assert_eq!(code, 0, "{out}{err}");
    }
    git(s, &["push", "-q", origin.to_str().unwrap(), "main"]);
    seed
}

/// A (workflow, job) and the variables its step sets.
type JobEnv<'a> = ((&'a str, &'a str), Vec<(&'a str, String)>);

#[test]
fn jobs_never_run_a_binary_from_their_checkout() {
    let acct = MotoAccount::fresh();
    populate(&acct);
    let git_server = GitServer::start(TOKEN);
    let (origin, url) = git_server.bare_repo("iam-binary");
    let api = Api::start();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();

    // "repokid" binaries committed where the workflows used to cache it and where a build in
    // the checkout would put it.
    let ran = t.join("committed-binary-ran");
    let fake = trap(&ran);
    let _seed = policy_repo(
        &origin,
        &[&acct.id],
        true,
        Some((&api.server.uri(), &url)),
        &[
            ("target/gha/repokid", &fake),
            ("target/release/repokid", &fake),
        ],
        &["target/gha/repokid", "target/release/repokid"],
    );
    let FakeCargo {
        cargo,
        dir: cargo_dir,
        args: cargo_args,
    } = fake_cargo(t, env!("CARGO_BIN_EXE_repokid"));
    // Where the workflows put the binary, here: outside every checkout, nothing there yet.
    let binary = t.join("runner/repokid-bin/repokid");

    // propose.yml, prepare: builds from the checkout's own tree (main's, reviewed), into a target
    // directory outside it, and copies the binary to REPOKID.
    let ck = checkout(&origin, t, "prepare");
    assert!(ck.join("target/gha/repokid").is_file() && ck.join("scripts/gha/lib.sh").is_file());
    let job = runner.ok(
        ("propose.yml", "prepare"),
        &ck,
        &[
            ("ACCOUNTS", String::new()),
            ("BATCH_SIZE", "10".into()),
            ("REPOKID", binary.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
        ],
    );
    assert_eq!(job.outputs["count"], "1");
    let built_in = std::fs::read_to_string(&cargo_dir).unwrap();
    assert_eq!(Path::new(built_in.trim()), ck.canonicalize().unwrap());
    let args = std::fs::read_to_string(&cargo_args).unwrap();
    assert!(args.contains("build --release --locked"), "{args}");
    assert!(
        !target_dir_of(&args).starts_with(ck.canonicalize().unwrap()),
        "{args}"
    );
    assert!(binary.is_file(), "the built binary was not put at REPOKID");
    assert!(!ran.exists(), "the committed binary ran");
    std::fs::remove_file(&cargo_dir).unwrap();

    // propose.yml, propose, and apply.yml, apply, with the binary at REPOKID (as a cache restore
    // leaves it): they run it, never the committed one, and build nothing.
    let ck = checkout(&origin, t, "propose");
    runner.ok(
        ("propose.yml", "propose"),
        &ck,
        &[
            ("ACCOUNTS", acct.id.clone()),
            ("SCHEDULE", "false".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
            ("REPOKID", binary.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
        ],
    );
    assert!(
        api.requests()
            .iter()
            .any(|(m, p, _)| m == "POST" && p == &format!("/repos/{REPO}/pulls")),
        "no pull request opened"
    );
    let ck = checkout(&origin, t, "apply");
    let job = runner.ok(
        ("apply.yml", "apply"),
        &ck,
        &[
            ("ACCOUNTS", acct.id.clone()),
            ("APPLY_ROLE", String::new()),
            ("GITHUB_TOKEN", TOKEN.into()),
            ("REPOKID", binary.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
        ],
    );
    assert!(job.stdout.contains("0 roles changed"), "{}", job.stdout);
    assert!(!ran.exists(), "the committed binary ran");
    assert!(!cargo_dir.exists(), "built although REPOKID existed");

    every_job_refuses_a_repokid_in_the_checkout(&mut runner, &origin, t, &acct.id, &ran);
    for secret in [TOKEN, moto::SECRET_KEY, moto::SESSION_TOKEN] {
        assert!(!runner.seen.contains(secret), "a secret was printed");
    }
}

/// A REPOKID in the checkout is refused by every job before anything runs: what the workflows
/// used to set (relative: the committed file), the same absolute, a path that only a build
/// would fill, and one outside by name but inside through a symlink; unset too.
fn every_job_refuses_a_repokid_in_the_checkout(
    runner: &mut Runner,
    origin: &Path,
    t: &Path,
    account: &str,
    ran: &Path,
) {
    let no_cargo = t.join("no-cargo");
    let cargo_ran = t.join("cargo-ran");
    write_files(t, &[("no-cargo", &trap(&cargo_ran))], &["no-cargo"]);
    let event = t.join("comment.json");
    std::fs::write(&event, "{}").unwrap();
    let jobs = every_job(account, &event);
    let ck = checkout(origin, t, "refusals");
    let link = t.join("link-to-checkout");
    std::os::unix::fs::symlink(ck.join("target"), &link).unwrap();
    for (step, env) in jobs {
        for repokid in [
            "target/gha/repokid".to_string(),
            ck.join("target/gha/repokid").display().to_string(),
            ck.join("target/gha/not-yet-built").display().to_string(),
            link.join("gha/repokid").display().to_string(),
            String::new(),
        ] {
            let mut env = env.clone();
            env.push(("REPOKID", repokid.clone()));
            env.push(("REPOKID_CARGO", no_cargo.display().to_string()));
            let job = runner.run(step, &ck, &env);
            assert_eq!(
                job.code, 1,
                "{step:?} {repokid}: {}{}",
                job.stdout, job.stderr
            );
            assert!(
                job.stderr.contains("error: REPOKID")
                    && (job.stderr.contains("checkout") || repokid.is_empty()),
                "{step:?} {repokid}: {}",
                job.stderr
            );
            assert!(
                !ran.exists(),
                "{step:?} {repokid}: the committed binary ran"
            );
            assert!(!cargo_ran.exists(), "{step:?} {repokid}: a build started");
        }
    }
}

/// Every job that runs repokid, with the variables its step sets.
fn every_job<'a>(account: &str, event: &Path) -> [JobEnv<'a>; 6] {
    [
        (
            ("propose.yml", "prepare"),
            vec![("ACCOUNTS", String::new()), ("BATCH_SIZE", "10".into())],
        ),
        (
            ("propose.yml", "propose"),
            vec![
                ("ACCOUNTS", account.to_string()),
                ("SCHEDULE", "false".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        ),
        (
            ("propose.yml", "merge-due"),
            vec![
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GH_TOKEN", TOKEN.into()),
                ("BASE_BRANCH", "main".into()),
            ],
        ),
        (
            ("apply.yml", "prepare"),
            vec![("PENDING", "true".into()), ("BATCH_SIZE", "1".into())],
        ),
        (
            ("apply.yml", "apply"),
            vec![
                ("ACCOUNTS", account.to_string()),
                ("APPLY_ROLE", String::new()),
                ("GITHUB_TOKEN", TOKEN.into()),
            ],
        ),
        (
            ("dispatch.yml", "dispatch"),
            vec![
                ("GITHUB_TOKEN", TOKEN.into()),
                ("GITHUB_EVENT_PATH", event.display().to_string()),
            ],
        ),
    ]
}

/// This machine's release target.
fn release_target() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        "aarch64" => "aarch64-unknown-linux-musl",
        other => panic!("no release target for {other}"),
    }
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// release.yml, publish: the build jobs' binaries (here the test binary for this machine's
/// `target`) get SHA256SUMS and a release whose notes hold the repokid.lock that pins it.
/// Returns the release's directory, the binary's SHA-256, and the lock pointing at the
/// directory.
fn publish_a_release(
    runner: &mut Runner,
    t: &Path,
    target: &str,
    other: &str,
) -> (PathBuf, String, String) {
    let rel = t.join("release");
    let dist = rel.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_repokid"),
        dist.join(format!("repokid-{target}")),
    )
    .unwrap();
    std::fs::write(
        dist.join(format!("repokid-{other}")),
        "another architecture\n",
    )
    .unwrap();
    let gh_args = t.join("gh-args");
    write_files(
        t,
        &[(
            "bin/gh",
            &format!("#!/bin/sh\necho \"$@\" > '{}'\n", gh_args.display()),
        )],
        &["bin/gh"],
    );
    let path = format!(
        "{}:{}",
        t.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    runner.ok(
        ("release.yml", "publish"),
        &rel,
        &[
            ("TAG", "v0.1.0".into()),
            ("DIST", "dist".into()),
            ("GH_TOKEN", TOKEN.into()),
            ("PATH", path.clone()),
        ],
    );
    let real = sha256(&dist.join(format!("repokid-{target}")));
    let sums = std::fs::read_to_string(dist.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{real}  repokid-{target}\n")),
        "{sums}"
    );
    assert_eq!(sums.lines().count(), 2, "{sums}");
    let gh = std::fs::read_to_string(&gh_args).unwrap();
    assert!(
        gh.starts_with("release create v0.1.0 --verify-tag")
            && gh.contains(&format!("dist/repokid-{target}"))
            && gh.contains(&format!("dist/repokid-{other}"))
            && gh.contains("dist/SHA256SUMS"),
        "{gh}"
    );
    let notes = std::fs::read_to_string(dist.join("NOTES.md")).unwrap();
    let lock = notes
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap_or_else(|| panic!("no repokid.lock in the notes:\n{notes}"));
    assert!(lock.contains(&format!("repository = \"{REPO}\"")), "{lock}");
    // The release is served from a directory here instead of GitHub (the lock's `url`).
    let lock = lock.replacen(
        "\n[sha256]",
        &format!(
            "url = \"file://{}/repokid-{{target}}\"\n\n[sha256]",
            dist.display()
        ),
        1,
    );
    (dist, real, lock)
}

#[test]
fn a_pinned_release_runs_only_with_the_sha256_of_repokid_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();
    let target = release_target();
    let other = if target.starts_with("x86_64") {
        "aarch64-unknown-linux-musl"
    } else {
        "x86_64-unknown-linux-musl"
    };

    let (dist, real, lock) = publish_a_release(&mut runner, t, target, other);

    // A policy repository pinning that release: prepare downloads it, checks it, runs it, and
    // builds nothing.
    let origin = t.join("origin.git");
    git(
        t,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    let _seed = policy_repo(
        &origin,
        &["123456789012"],
        false,
        None,
        &[("repokid.lock", &lock)],
        &[],
    );
    let ck = checkout(&origin, t, "prepare");
    let cargo_ran = t.join("cargo-ran");
    write_files(t, &[("no-cargo", &trap(&cargo_ran))], &["no-cargo"]);
    let prepare = |runner: &mut Runner, binary: &Path| {
        runner.run(
            ("propose.yml", "prepare"),
            &ck,
            &[
                ("ACCOUNTS", String::new()),
                ("BATCH_SIZE", "10".into()),
                ("REPOKID", binary.display().to_string()),
                ("REPOKID_CARGO", t.join("no-cargo").display().to_string()),
            ],
        )
    };
    let binary = t.join("runner-1/repokid-bin/repokid");
    let job = prepare(&mut runner, &binary);
    assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);
    assert_eq!(job.outputs["count"], "1");
    assert!(
        job.stderr.contains("matches repokid.lock"),
        "{}",
        job.stderr
    );
    assert_eq!(sha256(&binary), real);
    assert!(!cargo_ran.exists(), "built although a release is pinned");

    // The download is not what the lock pins (a replaced release asset): refused, never run,
    // and not left behind.
    let ran = t.join("swapped-release-ran");
    std::fs::write(dist.join(format!("repokid-{target}")), trap(&ran)).unwrap();
    let binary = t.join("runner-2/repokid-bin/repokid");
    let job = prepare(&mut runner, &binary);
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("refused") && job.stderr.contains(&real),
        "{}",
        job.stderr
    );
    assert!(!ran.exists(), "a release that does not match the lock ran");
    assert!(!binary.exists(), "the mismatching download was kept");

    // A file already at REPOKID (say, restored from a cache) must match the lock too.
    write_files(
        t,
        &[("runner-3/repokid-bin/repokid", &trap(&ran))],
        &["runner-3/repokid-bin/repokid"],
    );
    let job = prepare(&mut runner, &t.join("runner-3/repokid-bin/repokid"));
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(job.stderr.contains("refused"), "{}", job.stderr);
    assert!(!ran.exists(), "a binary that does not match the lock ran");

    // A lock without this machine's hash is an error, not a build.
    std::fs::write(
        ck.join("repokid.lock"),
        format!("version = \"0.1.0\"\nrepository = \"{REPO}\"\n\n[sha256]\n{other} = \"{real}\"\n"),
    )
    .unwrap();
    let job = prepare(&mut runner, &t.join("runner-4/repokid-bin/repokid"));
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains(&format!("sha256.{target}")),
        "{}",
        job.stderr
    );
    assert!(!cargo_ran.exists() && !ran.exists());
    assert!(!runner.seen.contains(TOKEN), "a secret was printed");
}

#[test]
fn a_release_is_built_for_its_tag_and_only_static() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut runner = Runner::default();
    // The tagged tree: this repository's scripts and Cargo.toml (version 0.1.0).
    let tree = t.join("tree");
    copy_dir(&root().join("scripts"), &tree.join("scripts"));
    std::fs::copy(root().join("Cargo.toml"), tree.join("Cargo.toml")).unwrap();
    let FakeCargo {
        cargo,
        dir: cargo_dir,
        args: cargo_args,
    } = fake_cargo(t, env!("CARGO_BIN_EXE_repokid"));
    let build = |runner: &mut Runner, target: &str, tag: &str| {
        runner.run(
            ("release.yml", "build"),
            &tree,
            &[
                ("TARGET", target.into()),
                ("TAG", tag.into()),
                ("DIST", "dist".into()),
                ("REPOKID_CARGO", cargo.display().to_string()),
            ],
        )
    };

    // Refused before building: a tag that is not the crate's version, a target that is not a
    // release target.
    let job = build(&mut runner, release_target(), "v9.9.9");
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(job.stderr.contains("is not v0.1.0"), "{}", job.stderr);
    let job = build(&mut runner, "x86_64-unknown-linux-gnu", "v0.1.0");
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("not a release target"),
        "{}",
        job.stderr
    );
    assert!(!cargo_dir.exists(), "built although refused");

    // Built in the tagged tree for the target, and refused: the test binary links glibc
    // dynamically, so it is no release binary.
    let job = build(&mut runner, release_target(), "v0.1.0");
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("is not statically linked"),
        "{}",
        job.stderr
    );
    let built_in = std::fs::read_to_string(&cargo_dir).unwrap();
    assert_eq!(Path::new(built_in.trim()), tree.canonicalize().unwrap());
    let args = std::fs::read_to_string(&cargo_args).unwrap();
    assert!(
        args.contains("build --release --locked")
            && args.contains(&format!("--target {}", release_target())),
        "{args}"
    );
}

#[test]
fn workflows_keep_the_binary_outside_the_checkout_and_cache_it_only_from_main() {
    let mut keys = std::collections::BTreeSet::new();
    for (file, saves) in [("propose.yml", 1), ("apply.yml", 1), ("dispatch.yml", 0)] {
        let text = workflow_text(file);
        // No workflow-wide REPOKID: a relative one named a file in the checkout.
        assert!(
            !text.lines().any(|l| l.starts_with("  REPOKID:")),
            "{file}: REPOKID set for the whole workflow"
        );
        let jobs: std::collections::BTreeSet<String> =
            steps(&text).into_iter().map(|s| s.job).collect();
        let mut saved = 0;
        for job in &jobs {
            let blocks = step_blocks(&text, job);
            let mut restored = false;
            for b in &blocks {
                let uses = field(b, "uses").unwrap_or_default();
                if uses.starts_with("actions/cache") {
                    // The combined action saves at the end of any run, on any branch.
                    let save = uses.starts_with("actions/cache/save@");
                    assert!(
                        save || uses.starts_with("actions/cache/restore@"),
                        "{file}/{job}: {uses}"
                    );
                    assert_eq!(
                        field(b, "path").as_deref(),
                        Some(BINARY_PATH),
                        "{file}/{job}"
                    );
                    let key = field(b, "key").unwrap();
                    for source in ["'Cargo.lock'", "'src/**'", "'data/**'", "'.cargo/**'"] {
                        assert!(key.contains(source), "{file}/{job}: {key} ignores {source}");
                    }
                    keys.insert(key);
                    // A pinned release is never taken from a cache.
                    let cond = field(b, "if").unwrap_or_default();
                    assert!(
                        cond.contains("hashFiles('repokid.lock') == ''"),
                        "{file}/{job}: {cond}"
                    );
                    if save {
                        saved += 1;
                        assert_eq!(job, "prepare", "{file}: only the job that builds saves");
                        assert!(
                            cond.contains("github.ref == 'refs/heads/main'")
                                && cond.contains("cache-hit != 'true'"),
                            "{file}/{job}: saved from a run not on main: {cond}"
                        );
                    } else {
                        restored = true;
                    }
                }
                if field(b, "run").is_some() {
                    assert_eq!(
                        field(b, "REPOKID").as_deref(),
                        Some(BINARY_PATH),
                        "{file}/{job}: the script's REPOKID"
                    );
                    assert!(restored, "{file}/{job}: runs before restoring the binary");
                }
            }
        }
        assert_eq!(saved, saves, "{file}: cache saves");
    }
    // dispatch.yml restores what propose.yml and apply.yml save.
    assert_eq!(keys.len(), 1, "{keys:?}");
}

/// The value of a job-level `key` (e.g. timeout-minutes, environment) of `job` in `yaml`.
fn job_field(yaml: &str, job: &str, key: &str) -> Option<String> {
    job_block(yaml, job)
        .lines()
        .find(|l| indent(l) == 4 && l.trim_start().starts_with(&format!("{key}:")))
        .and_then(|l| value(l, key))
        .map(|v| v.split(" #").next().unwrap().trim().to_string())
}

#[test]
fn aws_credentials_and_app_tokens_are_scoped_to_their_jobs() {
    let mut durations = BTreeMap::new();
    for file in WORKFLOWS {
        let text = workflow_text(file);
        let jobs: std::collections::BTreeSet<String> =
            steps(&text).into_iter().map(|s| s.job).collect();
        for job in &jobs {
            let block = job_block(&text, job);
            let environment = job_field(&text, job, "environment");
            let timeout: u64 = job_field(&text, job, "timeout-minutes")
                .unwrap_or_else(|| panic!("{file}/{job}: no timeout-minutes"))
                .parse()
                .unwrap();
            for b in step_blocks(&text, job) {
                let uses = field(&b, "uses").unwrap_or_default();
                if uses.starts_with("aws-actions/configure-aws-credentials@") {
                    // The session lasts as long as the job may run, not the default hour, and
                    // no longer.
                    let duration: u64 = field(&b, "role-duration-seconds")
                        .unwrap_or_else(|| panic!("{file}/{job}: no role-duration-seconds"))
                        .parse()
                        .unwrap();
                    assert_eq!(
                        duration,
                        timeout * 60,
                        "{file}/{job}: role-duration-seconds must be the job's timeout"
                    );
                    // Each hub role only in its environment, which its trust policy names; no
                    // fallback from one to the other.
                    let role = field(&b, "role-to-assume").unwrap();
                    let expected = match environment.as_deref() {
                        Some("iam-apply") => "${{ vars.REPOKID_APPLY_HUB_ROLE_ARN }}",
                        Some("iam-propose") => "${{ vars.REPOKID_HUB_ROLE_ARN }}",
                        other => panic!(
                            "{file}/{job}: AWS credentials outside the iam-propose and iam-apply environments ({other:?})"
                        ),
                    };
                    assert_eq!(role, expected, "{file}/{job}");
                    durations.insert(environment.clone().unwrap(), duration);
                }
                if uses.starts_with("actions/create-github-app-token@") {
                    let permissions: Vec<(String, String)> = b
                        .iter()
                        .filter_map(|l| {
                            let (k, v) = l.trim().split_once(':')?;
                            let v = v.split(" #").next().unwrap().trim();
                            k.starts_with("permission-")
                                .then(|| (k.to_string(), v.to_string()))
                        })
                        .collect();
                    assert!(
                        !permissions.is_empty(),
                        "{file}/{job}: an App token without permission-* inputs has all of the installation's"
                    );
                    for (k, v) in &permissions {
                        assert!(v == "read" || v == "write", "{file}/{job}: {k}: {v}");
                    }
                }
            }
            // The App's key is a secret of the job's environment, never the repository's.
            if block.contains("secrets.") {
                assert!(
                    environment.is_some(),
                    "{file}/{job}: a secret in a job without an environment"
                );
            }
            // The write role, and the hub that may assume it, only in the environment-protected
            // apply job.
            for name in [
                "REPOKID_APPLY_HUB_ROLE_ARN",
                "REPOKID_APPLY_ASSUME_ROLE",
                "iam-apply",
            ] {
                if block.contains(name) {
                    assert_eq!(
                        (file, job.as_str(), environment.as_deref()),
                        ("apply.yml", "apply", Some("iam-apply")),
                        "{name} outside the apply job"
                    );
                }
            }
        }
    }
    assert_eq!(
        durations.keys().collect::<Vec<_>>(),
        ["iam-apply", "iam-propose"],
        "{durations:?}"
    );

    // The setup guide: each hub role's MaxSessionDuration covers its session, every OIDC trust
    // names an environment's subject exactly, and every role assumption is kept inside the
    // organisation.
    let doc = std::fs::read_to_string(root().join("docs/setup.md")).unwrap();
    for (env, duration) in &durations {
        assert!(
            doc.contains(&format!("`{env}`"))
                && doc.contains(&format!("MaxSessionDuration {duration}")),
            "docs/setup.md: the hub role of {env} needs MaxSessionDuration {duration}"
        );
    }
    let mut web_identity = 0;
    let mut assume = 0;
    for block in doc.split("```json\n").skip(1) {
        let json = block.split("```").next().unwrap();
        let policy: Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("docs/setup.md: {e}:\n{json}"));
        for st in policy["Statement"].as_array().unwrap() {
            let condition = &st["Condition"];
            match st["Action"].as_str() {
                Some("sts:AssumeRoleWithWebIdentity") => {
                    web_identity += 1;
                    let eq = &condition["StringEquals"];
                    assert_eq!(condition.as_object().unwrap().len(), 1, "{st}");
                    assert_eq!(
                        eq["token.actions.githubusercontent.com:aud"],
                        "sts.amazonaws.com"
                    );
                    let sub = eq["token.actions.githubusercontent.com:sub"]
                        .as_str()
                        .unwrap();
                    assert!(
                        sub.starts_with("repo:ORG/REPO:environment:iam-"),
                        "{sub}: trust environments only"
                    );
                }
                Some("sts:AssumeRole") if st.get("Resource").is_some() => {
                    assume += 1;
                    assert!(
                        condition["StringEquals"]["aws:ResourceOrgID"].is_string(),
                        "a role assumption not limited to the organisation: {st}"
                    );
                }
                _ => {}
            }
        }
    }
    assert_eq!(
        (web_identity, assume),
        (2, 2),
        "docs/setup.md: the two hub roles"
    );
}
