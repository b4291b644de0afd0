//! A set of catalog actions, stored as a bitset over [`ActionId`]s.
//!
//! Expanding `"*"` or a `NotAction` yields tens of thousands of actions; a bitset keeps union,
//! difference and membership at a few hundred word operations regardless of how broad a policy is.

use super::catalog::ActionId;

/// A set of catalog actions (by [`ActionId`]) as a fixed-size bitset.
#[derive(Clone, Default)]
pub struct ActionSet {
    words: Vec<u64>,
}

impl ActionSet {
    /// The words without trailing zero words, so sets of different capacity compare equal.
    fn significant(&self) -> &[u64] {
        let n = self
            .words
            .iter()
            .rposition(|w| *w != 0)
            .map_or(0, |i| i + 1);
        &self.words[..n]
    }
}

impl PartialEq for ActionSet {
    fn eq(&self, other: &Self) -> bool {
        self.significant() == other.significant()
    }
}

impl Eq for ActionSet {}

impl std::hash::Hash for ActionSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.significant().hash(state);
    }
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl ActionSet {
    /// An empty set able to hold ids below `capacity` without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            words: vec![0; capacity.div_ceil(64)],
        }
    }

    /// The set `{0, 1, …, n-1}`.
    pub fn full(n: usize) -> Self {
        let mut s = Self::with_capacity(n);
        for w in s.words.iter_mut() {
            *w = u64::MAX;
        }
        let rem = n % 64;
        if rem != 0 {
            if let Some(last) = s.words.last_mut() {
                *last = (1u64 << rem) - 1;
            }
        }
        s
    }

    /// Adds `id`; returns true if it was not present.
    pub fn insert(&mut self, id: ActionId) -> bool {
        let (w, b) = (id as usize / 64, id % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let was = self.words[w] & (1 << b) != 0;
        self.words[w] |= 1 << b;
        !was
    }

    /// Adds every id in `start..end`.
    pub fn insert_range(&mut self, start: ActionId, end: ActionId) {
        for id in start..end {
            self.insert(id);
        }
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: ActionId) {
        if let Some(w) = self.words.get_mut(id as usize / 64) {
            *w &= !(1 << (id % 64));
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: ActionId) -> bool {
        self.words
            .get(id as usize / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }

    /// Number of actions in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// Adds every member of `other`.
    pub fn union_with(&mut self, other: &ActionSet) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    /// Removes every member of `other`.
    pub fn difference_with(&mut self, other: &ActionSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Keeps only members also in `other`.
    pub fn intersect_with(&mut self, other: &ActionSet) {
        for (i, a) in self.words.iter_mut().enumerate() {
            *a &= other.words.get(i).copied().unwrap_or(0);
        }
    }

    /// Whether the two sets share a member.
    pub fn intersects(&self, other: &ActionSet) -> bool {
        self.words.iter().zip(&other.words).any(|(a, b)| a & b != 0)
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(&self, other: &ActionSet) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(i, a)| a & !other.words.get(i).copied().unwrap_or(0) == 0)
    }

    /// Members in ascending id order (the catalog's service, then name, order).
    pub fn iter(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some(i as ActionId * 64 + b)
            })
        })
    }
}

impl FromIterator<ActionId> for ActionSet {
    fn from_iter<T: IntoIterator<Item = ActionId>>(iter: T) -> Self {
        let mut s = ActionSet::default();
        for id in iter {
            s.insert(id);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut a: ActionSet = [1, 5, 64, 130].into_iter().collect();
        let b: ActionSet = [5, 130, 200].into_iter().collect();
        assert!(a.intersects(&b));
        assert_eq!(a.len(), 4);
        a.difference_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1, 64]);
        a.union_with(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![1, 5, 64, 130, 200]);
        assert!(b.is_subset(&a));
        assert!(!a.is_subset(&b));
        let full = ActionSet::full(70);
        assert_eq!(full.len(), 70);
        assert!(full.contains(69) && !full.contains(70));
        let mut wide = ActionSet::with_capacity(1000);
        wide.insert(3);
        assert_eq!(wide, [3].into_iter().collect::<ActionSet>());
    }
}
