//! Protocol errors, split by whose fault they are (as rustls does): bytes
//! that do not decode, a peer that breaks the rules, a peer we cannot work
//! with, a policy refusal, or a peer that gave up.

use thiserror::Error;
use venn_crypto::CryptoError;

use crate::{AbortReason, PolicyViolation};

/// Bytes that are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The frame is longer than any legal message.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    Oversize {
        /// Frame length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The bytes do not parse as a message.
    #[error("malformed message: {reason}")]
    Malformed {
        /// The decoder's explanation.
        reason: String,
    },
    /// A message whose encoding is not the canonical one (e.g. an overlong
    /// integer): every message has exactly one accepted encoding.
    #[error("non-canonical message encoding")]
    NonCanonical,
    /// A message parsed but bytes were left over.
    #[error("{extra} trailing bytes after the message")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
}

/// A well-formed message that the rules forbid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Misbehavior {
    /// A message that does not belong to the current phase.
    #[error("unexpected {message} message while {phase}")]
    UnexpectedMessage {
        /// Kind of the message received.
        message: &'static str,
        /// What this party was doing.
        phase: &'static str,
    },
    /// The peer sent more points than it announced.
    #[error("peer sent more points than the {announced} it announced")]
    TooManyPoints {
        /// Announced total.
        announced: u64,
    },
    /// The peer's stream ended before all announced points arrived.
    #[error("peer sent {received} points but announced {announced}")]
    TooFewPoints {
        /// Announced total.
        announced: u64,
        /// Points received.
        received: u64,
    },
    /// A batch with no items.
    #[error("peer sent an empty {message} batch")]
    EmptyBatch {
        /// Kind of the batch.
        message: &'static str,
    },
    /// A batch over [`crate::MAX_ITEMS_PER_MESSAGE`].
    #[error("peer sent a batch of {len} items, above the limit")]
    OversizeBatch {
        /// Items in the batch.
        len: usize,
    },
    /// An invalid point encoding or the identity, with its position in the
    /// peer's whole stream.
    #[error("peer point {index}: {source}")]
    InvalidPoint {
        /// Index in the peer's stream.
        index: u64,
        /// What was wrong with it.
        source: CryptoError,
    },
    /// The peer sent the same blinded identifier twice, which an honest peer
    /// never does (it deduplicates its set).
    #[error("peer sent duplicate points")]
    DuplicatePoints,
    /// Tags arrived before this party finished sending its points.
    #[error("peer returned tags before receiving all of our points")]
    TagsBeforePoints,
    /// More tags than this party sent points.
    #[error("peer returned more tags than the {expected} points we sent")]
    TooManyTags {
        /// Points this party sent.
        expected: u64,
    },
    /// Returned tags not in strictly ascending order.
    #[error("peer returned tags out of order")]
    UnsortedTags,
    /// Segment mode: the peer's labels do not fit the batch or are out of
    /// range.
    #[error("peer sent labels that do not match its records")]
    BadLabels,
    /// Segment mode: the peer's keys are invalid.
    #[error("peer sent invalid label keys: {0}")]
    BadKeys(CryptoError),
    /// Segment mode: the receiver sent its points before returning all of
    /// the aggregator's tags.
    #[error("peer sent its points before returning our tags")]
    PointsBeforeTags,
    /// Segment mode: the receiver's label ciphertexts are not proven
    /// one-hot (a proof is malformed or the batch equation fails).
    #[error("peer's label ciphertexts are not proven one-hot: {0}")]
    UnprovenLabels(CryptoError),
    /// Index mode: the platform's sum proof is malformed or does not verify
    /// under the index's public key: it evaluated with another key.
    #[error("peer's proof of its evaluations does not verify under the index's key")]
    BadProof,
    /// Segment mode: the announced stream size does not fit the set size.
    #[error("peer announced {stream} records for a set of {set}, outside what padding allows")]
    BadStreamSize {
        /// Records announced.
        stream: u64,
        /// The announced set size.
        set: u64,
    },
    /// Segment mode: in an exact release the aggregator's own totals differ
    /// from the released ones.
    #[error("peer released totals that differ from the overlap we counted")]
    InconsistentRelease,
    /// Segment mode: a ciphertext that decrypts to nothing valid.
    #[error("peer sent a ciphertext that decrypts to no valid label")]
    BadCiphertext,
    /// Segment mode: the released table does not have the agreed shape.
    #[error("peer released a table of the wrong shape")]
    BadRelease,
    /// The peer used our own nonce: a reflected handshake.
    #[error("peer echoed our handshake nonce")]
    ReflectedNonce,
    /// The peer's confirmation differs from ours: it computed another count,
    /// or replayed messages of another session. (The confirmation is not
    /// keyed: it catches honest disagreement and verbatim replays, not a
    /// malicious peer that lies consistently.)
    #[error("peer's confirmation does not match ours")]
    ConfirmationMismatch,
    /// The connection ended before the protocol finished.
    #[error("peer went away while {phase}")]
    UnexpectedEnd {
        /// What this party was doing.
        phase: &'static str,
    },
}

/// A peer we cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Incompatibility {
    /// One side wants a plain count, the other segments.
    #[error("we run a {ours} match but the peer runs a {theirs} match")]
    ModeMismatch {
        /// Our mode.
        ours: &'static str,
        /// Theirs.
        theirs: &'static str,
    },
    /// Index mode: the parties do not hold the same index, or play the same
    /// side.
    #[error("index mismatch: {what}")]
    IndexMismatch {
        /// What differs.
        what: &'static str,
    },
    /// The agreement files differ.
    #[error("agreement mismatch: ours has SHA-256 {ours}, the peer's has {theirs}")]
    AgreementMismatch {
        /// Hex SHA-256 of ours.
        ours: String,
        /// Hex SHA-256 of theirs.
        theirs: String,
    },
    /// Both sides claim the same role.
    #[error("both parties want to be the {0}; the agreement gives each one role")]
    SameRole(crate::Role),
    /// One side reveals its labels in the clear and the other does not agree.
    #[error("only one side passed --reveal-segment-sizes; both must")]
    RevealMismatch,
    /// A side has more label combinations than the policy allows.
    #[error("{side} segments make {labels} label combinations, above the limit of {max}")]
    TooManyLabels {
        /// Whose.
        side: crate::Side,
        /// How many.
        labels: u16,
        /// The merged limit.
        max: u16,
    },
    /// Different protocol versions.
    #[error("peer speaks protocol version {theirs}, we speak {ours}")]
    VersionMismatch {
        /// Ours.
        ours: u16,
        /// Theirs.
        theirs: u16,
    },
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// Bytes from the peer that do not decode.
    #[error("invalid message from peer: {0}")]
    InvalidMessage(#[from] DecodeError),
    /// A valid message that breaks the protocol.
    #[error("peer violated the protocol: {0}")]
    PeerMisbehaved(#[from] Misbehavior),
    /// A peer we cannot work with.
    #[error("incompatible peer: {0}")]
    Incompatible(#[from] Incompatibility),
    /// A set size outside the merged policy.
    #[error("policy refused the session: {0}")]
    PolicyRefused(#[from] PolicyViolation),
    /// The peer aborted.
    #[error("peer aborted because {0}")]
    PeerAborted(AbortReason),
    /// The local side cancelled.
    #[error("session cancelled")]
    Cancelled,
    /// The system could not provide randomness for the noise.
    #[error("could not draw differential-privacy noise")]
    NoiseUnavailable,
    /// We refused the session by a local guardrail (a ledger, an expiry);
    /// the peer is told why.
    #[error("we refused the session: {0}")]
    Refused(Refusal),
}

/// Why this party refuses a session by its own guardrails. Each reaches the
/// peer as the [`AbortReason`] of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Refusal {
    /// Our privacy ledger has too little ε left for this peer.
    #[error("our privacy budget (ε) for this peer is spent")]
    PrivacyBudgetSpent,
    /// Index mode, platform: the brand has used its sessions or queried
    /// identifiers for this epoch.
    #[error("the peer's index budget for this epoch (sessions or queried identifiers) is spent")]
    IndexBudgetSpent,
    /// Index mode, platform: our index epoch is over.
    #[error("our index epoch has expired; publish a new index")]
    IndexExpired,
}

impl Refusal {
    /// What the peer is told.
    pub fn abort_reason(self) -> AbortReason {
        match self {
            Self::PrivacyBudgetSpent => AbortReason::PrivacyBudgetSpent,
            Self::IndexBudgetSpent => AbortReason::IndexBudgetSpent,
            Self::IndexExpired => AbortReason::IndexExpired,
        }
    }
}

impl ProtocolError {
    /// What to tell the peer when this error ends the session, if anything.
    pub(crate) fn abort_reason(&self) -> Option<AbortReason> {
        Some(match self {
            Self::InvalidMessage(_) => AbortReason::ProtocolViolation,
            Self::PeerMisbehaved(Misbehavior::ConfirmationMismatch) => AbortReason::ConfirmationMismatch,
            Self::PeerMisbehaved(Misbehavior::UnexpectedEnd { .. }) => return None,
            Self::PeerMisbehaved(_) => AbortReason::ProtocolViolation,
            Self::Incompatible(Incompatibility::VersionMismatch { .. }) => AbortReason::VersionMismatch,
            Self::Incompatible(Incompatibility::IndexMismatch { .. }) => AbortReason::IndexMismatch,
            Self::Incompatible(_) => AbortReason::AgreementMismatch,
            Self::PolicyRefused(_) => AbortReason::PolicyRefused,
            Self::PeerAborted(_) => return None,
            Self::Cancelled | Self::NoiseUnavailable => AbortReason::Cancelled,
            Self::Refused(refusal) => refusal.abort_reason(),
        })
    }
}
