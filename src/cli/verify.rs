//! `repokid verify`: the check every pull request runs — every changed policy file is valid, and
//! nothing grants more than the base did unless the pull request carries the allow label.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use super::inputs::open_store;
use super::{Ctx, Format, gha};
use crate::verify::{FileReport, Origin, VerifyReport, Widening, verify};

/// The default allow label.
const DEFAULT_LABEL: &str = "repokid:adds-access";

/// How many added action names a line shows before summarising.
const LIST_LIMIT: usize = 10;

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "What is proved: for every changed role, every request (action, resource, \
    request context) the head's policies allow was allowed at the merge base, and every request \
    the merge base's Deny statements denied is still denied, under IAM's evaluation logic \
    (docs/reviewing.md). What cannot be proved fails, with an example request.\n\n\
    Exit status: 0 when every changed file under policies/ is valid and no role gains access \
    (or the pull request carries the allow label); 1 otherwise.\n\n\
    --format json (schema version 2): verdict, files, errors (file, line, column, message), and \
    widenings (file, account, role, new_role, origin, added_actions, findings: kind allow|deny, \
    policy, statement, line, request {action, resource, context}, message).\n\n\
    Examples:\n  \
    repokid verify --base origin/main\n  \
    repokid verify --base origin/main --labels repokid:adds-access --format json\n\n\
    In GitHub Actions, check out with fetch-depth: 0 so the merge base is there; labels are read \
    from $GITHUB_EVENT_PATH (pull_request.labels), problems become annotations and a table goes \
    to the job summary."
)]
pub struct VerifyArgs {
    /// The branch the pull request targets (e.g. origin/main). The head is compared with the
    /// merge base of the two, so later commits on the base branch do not count.
    #[arg(long, value_name = "REF")]
    base: String,
    /// The pull request's head.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    head: String,
    /// The label that lets a pull request that adds access pass (invalid files always fail).
    #[arg(long, value_name = "NAME", default_value = DEFAULT_LABEL)]
    allow_label: String,
    /// The pull request's labels, comma-separated. Default: the `pull_request.labels` of the
    /// GitHub event file ($GITHUB_EVENT_PATH), else none.
    #[arg(long, value_name = "LABEL,…", value_delimiter = ',')]
    labels: Option<Vec<String>>,
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Valid, nothing added.
    Pass,
    /// Valid; access added, and the label accepts it.
    PassWithLabel,
    /// Invalid files, or access added without the label.
    Fail,
}

impl Verdict {
    fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::PassWithLabel => "pass-with-label",
            Verdict::Fail => "fail",
        }
    }
}

/// The pull request's labels and where they came from.
struct Labels {
    names: Vec<String>,
    source: &'static str,
}

fn labels(a: &VerifyArgs) -> Labels {
    if let Some(names) = &a.labels {
        return Labels {
            names: names
                .iter()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect(),
            source: "flag",
        };
    }
    let none = Labels {
        names: Vec::new(),
        source: "none",
    };
    let Some(path) = std::env::var_os("GITHUB_EVENT_PATH").filter(|p| !p.is_empty()) else {
        return none;
    };
    let path = std::path::PathBuf::from(path);
    let event: Value = match std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!(
                "warning: cannot read the GitHub event file {}: {e}; assuming no labels",
                path.display()
            );
            return none;
        }
    };
    let Some(list) = event
        .pointer("/pull_request/labels")
        .and_then(Value::as_array)
    else {
        return none;
    };
    Labels {
        names: list
            .iter()
            .filter_map(|l| l.get("name").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
        source: "event",
    }
}

/// `repokid verify`.
pub fn run(a: &VerifyArgs, ctx: &Ctx) -> Result<ExitCode> {
    let ws = ctx.workspace()?;
    let store = open_store(ctx.repo.as_ref(), &ws)?;
    let report = verify(
        &store,
        &a.base,
        &a.head,
        ctx.catalog.catalog,
        ws.settings.engine.size_limit,
    )?;
    let labels = labels(a);
    let labelled = labels.names.contains(&a.allow_label);
    let verdict = if !report.is_valid() || (report.adds_access() && !labelled) {
        Verdict::Fail
    } else if report.adds_access() {
        Verdict::PassWithLabel
    } else {
        Verdict::Pass
    };
    match ctx.format {
        Format::Json => {
            let doc = json!({
                "version": 2,
                "verdict": verdict.as_str(),
                "valid": report.is_valid(),
                "adds_access": report.adds_access(),
                "label": {
                    "name": a.allow_label,
                    "present": labelled,
                    "labels": labels.names,
                    "source": labels.source,
                },
                "base": report.base,
                "head": report.head,
                "merge_base": report.merge_base,
                "head_commit": report.head_commit,
                "size_limit": report.size_limit,
                "files": report.files.iter().map(file_json).collect::<Vec<_>>(),
                "errors": report.problems().collect::<Vec<_>>(),
                "widenings": report.widenings().collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Human => print!("{}", human(&report, verdict, &a.allow_label)),
    }
    if gha::active() {
        for line in annotations(&report, labelled) {
            println!("{line}");
        }
        gha::append_summary(&summary(&report, verdict, &a.allow_label));
    }
    Ok(if verdict == Verdict::Fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn status(f: &FileReport) -> &'static str {
    if !f.errors.is_empty() {
        "invalid"
    } else if f.widening.is_some() {
        "adds-access"
    } else {
        "ok"
    }
}

/// A file's entry in the JSON output; its problems and widening are in `errors` and
/// `widenings`.
fn file_json(f: &FileReport) -> Value {
    json!({
        "path": f.path,
        "change": f.change,
        "account": f.account,
        "role": f.role,
        "size": f.size,
        "status": status(f),
        "notes": f.notes,
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a, b, c (and 7 more)`, where `total` may exceed the items at hand.
fn list(items: &[String], total: usize, limit: usize) -> String {
    let shown = items.len().min(limit);
    let mut s = items[..shown].join(", ");
    if total > shown {
        let _ = write!(s, " (and {} more)", total - shown);
    }
    s
}

/// The headline of a role's widening: `role 1111/web (new role) may gain access: 2 findings, 3
/// actions it had nowhere before (a, b, c)`.
fn headline(w: &Widening) -> String {
    let mut s = format!(
        "role {}/{}{} gains access: {}",
        w.account,
        w.role,
        if w.new_role { " (new role)" } else { "" },
        plural(w.findings.len(), "finding", "findings"),
    );
    if w.added_actions > 0 {
        let _ = write!(
            s,
            "; {} it had nowhere before ({})",
            plural(w.added_actions, "action", "actions"),
            list(&w.added_sample, w.added_actions, LIST_LIMIT)
        );
    }
    s
}

/// Why a sync-recorded widening is not the pull request's own doing.
fn origin_note(w: &Widening) -> Option<String> {
    match &w.origin {
        Origin::Change => None,
        Origin::Sync { commit } => Some(format!(
            "recorded by sync commit {commit:.10}: live state already in IAM (a new account or \
             an out-of-band change), not a change this pull request makes; check it against IAM \
             and label to accept (docs/reviewing.md)"
        )),
    }
}

fn verdict_line(report: &VerifyReport, verdict: Verdict, label: &str) -> String {
    let problems = report.problems().count();
    let roles = report.widenings().count();
    match verdict {
        Verdict::Pass => format!(
            "PASS: {} valid, no access added",
            plural(report.files.len(), "changed file", "changed files")
        ),
        Verdict::PassWithLabel => format!(
            "PASS with label {label:?}: {} access",
            plural(roles, "role gains", "roles gain")
        ),
        Verdict::Fail => {
            let mut parts = Vec::new();
            if problems > 0 {
                parts.push(plural(problems, "problem", "problems"));
            }
            if roles > 0 {
                parts.push(format!(
                    "{} access without the label {label:?}",
                    plural(roles, "role gains", "roles gain")
                ));
            }
            format!("FAIL: {}", parts.join("; "))
        }
    }
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

fn human(report: &VerifyReport, verdict: Verdict, label: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "repokid verify: {} (merge base {:.10}) → {} ({:.10}): {}",
        report.base,
        report.merge_base,
        report.head,
        report.head_commit,
        plural(
            report.files.len(),
            "changed policy file",
            "changed policy files"
        )
    );
    for p in &report.errors {
        let _ = writeln!(out, "{p}");
    }
    for f in &report.files {
        for p in &f.errors {
            let _ = writeln!(out, "{p}");
        }
        if let Some(w) = &f.widening {
            let _ = writeln!(out, "{}: {}", f.path, headline(w));
            for pf in &w.findings {
                let _ = writeln!(out, "  {}{}", at_line(pf.line), pf.finding.message);
            }
            if let Some(note) = origin_note(w) {
                let _ = writeln!(out, "  {note}");
            }
        } else if f.errors.is_empty() {
            let _ = writeln!(out, "{}: OK ({})", f.path, f.change.as_str());
        }
        for n in &f.notes {
            let _ = writeln!(out, "  note: {} {n}", f.path);
        }
    }
    let _ = writeln!(out, "{}", verdict_line(report, verdict, label));
    if verdict == Verdict::Fail && report.is_valid() {
        let _ = writeln!(
            out,
            "If the added access is intended, label the pull request {label:?}."
        );
    }
    out
}

fn annotations(report: &VerifyReport, labelled: bool) -> Vec<String> {
    let mut out = Vec::new();
    for p in report.problems() {
        out.push(gha::annotation_at(
            "error",
            Some(&p.file),
            p.line,
            p.column,
            "repokid verify: invalid policy file",
            &p.message,
        ));
    }
    let level = if labelled { "warning" } else { "error" };
    for w in report.widenings() {
        let title = match w.origin {
            Origin::Change => "repokid verify: adds access",
            Origin::Sync { .. } => "repokid verify: access recorded by a sync commit",
        };
        for pf in &w.findings {
            let mut message = format!("role {}/{}: {}", w.account, w.role, pf.finding.message);
            if let Some(note) = origin_note(w) {
                let _ = write!(message, ". {note}");
            }
            out.push(gha::annotation_at(
                level,
                Some(&w.file),
                pf.line,
                None,
                title,
                &message,
            ));
        }
    }
    out
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn summary(report: &VerifyReport, verdict: Verdict, label: &str) -> String {
    let mut md = format!(
        "## repokid verify: {}\n\n",
        match verdict {
            Verdict::Pass => "pass",
            Verdict::PassWithLabel => "pass (access added, labelled)",
            Verdict::Fail => "fail",
        }
    );
    let _ = writeln!(
        md,
        "`{}` (merge base `{:.10}`) → `{}` (`{:.10}`): {}.\n",
        report.base,
        report.merge_base,
        report.head,
        report.head_commit,
        plural(
            report.files.len(),
            "changed policy file",
            "changed policy files"
        )
    );
    for p in &report.errors {
        let _ = writeln!(md, "- `{}`: {}", p.file, cell(&p.message));
    }
    if !report.files.is_empty() {
        md.push_str("| File | Result | Details |\n|---|---|---|\n");
    }
    for f in &report.files {
        let mut details: Vec<String> = f
            .errors
            .iter()
            .map(|p| cell(&format!("{}{}", at_line(p.line), p.message)))
            .collect();
        if let Some(w) = &f.widening {
            details.push(cell(&headline(w)));
            for pf in &w.findings {
                details.push(cell(&format!("{}{}", at_line(pf.line), pf.finding.message)));
            }
            if let Some(note) = origin_note(w) {
                details.push(cell(&note));
            }
        }
        if details.is_empty() {
            details.push(f.change.as_str().to_string());
        }
        let _ = writeln!(
            md,
            "| `{}` | {} | {} |",
            f.path,
            status(f),
            details.join("<br>")
        );
    }
    let _ = writeln!(md, "\n{}", verdict_line(report, verdict, label));
    if verdict == Verdict::Fail && report.is_valid() {
        let _ = writeln!(
            md,
            "\nIf the added access is intended, add the label `{label}` to the pull request."
        );
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_capped() {
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(list(&items, 5, 3), "0, 1, 2 (and 2 more)");
        assert_eq!(list(&items, 5, 9), "0, 1, 2, 3, 4");
        assert_eq!(list(&items, 40, 9), "0, 1, 2, 3, 4 (and 35 more)");
    }
}
