//! What the commands work with: the GitHub connection, the settings, the policy repository and
//! the revision they read.

use std::path::{Component, Path};

use chrono::{DateTime, Utc};
use git2::{BranchType, Repository};

use crate::engine::Catalog;
use crate::github::client::GitHub;
use crate::settings::Settings;
use crate::store::git::PolicyStore;

/// What [`dispatch`](super::dispatch) works with.
#[derive(Debug)]
pub struct DispatchContext<'a> {
    /// The repository commands are answered in and pull requests opened on.
    pub github: &'a GitHub,
    /// The settings: `[github]` (base branch, git URL for pushes) and the engine's size limit.
    pub settings: &'a Settings,
    /// The policy repository (a clone of the GitHub repository).
    pub store: &'a PolicyStore,
    /// The IAM action catalog, for permission counts and restores.
    pub catalog: &'a Catalog,
    /// The revision read and built upon (`main`, or `origin/main` in a checkout without the
    /// local branch); pull requests target `settings.github.base_branch`.
    pub base: String,
    /// `filters.toml`'s path in the repository (`/`-separated), `None` when it lies outside the
    /// repository (opt-out commands then answer with an error).
    pub filters_path: Option<String>,
    /// Today, for opt-out expiry dates.
    pub now: DateTime<Utc>,
}

impl<'a> DispatchContext<'a> {
    /// A context with the base resolved from `[github] base-branch` ([`resolve_base`]), the
    /// filters path from the settings ([`filters_path_in_repo`]) and the current time.
    pub fn new(
        github: &'a GitHub,
        settings: &'a Settings,
        store: &'a PolicyStore,
        catalog: &'a Catalog,
    ) -> DispatchContext<'a> {
        DispatchContext {
            github,
            settings,
            store,
            catalog,
            base: resolve_base(store.repo(), &settings.github.base_branch),
            filters_path: filters_path_in_repo(settings, store),
            now: Utc::now(),
        }
    }
}

/// The revision to read `branch` at: the local branch when there is one, else
/// `origin/<branch>` when that exists (a CI checkout of another ref), else `branch` as given.
pub fn resolve_base(repo: &Repository, branch: &str) -> String {
    if repo.find_branch(branch, BranchType::Local).is_ok() {
        return branch.to_string();
    }
    let remote = format!("origin/{branch}");
    if repo.find_branch(&remote, BranchType::Remote).is_ok() {
        return remote;
    }
    branch.to_string()
}

/// Where the settings' filters file is in the repository (`/`-separated), or `None` when it is
/// outside the repository's working tree (or the repository is bare).
pub fn filters_path_in_repo(settings: &Settings, store: &PolicyStore) -> Option<String> {
    let workdir = store.repo().workdir()?.canonicalize().ok()?;
    let file = settings.resolve(&settings.filters);
    let name = file.file_name()?;
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let full = parent.canonicalize().ok()?.join(name);
    let rel = full.strip_prefix(&workdir).ok()?;
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    let parts = parts.filter(|p| !p.is_empty())?;
    Some(parts.join("/"))
}
