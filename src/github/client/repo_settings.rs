//! Reading the repository's settings for `repokid doctor`: branch protection and rules,
//! environments, CODEOWNERS errors, Actions variables and the GitHub App's installation, each a
//! [`Setting`] (found, absent or forbidden) rather than an error.

use octocrab::Octocrab;
use serde_json::Value;

use super::{GitHub, GitHubError};
use crate::settings::GitHubSettings;

/// A repository setting read through the API ([`GitHub::read_setting`](super::GitHub::read_setting)).
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// GitHub's answer.
    Found(Value),
    /// HTTP 404: not there (no protection, no such environment, no CODEOWNERS file …).
    Absent,
    /// HTTP 403: the token may not read it; GitHub's message.
    Forbidden(String),
}

impl GitHub {
    /// `GET /repos/{owner}/{repo}{rest}` for a setting: a 404 is [`Setting::Absent`] and a 403
    /// [`Setting::Forbidden`], not errors.
    pub fn read_setting(&self, rest: &str) -> Result<Setting, GitHubError> {
        let (status, v) = self.send("GET", &self.path(rest), None, &[403, 404])?;
        Ok(match status {
            404 => Setting::Absent,
            403 => Setting::Forbidden(
                v.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("forbidden")
                    .to_string(),
            ),
            _ => Setting::Found(v),
        })
    }

    /// The repository: default branch, merge methods (`GET /repos/{owner}/{repo}`).
    pub fn repository(&self) -> Result<Setting, GitHubError> {
        self.read_setting("")
    }

    /// The classic branch protection of `branch` (needs administration: read).
    pub fn branch_protection(&self, branch: &str) -> Result<Setting, GitHubError> {
        self.read_setting(&format!("/branches/{}/protection", segment(branch)))
    }

    /// The active ruleset rules that apply to `branch` (readable with read access).
    pub fn branch_rules(&self, branch: &str) -> Result<Setting, GitHubError> {
        self.read_setting(&format!("/rules/branches/{}?per_page=100", segment(branch)))
    }

    /// A deployment environment, with its protection rules.
    pub fn environment(&self, name: &str) -> Result<Setting, GitHubError> {
        self.read_setting(&format!("/environments/{}", segment(name)))
    }

    /// The lines of the CODEOWNERS file at `rev` that GitHub cannot use (absent: no file).
    pub fn codeowners_errors(&self, rev: &str) -> Result<Setting, GitHubError> {
        self.read_setting(&format!("/codeowners/errors?ref={}", segment(rev)))
    }

    /// A repository variable for Actions.
    pub fn actions_variable(&self, name: &str) -> Result<Setting, GitHubError> {
        self.read_setting(&format!("/actions/variables/{}", segment(name)))
    }

    /// The installation of the GitHub App the settings name on this repository
    /// (`GET /repos/{owner}/{repo}/installation`, authenticated as the App with a JWT signed by
    /// its private key), with its `permissions`. `None` when the settings name no App.
    pub fn app_installation(
        &self,
        settings: &GitHubSettings,
        base_dir: &std::path::Path,
    ) -> Result<Option<Value>, GitHubError> {
        let (Some(app), Some(key)) = (settings.app_id, &settings.private_key_file) else {
            return Ok(None);
        };
        let call = "GET /repos/{owner}/{repo}/installation";
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
        let route = self.path("/installation");
        self.rt.block_on(async {
            let app_client = Octocrab::builder()
                .base_uri(settings.api_url.as_str())
                .map_err(|e| GitHubError::new(call, None, e.to_string()))?
                .app(app.into(), key)
                .build()
                .map_err(|e| GitHubError::new(call, None, e.to_string()))?;
            let resp = app_client
                ._get(route.as_str())
                .await
                .map_err(|e| GitHubError::new(call, None, e.to_string()))?;
            let status = resp.status().as_u16();
            let text = app_client
                .body_to_string(resp)
                .await
                .map_err(|e| GitHubError::new(call, Some(status), e.to_string()))?;
            let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
            if (200..300).contains(&status) {
                Ok(Some(value))
            } else {
                let message = value
                    .get("message")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string());
                Err(GitHubError::new(call, Some(status), message))
            }
        })
    }

    /// Whether the token given is a GitHub App installation token (`ghs_…`), whose permissions
    /// only the App itself can read.
    pub fn token_is_installation(&self) -> bool {
        self.token.as_deref().is_some_and(|t| t.starts_with("ghs_"))
    }
}

/// Percent-encodes one path segment (or query value), leaving RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) as they are.
fn segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}
