//! Property tests: random and mutated input to everything a peer or a file
//! can reach, run as part of `cargo test` (6,700 cases here, a few
//! seconds; the crates' own property tests add about 7,000 more: the codec
//! in `venn-protocol`, the reader and every normalizer in `venn-ids`, the
//! point decoder in `venn-crypto`).
//!
//! A protocol session is driven honestly to a random point of the exchange,
//! then handed a random frame, a random well-formed message, or an honest
//! frame with one byte changed. Whatever it is, the session must not panic;
//! if it refuses the frame, the refusal is final (every later call returns
//! the same error, no result is ever reported) and what it sends next is at
//! most an Abort.

use std::{collections::VecDeque, path::Path};

use proptest::prelude::*;
use venn_protocol::Machine;
use venn_protocol::{
    codec, AbortReason, Element, ElementSet, LabeledSet, Message, Policy, Role, SegmentConfig, SegmentSession, Session,
    SessionConfig,
};

fn element(i: u32) -> Element {
    use sha2::Digest;
    Element(sha2::Sha256::digest(i.to_le_bytes()).into())
}

fn count_session(range: std::ops::Range<u32>) -> Session {
    let config = SessionConfig { batch_size: 4, ..SessionConfig::new(Policy::permissive(), b"fuzz".to_vec()) };
    Session::new(config, ElementSet::new(range.map(element).collect()).0).unwrap()
}

fn segment_session(role: Role, range: std::ops::Range<u32>) -> SegmentSession {
    let labels = if role == Role::Receiver { 3 } else { 2 };
    let records = range.map(|i| (element(i), (i % u32::from(labels)) as u16)).collect();
    let config = SegmentConfig {
        session: SessionConfig { batch_size: 4, ..SessionConfig::new(Policy::permissive(), b"fuzz".to_vec()) },
        role,
        labels,
        agreement: [7; 32],
        reveal_segment_sizes: false,
    };
    SegmentSession::new(config, LabeledSet::new(records).0).unwrap()
}

/// Runs `a` and `b` honestly, but hands `a` only the first `cut` of `b`'s
/// messages; returns the next message `b` would have handed `a`, if any.
fn drive_to<M: Machine>(a: &mut M, b: &mut M, cut: usize) -> Option<Vec<u8>> {
    let mut to_a: VecDeque<Vec<u8>> = VecDeque::new();
    let mut delivered = 0;
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(t) = a.poll_transmit() {
            let _ = b.handle_message(&t.payload);
            moved = true;
        }
        while let Some(t) = b.poll_transmit() {
            to_a.push_back(t.payload);
            moved = true;
        }
        if delivered < cut {
            if let Some(next) = to_a.pop_front() {
                let _ = a.handle_message(&next);
                delivered += 1;
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }
    to_a.pop_front()
}

/// Feeds `frame` to `a` and checks the promises of a refusal.
fn check_frame<M: Machine>(a: &mut M, frame: &[u8]) -> Result<(), TestCaseError> {
    let finished_before = a.outcome().cloned();
    match a.handle_message(frame) {
        Ok(()) => prop_assert!(a.error().is_none()),
        Err(e) => {
            // A finished session keeps its result; anything else fails for good.
            if let Some(outcome) = finished_before {
                prop_assert_eq!(a.outcome(), Some(&outcome));
                return Ok(());
            }
            prop_assert!(a.is_done());
            prop_assert_eq!(a.error(), Some(&e));
            prop_assert!(a.outcome().is_none());
            prop_assert_eq!(a.handle_message(frame), Err(e.clone()));
            let sent: Vec<_> = std::iter::from_fn(|| a.poll_transmit()).collect();
            prop_assert!(sent.len() <= 1, "{} messages after a failure", sent.len());
            for t in sent {
                prop_assert!(matches!(codec::decode(&t.payload), Ok(Message::Abort(_))));
            }
            prop_assert!(a.outcome().is_none());
        }
    }
    Ok(())
}

/// A frame: random bytes, a random well-formed message, or the honest next
/// frame with one byte changed.
#[derive(Debug, Clone)]
enum Frame {
    Random(Vec<u8>),
    Points(Vec<[u8; 32]>),
    Tags(Vec<[u8; 16]>),
    Confirm([u8; 32]),
    Abort(u8),
    Hello { version: u16, set_size: u64, nonce: [u8; 32] },
    Flip { at: usize, xor: u8 },
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..160).prop_map(Frame::Random),
        proptest::collection::vec(any::<[u8; 32]>(), 0..6).prop_map(Frame::Points),
        proptest::collection::vec(any::<[u8; 16]>(), 0..6).prop_map(Frame::Tags),
        any::<[u8; 32]>().prop_map(Frame::Confirm),
        (0u8..5).prop_map(Frame::Abort),
        (0u16..3, prop_oneof![0u64..40, any::<u64>()], any::<[u8; 32]>())
            .prop_map(|(version, set_size, nonce)| Frame::Hello { version, set_size, nonce }),
        (any::<usize>(), 1u8..=255).prop_map(|(at, xor)| Frame::Flip { at, xor }),
    ]
}

/// The bytes of `frame`, given the honest next frame and an honest Hello.
fn bytes_of(frame: &Frame, next: Option<&[u8]>, hello: &[u8]) -> Vec<u8> {
    let reasons = [
        AbortReason::VersionMismatch,
        AbortReason::PolicyRefused,
        AbortReason::ProtocolViolation,
        AbortReason::ConfirmationMismatch,
        AbortReason::Cancelled,
    ];
    match frame {
        Frame::Random(bytes) => bytes.clone(),
        Frame::Points(points) => codec::encode(&Message::Points(points.clone())),
        Frame::Tags(tags) => codec::encode(&Message::Tags(tags.clone())),
        Frame::Confirm(c) => codec::encode(&Message::Confirm(*c)),
        Frame::Abort(i) => codec::encode(&Message::Abort(reasons[*i as usize % reasons.len()])),
        Frame::Hello { version, set_size, nonce } => match codec::decode(hello) {
            Ok(Message::Hello(mut h)) => {
                h.version = *version;
                h.set_size = *set_size;
                h.nonce = *nonce;
                codec::encode(&Message::Hello(h))
            }
            _ => hello.to_vec(),
        },
        Frame::Flip { at, xor } => {
            let mut bytes = next.unwrap_or(hello).to_vec();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] ^= xor;
            }
            bytes
        }
    }
}

fn honest_hello<M: Machine>(m: &mut M) -> Vec<u8> {
    m.poll_transmit().map(|t| t.payload).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn count_session_survives_any_frame_at_any_point(cut in 0usize..14, frame in frame()) {
        let mut a = count_session(0..10);
        let mut b = count_session(5..17);
        let hello = honest_hello(&mut count_session(0..1));
        let next = drive_to(&mut a, &mut b, cut);
        check_frame(&mut a, &bytes_of(&frame, next.as_deref(), &hello))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn segment_session_survives_any_frame_at_any_point(
        cut in 0usize..14,
        frame in frame(),
        receiver_is_a in any::<bool>(),
    ) {
        let (role_a, role_b) = if receiver_is_a { (Role::Receiver, Role::Aggregator) } else { (Role::Aggregator, Role::Receiver) };
        let mut a = segment_session(role_a, 0..8);
        let mut b = segment_session(role_b, 4..12);
        let hello = honest_hello(&mut segment_session(role_b, 0..1));
        let next = drive_to(&mut a, &mut b, cut);
        check_frame(&mut a, &bytes_of(&frame, next.as_deref(), &hello))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// CSV files of random bytes and of CSV-shaped text, under every
    /// identifier type, delimiter and strictness: a whole-file error or a
    /// consistent count, never a panic.
    #[test]
    fn csv_reader_keeps_its_counts_on_any_file(
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            "[a-z0-9@.;,|\t\"\r\n +-]{0,300}".prop_map(String::into_bytes),
        ],
        header in prop_oneof![Just(&b"id"[..]), Just(&b"\xef\xbb\xbfid,x\r\n"[..]), Just(&b"x;id\n"[..]), Just(&b""[..])],
        id_type in proptest::sample::select(venn_ids::IdType::ALL.to_vec()),
        delimiter in proptest::sample::select(vec![b',', b';', b'\t', b'|']),
        strict in any::<bool>(),
    ) {
        let mut csv = header.to_vec();
        if !header.is_empty() && !header.ends_with(b"\n") {
            csv.push(b'\n');
        }
        csv.extend_from_slice(&body);
        let options = venn_ids::ReadOptions { delimiter, strict, ..venn_ids::ReadOptions::new("id", id_type) };
        if let Ok(o) = venn_ids::read_identifiers_from(csv.as_slice(), Path::new("fuzz.csv"), &options) {
            prop_assert_eq!(o.rows_read, o.valid + o.skipped_by_reason.total());
            prop_assert_eq!(o.distinct() as u64, o.valid - o.duplicates);
            prop_assert!(o.digests.windows(2).all(|w| w[0] < w[1]), "digests sorted and distinct");
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Every identifier type on any string, and on strings shaped like each
    /// type: the digest is a function of the field (the same field always
    /// gives the same digest or the same skip reason), and for every text
    /// type a field padded with surrounding whitespace gets the digest (or
    /// the skip reason) of the field itself: `venn` trims, so a padded cell
    /// matches its clean twin.
    #[test]
    fn identifier_digests_are_a_function_of_the_field(
        field in prop_oneof![
            "\\PC{0,40}",
            "[a-zA-Z0-9._+]{1,12}@[a-z0-9]{1,10}\\.(com|org|co\\.uk)",
            "\\+1 ?\\(?[2-9][0-9]{2}\\)? ?[2-9][0-9]{2}-?[0-9]{4}",
            "[0-9a-fA-F]{64}",
            "[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}",
        ],
        pad in "[ \t]{0,3}",
    ) {
        use venn_ids::{EmailProfile, IdType, Normalizer, Region};
        for id_type in IdType::ALL {
            let mut n = Normalizer::new(id_type, EmailProfile::Standard, Region::US);
            let once = n.digest(field.as_bytes());
            prop_assert_eq!(once, n.digest(field.as_bytes()));
            if id_type != IdType::Raw {
                let padded = format!("{pad}{field}{pad}");
                prop_assert_eq!(n.digest(padded.as_bytes()), once, "{:?}", id_type);
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Fingerprints as people paste them: any string parses or is refused,
    /// and 64 hex digits with separators round-trip.
    #[test]
    fn fingerprints_parse_or_are_refused(s in "\\PC{0,80}", bytes in any::<[u8; 32]>(), sep in "[:\\- ]?") {
        let _ = s.parse::<venn_net::Fingerprint>();
        let fp = venn_net::Fingerprint(bytes);
        let written = bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(&sep);
        prop_assert_eq!(written.parse::<venn_net::Fingerprint>().ok(), Some(fp));
    }
}
