//! Counting the overlap of two sorted tag lists.

use venn_crypto::Tag;

/// Number of tags present in both lists. Both must be sorted ascending and
/// free of duplicates (the session checks that before calling).
///
/// A linear merge: `O(n + m)` comparisons, no allocation.
pub(crate) fn sorted_intersection_size(a: &[Tag], b: &[Tag]) -> u64 {
    let (mut i, mut j, mut count) = (0, 0, 0u64);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                count += 1;
                i += 1;
                j += 1;
            }
        }
    }
    count
}

/// Whether `tags` is strictly ascending, starting above `after` if given.
pub(crate) fn strictly_ascending(after: Option<&Tag>, tags: &[Tag]) -> bool {
    let first_ok = match (after, tags.first()) {
        (Some(prev), Some(first)) => prev < first,
        _ => true,
    };
    first_ok && tags.windows(2).all(|w| w[0] < w[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn tags(values: &BTreeSet<u8>) -> Vec<Tag> {
        values.iter().map(|&v| Tag([v; 16])).collect()
    }

    proptest! {
        #[test]
        fn merge_counts_the_set_intersection(a in proptest::collection::btree_set(0u8..64, 0..40),
                                             b in proptest::collection::btree_set(0u8..64, 0..40)) {
            let expected = a.intersection(&b).count() as u64;
            prop_assert_eq!(sorted_intersection_size(&tags(&a), &tags(&b)), expected);
        }
    }

    #[test]
    fn ascending_check_spans_batches() {
        let t = |v| Tag([v; 16]);
        assert!(strictly_ascending(None, &[t(1), t(2)]));
        assert!(strictly_ascending(Some(&t(0)), &[t(1)]));
        assert!(!strictly_ascending(Some(&t(1)), &[t(1)]));
        assert!(!strictly_ascending(None, &[t(2), t(1)]));
        assert!(!strictly_ascending(None, &[t(2), t(2)]));
        assert!(strictly_ascending(Some(&t(9)), &[]));
    }
}
