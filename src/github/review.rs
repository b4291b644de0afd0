//! One pull request per proposal branch: opened on the first run, updated on the next ones (never
//! a duplicate), and after a close or a merge handled as a reviewer would expect:
//!
//! * open PR from the branch → its title and body are updated, labels and reviewers added;
//! * merged PR → the new proposal is new work: a new PR;
//! * closed without merging, with the same proposal (same digest) → not reopened: the reviewer
//!   said no to exactly this; opt the roles out or change the filters to stop proposing it;
//! * closed without merging, with a different proposal → a new PR that says which one it
//!   supersedes.
//!
//! The digest is the git tree id of the account's proposed files, kept in the body as an HTML
//! comment, so "same proposal" means byte-identical files.

use globset::{GlobBuilder, GlobSetBuilder};

use super::client::{GitHub, GitHubError, PullRequest};

/// What to open or update.
#[derive(Debug, Clone)]
pub struct PrRequest {
    /// Head branch.
    pub branch: String,
    /// Base branch.
    pub base: String,
    /// Title.
    pub title: String,
    /// Body (Markdown); the digest marker is appended.
    pub body: String,
    /// Labels to add.
    pub labels: Vec<String>,
    /// Reviewers: logins and `org/team` slugs.
    pub reviewers: Vec<String>,
    /// Identity of the proposed content (see the module docs).
    pub digest: String,
}

/// What happened to the pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrOutcome {
    /// A new pull request.
    Opened(PullRequest),
    /// The open pull request, updated.
    Updated(PullRequest),
    /// Nothing done: this exact proposal was closed without merging.
    Declined(PullRequest),
}

impl PrOutcome {
    /// The pull request concerned.
    pub fn pr(&self) -> &PullRequest {
        match self {
            PrOutcome::Opened(p) | PrOutcome::Updated(p) | PrOutcome::Declined(p) => p,
        }
    }
}

/// The marker that carries the digest in a body.
pub fn digest_marker(digest: &str) -> String {
    format!("<!-- repokid:digest={digest} -->")
}

/// Opens or updates the pull request for `req.branch`.
pub fn open_or_update(gh: &GitHub, req: &PrRequest) -> Result<PrOutcome, GitHubError> {
    let marker = digest_marker(&req.digest);
    let body = format!("{}\n{marker}\n", req.body.trim_end());
    let outcome = match gh.find_pr(&req.branch)? {
        Some(pr) if pr.state == "open" => {
            PrOutcome::Updated(gh.update_pr(pr.number, &req.title, &body)?)
        }
        Some(pr) if !pr.merged && pr.body.contains(&marker) => {
            tracing::info!(pr = pr.number, branch = %req.branch, "this proposal was closed without merging; not reopened");
            return Ok(PrOutcome::Declined(pr));
        }
        Some(pr) if !pr.merged => {
            let body = format!(
                "{}\n\nSupersedes #{} (closed without merging).\n{marker}\n",
                req.body.trim_end(),
                pr.number
            );
            PrOutcome::Opened(gh.create_pr(&req.branch, &req.base, &req.title, &body)?)
        }
        _ => PrOutcome::Opened(gh.create_pr(&req.branch, &req.base, &req.title, &body)?),
    };
    let number = outcome.pr().number;
    let missing: Vec<String> = req
        .labels
        .iter()
        .filter(|l| !outcome.pr().labels.contains(l))
        .cloned()
        .collect();
    gh.add_labels(number, &missing)?;
    if matches!(outcome, PrOutcome::Opened(_)) {
        gh.request_reviewers(number, &req.reviewers)?;
    }
    Ok(outcome)
}

/// The owners CODEOWNERS gives `path` (the last matching line wins, as on GitHub): logins and
/// `org/team` slugs, without `@`; e-mail owners are left out.
pub fn codeowners(text: &str, path: &str) -> Vec<String> {
    let mut owners = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut parts = line.split_whitespace();
        let Some(pattern) = parts.next() else {
            continue;
        };
        if matches(pattern, path) {
            owners = parts
                .filter_map(|o| o.strip_prefix('@'))
                .map(str::to_string)
                .collect();
        }
    }
    owners
}

/// gitignore-style matching as CODEOWNERS uses it.
fn matches(pattern: &str, path: &str) -> bool {
    let anchored = pattern.starts_with('/') || pattern.trim_end_matches('/').contains('/');
    let p = pattern.trim_start_matches('/');
    let dir = p.ends_with('/');
    let p = p.trim_end_matches('/');
    let base = if anchored {
        p.to_string()
    } else {
        format!("**/{p}")
    };
    let mut set = GlobSetBuilder::new();
    for g in [base.clone(), format!("{base}/**")] {
        if dir && g == base {
            continue;
        }
        match GlobBuilder::new(&g).literal_separator(true).build() {
            Ok(glob) => {
                set.add(glob);
            }
            Err(_) => return false,
        }
    }
    set.build().is_ok_and(|s| s.is_match(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codeowners_last_match_wins_with_gitignore_patterns() {
        let text = "\
# comment
*                       @acme/platform
policies/               @acme/security
/policies/111122223333/ @alice @acme/payments dev@example.com
*.md                    @docs
";
        assert_eq!(
            codeowners(text, "policies/111122223333/app.json"),
            ["alice", "acme/payments"]
        );
        assert_eq!(
            codeowners(text, "policies/444455556666/app.json"),
            ["acme/security"]
        );
        assert_eq!(codeowners(text, "README.md"), ["docs"]);
        assert_eq!(codeowners(text, "filters.toml"), ["acme/platform"]);
        assert!(codeowners("", "x").is_empty());
    }

    #[test]
    fn anchored_and_unanchored_file_patterns() {
        assert!(matches("/filters.toml", "filters.toml"));
        assert!(!matches("/filters.toml", "sub/filters.toml"));
        assert!(matches("filters.toml", "sub/filters.toml"));
        assert!(matches("policies/*/app.json", "policies/1/app.json"));
        assert!(!matches("policies/*.json", "policies/1/app.json"));
    }
}
