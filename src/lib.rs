//! repokid: least privilege for AWS IAM roles, as code in git.
//!
//! The crate is layered so the architecture shows in the file tree:
//!
//! * [`engine`] — the pure rightsizing engine (catalog, policy model, usage, decisions, rewrite,
//!   minimization). No I/O: every input is plain data, every output a value.
//! * [`filters`] — which roles are in scope, configured by `filters.toml` (pure as well, except
//!   `[[command]]` filters, which run external commands).
//! * [`hooks`] — hooks in the removable-permission calculation (trait objects or commands).
//! * [`sources`] — where roles and usage come from, behind two traits: files, AWS ([`aws`]) and
//!   an Aardvark API.
//! * [`store`] — the git policy store and what its history answers (ages, rollback, stats).
//! * [`apply`] — pushing merged files to IAM through the [`apply::LiveIam`] trait, never over
//!   drift; [`aws`] implements it.
//! * [`github`] — pushing proposal branches, pull requests, scheduling, comment commands.
//! * [`verify`] — the check a pull request runs: files valid, and no new access, proved.
//! * [`ops`] — the flows (sync, plan, propose, apply, rollback): a typed request in, a typed
//!   report out.
//! * [`cli`] — the `repokid` command line, a thin layer over the above.
//! * [`synth`] — a seeded synthetic organisation, for benchmarks and property tests.
//!
//! ARCHITECTURE.md says what each module may import; `scripts/check_shape.py` checks it.
//!
//! # Library use
//!
//! The operations the CLI runs are plain functions in [`ops`] — the equivalents of Repokid's
//! `repokid.lib` (`update_role_cache` → [`ops::sync()`], `display_role`/`repo_role` dry run →
//! [`ops::plan()`], `repo_role` → [`ops::propose()`], then [`apply::apply_account`] after review; its
//! documentation has a runnable example with IAM kept in memory):
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use repokid::engine::Catalog;
//! use repokid::ops::{self, PlanOptions, Workspace};
//! use repokid::sources::inventory_file::parse_inventory;
//! use repokid::sources::usage_file::{UsageFormat, parse_usage};
//! use repokid::store::git::PolicyStore;
//!
//! # fn main() -> anyhow::Result<()> {
//! let dir = tempfile::tempdir()?;
//! git2::Repository::init(dir.path())?;
//! // Settings and filters: repokid.toml and filters.toml, or the defaults when absent.
//! let ws = Workspace::load(&dir.path().join("repokid.toml"), false, Catalog::embedded())?;
//! let store = PolicyStore::open(dir.path())?;
//!
//! let inventory = parse_inventory("inventory.json", include_bytes!("../examples/demo/inventory.json"))?;
//! let now = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
//! let usage = parse_usage("usage.json", include_str!("../examples/demo/usage.json"), UsageFormat::Auto, now)?;
//!
//! // Record live state (one commit per account), plan, and propose on a branch.
//! let synced = ops::sync(&store, &inventory, &[])?;
//! assert!(synced[0].written.is_some());
//! let opts = PlanOptions { grace_days: Some(0), ..PlanOptions::default() };
//! let (report, planned) = ops::plan(&ws, Some(&store), &inventory, &usage, &opts, now)?;
//! let orders = report.roles.iter().find(|r| r.role == "orders-api").unwrap();
//! assert!(orders.removed.iter().any(|a| a.action == "sns:Publish"));
//! let proposals = ops::propose(&ws, &store, &report, &planned, "HEAD")?;
//! assert_eq!(proposals[0].branch, "repokid/propose/111122223333");
//! # Ok(())
//! # }
//! ```

pub mod apply;
pub mod aws;
pub mod cli;
pub mod engine;
pub mod filters;
pub mod github;
pub mod hooks;
pub mod ops;
pub mod report;
pub mod review;
pub mod settings;
pub mod sources;
pub mod store;
pub mod synth;
pub mod verify;
