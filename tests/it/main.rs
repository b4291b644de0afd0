//! The integration tests, as one test binary with a module per area.
//!
//! One binary instead of one per file: each test binary links the whole crate and the AWS SDK,
//! so ~27 of them made linking the larger part of a cold build and filled the disk. One process
//! also shares the test stand-ins (moto, Aardvark's API, the git server) between areas: every
//! test works in fresh accounts, repositories and branches of its own, so none depends on a
//! server's state from before it.
//!
//! Run one area with `cargo test --test it <module>::`, e.g. `cargo test --test it workflows::`.
//! A new area is a module here, not a new file directly under tests/ (that would be a binary of
//! its own again; scripts/test refuses it).

// Shared harness (repokid and git runners, moto, the GitHub and git stand-ins).
mod common;

// The engine, pure: scenarios, properties, the policy corpus, the verify oracle.
mod engine_properties;
mod engine_scenarios;
mod policy_corpus;
mod verify_oracle;

// The library's extension points and examples.
mod examples;
mod hooks;
mod managed_policies;

// The policy store and git.
mod git_push;
mod store_git;
mod store_history;

// Sources and AWS (moto, Aardvark's API, injected faults).
mod aardvark_api;
mod aws_faults;
mod aws_moto;
mod aws_usage;

// The command line.
mod cli_catalog;
mod cli_history;
mod cli_loop;
mod review;
mod verify;

// GitHub: pull requests, comment commands, schedules, apply reports, the API contract.
mod apply_report;
mod dispatch;
mod github_contract;
mod github_doctor;
mod github_flows;
mod github_schedule;
mod schedule_recheck;

// The shipped workflows and their scripts, end to end.
mod workflows;
