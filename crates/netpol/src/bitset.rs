//! A fixed-size bit set over pod indices, used to precompute which pods a selector or peer matches.

/// A set of pod indices stored one bit per pod.
///
/// Selector matches are computed once when the world is built; evaluating a flow then costs one
/// word load and a shift per rule instead of a label comparison.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    /// An empty set able to hold indices `0..len`.
    pub(crate) fn new(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(64)],
        }
    }

    /// Adds `index`; indices beyond the capacity are ignored (they cannot name a pod).
    pub(crate) fn insert(&mut self, index: usize) {
        if let Some(word) = self.words.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    /// Whether `index` is in the set.
    #[inline]
    pub(crate) fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|word| (word >> (index % 64)) & 1 == 1)
    }

    /// The indices in the set, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            (0..64).filter_map(move |bit| ((word >> bit) & 1 == 1).then_some(w * 64 + bit))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::BitSet;

    #[test]
    fn inserted_indices_are_contained_and_others_are_not() {
        let mut set = BitSet::new(130);
        set.insert(0);
        set.insert(64);
        set.insert(129);
        assert!(set.contains(0) && set.contains(64) && set.contains(129));
        assert!(!set.contains(1) && !set.contains(128) && !set.contains(1000));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 64, 129]);
    }
}
