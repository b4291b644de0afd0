//! `repokid verify`: the check every pull request runs — every changed policy file is valid, and
//! nothing grants more than the base did unless the pull request carries the allow label.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Value, json};

use super::inputs::open_store;
use super::{Ctx, Format, gha};
use crate::verify::{AddedAccess, FileReport, Source, SourceKind, VerifyReport, verify};

/// The default allow label.
const DEFAULT_LABEL: &str = "repokid:adds-access";

/// Up to this many added actions, the human output lists a role's actions one per line; beyond,
/// it lists them by entry (the JSON output always lists them all).
const LIST_LIMIT: usize = 50;
/// How many actions an annotation or a per-entry line names before summarising.
const ANNOTATION_LIST_LIMIT: usize = 10;

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 when every changed file under policies/ is valid and no \
    role gains an action (or the pull request carries the allow label); 1 otherwise.\n\n\
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
                "version": 1,
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
                "added_access": report.added_access().collect::<Vec<_>>(),
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
    } else if f.added.is_some() {
        "adds-access"
    } else {
        "ok"
    }
}

/// A file's entry in the JSON output; its problems and added access are in `errors` and
/// `added_access`.
fn file_json(f: &FileReport) -> Value {
    json!({
        "path": f.path,
        "change": f.change,
        "account": f.account,
        "role": f.role,
        "size": f.size,
        "status": status(f),
        "notes": f.notes,
        "wildcards": f.wildcards,
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a, b, c (and 7 more)`.
fn list(items: &[String], limit: usize) -> String {
    let shown = items.len().min(limit);
    let mut s = items[..shown].join(", ");
    if items.len() > shown {
        let _ = write!(s, " (and {} more)", items.len() - shown);
    }
    s
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// Each added action with the entries it comes from, in the report's order.
fn by_action(added: &AddedAccess) -> Vec<(&str, Vec<&Source>)> {
    let mut from: BTreeMap<&str, Vec<&Source>> = BTreeMap::new();
    for s in &added.sources {
        for action in &s.added {
            from.entry(action).or_default().push(s);
        }
    }
    added
        .actions
        .iter()
        .map(|a| (a.as_str(), from.remove(a.as_str()).unwrap_or_default()))
        .collect()
}

fn verdict_line(report: &VerifyReport, verdict: Verdict, label: &str) -> String {
    let problems = report.problems().count();
    let roles = report.added_access().count();
    match verdict {
        Verdict::Pass => format!(
            "PASS: {} valid, no access added",
            plural(report.files.len(), "changed file", "changed files")
        ),
        Verdict::PassWithLabel => format!(
            "PASS with label {label:?}: {} access",
            plural(roles, "role adds", "roles add")
        ),
        Verdict::Fail => {
            let mut parts = Vec::new();
            if problems > 0 {
                parts.push(plural(problems, "problem", "problems"));
            }
            if roles > 0 {
                parts.push(format!(
                    "{} access without the label {label:?}",
                    plural(roles, "role adds", "roles add")
                ));
            }
            format!("FAIL: {}", parts.join("; "))
        }
    }
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
    for f in &report.files {
        for p in &f.errors {
            let _ = writeln!(out, "{p}");
        }
        if let Some(added) = &f.added {
            let _ = writeln!(
                out,
                "{}: role {}/{}{} gains {}",
                f.path,
                added.account,
                added.role,
                if added.new_role { " (new role)" } else { "" },
                plural(added.actions.len(), "action", "actions")
            );
            if added.actions.len() <= LIST_LIMIT {
                // Each action with every entry that grants it.
                let rows = by_action(added);
                let width = rows.iter().map(|(a, _)| a.len()).max().unwrap_or(0);
                for (action, sources) in &rows {
                    let via: Vec<String> = sources
                        .iter()
                        .map(|s| format!("{}{}", s.describe(), at_line(s.line)))
                        .collect();
                    let _ = writeln!(out, "  + {action:<width$}  via {}", via.join("; "));
                }
            } else {
                // Too many to list one per line: by entry, the first few of each.
                for s in &added.sources {
                    let _ = writeln!(
                        out,
                        "  + {} via {}{}: {}",
                        plural(s.added.len(), "action", "actions"),
                        s.describe(),
                        at_line(s.line),
                        list(&s.added, ANNOTATION_LIST_LIMIT)
                    );
                }
                let _ = writeln!(out, "  (--format json lists every action)");
            }
        } else if f.errors.is_empty() {
            let _ = writeln!(out, "{}: OK ({})", f.path, f.change.as_str());
        }
        for w in f.wildcards.iter().filter(|w| w.widens) {
            let what = if w.entry == "NotAction" {
                "NotAction statement".to_string()
            } else {
                format!("wildcard `{}`", w.entry)
            };
            let _ = writeln!(
                out,
                "  {what} in policy {} Statement[{}]{} expands to {}, {} beyond what the role was \
                 granted at the merge base",
                w.policy,
                w.statement,
                at_line(w.line),
                plural(w.expands_to, "action", "actions"),
                w.beyond_base
            );
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

/// An annotation placed at a line (and column) of `file`.
fn annotation_at(
    level: &str,
    file: &str,
    line: Option<usize>,
    column: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    gha::annotation_at(level, Some(file), line, column, title, message)
}

fn source_message(added: &AddedAccess, s: &Source) -> String {
    let mut m = format!(
        "role {}/{} gains {} via {}: {}",
        added.account,
        added.role,
        plural(s.added.len(), "action", "actions"),
        s.describe(),
        list(&s.added, ANNOTATION_LIST_LIMIT)
    );
    if matches!(s.kind, SourceKind::Wildcard | SourceKind::NotAction) {
        let _ = write!(
            m,
            ". It expands to {}, {} beyond what the role was granted at the merge base.",
            plural(s.expands_to, "action", "actions"),
            s.added.len()
        );
    }
    m
}

fn annotations(report: &VerifyReport, labelled: bool) -> Vec<String> {
    let mut out = Vec::new();
    for p in report.problems() {
        out.push(annotation_at(
            "error",
            &p.file,
            p.line,
            p.column,
            "repokid verify: invalid policy file",
            &p.message,
        ));
    }
    let level = if labelled { "warning" } else { "error" };
    for added in report.added_access() {
        for s in &added.sources {
            out.push(annotation_at(
                level,
                &added.file,
                s.line,
                None,
                "repokid verify: adds access",
                &source_message(added, s),
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
    if !report.files.is_empty() {
        md.push_str("| File | Result | Details |\n|---|---|---|\n");
    }
    for f in &report.files {
        let mut details: Vec<String> = f
            .errors
            .iter()
            .map(|p| {
                let place = p.line.map(|l| format!("line {l}: ")).unwrap_or_default();
                cell(&format!("{place}{}", p.message))
            })
            .collect();
        if let Some(added) = &f.added {
            details.push(format!(
                "gains {}{}",
                plural(added.actions.len(), "action", "actions"),
                if added.new_role { " (new role)" } else { "" }
            ));
            for s in &added.sources {
                let code: Vec<String> = s.added.iter().map(|a| format!("`{a}`")).collect();
                details.push(cell(&format!(
                    "{}{}: {}",
                    s.describe(),
                    at_line(s.line),
                    list(&code, ANNOTATION_LIST_LIMIT)
                )));
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
    fn annotations_carry_line_and_column() {
        assert_eq!(
            annotation_at("error", "policies/1/a.json", Some(4), Some(3), "t: x", "m"),
            "::error file=policies/1/a.json,line=4,col=3,title=t%3A x::m"
        );
        assert_eq!(
            annotation_at("error", "p,q.json", None, None, "t", "m"),
            "::error file=p%2Cq.json,title=t::m"
        );
    }

    #[test]
    fn lists_are_capped() {
        let items: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(list(&items, 3), "0, 1, 2 (and 2 more)");
        assert_eq!(list(&items, 9), "0, 1, 2, 3, 4");
    }
}
