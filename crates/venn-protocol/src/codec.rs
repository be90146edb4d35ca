//! The only place that knows the wire encoding (bincode 2 over serde), so
//! that it can be swapped without touching the protocol.
//!
//! Decoding is strict: a frame longer than [`MAX_MESSAGE_BYTES`] is refused
//! before any parsing, bincode's own allocation limit is set to the same
//! bound, trailing bytes after a message are an error, and so is any
//! encoding other than the canonical one.

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};

use crate::{error::DecodeError, message::MAX_ITEMS_PER_MESSAGE, Message};

/// Largest encoded message: a full batch of 32-byte points plus a little
/// framing slack.
pub const MAX_MESSAGE_BYTES: usize = MAX_ITEMS_PER_MESSAGE * 32 + 64;

type Config = Configuration<LittleEndian, Varint, Limit<MAX_MESSAGE_BYTES>>;

fn config() -> Config {
    config::standard().with_limit::<MAX_MESSAGE_BYTES>()
}

/// Encodes a message.
pub fn encode(message: &Message) -> Vec<u8> {
    // Encoding our own message into a Vec cannot fail: every type is plain
    // data, and batches are bounded by the session before they get here.
    bincode::serde::encode_to_vec(message, config()).unwrap_or_default()
}

/// Decodes exactly one message from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::Oversize { len: bytes.len(), max: MAX_MESSAGE_BYTES });
    }
    let (message, used) = bincode::serde::decode_from_slice::<Message, _>(bytes, config())
        .map_err(|e| DecodeError::Malformed { reason: e.to_string() })?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes { extra: bytes.len() - used });
    }
    // Varints admit longer forms of the same value; re-encoding costs a copy
    // of the frame, which is nothing next to the curve work it carries.
    if encode(&message) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{message::Hello, AbortReason, Policy};

    fn samples() -> Vec<Message> {
        vec![
            Message::Hello(Hello {
                version: 1,
                nonce: [7; 32],
                set_size: 42,
                policy: Policy::default(),
                segments: None,
                index: None,
            }),
            Message::Points(vec![[1; 32], [2; 32]]),
            Message::Tags(vec![[3; 16]]),
            Message::Confirm([9; 32]),
            Message::Evaluated(vec![[4; 32]]),
            Message::SumProof(vec![5; 64]),
            Message::IndexDone(Some(12)),
            Message::FetchHeader,
            Message::IndexHeader(vec![1, 2, 3]),
            Message::FetchPart { part: 3, offset: 1 << 40 },
            Message::PartChunk { part: 1, offset: 64, bytes: vec![9; 100] },
            Message::FetchDone,
            Message::Abort(AbortReason::IndexBudgetSpent),
            Message::Abort(AbortReason::IndexExpired),
            Message::Abort(AbortReason::PolicyRefused),
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in samples() {
            assert_eq!(decode(&encode(&m)).unwrap(), m);
        }
    }

    #[test]
    fn a_full_batch_fits_the_limit() {
        let m = Message::Points(vec![[0xab; 32]; MAX_ITEMS_PER_MESSAGE]);
        let bytes = encode(&m);
        assert!(bytes.len() <= MAX_MESSAGE_BYTES, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn a_full_part_chunk_fits_the_limit() {
        let m = Message::PartChunk { part: u32::MAX, offset: u64::MAX, bytes: vec![0xff; crate::MAX_FETCH_CHUNK] };
        let bytes = encode(&m);
        assert!(bytes.len() <= MAX_MESSAGE_BYTES, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn rejects_oversize_frame_before_parsing() {
        let bytes = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert_eq!(decode(&bytes), Err(DecodeError::Oversize { len: MAX_MESSAGE_BYTES + 1, max: MAX_MESSAGE_BYTES }));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = encode(&Message::Confirm([1; 32]));
        bytes.push(0);
        assert_eq!(decode(&bytes), Err(DecodeError::TrailingBytes { extra: 1 }));
    }

    #[test]
    fn rejects_truncated_message() {
        let bytes = encode(&Message::Points(vec![[1; 32]; 3]));
        assert!(matches!(decode(&bytes[..bytes.len() - 1]), Err(DecodeError::Malformed { .. })));
    }

    #[test]
    fn rejects_unknown_variant() {
        assert!(matches!(decode(&[200]), Err(DecodeError::Malformed { .. })));
    }

    #[test]
    fn rejects_length_prefix_claiming_more_than_the_limit() {
        // Variant 1 (Points) followed by a varint length of 2^40 elements.
        let mut bytes = vec![1u8, 253];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(decode(&bytes), Err(DecodeError::Malformed { .. })));
    }

    #[test]
    fn rejects_overlong_varint() {
        // Confirm (variant 3) is canonical as [3, 32 bytes]; variant index 3
        // written as a 3-byte varint (251, 3, 0) must be refused.
        let mut bytes = vec![251u8, 3, 0];
        bytes.extend_from_slice(&[7; 32]);
        assert_eq!(decode(&bytes), Err(DecodeError::NonCanonical));
    }

    #[test]
    fn rejects_empty_input() {
        assert!(matches!(decode(&[]), Err(DecodeError::Malformed { .. })));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn mutated_messages_never_panic(index in 0usize..5, flip in proptest::num::u8::ANY, pos in 0usize..64) {
            let mut bytes = encode(&samples()[index]);
            let at = pos % bytes.len();
            bytes[at] ^= flip;
            let _ = decode(&bytes);
        }
    }
}
