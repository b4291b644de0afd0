//! The workflow files themselves.

use super::*;

#[test]
fn each_workflow_job_runs_one_tested_script_with_what_it_documents() {
    // (workflow, [(job, run)]) in the order the jobs run, which is the order the test above
    // runs them in. verify runs the script of the base commit's checkout, `trusted/`.
    let expected: [(&str, &[(&str, &str)]); 6] = [
        ("ci.yml", &[("test", "scripts/gha/ci.sh")]),
        (
            "propose.yml",
            &[
                ("prepare", "scripts/gha/prepare.sh"),
                ("propose", "scripts/gha/propose.sh"),
                ("merge-due", "scripts/gha/merge.sh"),
            ],
        ),
        ("verify.yml", &[("verify", "trusted/scripts/gha/verify.sh")]),
        (
            "apply.yml",
            &[
                ("prepare", "scripts/gha/prepare.sh"),
                ("apply", "scripts/gha/apply.sh"),
            ],
        ),
        ("dispatch.yml", &[("dispatch", "scripts/gha/dispatch.sh")]),
        (
            "release.yml",
            &[
                ("build", "scripts/gha/release-build.sh"),
                ("publish", "scripts/gha/release-publish.sh"),
            ],
        ),
    ];
    let mut used_scripts = Vec::new();
    for (file, jobs) in expected {
        let text = workflow_text(file);
        let all = steps(&text);
        let runs: Vec<(&str, &str)> = all
            .iter()
            .filter_map(|s| s.run.as_deref().map(|r| (s.job.as_str(), r)))
            .collect();
        assert_eq!(
            runs,
            jobs.to_vec(),
            "{file}: every job runs exactly its script, nothing inline"
        );
        for s in all.iter().filter(|s| s.run.is_some()) {
            // trusted/ is a checkout of this repository.
            let run = s.run.as_deref().unwrap();
            let script = run.strip_prefix("trusted/").unwrap_or(run);
            let body = std::fs::read_to_string(root().join(script)).unwrap();
            for key in &s.env {
                assert!(
                    body.contains(key.as_str()),
                    "{file} gives {key} to {script}, which does not document it"
                );
            }
            used_scripts.push(script.to_string());
        }
    }
    // Every job script in scripts/gha is used by some workflow (lib.sh is sourced by them).
    for entry in std::fs::read_dir(root().join("scripts/gha")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name == "lib.sh" {
            continue;
        }
        assert!(
            used_scripts.contains(&format!("scripts/gha/{name}")),
            "scripts/gha/{name} is run by no workflow"
        );
    }
}

#[test]
fn workflows_pin_actions_and_keep_permissions_minimal() {
    let mut files: Vec<String> = std::fs::read_dir(root().join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed = WORKFLOWS.map(String::from).to_vec();
    listed.sort();
    assert_eq!(files, listed, "a workflow these tests do not read");
    for file in WORKFLOWS {
        let text = workflow_text(file);
        assert!(
            !text
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("pull_request_target")),
            "{file}: pull_request_target"
        );
        assert!(
            text.lines().any(|l| l == "permissions: {}"),
            "{file}: no top-level `permissions: {{}}`"
        );
        let all = steps(&text);
        for s in &all {
            if let Some(uses) = &s.uses {
                let (action, rest) = uses.split_once('@').unwrap();
                let (sha, comment) = rest
                    .split_once(" # v")
                    .unwrap_or_else(|| panic!("{file}: {uses} has no `# vX.Y.Z` comment"));
                assert!(
                    sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                    "{file}: {action} is not pinned by commit"
                );
                assert_eq!(comment.split('.').count(), 3, "{file}: {uses}");
            }
            if let Some(run) = &s.run {
                assert!(!run.contains("${{"), "{file}: expression in run: {run}");
            }
        }
        // Each job declares its own permissions; OIDC only where AWS credentials are taken or a
        // release's provenance is signed.
        let jobs: std::collections::BTreeSet<&str> = all.iter().map(|s| s.job.as_str()).collect();
        for job in jobs {
            let block = job_block(&text, job);
            assert!(
                block.contains("    permissions:\n"),
                "{file}/{job}: no permissions"
            );
            let oidc = all.iter().any(|s| {
                s.job == job
                    && s.uses.as_deref().is_some_and(|u| {
                        u.contains("configure-aws-credentials")
                            || u.starts_with("actions/attest-build-provenance@")
                    })
            });
            assert_eq!(
                block.contains("id-token: write"),
                oidc,
                "{file}/{job}: id-token: write if and only if AWS credentials are taken or provenance signed"
            );
        }
        for line in text
            .lines()
            .filter(|l| l.contains("secrets.") && l.contains("${{"))
        {
            assert!(
                line.trim_start().starts_with("private-key:"),
                "{file}: a secret outside the app token step: {line}"
            );
        }
    }
}

#[test]
fn verify_workflow_runs_the_base_and_reads_the_pull_request_as_data() {
    let text = workflow_text("verify.yml");
    assert!(
        text.contains("\non:\n  pull_request:\n"),
        "verify.yml must run on pull_request"
    );
    assert!(
        text.contains("\n  merge_group:\n    types: [checks_requested]\n"),
        "verify.yml must run on merge groups too (a merge queue requires the check)"
    );
    let steps = step_blocks(&text, "verify");
    let uses = |s: &Vec<String>, action: &str| {
        field(s, "uses").is_some_and(|u| u.starts_with(&format!("{action}@")))
    };

    // Two checkouts, neither keeping the token: the base commit in trusted/, the pull request's
    // head with its history in pr/.
    let checkouts: Vec<&Vec<String>> = steps
        .iter()
        .filter(|s| uses(s, "actions/checkout"))
        .collect();
    assert_eq!(checkouts.len(), 2, "{steps:?}");
    let at = |path: &str| {
        *checkouts
            .iter()
            .find(|s| field(s, "path").as_deref() == Some(path))
            .unwrap_or_else(|| panic!("no checkout into {path}/"))
    };
    let (trusted, pr) = (at("trusted"), at("pr"));
    assert_eq!(
        field(trusted, "ref").as_deref(),
        Some("${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}")
    );
    assert_eq!(
        field(pr, "ref").as_deref(),
        Some("${{ github.event.pull_request.head.sha || github.event.merge_group.head_sha }}")
    );
    assert_eq!(field(pr, "fetch-depth").as_deref(), Some("0"));
    for s in [trusted, pr] {
        assert_eq!(
            field(s, "persist-credentials").as_deref(),
            Some("false"),
            "{s:?}"
        );
    }

    // No cache at all: an entry can be saved by any run of the pull request under any key, so a
    // restored binary would be the pull request's choice. The binary is built from trusted/ into
    // the runner's temporary directory, outside both checkouts.
    assert!(
        !steps.iter().any(|s| uses(s, "actions/cache")),
        "verify.yml must not use a cache: {steps:?}"
    );
    let cache_path = "${{ runner.temp }}/repokid-bin/repokid".to_string();

    // What runs is the base's script, told where the pull request is and where the binary is.
    let runs: Vec<&Vec<String>> = steps.iter().filter(|s| field(s, "run").is_some()).collect();
    assert_eq!(runs.len(), 1, "{steps:?}");
    assert_eq!(
        field(runs[0], "run").as_deref(),
        Some("trusted/scripts/gha/verify.sh")
    );
    assert_eq!(field(runs[0], "PR_DIR").as_deref(), Some("pr"));
    assert_eq!(field(runs[0], "REPOKID"), Some(cache_path));
    // No other REPOKID (a workflow-level one could point into a checkout), no local action.
    assert_eq!(text.matches("REPOKID:").count(), 1, "{text}");
    assert!(
        steps
            .iter()
            .all(|s| field(s, "uses").is_none_or(|u| !u.starts_with('.'))),
        "a local action would run the pull request's code"
    );
}
