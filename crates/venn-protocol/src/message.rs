//! The messages of the counting protocol.
//!
//! Every message is one frame on the wire. The encoding lives in
//! [`crate::codec`]; this module only says what the messages contain.

use serde::{Deserialize, Serialize};
use venn_crypto::PointBytes;

use crate::Policy;

/// The version this implementation speaks. A peer announcing another is
/// refused in the handshake.
pub const PROTOCOL_VERSION: u16 = 1;

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
    /// The local side stopped (user interrupt, local failure).
    Cancelled,
}

impl std::fmt::Display for AbortReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::VersionMismatch => "protocol versions differ",
            Self::PolicyRefused => "a set size violates the policy",
            Self::ProtocolViolation => "it received an invalid message",
            Self::ConfirmationMismatch => "the results did not agree",
            Self::Cancelled => "it was cancelled",
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
        }
    }
}
