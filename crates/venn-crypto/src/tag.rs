//! Truncated doubly-blinded values.
//!
//! The last exchange of the protocol sends one value per record back to its
//! owner. The full 32-byte encoding is not needed there: equality is all that
//! is tested, so Venn keeps the first [`TAG_LEN`] bytes of the canonical
//! encoding of `a·b·H(x)`.
//!
//! # Collision bound
//! Doubly-blinded points of distinct identifiers are independent uniform
//! group elements (random-oracle model). A canonical ristretto255 encoding
//! is a non-negative field element, so the lowest bit of its first byte is
//! always zero: the 16-byte prefix carries 127 nearly uniform bits. A false
//! match between any of the `n_A·n_B` cross pairs therefore happens with
//! probability at most about `n_A·n_B / 2^127` (roughly the `n_A·n_B/2^128`
//! of a full 128-bit tag): for two lists of a billion records each, below
//! 2^-67.

use crate::PointBytes;

/// Bytes kept of a doubly-blinded point.
pub const TAG_LEN: usize = 16;

/// The first 16 bytes of the encoding of a doubly-blinded point. Ordered
/// byte-wise so that a list of tags can be sorted and merged.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag(pub [u8; TAG_LEN]);

impl Tag {
    /// Truncates a compressed point.
    pub fn from_point_bytes(bytes: &PointBytes) -> Self {
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&bytes[..TAG_LEN]);
        Self(tag)
    }

    /// The tag as a big-endian integer, so that integer order equals the
    /// byte-wise order (handy for radix sorting).
    pub fn to_u128(self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A tag is pseudorandom and session-bound; a short prefix is enough
        // to tell tags apart in test failures.
        write!(f, "Tag({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_order_is_byte_order() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        a[0] = 1;
        b[15] = 0xff;
        let (ta, tb) = (Tag::from_point_bytes(&a), Tag::from_point_bytes(&b));
        assert_eq!(ta.cmp(&tb), ta.to_u128().cmp(&tb.to_u128()));
        assert!(ta > tb);
    }

    #[test]
    fn truncation_keeps_the_prefix() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(Tag::from_point_bytes(&bytes).0, std::array::from_fn(|i| i as u8));
    }
}
