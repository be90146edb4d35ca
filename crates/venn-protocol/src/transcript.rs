//! Values both parties derive from the handshake: the session id, the
//! hash-to-group domain, and the final confirmation.
//!
//! Every input is length-prefixed or fixed-length, so no two different
//! inputs hash the same byte string.

use sha2::{Digest, Sha256};
use venn_crypto::DomainTag;

use crate::message::NONCE_LEN;

/// 32 bytes that name one session: `SHA-256("venn/v1/session-id" ‖ version ‖
/// lower nonce ‖ higher nonce ‖ len(binding) ‖ binding)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({})", self.to_hex())
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The two nonces in canonical (byte-wise ascending) order. The order also
/// decides which side's size comes first in the confirmation.
pub(crate) fn ordered<'a>(
    ours: &'a [u8; NONCE_LEN],
    theirs: &'a [u8; NONCE_LEN],
) -> (&'a [u8; NONCE_LEN], &'a [u8; NONCE_LEN]) {
    if ours <= theirs {
        (ours, theirs)
    } else {
        (theirs, ours)
    }
}

/// Derives the session id. The channel binding (the TLS exporter of the
/// transport) ties the session to one authenticated connection, so messages
/// of this session cannot be spliced into another.
pub(crate) fn session_id(
    version: u16,
    ours: &[u8; NONCE_LEN],
    theirs: &[u8; NONCE_LEN],
    channel_binding: &[u8],
) -> SessionId {
    let (low, high) = ordered(ours, theirs);
    SessionId(
        Sha256::new()
            .chain_update(b"venn/v1/session-id")
            .chain_update(version.to_be_bytes())
            .chain_update(low)
            .chain_update(high)
            .chain_update((channel_binding.len() as u64).to_be_bytes())
            .chain_update(channel_binding)
            .finalize()
            .into(),
    )
}

/// The hash-to-group domain of a session: a fixed suite label followed by
/// the session id, so `H(x)` differs in every session and blinded points
/// recorded in one session are useless in any other.
pub(crate) fn hash_domain(id: &SessionId) -> DomainTag {
    let mut dst = b"VENN-V1-ristretto255_XMD:SHA-512_R255MAP_RO_".to_vec();
    dst.extend_from_slice(&id.0);
    // 44 + 32 bytes is within RFC 9380's 255-byte limit.
    DomainTag::new(&dst).unwrap_or_else(|_| unreachable!("76-byte tag is valid"))
}

/// `SHA-256("venn/v1/confirm" ‖ session id ‖ size of the lower-nonce side ‖
/// size of the other side ‖ overlap)`.
pub(crate) fn confirmation(id: &SessionId, low_size: u64, high_size: u64, overlap: u64) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"venn/v1/confirm")
        .chain_update(id.0)
        .chain_update(low_size.to_be_bytes())
        .chain_update(high_size.to_be_bytes())
        .chain_update(overlap.to_be_bytes())
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_id_is_symmetric() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        assert_eq!(session_id(1, &a, &b, b"tls"), session_id(1, &b, &a, b"tls"));
    }

    #[test]
    fn session_id_depends_on_every_input() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let base = session_id(1, &a, &b, b"tls");
        assert_ne!(base, session_id(2, &a, &b, b"tls"));
        assert_ne!(base, session_id(1, &[3; 32], &b, b"tls"));
        assert_ne!(base, session_id(1, &a, &b, b"tlx"));
        assert_ne!(base, session_id(1, &a, &b, b""));
    }

    #[test]
    fn confirmation_binds_sizes_and_count() {
        let id = SessionId([5; 32]);
        let c = confirmation(&id, 10, 20, 3);
        assert_ne!(c, confirmation(&id, 20, 10, 3));
        assert_ne!(c, confirmation(&id, 10, 20, 4));
        assert_ne!(c, confirmation(&SessionId([6; 32]), 10, 20, 3));
    }
}
