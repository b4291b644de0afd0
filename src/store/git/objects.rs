//! Building a commit's objects: blobs, the account's, `policies/`'s and the root tree (with extra
//! files), and the commit, loose or as one pack.

use std::path::Path;

use git2::{Commit, ObjectType, Oid, Repository, TreeBuilder};

use super::{MODE_TREE, NewObjects, PolicyStore, account_dir};
use crate::store::POLICIES_DIR;

impl PolicyStore {
    /// Writes the blobs, trees and commit of `o` into `w`'s object database; returns the commit
    /// and every object written, with a path hint for delta compression.
    pub(super) fn write_objects(
        &self,
        w: &Repository,
        o: &NewObjects<'_>,
    ) -> Result<(Oid, Vec<(Oid, String)>), git2::Error> {
        let dir = account_dir(o.account);
        let mut written = Vec::with_capacity(o.files.len() + 4);
        for f in o.files {
            let id = w.blob(f.text.as_bytes())?;
            debug_assert_eq!(id, f.id);
            written.push((id, format!("{dir}/{}.json", f.role)));
        }
        let find = |id: Option<Oid>| id.map(|id| w.find_tree(id)).transpose();

        let old_account = find(o.old_account)?;
        let mut account = w.treebuilder(old_account.as_ref())?;
        for f in o.files {
            account.insert(format!("{}.json", f.role), f.id, f.mode)?;
        }
        for role in o.removed {
            account.remove(format!("{role}.json"))?;
        }
        let account_id = put_tree(account)?;

        let old_policies = find(o.old_policies)?;
        let mut policies = w.treebuilder(old_policies.as_ref())?;
        set_entry(&mut policies, o.account, account_id)?;
        let policies_id = put_tree(policies)?;

        let old_root = find(o.old_root)?;
        let mut root = w.treebuilder(old_root.as_ref())?;
        set_entry(&mut root, POLICIES_DIR, policies_id)?;
        for extra in o.extras {
            let id = w.blob(extra.text.as_bytes())?;
            debug_assert_eq!(id, extra.id);
            written.push((id, extra.path.to_string()));
            let parts: Vec<&str> = extra.path.split('/').collect();
            insert_at(w, &mut root, &parts, id, extra.mode)?;
        }
        // The root tree is written even when empty: a commit needs one.
        let root_id = root.write()?;
        for (id, path) in [(account_id, dir), (policies_id, POLICIES_DIR.to_string())] {
            if let Some(id) = id {
                written.push((id, path));
            }
        }
        if !o.extras.is_empty() {
            // The directories holding extra files, as they are in the new tree (a pack must have
            // every new object).
            let new_root = w.find_tree(root_id)?;
            let mut dirs = std::collections::BTreeSet::new();
            for extra in o.extras {
                let mut end = 0;
                while let Some(i) = extra.path[end..].find('/') {
                    end += i;
                    dirs.insert(&extra.path[..end]);
                    end += 1;
                }
            }
            for d in dirs {
                let entry = new_root.get_path(Path::new(d))?;
                written.push((entry.id(), d.to_string()));
            }
        }
        written.push((root_id, String::new()));

        let tree = w.find_tree(root_id)?;
        let parent = o.parent.map(|id| w.find_commit(id)).transpose()?;
        let parents: Vec<&Commit<'_>> = parent.iter().collect();
        let commit = w.commit(None, &o.signature, &o.signature, o.message, &tree, &parents)?;
        written.push((commit, String::new()));
        Ok((commit, written))
    }

    /// [`Self::write_objects`] for many objects: they are collected in memory and stored as one
    /// pack (delta-compressed, one file) instead of one loose file each.
    pub(super) fn write_objects_packed(&self, o: &NewObjects<'_>) -> Result<Oid, git2::Error> {
        // A second handle whose object database writes to memory; reads fall through to disk.
        let w = Repository::open(self.repo.path())?;
        let odb = w.odb()?;
        let mempack = odb.add_new_mempack_backend(1000)?;
        let (commit, written) = self.write_objects(&w, o)?;
        let mut pb = w.packbuilder()?;
        pb.set_threads(0);
        for (id, path) in &written {
            pb.insert_object(*id, Some(path.as_str()).filter(|p| !p.is_empty()))?;
        }
        let mut pack = git2::Buf::new();
        pb.write_buf(&mut pack)?;
        drop(pb);
        let target = self.repo.odb()?;
        let mut writer = target.packwriter()?;
        std::io::Write::write_all(&mut writer, &pack)
            .map_err(|e| git2::Error::from_str(&format!("writing the pack: {e}")))?;
        writer.commit()?;
        mempack.reset()?;
        Ok(commit)
    }
}

/// Writes a tree builder's tree; `None` (nothing written) when it is empty, as git has no empty
/// directories.
fn put_tree(tb: TreeBuilder<'_>) -> Result<Option<Oid>, git2::Error> {
    if tb.is_empty() {
        Ok(None)
    } else {
        tb.write().map(Some)
    }
}

/// Points `name` at the subtree `id`, or removes it when the subtree is gone.
fn set_entry(tb: &mut TreeBuilder<'_>, name: &str, id: Option<Oid>) -> Result<(), git2::Error> {
    match id {
        Some(id) => tb.insert(name, id, MODE_TREE).map(drop),
        None if tb.get(name)?.is_some() => tb.remove(name),
        None => Ok(()),
    }
}

/// Puts the blob `id` at `parts` (a path split at `/`) under the tree being built by `tb`,
/// creating or updating the directories on the way.
fn insert_at(
    w: &Repository,
    tb: &mut TreeBuilder<'_>,
    parts: &[&str],
    id: Oid,
    mode: i32,
) -> Result<(), git2::Error> {
    match parts {
        [] => Err(git2::Error::from_str("empty path")),
        [name] => tb.insert(*name, id, mode).map(drop),
        [dir, rest @ ..] => {
            let old = match tb.get(*dir)? {
                Some(e) if e.kind() == Some(ObjectType::Tree) => Some(w.find_tree(e.id())?),
                Some(_) => {
                    return Err(git2::Error::from_str(&format!("{dir} is not a directory")));
                }
                None => None,
            };
            let mut sub = w.treebuilder(old.as_ref())?;
            insert_at(w, &mut sub, rest, id, mode)?;
            let sub_id = sub.write()?;
            tb.insert(*dir, sub_id, MODE_TREE).map(drop)
        }
    }
}
