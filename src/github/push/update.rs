//! Explaining a push afterwards: the refs behind a non-fast-forward, and the remote's messages.

use git2::{Oid, Repository};

use super::error::RejectedRef;

/// Lines of the remote's sideband messages (`remote: …`) kept for a rejection's message.
pub(super) const MAX_REMOTE_LINES: usize = 20;

/// A ref update libgit2 negotiated (`push_negotiation`), kept to explain a non-fast-forward.
pub(super) struct Update {
    pub(super) dst_refname: String,
    /// What the remote ref points to now (zero when it does not exist).
    pub(super) remote: Oid,
    /// What it is to point to (zero for a deletion).
    pub(super) local: Oid,
}

/// The refs behind libgit2's "cannot push non-fastforwardable reference", which names none:
/// the updates that are not forced, replace a remote commit, and do not descend from it.
pub(super) fn non_fast_forwards(
    repo: &Repository,
    refspecs: &[&str],
    updates: &[Update],
    message: &str,
) -> Vec<RejectedRef> {
    let forced: Vec<String> = refspecs
        .iter()
        .filter_map(|s| s.strip_prefix('+'))
        .map(|s| full_ref(s.rsplit_once(':').map_or(s, |(_, dst)| dst)))
        .collect();
    let odb = repo.odb().ok();
    let refs: Vec<RejectedRef> = updates
        .iter()
        .filter(|u| !u.local.is_zero() && !u.remote.is_zero() && u.local != u.remote)
        .filter(|u| !forced.contains(&u.dst_refname))
        .filter_map(|u| {
            let known = odb.as_ref().is_some_and(|o| o.exists(u.remote));
            let reason = if !known {
                "non-fast-forward: the remote branch has commits that are not present locally; \
                 fetch them, or force with a leading '+'"
            } else if repo.graph_descendant_of(u.local, u.remote).unwrap_or(false) {
                return None;
            } else {
                "non-fast-forward: the local commit does not contain the remote one; force with \
                 a leading '+'"
            };
            Some(RejectedRef {
                name: u.dst_refname.clone(),
                reason: reason.into(),
            })
        })
        .collect();
    if !refs.is_empty() {
        return refs;
    }
    // Could not tell which: name every ref that was not forced.
    refspecs
        .iter()
        .filter(|s| !s.starts_with('+'))
        .map(|s| RejectedRef {
            name: full_ref(s.rsplit_once(':').map_or(*s, |(_, dst)| dst)),
            reason: message.to_owned(),
        })
        .collect()
}

/// `dst` of a refspec as a full ref name (`main` → `refs/heads/main`).
pub(super) fn full_ref(dst: &str) -> String {
    if dst.starts_with("refs/") {
        dst.to_owned()
    } else {
        format!("refs/heads/{dst}")
    }
}

/// The meaningful lines of the remote's sideband text: no progress meters, last ones only.
pub(super) fn remote_lines(text: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter(|l| !(l.contains("% (") || l.ends_with(", done.")))
        .map(str::to_owned)
        .collect();
    let skip = lines.len().saturating_sub(MAX_REMOTE_LINES);
    lines.into_iter().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_lines_drop_progress() {
        let text = "Resolving deltas:  50% (1/2)\rResolving deltas: 100% (2/2), done.\nerror: GH006: Protected branch update failed\n";
        assert_eq!(
            remote_lines(text),
            vec!["error: GH006: Protected branch update failed"]
        );
    }

    #[test]
    fn full_ref_names() {
        assert_eq!(full_ref("main"), "refs/heads/main");
        assert_eq!(full_ref("refs/tags/v1"), "refs/tags/v1");
    }
}
