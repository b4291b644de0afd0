//! verify.yml judges a pull request with the base's code.

use super::*;

#[test]
fn verify_judges_a_pull_request_with_the_base_code_not_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();

    // The pull request makes its own verify code and script always pass, commits a "repokid"
    // that passes everything where lib.sh used to look for the binary, and adds iam:*.
    let ran_binary = t.join("committed-binary-ran");
    let ran_script = t.join("pr-script-ran");
    let (fake_binary, fake_script) = (trap(&ran_binary), trap(&ran_script));
    push_pr(
        &origin,
        t,
        "evil",
        &[
            (POLICY_FILE, APP_FILE_IAM),
            (
                "src/verify/mod.rs",
                "//! The check.\npub fn verify(_: bool) -> bool {\n    true\n}\n",
            ),
            ("scripts/gha/verify.sh", &fake_script),
            ("target/gha/repokid", &fake_binary),
        ],
        &["scripts/gha/verify.sh", "target/gha/repokid"],
    );
    let (ws, pr) = verify_workspace(&origin, t, "ws", "origin/evil");
    assert!(pr.join("target/gha/repokid").is_file());
    // The base's settings are the ones read (a pull request could raise its own size limit).
    write_files(
        &ws,
        &[("trusted/repokid.toml", "[engine]\nsize-limit = 50\n")],
        &[],
    );

    // A cargo that notes where and how it was asked to build, and "builds" the test binary.
    let FakeCargo {
        cargo,
        dir: cargo_dir,
        args: cargo_args,
    } = fake_cargo(t, env!("CARGO_BIN_EXE_repokid"));
    // REPOKID names a binary still to be built, outside both checkouts.
    let cached = t.join("runner-temp/repokid-bin/repokid");
    let env = |labels: &[&str]| {
        vec![
            ("BASE_REF", "main".to_string()),
            ("PR_DIR", "pr".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
            ("REPOKID", cached.display().to_string()),
            ("REPOKID_CARGO", cargo.display().to_string()),
            (
                "GITHUB_EVENT_PATH",
                pr_event(t, labels).display().to_string(),
            ),
        ]
    };
    let job = runner.run(("verify.yml", "verify"), &ws, &env(&[]));
    let out = format!("{}{}", job.stdout, job.stderr);
    assert_eq!(job.code, 1, "the base's verify must fail it:\n{out}");
    // The base granted no iam action at all, so any named is the added access.
    assert!(out.contains(POLICY_FILE) && out.contains("iam:"), "{out}");
    assert!(out.contains("over the limit of 50"), "{out}");
    assert!(!ran_binary.exists(), "the committed binary ran:\n{out}");
    assert!(
        !ran_script.exists(),
        "the pull request's script ran:\n{out}"
    );
    // Built once, in the base's tree, and copied to REPOKID.
    let built_in = std::fs::read_to_string(&cargo_dir).unwrap();
    assert_eq!(
        Path::new(built_in.trim()),
        ws.join("trusted").canonicalize().unwrap(),
        "built outside the trusted tree"
    );
    assert!(!Path::new(built_in.trim()).starts_with(pr.canonicalize().unwrap()));
    let args = std::fs::read_to_string(&cargo_args).unwrap();
    assert!(
        args.contains("build") && args.contains("--release") && args.contains("--locked"),
        "{args}"
    );
    // Into a target directory outside the workspace: nothing committed under a checkout's
    // target/ can pass for a finished build.
    let target_dir = target_dir_of(&args);
    assert!(!target_dir.starts_with(&ws), "{args}");
    assert!(
        !target_dir.starts_with(ws.canonicalize().unwrap()),
        "{args}"
    );
    assert!(cached.is_file(), "the built binary was not put at REPOKID");
    // Its scripts/ changed: the reviewer is told they did not judge it.
    assert!(
        job.stdout.contains("::warning") && job.stdout.contains("CODEOWNERS"),
        "{}",
        job.stdout
    );

    // Labelled, it passes, with the binary now at REPOKID (no second build), and still nothing
    // from the checkout runs (the base's tight size limit lifted: the label never excuses an
    // invalid file).
    std::fs::remove_file(&cargo_dir).unwrap();
    std::fs::remove_file(ws.join("trusted/repokid.toml")).unwrap();
    let job = runner.run(
        ("verify.yml", "verify"),
        &ws,
        &env(&["repokid:adds-access"]),
    );
    assert_eq!(job.code, 0, "{}{}", job.stdout, job.stderr);
    assert!(!cargo_dir.exists(), "rebuilt although REPOKID existed");
    assert!(!ran_binary.exists() && !ran_script.exists());
}

#[test]
fn verify_refuses_a_repokid_inside_the_pull_request_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();
    let ran = t.join("committed-binary-ran");
    let fake = trap(&ran);
    push_pr(
        &origin,
        t,
        "binary",
        &[(POLICY_FILE, APP_FILE_IAM), ("target/gha/repokid", &fake)],
        &["target/gha/repokid"],
    );
    let (ws, pr) = verify_workspace(&origin, t, "ws", "origin/binary");
    let inside = pr.join("target/gha/repokid");
    let link = t.join("link-to-checkout");
    std::os::unix::fs::symlink(pr.join("target"), &link).unwrap();
    let cargo = t.join("no-cargo");
    let cargo_ran = t.join("cargo-ran");
    write_files(t, &[("no-cargo", &trap(&cargo_ran))], &["no-cargo"]);

    for repokid in [
        // what verify.yml used to set: relative, so the checkout's own file
        "target/gha/repokid".to_string(),
        inside.display().to_string(),
        // not there yet: a build would put the binary inside the checkout
        pr.join("target/release/repokid").display().to_string(),
        // outside by name, inside by a symlink
        link.join("gha/repokid").display().to_string(),
    ] {
        let job = runner.run(
            ("verify.yml", "verify"),
            &ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID", repokid.clone()),
                ("REPOKID_CARGO", cargo.display().to_string()),
            ],
        );
        assert_eq!(job.code, 1, "{repokid}: {}{}", job.stdout, job.stderr);
        assert!(
            job.stderr.contains("error: REPOKID") && job.stderr.contains("pull request checkout"),
            "{repokid}: {}",
            job.stderr
        );
        assert!(!ran.exists(), "{repokid}: the committed binary ran");
        assert!(!cargo_ran.exists(), "{repokid}: a build started");
    }

    // The scripts themselves inside the checkout (PR_DIR the whole workspace) are refused too.
    let job = runner.run(
        ("verify.yml", "verify"),
        &ws,
        &[
            ("BASE_REF", "main".into()),
            ("PR_DIR", ".".into()),
            ("GITHUB_TOKEN", TOKEN.into()),
        ],
    );
    assert_eq!(job.code, 1, "{}{}", job.stdout, job.stderr);
    assert!(
        job.stderr.contains("inside the pull request checkout"),
        "{}",
        job.stderr
    );
    assert!(!ran.exists());
}

#[test]
fn verify_tells_that_changed_workflows_and_scripts_need_codeowners() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let origin = verify_origin(t);
    let mut runner = Runner::default();
    push_pr(
        &origin,
        t,
        "scripts",
        &[
            ("scripts/gha/verify.sh", "#!/bin/sh\nexit 0\n"),
            (".github/workflows/verify.yml", "name: verify\n"),
        ],
        &[],
    );
    push_pr(
        &origin,
        t,
        "readme",
        &[("README.md", "IAM policies\n")],
        &[],
    );
    let run = |runner: &mut Runner, branch: &str| {
        let (ws, _) = verify_workspace(&origin, t, branch, &format!("origin/{branch}"));
        runner.ok(
            ("verify.yml", "verify"),
            &ws,
            &[
                ("BASE_REF", "main".into()),
                ("PR_DIR", "pr".into()),
                ("GITHUB_TOKEN", TOKEN.into()),
                ("REPOKID", "/nonexistent/repokid".into()),
            ],
        )
    };

    // Nothing under policies/, so it passes, and says the changed files need the owners' review.
    let job = run(&mut runner, "scripts");
    assert!(job.stdout.contains("nothing to verify"), "{}", job.stdout);
    let warning = job
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning"))
        .unwrap_or_else(|| panic!("no ::warning:\n{}", job.stdout));
    assert!(
        warning.contains("CODEOWNERS") && warning.contains("scripts/"),
        "{warning}"
    );
    for path in ["scripts/gha/verify.sh", ".github/workflows/verify.yml"] {
        assert!(
            job.stdout.contains(path),
            "{path} not named:\n{}",
            job.stdout
        );
    }

    let job = run(&mut runner, "readme");
    assert!(
        !job.stdout.contains("::warning") && !job.stdout.contains("CODEOWNERS"),
        "{}",
        job.stdout
    );
}
