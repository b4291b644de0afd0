//! `repokid::engine::access::compare` checked against an IAM evaluation oracle.
//!
//! **The oracle** brute-forces IAM's evaluation logic for identity-based policies over a finite
//! universe: [`ACTIONS`] (catalog actions and names the catalog does not list), [`RESOURCES`]
//! (concrete ARNs), and [`NC`] request contexts over the condition keys in [`KEYS`]. It reads the
//! policies' JSON itself and shares no matching code with `src/engine`: its glob, ARN matcher,
//! condition evaluator, date and CIDR parsers are written here, from IAM's documentation
//! (`shared/reference/iam-evaluation.md`). One statement matches a product set (its actions ×
//! its resources × the contexts its condition accepts), so a role evaluates to, per (action,
//! resource) cell, a bitmask of contexts its Allows match and one its Denies match.
//!
//! **The property** `compare` claims (module docs of `engine::access`): for every request r,
//! (A) head allows r ⇒ base allows r (allows: some Allow matches and no Deny does), and
//! (B) base denies r ⇒ head denies r. A **miss** is a pair where the oracle finds an r violating
//! (A) or (B) and `compare` says `grants_nothing_new()`. Zero misses is required; the first one
//! is reduced and printed in full.
//!
//! **The pairs**: a base role (1–3 policies, 1–4 statements, each statement's form drawn
//! uniformly from Allow/Deny × Action/NotAction × Resource/NotResource × ten condition families),
//! and a head made from it by 1–3 mutations: random ones (widening and narrowing) for the miss
//! check, removal-only ones for the completeness check (at least 99% proved). The harness's
//! power is checked too: `oracle_catches_blind_provers` feeds `compare` roles with one part
//! erased (a condition family, the set qualifiers, `IfExists`, Deny, `NotAction`, `NotResource`,
//! resources, unknown actions) and requires a miss for each within a few thousand pairs.
//!
//! Sizes: `REPOKID_ORACLE_PAIRS` (default 10,000 of each kind), `REPOKID_ORACLE_SEED` (default
//! [`DEFAULT_SEED`], printed), `REPOKID_ORACLE_SHOW=<pair index>` prints one pair of each kind
//! and checks only that one. The documented big run:
//!
//! ```text
//! REPOKID_ORACLE_PAIRS=1000000 cargo test --release --test it verify_oracle:: -- --nocapture
//! ```

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

use repokid::engine::Catalog;
use repokid::engine::access::{Comparison, compare};
use repokid::engine::policy::{PolicyMap, policy_map_from_value};
use serde_json::{Map, Value, json};

// One module per concern; each one's items are visible to the others through these.
mod config;
mod mutations;
mod oracle_conditions;
mod oracle_matching;
mod oracle_roles;
mod policies;
mod pools;
mod properties;
mod reduction;
mod self_checks;
mod universe;
use config::*;
use mutations::*;
use oracle_conditions::*;
use oracle_matching::*;
use oracle_roles::*;
use policies::*;
use pools::*;
use reduction::*;
use universe::*;
