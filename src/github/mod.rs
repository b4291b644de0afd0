//! GitHub: pushing branches, pull requests and comment commands.
//!
//! * [`push`] — git pushes over HTTPS with a token, on the crate's one TLS stack (rustls).
//! * [`client`] — the REST calls: pull requests, labels, reviewers, comments, issues, commit
//!   statuses, permissions, merges.
//! * [`review`] — opening or updating one pull request per proposal branch.
//! * [`publish`] — pushing proposal branches and opening their pull requests.
//! * [`record`] — recording live state on the protected branch through a pull request repokid
//!   merges itself.
//! * [`schedule`] — scheduled proposals: a not-before date, a pending status, merging when due.
//! * [`doctor`] — the repository settings the loop needs (`repokid doctor`).
//! * [`dispatch`] — `/repokid …` commands in issue and pull-request comments, each answered with
//!   a comment (Repokid's dispatcher).
//! * [`apply_report`] — after an apply: a comment on each merged pull request, and the tracking
//!   issue of failed applies.

pub mod apply_report;
pub mod client;
pub mod dispatch;
pub mod doctor;
pub mod publish;
pub mod push;
pub mod record;
pub mod review;
pub mod schedule;
