//! Sorting tag lists and counting the overlap of two sorted ones (public
//! for the benches).

use venn_crypto::Tag;

/// Bits of the bucket key for [`sort_tags`]: 2^16 buckets.
const BUCKET_BITS: u32 = 16;

/// Sorts tags ascending.
///
/// Tags are uniformly distributed, so one counting-sort pass on the top 16
/// bits leaves buckets of `n / 65,536` tags on average, which a comparison
/// sort finishes in cache. Two linear passes and one scratch buffer of `n`
/// tags: no per-record allocation. Small inputs go straight to the
/// comparison sort.
pub fn sort_tags(tags: &mut Vec<Tag>) {
    const BUCKETS: usize = 1 << BUCKET_BITS;
    if tags.len() < 4 * BUCKETS {
        tags.sort_unstable();
        return;
    }
    let bucket = |t: &Tag| ((t.0[0] as usize) << 8) | t.0[1] as usize;
    let mut starts = vec![0usize; BUCKETS + 1];
    for t in tags.iter() {
        starts[bucket(t) + 1] += 1;
    }
    for i in 0..BUCKETS {
        starts[i + 1] += starts[i];
    }
    let mut sorted = vec![Tag([0; 16]); tags.len()];
    let mut next = starts.clone();
    for t in tags.iter() {
        let b = bucket(t);
        sorted[next[b]] = *t;
        next[b] += 1;
    }
    for w in starts.windows(2) {
        sorted[w[0]..w[1]].sort_unstable();
    }
    *tags = sorted;
}

/// Number of tags present in both lists. Both must be sorted ascending and
/// free of duplicates (the session checks that before calling).
///
/// A linear merge: `O(n + m)` comparisons, no allocation.
pub fn sorted_intersection_size(a: &[Tag], b: &[Tag]) -> u64 {
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
pub fn strictly_ascending(after: Option<&Tag>, tags: &[Tag]) -> bool {
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
    fn radix_sort_equals_comparison_sort() {
        // Above the threshold, with skewed and duplicate values too.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut tags: Vec<Tag> = (0..300_000)
            .map(|i| {
                let mut t = [0u8; 16];
                t[..8].copy_from_slice(&next().to_be_bytes());
                t[8..].copy_from_slice(&next().to_be_bytes());
                if i % 7 == 0 {
                    t[0] = 0; // a heavy bucket
                    t[1] = 0;
                }
                Tag(t)
            })
            .collect();
        tags.extend_from_within(..1000);
        let mut expected = tags.clone();
        expected.sort_unstable();
        sort_tags(&mut tags);
        assert_eq!(tags, expected);
        let mut small = vec![Tag([3; 16]), Tag([1; 16]), Tag([2; 16])];
        sort_tags(&mut small);
        assert_eq!(small, vec![Tag([1; 16]), Tag([2; 16]), Tag([3; 16])]);
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
