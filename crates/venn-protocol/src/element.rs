//! A party's input: a set of opaque 32-byte identifier digests.

use rand::seq::SliceRandom;
use rand_core::OsRng;

/// One identifier, already normalized and hashed by its kind (see the
/// `venn-ids` crate). It is as sensitive as the identifier itself: a
/// dictionary attack recovers emails from their hashes. It is therefore
/// never sent, never logged, and its `Debug` prints nothing of it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Element(pub [u8; 32]);

impl AsRef<[u8]> for Element {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Element(<redacted>)")
    }
}

/// A set of distinct elements, in a uniformly random order.
///
/// The random order matters: the peer sees our points in the order we send
/// them and returns tags for them, so any structure in the order (sorted by
/// customer id, by signup date) would be a side channel.
pub struct ElementSet {
    elements: Vec<Element>,
}

impl ElementSet {
    /// Removes duplicates (returning how many), then shuffles with a
    /// permutation drawn from the OS CSPRNG.
    pub fn new(mut elements: Vec<Element>) -> (Self, u64) {
        let before = elements.len();
        elements.sort_unstable();
        elements.dedup();
        let duplicates = (before - elements.len()) as u64;
        elements.shuffle(&mut OsRng);
        (Self { elements }, duplicates)
    }

    /// Number of distinct elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    pub(crate) fn into_vec(self) -> Vec<Element> {
        self.elements
    }
}

impl std::fmt::Debug for ElementSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ElementSet({} elements)", self.elements.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_removed_and_counted() {
        let e = |b| Element([b; 32]);
        let (set, dups) = ElementSet::new(vec![e(1), e(2), e(1), e(3), e(1)]);
        assert_eq!(set.len(), 3);
        assert_eq!(dups, 2);
    }

    #[test]
    fn order_is_shuffled() {
        let elements: Vec<Element> = (0..=255u8).map(|b| Element([b; 32])).collect();
        let (set, _) = ElementSet::new(elements.clone());
        // 256! orders: the sorted one coming back is a 2^-1684 event.
        assert_ne!(set.into_vec(), elements);
    }

    #[test]
    fn debug_redacts() {
        assert_eq!(format!("{:?}", Element([0x41; 32])), "Element(<redacted>)");
    }
}
