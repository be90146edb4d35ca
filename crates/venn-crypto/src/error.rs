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
    /// More label keys than [`crate::MAX_LABELS`].
    #[error("{count} label keys exceed the limit")]
    TooManyKeys {
        /// Keys offered.
        count: usize,
    },
    /// A label index at or above the number of labels.
    #[error("label {label} is out of range for {labels} labels")]
    LabelOutOfRange {
        /// The label.
        label: usize,
        /// Number of labels.
        labels: usize,
    },
    /// Ciphertext points that do not split into records of the expected width.
    #[error("{len} ciphertext points do not form records of {width}")]
    RaggedCiphertexts {
        /// Points given.
        len: usize,
        /// Points per record.
        width: usize,
    },
    /// A ciphertext that decrypts to no label in range.
    #[error("a ciphertext decrypts to no valid label")]
    UndecryptableLabel,
    /// A one-hot proof buffer whose length is not what the record count and
    /// label count require (see [`crate::proof_len`]).
    #[error("one-hot proofs are {len} bytes, expected {expected}")]
    ProofLength {
        /// Bytes given.
        len: usize,
        /// Bytes required.
        expected: usize,
    },
    /// The proof of record `record` holds a point that is not a canonical
    /// ristretto255 encoding or a scalar that is not canonical (`≥ ℓ`).
    #[error("the one-hot proof of record {record} is malformed")]
    MalformedProof {
        /// Position of the record within its batch.
        record: usize,
    },
    /// The batch of one-hot proofs does not verify: some record's ciphertext
    /// is not a one-hot encryption, or its proof is not for it. Which record
    /// is not reported: the batch check cannot tell, and the whole stream is
    /// refused anyway.
    #[error("the batch of one-hot proofs does not verify")]
    ProofRejected,
    /// Secret key bytes that are not a canonical scalar (`≥ ℓ`) or are zero.
    /// The bytes are not echoed.
    #[error("the secret key is not a canonical non-zero scalar")]
    InvalidSecretKey,
    /// A public key that is not the canonical encoding of a ristretto255
    /// point, or is the identity.
    #[error("the public key is not a valid, non-identity ristretto255 point")]
    InvalidPublicKey,
    /// A sum proof (DLEQ) whose challenge or response is not a canonical
    /// scalar (`≥ ℓ`).
    #[error("the sum proof is malformed")]
    MalformedDleqProof,
    /// A sum proof (DLEQ) that does not verify for the public key, the sums
    /// and the context: the peer evaluated with another key, or its outputs
    /// do not add up to `k` times the inputs.
    #[error("the sum proof does not verify")]
    DleqRejected,
    /// A session whose inputs add up to the identity (no inputs at all, or
    /// inputs that cancel): a sum proof over it says nothing about the
    /// outputs, so it is refused.
    #[error("the inputs of the session add up to the identity")]
    EmptySum,
    /// Not as many outputs as inputs were added to a sum accumulator.
    #[error("{outputs} outputs for {inputs} inputs")]
    CountMismatch {
        /// Input points added.
        inputs: u64,
        /// Output points added.
        outputs: u64,
    },
    /// A domain-separation tag was empty or longer than 255 bytes.
    #[error("domain separation tag must be 1..=255 bytes, got {len}")]
    InvalidDomainTag {
        /// The rejected length.
        len: usize,
    },
}

impl CryptoError {
    /// The position in its batch of the point this error is about, if any.
    pub fn index(&self) -> Option<usize> {
        match self {
            Self::InvalidEncoding { index } | Self::IdentityPoint { index } => Some(*index),
            _ => None,
        }
    }
}
