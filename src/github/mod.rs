//! GitHub: pushing branches, pull requests and comment commands.
//!
//! * [`push`] — git pushes over HTTPS with a token, on the crate's one TLS stack (rustls).
//! * [`client`] — the REST calls: pull requests, labels, reviewers, comments, commit statuses,
//!   permissions, merges.
//! * [`review`] — opening or updating one pull request per proposal branch.
//! * [`publish`] — pushing proposal branches and opening their pull requests.
//! * [`schedule`] — scheduled proposals: a not-before date, a pending status, merging when due.
//! * [`doctor`] — the repository settings the loop needs (`repokid doctor`).
//! * [`dispatch`] — `/repokid …` commands in issue and pull-request comments, each answered with
//!   a comment (Repokid's dispatcher).

pub mod client;
pub mod dispatch;
pub mod doctor;
pub mod publish;
pub mod push;
pub mod review;
pub mod schedule;
