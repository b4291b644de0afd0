//! The GitHub REST calls repokid makes, through octocrab's client (authentication, base URL for
//! GitHub Enterprise, GitHub App installation tokens).
//!
//! Requests go through one [`GitHub::send`] that retries what is worth retrying — 5xx answers,
//! and rate limits (429, or 403 with `retry-after` / `x-ratelimit-remaining: 0`), waiting what
//! GitHub asks, within a budget — and turns every other failure into a [`GitHubError`] that
//! names the call and GitHub's message. Tokens are never logged or part of an error.

use std::time::Duration;

use octocrab::Octocrab;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::settings::GitHubSettings;

mod repo_settings;

pub use repo_settings::Setting;

/// A GitHub call that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("GitHub {call} failed{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
pub struct GitHubError {
    /// The call, e.g. `POST /repos/acme/iam/pulls`.
    pub call: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// GitHub's message, or what went wrong.
    pub message: String,
}

impl GitHubError {
    fn new(call: &str, status: Option<u16>, message: impl Into<String>) -> Self {
        GitHubError {
            call: call.to_string(),
            status,
            message: message.into(),
        }
    }
}

/// A pull request, as much of it as repokid uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Whether it was merged.
    pub merged: bool,
    /// The web page.
    pub html_url: String,
    /// Head branch name.
    pub head_ref: String,
    /// Head commit.
    pub head_sha: String,
    /// Body (may be empty).
    pub body: String,
    /// Label names.
    pub labels: Vec<String>,
    /// GitHub's `mergeable` (None while it is being computed).
    pub mergeable: Option<bool>,
}

impl PullRequest {
    fn from_value(v: &Value) -> PullRequest {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        PullRequest {
            number: v["number"].as_u64().unwrap_or_default(),
            state: s("/state"),
            merged: v["merged_at"].is_string() || v["merged"].as_bool() == Some(true),
            html_url: s("/html_url"),
            head_ref: s("/head/ref"),
            head_sha: s("/head/sha"),
            body: s("/body"),
            labels: v["labels"]
                .as_array()
                .map(|ls| {
                    ls.iter()
                        .filter_map(|l| l["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            mergeable: v["mergeable"].as_bool(),
        }
    }
}

/// A comment on an issue or pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    /// Its id (for updates).
    pub id: u64,
    /// Its Markdown.
    pub body: String,
    /// Whether a bot wrote it (a GitHub App or the Actions token, never a person).
    pub by_bot: bool,
}

/// An issue, as much of it as repokid uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Its number.
    pub number: u64,
    /// `open` or `closed`.
    pub state: String,
    /// Its title.
    pub title: String,
    /// The web page.
    pub html_url: String,
}

impl Issue {
    fn from_value(v: &Value) -> Issue {
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        Issue {
            number: v["number"].as_u64().unwrap_or_default(),
            state: s("state"),
            title: s("title"),
            html_url: s("html_url"),
        }
    }
}

/// How long to wait in total for rate limits and 5xx retries, per call.
const RETRY_BUDGET: Duration = Duration::from_secs(120);
/// Attempts per call.
const ATTEMPTS: u32 = 4;

/// A connection to one repository on GitHub (or GitHub Enterprise Server).
pub struct GitHub {
    rt: tokio::runtime::Runtime,
    octo: Octocrab,
    /// `owner`.
    pub owner: String,
    /// `name`.
    pub repo: String,
    /// Waits between retries are scaled by this (tests set it to 0).
    pub retry_scale: f64,
    /// The personal or installation token given (never printed).
    token: Option<String>,
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHub")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .finish_non_exhaustive()
    }
}

/// The API token from the environment: `GITHUB_TOKEN`, else `GH_TOKEN`.
pub fn token_from_env() -> Option<String> {
    ["GITHUB_TOKEN", "GH_TOKEN"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

impl GitHub {
    /// Connects to `settings.repo` at `settings.api_url`, with `token` (a personal or
    /// installation token) or, when the settings name a GitHub App, its installation token.
    pub fn connect(
        settings: &GitHubSettings,
        base_dir: &std::path::Path,
        token: Option<String>,
    ) -> Result<GitHub, GitHubError> {
        let call = "connect";
        let full = settings.repo.as_deref().ok_or_else(|| {
            GitHubError::new(
                call,
                None,
                "no repository: set [github] repo = \"owner/name\" in repokid.toml",
            )
        })?;
        let (owner, repo) = full
            .split_once('/')
            .filter(|(o, r)| !o.is_empty() && !r.is_empty() && !r.contains('/'))
            .ok_or_else(|| {
                GitHubError::new(
                    call,
                    None,
                    format!("[github] repo = {full:?} is not \"owner/name\""),
                )
            })?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GitHubError::new(call, None, e.to_string()))?;
        let octo = rt.block_on(async {
            let builder = Octocrab::builder()
                .base_uri(settings.api_url.as_str())
                .map_err(|e| {
                    GitHubError::new(call, None, format!("api-url {}: {e}", settings.api_url))
                })?;
            match (settings.app_id, &settings.private_key_file, token.clone()) {
                (_, _, Some(t)) => builder
                    .personal_token(t)
                    .build()
                    .map_err(|e| GitHubError::new(call, None, e.to_string())),
                (Some(app), Some(key), None) => {
                    let path = base_dir.join(key);
                    let pem = std::fs::read(&path).map_err(|e| {
                        GitHubError::new(call, None, format!("cannot read {}: {e}", path.display()))
                    })?;
                    let key = octocrab::EncodingKey::from_rsa_pem(&pem).map_err(|e| {
                        GitHubError::new(
                            call,
                            None,
                            format!("{}: not an RSA private key: {e}", path.display()),
                        )
                    })?;
                    let app_client = builder
                        .app(app.into(), key)
                        .build()
                        .map_err(|e| GitHubError::new(call, None, e.to_string()))?;
                    let installation = app_client
                        .apps()
                        .get_repository_installation(owner, repo)
                        .await
                        .map_err(|e| {
                            GitHubError::new(
                                "GET /repos/{owner}/{repo}/installation",
                                None,
                                format!("the GitHub App is not installed on {full}? {e}"),
                            )
                        })?;
                    app_client
                        .installation(installation.id)
                        .map_err(|e| GitHubError::new(call, None, e.to_string()))
                }
                _ => Err(GitHubError::new(
                    call,
                    None,
                    "no GitHub token: set GITHUB_TOKEN, or [github] app-id and private-key-file",
                )),
            }
        })?;
        Ok(GitHub {
            rt,
            octo,
            owner: owner.to_string(),
            repo: repo.to_string(),
            retry_scale: 1.0,
            token,
        })
    }

    /// The token for git pushes: the one given, or a fresh installation token of the App.
    pub fn git_token(&self) -> Result<String, GitHubError> {
        if let Some(t) = &self.token {
            return Ok(t.clone());
        }
        use octocrab::secrecy::ExposeSecret as _;
        self.rt
            .block_on(self.octo.installation_token())
            .map(|t| t.expose_secret().to_string())
            .map_err(|e| GitHubError::new("installation token", None, e.to_string()))
    }

    fn path(&self, rest: &str) -> String {
        format!("/repos/{}/{}{rest}", self.owner, self.repo)
    }

    /// Sends one request; `Ok((status, body))` for 2xx (and for the statuses in `accept`),
    /// retrying rate limits and 5xx within a budget.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        accept: &[u16],
    ) -> Result<(u16, Value), GitHubError> {
        let call = format!("{method} {path}");
        self.rt.block_on(async {
            let mut waited = Duration::ZERO;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let sent = match method {
                    "GET" => self.octo._get(path).await,
                    "POST" => self.octo._post(path, body).await,
                    "PATCH" => self.octo._patch(path, body).await,
                    "PUT" => self.octo._put(path, body).await,
                    "DELETE" => self.octo._delete(path, body).await,
                    other => return Err(GitHubError::new(&call, None, format!("unsupported method {other}"))),
                };
                let resp = match sent {
                    Ok(r) => r,
                    Err(e) if attempt < ATTEMPTS => {
                        tracing::warn!(call = %call, "GitHub request failed, retrying: {e}");
                        let wait = self.backoff(attempt);
                        tokio::time::sleep(wait).await;
                        waited += wait;
                        continue;
                    }
                    Err(e) => return Err(GitHubError::new(&call, None, e.to_string())),
                };
                let status = resp.status().as_u16();
                let header = |k: &str| {
                    resp.headers()
                        .get(k)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let retry_after = header("retry-after").and_then(|v| v.parse::<u64>().ok());
                let exhausted = header("x-ratelimit-remaining").as_deref() == Some("0");
                let reset = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok());
                let text = self
                    .octo
                    .body_to_string(resp)
                    .await
                    .map_err(|e| GitHubError::new(&call, Some(status), e.to_string()))?;
                let value: Value = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                };
                if (200..300).contains(&status) || accept.contains(&status) {
                    return Ok((status, value));
                }
                let rate_limited = status == 429 || (status == 403 && (retry_after.is_some() || exhausted));
                let mut message = value
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string());
                // A 422 says why in `errors`: "A pull request already exists for …".
                let details: Vec<String> = value
                    .get("errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| {
                        e.get("message").and_then(Value::as_str).map(str::to_string).or_else(|| {
                            let field = e.get("field").and_then(Value::as_str)?;
                            let code = e.get("code").and_then(Value::as_str).unwrap_or("invalid");
                            Some(format!("{field}: {code}"))
                        })
                    })
                    .collect();
                if !details.is_empty() {
                    message = format!("{message}: {}", details.join("; "));
                }
                if (rate_limited || status >= 500) && attempt < ATTEMPTS {
                    let wait = match (retry_after, reset) {
                        (Some(s), _) => Duration::from_secs(s),
                        (None, Some(r)) if rate_limited => Duration::from_secs(
                            (r - chrono::Utc::now().timestamp()).clamp(1, 3600) as u64,
                        ),
                        _ => self.backoff(attempt),
                    };
                    let wait = wait.mul_f64(self.retry_scale);
                    if waited + wait <= RETRY_BUDGET {
                        tracing::warn!(call = %call, status, wait_s = wait.as_secs_f64(), "GitHub asked to retry");
                        tokio::time::sleep(wait).await;
                        waited += wait;
                        continue;
                    }
                }
                let hint = match status {
                    401 => " (the token is missing, expired or revoked)",
                    403 | 429 if rate_limited => " (rate limited; retry budget spent)",
                    403 => " (the token lacks a permission: contents, pull requests, statuses, issues)",
                    404 => " (no such repository or object, or the token cannot see it)",
                    422 => " (GitHub rejected the request)",
                    _ => "",
                };
                return Err(GitHubError::new(&call, Some(status), format!("{message}{hint}")));
            }
        })
    }

    fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_millis(500 * 2u64.pow(attempt.min(6))).mul_f64(self.retry_scale)
    }

    /// The newest pull request (any state) from `branch`, if there is one.
    pub fn find_pr(&self, branch: &str) -> Result<Option<PullRequest>, GitHubError> {
        let path = self.path(&format!(
            "/pulls?state=all&head={}:{}&per_page=10",
            self.owner,
            encode(branch)
        ));
        let (_, v) = self.send("GET", &path, None, &[])?;
        let mut prs: Vec<PullRequest> = v
            .as_array()
            .map(|a| a.iter().map(PullRequest::from_value).collect())
            .unwrap_or_default();
        // Only this exact branch (head filters are prefix-safe on GitHub, but be sure).
        prs.retain(|p| p.head_ref == branch);
        prs.sort_by_key(|p| std::cmp::Reverse(p.number));
        Ok(prs.into_iter().next())
    }

    /// One pull request.
    pub fn get_pr(&self, number: u64) -> Result<PullRequest, GitHubError> {
        let (_, v) = self.send("GET", &self.path(&format!("/pulls/{number}")), None, &[])?;
        Ok(PullRequest::from_value(&v))
    }

    /// Open pull requests whose head branch starts with `prefix`.
    pub fn open_prs(&self, prefix: &str) -> Result<Vec<PullRequest>, GitHubError> {
        let mut out = Vec::new();
        for page in 1..=20 {
            let path = self.path(&format!("/pulls?state=open&per_page=100&page={page}"));
            let (_, v) = self.send("GET", &path, None, &[])?;
            let batch: Vec<PullRequest> = v
                .as_array()
                .map(|a| a.iter().map(PullRequest::from_value).collect())
                .unwrap_or_default();
            let done = batch.len() < 100;
            out.extend(batch.into_iter().filter(|p| p.head_ref.starts_with(prefix)));
            if done {
                break;
            }
        }
        Ok(out)
    }

    /// Opens a pull request.
    pub fn create_pr(
        &self,
        head: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let req = json!({"title": title, "head": head, "base": base, "body": body, "draft": false});
        let (_, v) = self.send("POST", &self.path("/pulls"), Some(&req), &[])?;
        Ok(PullRequest::from_value(&v))
    }

    /// Updates a pull request's title and body.
    pub fn update_pr(
        &self,
        number: u64,
        title: &str,
        body: &str,
    ) -> Result<PullRequest, GitHubError> {
        let req = json!({"title": title, "body": body});
        let (_, v) = self.send(
            "PATCH",
            &self.path(&format!("/pulls/{number}")),
            Some(&req),
            &[],
        )?;
        Ok(PullRequest::from_value(&v))
    }

    /// Closes a pull request.
    pub fn close_pr(&self, number: u64) -> Result<(), GitHubError> {
        let req = json!({"state": "closed"});
        self.send(
            "PATCH",
            &self.path(&format!("/pulls/{number}")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// Adds labels to an issue or pull request.
    pub fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), GitHubError> {
        if labels.is_empty() {
            return Ok(());
        }
        let req = json!({"labels": labels});
        self.send(
            "POST",
            &self.path(&format!("/issues/{number}/labels")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// Requests reviews from users and `org/team` teams. GitHub refuses (422) reviewers who are
    /// not collaborators or who authored the PR: that is reported, not fatal.
    pub fn request_reviewers(&self, number: u64, reviewers: &[String]) -> Result<(), GitHubError> {
        let (teams, users): (Vec<&String>, Vec<&String>) =
            reviewers.iter().partition(|r| r.contains('/'));
        if teams.is_empty() && users.is_empty() {
            return Ok(());
        }
        let teams: Vec<&str> = teams
            .iter()
            .filter_map(|t| t.split_once('/').map(|(_, slug)| slug))
            .collect();
        let req = json!({"reviewers": users, "team_reviewers": teams});
        let (status, v) = self.send(
            "POST",
            &self.path(&format!("/pulls/{number}/requested_reviewers")),
            Some(&req),
            &[422],
        )?;
        if status == 422 {
            let why = v
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or_default();
            tracing::warn!(pr = number, "GitHub refused some reviewers: {why}");
        }
        Ok(())
    }

    /// Comments on an issue or pull request.
    pub fn comment(&self, number: u64, body: &str) -> Result<(), GitHubError> {
        let req = json!({"body": body});
        self.send(
            "POST",
            &self.path(&format!("/issues/{number}/comments")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// The comments of an issue or pull request, oldest first (at most 1,000).
    pub fn comments(&self, number: u64) -> Result<Vec<IssueComment>, GitHubError> {
        let mut out = Vec::new();
        for page in 1..=10 {
            let path = self.path(&format!(
                "/issues/{number}/comments?per_page=100&page={page}"
            ));
            let (_, v) = self.send("GET", &path, None, &[])?;
            let batch = v.as_array().cloned().unwrap_or_default();
            out.extend(batch.iter().map(|c| IssueComment {
                id: c["id"].as_u64().unwrap_or_default(),
                body: c["body"].as_str().unwrap_or_default().to_string(),
                by_bot: c.pointer("/user/type").and_then(Value::as_str) == Some("Bot"),
            }));
            if batch.len() < 100 {
                break;
            }
        }
        Ok(out)
    }

    /// Replaces the text of a comment.
    pub fn update_comment(&self, id: u64, body: &str) -> Result<(), GitHubError> {
        let req = json!({"body": body});
        self.send(
            "PATCH",
            &self.path(&format!("/issues/comments/{id}")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// The pull requests associated with a commit: for a commit of the default branch, the
    /// merged pull request that brought it there.
    pub fn pulls_for_commit(&self, sha: &str) -> Result<Vec<PullRequest>, GitHubError> {
        let path = self.path(&format!("/commits/{}/pulls?per_page=100", encode(sha)));
        let (_, v) = self.send("GET", &path, None, &[])?;
        Ok(v.as_array()
            .map(|a| a.iter().map(PullRequest::from_value).collect())
            .unwrap_or_default())
    }

    /// Open issues (not pull requests) carrying `label`, oldest first (at most 100).
    pub fn open_issues(&self, label: &str) -> Result<Vec<Issue>, GitHubError> {
        let path = self.path(&format!(
            "/issues?state=open&labels={}&sort=created&direction=asc&per_page=100",
            encode(label)
        ));
        let (_, v) = self.send("GET", &path, None, &[])?;
        let mut issues: Vec<Issue> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i.get("pull_request").is_none())
            .map(Issue::from_value)
            .collect();
        issues.sort_by_key(|i| i.number);
        Ok(issues)
    }

    /// One issue.
    pub fn get_issue(&self, number: u64) -> Result<Issue, GitHubError> {
        let (_, v) = self.send("GET", &self.path(&format!("/issues/{number}")), None, &[])?;
        Ok(Issue::from_value(&v))
    }

    /// Opens an issue with these labels.
    pub fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<Issue, GitHubError> {
        let req = json!({"title": title, "body": body, "labels": labels});
        let (_, v) = self.send("POST", &self.path("/issues"), Some(&req), &[])?;
        Ok(Issue::from_value(&v))
    }

    /// Reopens an issue, or closes it as `completed` or `not_planned`.
    pub fn set_issue_state(&self, number: u64, close: Option<&str>) -> Result<(), GitHubError> {
        let req = match close {
            Some(reason) => json!({"state": "closed", "state_reason": reason}),
            None => json!({"state": "open"}),
        };
        self.send(
            "PATCH",
            &self.path(&format!("/issues/{number}")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// Sets a commit status (`pending`, `success`, `failure`, `error`).
    pub fn set_status(
        &self,
        sha: &str,
        state: &str,
        context: &str,
        description: &str,
    ) -> Result<(), GitHubError> {
        // GitHub cuts descriptions at 140 characters.
        let description: String = description.chars().take(140).collect();
        let req = json!({"state": state, "context": context, "description": description});
        self.send(
            "POST",
            &self.path(&format!("/statuses/{sha}")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// A user's permission on the repository: `admin`, `maintain`, `write`, `triage`, `read` or
    /// `none`.
    pub fn permission(&self, user: &str) -> Result<String, GitHubError> {
        #[derive(Deserialize)]
        struct P {
            permission: String,
            #[serde(default)]
            role_name: Option<String>,
        }
        let (status, v) = self.send(
            "GET",
            &self.path(&format!("/collaborators/{}/permission", encode(user))),
            None,
            &[404],
        )?;
        if status == 404 {
            return Ok("none".into());
        }
        let p: P = serde_json::from_value(v).map_err(|e| {
            GitHubError::new("GET collaborator permission", Some(status), e.to_string())
        })?;
        // `role_name` distinguishes maintain/triage, which `permission` folds into write/read.
        Ok(p.role_name.unwrap_or(p.permission))
    }

    /// Whether the pull request is approved: at least one approval and no outstanding
    /// change request (each reviewer's latest review counts).
    pub fn approved(&self, number: u64) -> Result<bool, GitHubError> {
        let (_, v) = self.send(
            "GET",
            &self.path(&format!("/pulls/{number}/reviews?per_page=100")),
            None,
            &[],
        )?;
        let mut latest: std::collections::BTreeMap<String, String> = Default::default();
        for r in v.as_array().into_iter().flatten() {
            let user = r
                .pointer("/user/login")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let state = r["state"].as_str().unwrap_or_default();
            if matches!(state, "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED") {
                latest.insert(user.to_string(), state.to_string());
            }
        }
        Ok(latest.values().any(|s| s == "APPROVED")
            && !latest.values().any(|s| s == "CHANGES_REQUESTED"))
    }

    /// Merges a pull request at exactly `sha` (GitHub refuses if the head moved).
    pub fn merge_pr(&self, number: u64, sha: &str, title: &str) -> Result<(), GitHubError> {
        let req = json!({"sha": sha, "merge_method": "merge", "commit_title": title});
        self.send(
            "PUT",
            &self.path(&format!("/pulls/{number}/merge")),
            Some(&req),
            &[],
        )?;
        Ok(())
    }

    /// Deletes a branch (already gone is fine).
    pub fn delete_branch(&self, branch: &str) -> Result<(), GitHubError> {
        self.send(
            "DELETE",
            &self.path(&format!("/git/refs/heads/{branch}")),
            None,
            &[404, 422],
        )?;
        Ok(())
    }
}

/// Percent-encodes a query or path value.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
