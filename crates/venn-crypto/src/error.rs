//! Errors of the curve layer.

use thiserror::Error;

/// What can go wrong in the curve layer. Every variant is caused by input
/// that came from outside (a peer's encoding, a caller's tag).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// The 32 bytes at `index` of a batch are not the canonical encoding of
    /// a ristretto255 point.
    #[error("point {index} of the batch is not a valid ristretto255 encoding")]
    InvalidEncoding {
        /// Position of the offending point within its batch.
        index: usize,
    },
    /// The point at `index` is the identity, which would make every
    /// identifier of a party collide and carries no information.
    #[error("point {index} of the batch is the identity element")]
    IdentityPoint {
        /// Position of the offending point within its batch.
        index: usize,
    },
    /// A domain-separation tag was empty or longer than 255 bytes.
    #[error("domain separation tag must be 1..=255 bytes, got {len}")]
    InvalidDomainTag {
        /// The rejected length.
        len: usize,
    },
}
