//! GitHub Actions output: error annotations on stdout and the job summary
//! (`$GITHUB_STEP_SUMMARY`), used when `GITHUB_ACTIONS=true`.

use std::io::Write as _;

/// Whether the process runs in GitHub Actions.
pub fn active() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Escapes an annotation message (GitHub's workflow-command rules).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes an annotation property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// An annotation line: `level` is `error`, `warning` or `notice`.
pub fn annotation(level: &str, file: Option<&str>, title: &str, message: &str) -> String {
    annotation_at(level, file, None, None, title, message)
}

/// An annotation placed at a line (and column) of `file`.
pub fn annotation_at(
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    column: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    let mut props = Vec::new();
    if let Some(f) = file {
        props.push(format!("file={}", escape_property(f)));
    }
    if let Some(l) = line {
        props.push(format!("line={l}"));
        if let Some(c) = column {
            props.push(format!("col={c}"));
        }
    }
    props.push(format!("title={}", escape_property(title)));
    format!("::{level} {}::{}", props.join(","), escape_data(message))
}

/// Appends Markdown to the job summary, when there is one.
pub fn append_summary(markdown: &str) {
    let Ok(path) = std::env::var("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(markdown.as_bytes()));
    if let Err(e) = written {
        tracing::warn!("cannot write the job summary {path}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_escape_their_parts() {
        assert_eq!(
            annotation(
                "error",
                Some("policies/1/a.json"),
                "drift: x,y",
                "50% off\nnext"
            ),
            "::error file=policies/1/a.json,title=drift%3A x%2Cy::50%25 off%0Anext"
        );
    }
}
