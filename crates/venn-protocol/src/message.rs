//! The messages of the counting protocol.
//!
//! Every message is one frame on the wire. The encoding lives in
//! [`crate::codec`]; this module only says what the messages contain.

use serde::{Deserialize, Serialize};
use venn_crypto::PointBytes;

use crate::{release::Released, Policy};

/// The version this implementation speaks (2: the one-hot proof of segment
/// mode changed shape). A peer announcing another is
/// refused in the handshake.
pub const PROTOCOL_VERSION: u16 = 2;

/// Most points (or tags) one message may carry.
pub const MAX_ITEMS_PER_MESSAGE: usize = 65_536;

/// Length of the handshake nonce.
pub const NONCE_LEN: usize = 32;

/// One protocol message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// First message of each side: who it is speaking as, and how much it
    /// will send.
    Hello(Hello),
    /// A batch of the sender's blinded identifiers, `k_s·H(x)`, in the order
    /// of the sender's random permutation.
    Points(Vec<PointBytes>),
    /// A batch of the receiver's own identifiers doubly blinded and truncated,
    /// `k_s·k_r·H(x)`, in ascending order across the whole stream.
    Tags(Vec<[u8; venn_crypto::TAG_LEN]>),
    /// `H(session id, both sizes, overlap)`: both sides must send the same.
    Confirm([u8; 32]),
    /// The sender gives up; the reason says why.
    Abort(AbortReason),
    /// Segment mode: blinded identifiers with their labels, as in `Points`.
    LabeledPoints {
        /// `k_s·H(x)` per record.
        points: Vec<PointBytes>,
        /// The label of each record.
        labels: Labels,
    },
    /// Segment mode, receiver to aggregator: the aggregator's records as
    /// sorted tags with their re-randomized labels.
    LabeledTags {
        /// Ascending tags.
        tags: Vec<[u8; venn_crypto::TAG_LEN]>,
        /// The label of each tag.
        labels: Labels,
    },
    /// Segment mode, aggregator to receiver: one summed ciphertext per
    /// aggregator label, `receiver labels + 1` points each.
    Accumulators(Vec<PointBytes>),
    /// Segment mode, receiver to aggregator: the released cross-tab.
    Release(Released),
    /// Index mode, platform to brand: `k·X` for every blinded point the
    /// brand sent, in a CSPRNG-shuffled order across the whole session.
    Evaluated(Vec<PointBytes>),
    /// Index mode, platform to brand, after the last `Evaluated`: the
    /// Chaum–Pedersen proof that the outputs sum to `k` times the inputs
    /// under the index's public key ([`venn_crypto::DLEQ_PROOF_LEN`] bytes).
    SumProof(Vec<u8>),
    /// Index mode, brand to platform: the proof verified and the session is
    /// over; the overlap the brand found when it chose to share it.
    IndexDone(Option<u64>),
    /// Index download, brand to platform, first on the fetch stream: send
    /// the index header.
    FetchHeader,
    /// Index download, platform to brand: the index header's bytes (the
    /// header format bounds them: at most [`MAX_FETCH_CHUNK`] of body).
    IndexHeader(Vec<u8>),
    /// Index download, brand to platform: send part `part` (its position in
    /// the header) from byte `offset` to its end.
    FetchPart {
        /// The part's index in the header.
        part: u32,
        /// The first byte wanted.
        offset: u64,
    },
    /// Index download, platform to brand: bytes of a part starting at
    /// `offset` (at most [`MAX_FETCH_CHUNK`]); chunks follow each other up
    /// to the part's end.
    PartChunk {
        /// The part's index in the header.
        part: u32,
        /// Where `bytes` start in the part.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Index download, brand to platform: every part is in; the session
    /// follows on its own stream.
    FetchDone,
}

/// Most bytes of one [`Message::PartChunk`], and of the body of an index
/// header in [`Message::IndexHeader`]: 1 MiB, well under the codec's
/// message bound.
pub const MAX_FETCH_CHUNK: usize = 1 << 20;

/// Labels travelling with a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Labels {
    /// The aggregator's label indices in the clear: its records travel in
    /// label groups padded with dummies, so a label says which group, never
    /// which record.
    Clear(Vec<u16>),
    /// The receiver's one-hot ElGamal ciphertexts (`L + 1` points per
    /// record) with a proof per record that each is one-hot
    /// ([`venn_crypto::proof_len`] bytes each).
    OneHot {
        /// `L + 1` points per record.
        ciphertexts: Vec<PointBytes>,
        /// One proof per record, concatenated.
        proofs: Vec<u8>,
    },
}

/// Which side of a segment match a party plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Learns the cross-tab.
    Receiver,
    /// Matches and adds up; learns the overlap per own label.
    Aggregator,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Receiver => "receiver",
            Role::Aggregator => "aggregator",
        })
    }
}

/// The segment part of a Hello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHello {
    /// The sender's role.
    pub role: Role,
    /// Number of label combinations of the sender.
    pub labels: u16,
    /// SHA-256 of the agreement file both parties signed off.
    pub agreement: [u8; 32],
    /// Whether the aggregator's label groups travel unpadded (their sizes
    /// then reach the receiver exactly).
    pub reveal_segment_sizes: bool,
    /// The receiver's ElGamal public keys, one per label; none from the
    /// aggregator.
    pub keys: Vec<PointBytes>,
    /// Records the sender will stream: its set size, plus the aggregator's
    /// dummies.
    pub stream_size: u64,
}

/// The index part of a Hello: which index the platform serves, or which
/// the brand holds and will look its outputs up in. Both must be the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexHello {
    /// The sender's side.
    pub role: IndexRole,
    /// The index's epoch.
    pub epoch: u64,
    /// The epoch's public key `K = k·G`.
    pub public_key: PointBytes,
    /// SHA-256 of the index header (which names every part's hash).
    pub header_sha256: [u8; 32],
    /// Elements in the index (the platform's audience).
    pub elements: u64,
}

/// A party's side in index mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexRole {
    /// Holds the small list; learns the overlap.
    Brand,
    /// Holds the index and its epoch key; evaluates.
    Platform,
}

/// The handshake message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`PROTOCOL_VERSION`] on both sides.
    pub version: u16,
    /// Fresh randomness; both nonces go into the session id.
    pub nonce: [u8; NONCE_LEN],
    /// Number of distinct identifiers the sender will send.
    pub set_size: u64,
    /// The sender's guardrails.
    pub policy: Policy,
    /// Present in segment mode, absent for a plain count.
    pub segments: Option<SegmentHello>,
    /// Present in index mode (boxed: it would double every message's size).
    pub index: Option<Box<IndexHello>>,
}

/// Why a party aborted, as told to its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbortReason {
    /// The protocol versions differ.
    VersionMismatch,
    /// A set size is outside the merged policy.
    PolicyRefused,
    /// The peer sent something malformed or out of turn.
    ProtocolViolation,
    /// The confirmations differ.
    ConfirmationMismatch,
    /// The agreement files differ, or the roles do not complement.
    AgreementMismatch,
    /// The local side stopped (user interrupt, local failure).
    Cancelled,
    /// A session with this peer would spend more ε than the sender's
    /// privacy budget for it has left.
    PrivacyBudgetSpent,
    /// Index mode: the parties hold different indexes (or play one side).
    IndexMismatch,
    /// Index mode: the brand has used its sessions or its queried
    /// identifiers for this epoch with the platform.
    IndexBudgetSpent,
    /// Index mode: the platform's index epoch is over; it must publish a
    /// new one.
    IndexExpired,
}

impl std::fmt::Display for AbortReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::VersionMismatch => "protocol versions differ",
            Self::PolicyRefused => "a set size violates the policy",
            Self::ProtocolViolation => "it received an invalid message",
            Self::ConfirmationMismatch => "the results did not agree",
            Self::AgreementMismatch => "the agreement or the roles do not match",
            Self::Cancelled => "it was cancelled",
            Self::PrivacyBudgetSpent => "its privacy budget (ε) for sessions with us is spent",
            Self::IndexMismatch => "we do not hold the index it serves (another epoch or platform)",
            Self::IndexBudgetSpent => {
                "our sessions or queried identifiers for this index epoch are spent (its per-brand budget)"
            }
            Self::IndexExpired => "its index epoch has expired; it must publish a new one",
        })
    }
}

impl Message {
    /// A short name for logs and errors; never includes content.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => "Hello",
            Self::Points(_) => "Points",
            Self::Tags(_) => "Tags",
            Self::Confirm(_) => "Confirm",
            Self::Abort(_) => "Abort",
            Self::LabeledPoints { .. } => "LabeledPoints",
            Self::LabeledTags { .. } => "LabeledTags",
            Self::Accumulators(_) => "Accumulators",
            Self::Release(_) => "Release",
            Self::Evaluated(_) => "Evaluated",
            Self::SumProof(_) => "SumProof",
            Self::IndexDone(_) => "IndexDone",
            Self::FetchHeader => "FetchHeader",
            Self::IndexHeader(_) => "IndexHeader",
            Self::FetchPart { .. } => "FetchPart",
            Self::PartChunk { .. } => "PartChunk",
            Self::FetchDone => "FetchDone",
        }
    }
}
