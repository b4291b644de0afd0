//! A set of catalog actions, stored as a bitset over [`ActionId`]s.
//!
//! Expanding `"*"` or a `NotAction` yields tens of thousands of actions; a bitset keeps union,
//! difference and membership at a few hundred word operations regardless of how broad a policy is.
//! Most sets are small (one exact action, one service's `Prefix*` range), so the bitset only spans
//! the words between its lowest and highest member: a set holding one action is one word.

/// Index of an action in a [`Catalog`](super::Catalog). Defined beside [`ActionSet`] (not in the
/// catalog, which builds sets) so the two modules do not import each other.
pub type ActionId = u32;

/// A set of catalog actions (by [`ActionId`]) as a bitset spanning words
/// `offset..offset + words.len()`.
#[derive(Clone, Default)]
pub struct ActionSet {
    offset: usize,
    words: Vec<u64>,
}

impl std::fmt::Debug for ActionSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl PartialEq for ActionSet {
    fn eq(&self, other: &Self) -> bool {
        let (lo, hi) = (self.offset.min(other.offset), self.end().max(other.end()));
        (lo..hi).all(|w| self.word(w) == other.word(w))
    }
}

impl Eq for ActionSet {}

impl std::hash::Hash for ActionSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for id in self.iter() {
            id.hash(state);
        }
    }
}

impl ActionSet {
    /// An empty set. (The capacity is a hint only; sets grow as needed.)
    pub fn with_capacity(_capacity: usize) -> Self {
        Self::default()
    }

    /// The set `{0, 1, …, n-1}`.
    pub fn full(n: usize) -> Self {
        let mut s = Self::default();
        s.insert_range(0, n as ActionId);
        s
    }

    fn end(&self) -> usize {
        self.offset + self.words.len()
    }

    fn word(&self, w: usize) -> u64 {
        if w >= self.offset {
            self.words.get(w - self.offset).copied().unwrap_or(0)
        } else {
            0
        }
    }

    /// Makes the span cover words `lo..hi`.
    fn reserve_span(&mut self, lo: usize, hi: usize) {
        if self.words.is_empty() {
            self.offset = lo;
            self.words.resize(hi - lo, 0);
            return;
        }
        if lo < self.offset {
            let grow = self.offset - lo;
            self.words.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = lo;
        }
        if hi > self.end() {
            let len = hi - self.offset;
            self.words.resize(len, 0);
        }
    }

    /// Adds `id`; returns true if it was not present.
    pub fn insert(&mut self, id: ActionId) -> bool {
        let w = id as usize / 64;
        self.reserve_span(w, w + 1);
        let slot = &mut self.words[w - self.offset];
        let bit = 1u64 << (id % 64);
        let was = *slot & bit != 0;
        *slot |= bit;
        !was
    }

    /// Adds every id in `start..end`.
    pub fn insert_range(&mut self, start: ActionId, end: ActionId) {
        if start >= end {
            return;
        }
        let (first, last) = (start as usize / 64, (end as usize - 1) / 64);
        self.reserve_span(first, last + 1);
        for w in first..=last {
            let lo = if w == first { start as usize % 64 } else { 0 };
            let hi = if w == last {
                (end as usize - 1) % 64
            } else {
                63
            };
            let mask = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
            self.words[w - self.offset] |= mask;
        }
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: ActionId) {
        let w = id as usize / 64;
        if w >= self.offset && w < self.end() {
            self.words[w - self.offset] &= !(1 << (id % 64));
        }
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: ActionId) -> bool {
        self.word(id as usize / 64) & (1 << (id % 64)) != 0
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
        let Some((lo, hi)) = other.nonzero_span() else {
            return;
        };
        self.reserve_span(lo, hi);
        for w in lo..hi {
            self.words[w - self.offset] |= other.words[w - other.offset];
        }
    }

    /// Removes every member of `other`.
    pub fn difference_with(&mut self, other: &ActionSet) {
        let (lo, hi) = (self.offset.max(other.offset), self.end().min(other.end()));
        for w in lo..hi {
            self.words[w - self.offset] &= !other.words[w - other.offset];
        }
    }

    /// Keeps only members also in `other`.
    pub fn intersect_with(&mut self, other: &ActionSet) {
        let offset = self.offset;
        for (i, a) in self.words.iter_mut().enumerate() {
            *a &= other.word(offset + i);
        }
    }

    /// Whether the two sets share a member.
    pub fn intersects(&self, other: &ActionSet) -> bool {
        let (lo, hi) = (self.offset.max(other.offset), self.end().min(other.end()));
        (lo..hi).any(|w| self.words[w - self.offset] & other.words[w - other.offset] != 0)
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(&self, other: &ActionSet) -> bool {
        let offset = self.offset;
        self.words
            .iter()
            .enumerate()
            .all(|(i, a)| a & !other.word(offset + i) == 0)
    }

    /// The members in `start..end`.
    pub fn restricted(&self, start: ActionId, end: ActionId) -> ActionSet {
        let mut out = ActionSet::default();
        if start >= end {
            return out;
        }
        let (first, last) = (start as usize / 64, (end as usize - 1) / 64);
        let (lo, hi) = (first.max(self.offset), (last + 1).min(self.end()));
        if lo >= hi {
            return out;
        }
        out.offset = lo;
        out.words = self.words[lo - self.offset..hi - self.offset].to_vec();
        if lo == first {
            out.words[0] &= u64::MAX << (start % 64);
        }
        if hi == last + 1 {
            let top = (end as usize - 1) % 64;
            if let Some(w) = out.words.last_mut() {
                *w &= u64::MAX >> (63 - top);
            }
        }
        out
    }

    /// Whether every id in `start..end` is a member.
    pub fn contains_range(&self, start: ActionId, end: ActionId) -> bool {
        if start >= end {
            return true;
        }
        let (first, last) = (start as usize / 64, (end as usize - 1) / 64);
        (first..=last).all(|w| {
            let lo = if w == first { start as usize % 64 } else { 0 };
            let hi = if w == last {
                (end as usize - 1) % 64
            } else {
                63
            };
            let mask = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
            self.word(w) & mask == mask
        })
    }

    /// The smallest member `>= id`.
    pub fn next_at_or_after(&self, id: ActionId) -> Option<ActionId> {
        let w = (id as usize / 64).max(self.offset);
        let mut i = w.checked_sub(self.offset)?;
        let mut word = *self.words.get(i)?;
        if w == id as usize / 64 {
            word &= u64::MAX << (id % 64);
        }
        loop {
            if word != 0 {
                return Some(((self.offset + i) * 64) as ActionId + word.trailing_zeros());
            }
            i += 1;
            word = *self.words.get(i)?;
        }
    }

    fn nonzero_span(&self) -> Option<(usize, usize)> {
        let first = self.words.iter().position(|w| *w != 0)?;
        let last = self.words.iter().rposition(|w| *w != 0)?;
        Some((self.offset + first, self.offset + last + 1))
    }

    /// Members in ascending id order (the catalog's service, then name, order).
    pub fn iter(&self) -> impl Iterator<Item = ActionId> + '_ {
        let offset = self.offset;
        self.words.iter().enumerate().flat_map(move |(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros();
                w &= w - 1;
                Some((offset + i) as ActionId * 64 + b)
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
    use proptest::prelude::*;

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
        let mut high = ActionSet::default();
        high.insert(1000);
        assert_eq!(high.words.len(), 1);
        assert_eq!(high, [1000].into_iter().collect::<ActionSet>());
        high.insert(3);
        assert_eq!(high.iter().collect::<Vec<_>>(), vec![3, 1000]);
    }

    proptest! {
        /// The bitset agrees with a BTreeSet model on every operation.
        #[test]
        fn agrees_with_a_model(
            a in prop::collection::btree_set(0u32..2000, 0..40),
            b in prop::collection::btree_set(0u32..2000, 0..40),
            r in (0u32..2000, 0u32..300),
        ) {
            let (sa, sb): (ActionSet, ActionSet) = (a.iter().copied().collect(), b.iter().copied().collect());
            let mut u = sa.clone();
            u.union_with(&sb);
            prop_assert_eq!(u.iter().collect::<Vec<_>>(), a.union(&b).copied().collect::<Vec<_>>());
            let mut d = sa.clone();
            d.difference_with(&sb);
            prop_assert_eq!(d.iter().collect::<Vec<_>>(), a.difference(&b).copied().collect::<Vec<_>>());
            let mut i = sa.clone();
            i.intersect_with(&sb);
            prop_assert_eq!(i.iter().collect::<Vec<_>>(), a.intersection(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(sa.intersects(&sb), !a.is_disjoint(&b));
            prop_assert_eq!(sa.is_subset(&sb), a.is_subset(&b));
            prop_assert_eq!(sa.len(), a.len());
            let mut ranged = sa.clone();
            ranged.insert_range(r.0, r.0 + r.1);
            let model: Vec<u32> = a.iter().copied().chain(r.0..r.0 + r.1).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            prop_assert_eq!(ranged.iter().collect::<Vec<_>>(), model);
            prop_assert_eq!(d == i, d.iter().eq(i.iter()));
            let (lo, hi) = (r.0, r.0 + r.1);
            prop_assert_eq!(sa.restricted(lo, hi).iter().collect::<Vec<_>>(), a.range(lo..hi).copied().collect::<Vec<_>>());
            prop_assert_eq!(sa.next_at_or_after(lo), a.range(lo..).next().copied());
            prop_assert_eq!(ranged.contains_range(lo, hi), true);
            prop_assert_eq!(sa.contains_range(lo, hi), (lo..hi).all(|x| a.contains(&x)));
        }
    }
}
