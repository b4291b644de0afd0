//! repokid: least privilege for AWS IAM roles, as code in git.
//!
//! The crate is layered so the architecture shows in the file tree:
//!
//! * [`engine`] — the pure rightsizing engine (catalog, policy model, usage, decisions, rewrite,
//!   minimization). No I/O: every input is plain data, every output a value.
//! * [`filters`] — which roles are in scope, configured by `filters.toml` (pure as well, except
//!   `[[command]]` filters, which run external commands).
//! * [`hooks`] — hooks in the removable-permission calculation (trait objects or commands).
//! * [`sources`] — where roles and usage come from (files now; AWS and Aardvark behind the same
//!   traits).
//! * [`store`] — the git policy store and what its history answers (ages, rollback, stats).
//! * [`cli`] — the `repokid` command line, a thin layer over the above.
//! * [`synth`] — a seeded synthetic organisation, for benchmarks and property tests.

pub mod cli;
pub mod engine;
pub mod filters;
pub mod hooks;
pub mod ops;
pub mod report;
pub mod review;
pub mod settings;
pub mod sources;
pub mod store;
pub mod synth;
