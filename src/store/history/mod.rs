//! What history answers: a role's versions (for rollback), since when each of its permissions has
//! been granted (for the grace period), and what every tool commit changed (stats).
//!
//! Everything walks **first-parent** history from a revision, so on a branch that receives pull
//! requests as merge commits, a merge counts as the one change that landed (at the merge's time).
//! Times are committer times: when a change landed on the branch, not when it was first written.
//!
//! * [`role_versions`] — a role's versions, for rollback; [`restore`] computes what restoring one
//!   (or one service of it) gives.
//! * [`permission_ages`] — since when each action of a role has been granted, for the grace
//!   period; [`account_permission_ages`] answers for every role of an account in one walk.
//! * [`stats`] — one row per role file changed by a tool commit; [`stats_to_csv`].
//!
//! A role's *version* is a commit where the blob at `policies/<account>/<role>.json` differs from
//! the one at the commit's first parent, found by tree lookups by path (no diffs); the big tree of
//! an account's directory is read only for commits that changed it. Stats and account-wide ages
//! compare a commit's tree with its first parent's, descending only into directories whose ids
//! differ, and read each tree once (a commit's parent trees are the next commit's trees), so the
//! cost follows the number of changes, not the size of the store. (libgit2's `diff_tree_to_tree`
//! gives the same answer but reads every changed directory twice; on the stats benchmark it alone
//! took longer than all of `stats`.)
//!
//! Split by question: `versions` (a role's versions), `ages` (permission ages), `commit_stats`
//! (stats), `rollback` (restores), over the first-parent walks and tree reads in `walk`.

mod ages;
mod commit_stats;
mod rollback;
mod versions;
mod walk;

pub use ages::{account_permission_ages, permission_ages};
pub use commit_stats::{STATS_CSV_HEADER, StatsRow, stats, stats_to_csv};
pub use rollback::{Restore, restore};
pub use versions::{RoleVersion, role_versions};
