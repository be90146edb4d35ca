//! Scenario tests: two sessions wired together in memory, honest and not.

use std::collections::{HashSet, VecDeque};

use proptest::prelude::*;
use sha2::{Digest, Sha256, Sha512};

use crate::{
    codec, AbortReason, Channel, Element, ElementSet, Event, Hello, Incompatibility, Machine, Message, Misbehavior,
    Outcome, Policy, PolicyViolation, ProtocolError, Session, SessionConfig, Side, MAX_ITEMS_PER_MESSAGE,
    PROTOCOL_VERSION,
};

/// Elements as `venn-ids` would make them: a hash of the identifier.
fn element(id: u64) -> Element {
    Element(Sha256::digest(format!("user{id}@example.com")).into())
}

fn set(ids: impl IntoIterator<Item = u64>) -> ElementSet {
    ElementSet::new(ids.into_iter().map(element).collect()).0
}

fn session(ids: impl IntoIterator<Item = u64>) -> Session {
    session_with(Policy::permissive(), ids, 1024)
}

fn session_with(policy: Policy, ids: impl IntoIterator<Item = u64>, batch: usize) -> Session {
    let config = SessionConfig { batch_size: batch, ..SessionConfig::new(policy, b"test-binding".to_vec()) };
    Session::new(config, set(ids)).unwrap()
}

/// How the in-memory link orders the two logical channels.
#[derive(Clone, Copy)]
enum Delivery {
    /// Everything in the order it was sent.
    InOrder,
    /// Control messages overtake any data in flight (separate streams, the
    /// data one slower).
    ControlFirst,
}

/// Two sessions and the messages in flight between them. `tamper` sees
/// every message from A to B and decides what B receives instead.
pub(crate) struct Pair<M = Session> {
    pub(crate) a: M,
    pub(crate) b: M,
    delivery: Delivery,
    a_to_b: VecDeque<(Channel, Vec<u8>)>,
    b_to_a: VecDeque<(Channel, Vec<u8>)>,
    pub(crate) transcript_a: Vec<u8>,
}

pub(crate) type Tamper<'a> = dyn FnMut(Message) -> Vec<Vec<u8>> + 'a;

impl<M: Machine> Pair<M> {
    pub(crate) fn new(a: M, b: M) -> Self {
        Self {
            a,
            b,
            delivery: Delivery::InOrder,
            a_to_b: VecDeque::new(),
            b_to_a: VecDeque::new(),
            transcript_a: Vec::new(),
        }
    }

    pub(crate) fn drive(&mut self) {
        self.drive_tampered(&mut |m| vec![codec::encode(&m)]);
    }

    /// Runs until neither side has anything left to send or deliver.
    pub(crate) fn drive_tampered(&mut self, tamper: &mut Tamper<'_>) {
        for _ in 0..1_000_000 {
            while let Some(t) = self.a.poll_transmit() {
                self.transcript_a.extend_from_slice(&t.payload);
                let message = codec::decode(&t.payload).expect("honest A encodes valid messages");
                for payload in tamper(message) {
                    self.a_to_b.push_back((t.channel, payload));
                }
            }
            while let Some(t) = self.b.poll_transmit() {
                self.b_to_a.push_back((t.channel, t.payload));
            }
            let to_b = take_next(&mut self.a_to_b, self.delivery);
            let to_a = take_next(&mut self.b_to_a, self.delivery);
            if to_b.is_none() && to_a.is_none() {
                return;
            }
            if let Some(p) = to_b {
                let _ = self.b.handle_message(&p);
            }
            if let Some(p) = to_a {
                let _ = self.a.handle_message(&p);
            }
        }
        panic!("pair did not settle");
    }
}

fn take_next(queue: &mut VecDeque<(Channel, Vec<u8>)>, delivery: Delivery) -> Option<Vec<u8>> {
    let index = match delivery {
        Delivery::InOrder => 0,
        Delivery::ControlFirst => queue.iter().position(|(c, _)| *c == Channel::Control).unwrap_or(0),
    };
    queue.remove(index).map(|(_, p)| p)
}

pub(crate) fn outcomes<M: Machine>(pair: &Pair<M>) -> (&Outcome, &Outcome) {
    let a = pair.a.outcome().unwrap_or_else(|| panic!("A did not finish: {:?}", pair.a.error()));
    let b = pair.b.outcome().unwrap_or_else(|| panic!("B did not finish: {:?}", pair.b.error()));
    (a, b)
}

fn run_counting(a: std::ops::Range<u64>, b: std::ops::Range<u64>) -> u64 {
    let expected = a.start.max(b.start)..a.end.min(b.end);
    let expected = expected.end.saturating_sub(expected.start);
    let (na, nb) = (a.end - a.start, b.end - b.start);
    let mut pair = Pair::new(session(a), session(b));
    pair.drive();
    let (oa, ob) = outcomes(&pair);
    assert_eq!((oa.own_size, oa.peer_size), (na, nb));
    assert_eq!((ob.own_size, ob.peer_size), (nb, na));
    assert_eq!(oa.overlap, ob.overlap);
    assert_eq!(oa.session_id, ob.session_id);
    assert_eq!(oa.overlap, expected);
    oa.overlap
}

// ----- honest runs ------------------------------------------------------

#[test]
fn both_empty() {
    assert_eq!(run_counting(0..0, 0..0), 0);
}

#[test]
fn one_side_empty() {
    assert_eq!(run_counting(0..0, 0..10), 0);
    assert_eq!(run_counting(0..10, 0..0), 0);
}

#[test]
fn single_elements_match_and_miss() {
    assert_eq!(run_counting(0..1, 0..1), 1);
    assert_eq!(run_counting(0..1, 1..2), 0);
}

#[test]
fn small_sets_with_no_some_and_full_overlap() {
    assert_eq!(run_counting(0..50, 50..90), 0);
    assert_eq!(run_counting(0..50, 30..90), 20);
    assert_eq!(run_counting(0..50, 0..50), 50);
}

#[test]
fn one_set_inside_the_other_across_many_batches() {
    // Batches of 1024: several full batches and a partial one each way.
    assert_eq!(run_counting(0..5_000, 1_000..3_500), 2_500);
    assert_eq!(run_counting(1_000..3_500, 0..5_000), 2_500);
}

#[test]
fn hundred_thousand_per_side() {
    let mut pair = Pair::new(
        session_with(Policy::default(), 0..100_000, 8_192),
        session_with(Policy::default(), 60_000..160_000, 8_192),
    );
    pair.drive();
    let (a, b) = outcomes(&pair);
    assert_eq!((a.overlap, b.overlap), (40_000, 40_000));
}

#[test]
fn confirm_that_overtakes_data_is_held_until_the_data_arrives() {
    // B finishes early (it has 10 records) and its Confirm overtakes the
    // tags still in flight to A.
    let mut pair = Pair::new(session(0..3_000), session(2_995..3_005));
    pair.delivery = Delivery::ControlFirst;
    pair.drive();
    assert_eq!(outcomes(&pair).0.overlap, 5);
}

#[test]
fn duplicates_are_removed_before_the_protocol_and_counted() {
    let ids: Vec<Element> = [1, 2, 2, 3, 3, 3].into_iter().map(element).collect();
    let (a, duplicates) = ElementSet::new(ids);
    assert_eq!(duplicates, 3);
    let config = SessionConfig::new(Policy::permissive(), vec![]);
    let mut pair = Pair::new(Session::new(config.clone(), a).unwrap(), Session::new(config, set(2..10)).unwrap());
    pair.drive();
    let (oa, ob) = outcomes(&pair);
    assert_eq!((oa.own_size, oa.overlap, ob.peer_size), (3, 2, 3));
}

#[test]
fn events_report_handshake_progress_and_one_terminal_result() {
    let mut pair = Pair::new(session(0..3_000), session(0..10));
    pair.drive();
    let events: Vec<Event> = std::iter::from_fn(|| pair.a.poll_event()).collect();
    assert!(matches!(events[0], Event::HandshakeComplete { peer_size: 10, .. }));
    assert!(matches!(events.last(), Some(Event::Finished(o)) if o.overlap == 10));
    let terminal = events.iter().filter(|e| matches!(e, Event::Finished(_) | Event::Failed(_))).count();
    assert_eq!(terminal, 1);
    let last_progress = events.iter().rev().find_map(|e| match e {
        Event::Progress(p) => Some(*p),
        _ => None,
    });
    let p = last_progress.unwrap();
    assert_eq!((p.points_sent, p.points_received, p.tags_sent, p.tags_received), (3_000, 10, 10, 3_000));
}

#[test]
fn sessions_with_different_channel_bindings_do_not_match() {
    // Same sets, but each side believes it is on another channel: the
    // session ids differ, so the hash domains differ and nothing matches;
    // the confirmation then catches the disagreement.
    let a = Session::new(SessionConfig::new(Policy::permissive(), b"one".to_vec()), set(0..10)).unwrap();
    let b = Session::new(SessionConfig::new(Policy::permissive(), b"two".to_vec()), set(0..10)).unwrap();
    let mut pair = Pair::new(a, b);
    pair.drive();
    assert_eq!(pair.a.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::ConfirmationMismatch)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn count_equals_plain_intersection(a in proptest::collection::hash_set(0u64..120, 0..60),
                                       b in proptest::collection::hash_set(0u64..120, 0..60),
                                       batch in 1usize..40) {
        let expected = a.intersection(&b).count() as u64;
        let mut pair = Pair::new(session_with(Policy::permissive(), a.clone(), batch),
                                 session_with(Policy::permissive(), b.clone(), batch));
        pair.drive();
        let (oa, ob) = outcomes(&pair);
        prop_assert_eq!(oa.overlap, expected);
        prop_assert_eq!(ob.overlap, expected);
    }
}

// ----- policy -----------------------------------------------------------

#[test]
fn own_set_below_own_minimum_is_refused_at_start() {
    let config = SessionConfig::new(Policy::default(), vec![]);
    let err = Session::new(config, set(0..10)).unwrap_err();
    assert_eq!(err, ProtocolError::PolicyRefused(PolicyViolation::TooSmall { side: Side::Own, size: 10, min: 1_000 }));
}

#[test]
fn peer_policy_stricter_than_ours_refuses_our_set_on_both_sides() {
    let strict = Policy { min_set_size: 100, max_set_size: 1_000, ..Policy::permissive() };
    let mut pair = Pair::new(session(0..50), session_with(strict, 0..500, 64));
    pair.drive();
    let too_small = PolicyViolation::TooSmall { side: Side::Own, size: 50, min: 100 };
    assert_eq!(pair.a.error(), Some(&ProtocolError::PolicyRefused(too_small)));
    let peer_too_small = PolicyViolation::TooSmall { side: Side::Peer, size: 50, min: 100 };
    assert_eq!(pair.b.error(), Some(&ProtocolError::PolicyRefused(peer_too_small)));
}

#[test]
fn announced_size_of_a_trillion_is_refused_without_allocating() {
    let mut b = session_with(Policy::default(), 0..1_000, 1024);
    let hello = Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        nonce: [9; 32],
        set_size: 1_000_000_000_000,
        policy: Policy::permissive(),
        segments: None,
        index: None,
    });
    let err = b.handle_message(&codec::encode(&hello)).unwrap_err();
    assert_eq!(
        err,
        ProtocolError::PolicyRefused(PolicyViolation::TooLarge {
            side: Side::Peer,
            size: 1_000_000_000_000,
            max: 100_000_000
        })
    );
    // Our Hello was never polled: it still goes out first, so the peer runs
    // its own checks and reports the precise refusal; then the Abort.
    let first = codec::decode(&b.poll_transmit().unwrap().payload).unwrap();
    assert!(matches!(first, Message::Hello(_)), "{first:?}");
    let abort = codec::decode(&b.poll_transmit().unwrap().payload).unwrap();
    assert_eq!(abort, Message::Abort(AbortReason::PolicyRefused));
    assert!(b.poll_transmit().is_none());
}

// ----- hostile peer -----------------------------------------------------

/// Runs A (honest) against B (honest) with A's messages rewritten by
/// `tamper`, and returns B's error.
fn b_error_when_a_sends(a_ids: std::ops::Range<u64>, mut tamper: impl FnMut(Message) -> Vec<Message>) -> ProtocolError {
    let mut pair = Pair::new(session(a_ids), session(0..100));
    pair.drive_tampered(&mut |m| tamper(m).iter().map(codec::encode).collect());
    pair.b.handle_close();
    let err = pair.b.error().cloned().expect("B must fail");
    assert!(pair.b.outcome().is_none());
    let events: Vec<Event> = std::iter::from_fn(|| pair.b.poll_event()).collect();
    assert!(events.iter().all(|e| !matches!(e, Event::Finished(_))));
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Failed(_))).count(), 1);
    err
}

fn misbehaved(m: Misbehavior) -> ProtocolError {
    ProtocolError::PeerMisbehaved(m)
}

#[test]
fn rejects_version_mismatch() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Hello(h) => vec![Message::Hello(Hello { version: PROTOCOL_VERSION + 1, ..h })],
        m => vec![m],
    });
    let (ours, theirs) = (PROTOCOL_VERSION, PROTOCOL_VERSION + 1);
    assert_eq!(err, ProtocolError::Incompatible(Incompatibility::VersionMismatch { ours, theirs }));
}

#[test]
fn rejects_points_before_hello() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Hello(h) => vec![Message::Points(vec![[1; 32]]), Message::Hello(h)],
        m => vec![m],
    });
    assert_eq!(
        err,
        misbehaved(Misbehavior::UnexpectedMessage { message: "Points", phase: "waiting for the handshake" })
    );
}

#[test]
fn rejects_second_hello() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Hello(h) => vec![Message::Hello(h.clone()), Message::Hello(h)],
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::UnexpectedMessage { message: "Hello", phase: "exchanging points" }));
}

#[test]
fn rejects_reflected_nonce() {
    let mut b = session(0..10);
    let own_hello = b.poll_transmit().unwrap().payload;
    assert_eq!(b.handle_message(&own_hello), Err(misbehaved(Misbehavior::ReflectedNonce)));
}

#[test]
fn rejects_more_points_than_announced() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Points(mut p) => {
            p.push(p[0]);
            vec![Message::Points(p)]
        }
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::TooManyPoints { announced: 10 }));
}

#[test]
fn rejects_fewer_points_than_announced_when_the_stream_ends() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Points(mut p) => {
            p.pop();
            vec![Message::Points(p)]
        }
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::TooFewPoints { announced: 10, received: 9 }));
}

#[test]
fn rejects_invalid_encoding_with_its_stream_index() {
    let mut batches = 0;
    let err = b_error_when_a_sends(0..3_000, |m| match m {
        Message::Points(mut p) => {
            batches += 1;
            if batches == 2 {
                p[5] = [0xff; 32];
            }
            vec![Message::Points(p)]
        }
        m => vec![m],
    });
    assert_eq!(
        err,
        misbehaved(Misbehavior::InvalidPoint {
            index: 1024 + 5,
            source: venn_crypto::CryptoError::InvalidEncoding { index: 5 }
        })
    );
}

#[test]
fn rejects_identity_point() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Points(mut p) => {
            p[3] = [0; 32];
            vec![Message::Points(p)]
        }
        m => vec![m],
    });
    assert_eq!(
        err,
        misbehaved(Misbehavior::InvalidPoint {
            index: 3,
            source: venn_crypto::CryptoError::IdentityPoint { index: 3 }
        })
    );
}

#[test]
fn rejects_duplicate_points() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Points(mut p) => {
            p[1] = p[0];
            vec![Message::Points(p)]
        }
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::DuplicatePoints));
}

#[test]
fn rejects_empty_batch() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Points(p) => vec![Message::Points(vec![]), Message::Points(p)],
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::EmptyBatch { message: "Points" }));
}

#[test]
fn rejects_batch_over_the_item_limit() {
    let mut b = session(0..10);
    let hello = Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        nonce: [9; 32],
        set_size: 100_000,
        policy: Policy::permissive(),
        segments: None,
        index: None,
    });
    b.handle_message(&codec::encode(&hello)).unwrap();
    let batch = Message::Points(vec![[1; 32]; MAX_ITEMS_PER_MESSAGE + 1]);
    // It still fits the byte limit, so the item check must catch it.
    let err = b.handle_message(&codec::encode(&batch)).unwrap_err();
    assert_eq!(err, misbehaved(Misbehavior::OversizeBatch { len: MAX_ITEMS_PER_MESSAGE + 1 }));
}

#[test]
fn rejects_oversize_message() {
    let mut b = session(0..10);
    let err = b.handle_message(&vec![0u8; crate::codec::MAX_MESSAGE_BYTES + 1]).unwrap_err();
    assert!(matches!(err, ProtocolError::InvalidMessage(crate::DecodeError::Oversize { .. })));
}

#[test]
fn rejects_garbage_bytes() {
    let mut b = session(0..10);
    let err = b.handle_message(b"\xff\xfe garbage").unwrap_err();
    assert!(matches!(err, ProtocolError::InvalidMessage(crate::DecodeError::Malformed { .. })));
    // Errors are sticky.
    assert_eq!(b.handle_message(b"anything").unwrap_err(), err);
}

#[test]
fn rejects_unsorted_tags() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Tags(mut t) => {
            t.reverse();
            vec![Message::Tags(t)]
        }
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::UnsortedTags));
}

#[test]
fn rejects_more_tags_than_points_sent() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Tags(mut t) => {
            t.push([0xff; 16]);
            vec![Message::Tags(t)]
        }
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::TooManyTags { expected: 100 }));
}

#[test]
fn rejects_tags_before_our_points_are_out() {
    let mut b = session_with(Policy::permissive(), 0..5_000, 1024);
    let _own_hello = b.poll_transmit();
    let hello = Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        nonce: [9; 32],
        set_size: 10,
        policy: Policy::permissive(),
        segments: None,
        index: None,
    });
    b.handle_message(&codec::encode(&hello)).unwrap();
    let _one_batch = b.poll_transmit().unwrap();
    let err = b.handle_message(&codec::encode(&Message::Tags(vec![[1; 16]]))).unwrap_err();
    assert_eq!(err, misbehaved(Misbehavior::TagsBeforePoints));
}

#[test]
fn rejects_disagreeing_confirmation() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Confirm(mut c) => {
            c[0] ^= 1;
            vec![Message::Confirm(c)]
        }
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::ConfirmationMismatch));
}

#[test]
fn rejects_second_confirmation() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Hello(h) => vec![Message::Hello(h), Message::Confirm([0; 32]), Message::Confirm([0; 32])],
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::UnexpectedMessage { message: "Confirm", phase: "exchanging points" }));
}

#[test]
fn truncated_stream_is_an_unexpected_end() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Tags(_) | Message::Confirm(_) => vec![],
        m => vec![m],
    });
    assert_eq!(err, misbehaved(Misbehavior::UnexpectedEnd { phase: "exchanging points" }));
}

#[test]
fn replayed_messages_from_an_earlier_session_fail_the_confirmation() {
    // Record every message A sends in a first, successful session...
    let mut recorded = Vec::new();
    let mut first = Pair::new(session(0..50), session(0..100));
    first.drive_tampered(&mut |m| {
        recorded.push(m.clone());
        vec![codec::encode(&m)]
    });
    assert!(first.b.outcome().is_some());
    // ...and replay them all into a fresh B. Its new nonce changes the
    // session id and so the hash domain: the replayed points blind to
    // unrelated tags, the counts differ, and the old Confirm is refused.
    let mut b = session(0..100);
    for m in recorded {
        while b.poll_transmit().is_some() {}
        if b.handle_message(&codec::encode(&m)).is_err() {
            break;
        }
    }
    assert_eq!(b.error(), Some(&misbehaved(Misbehavior::ConfirmationMismatch)));
    assert!(b.outcome().is_none());
}

#[test]
fn peer_abort_is_reported_with_its_reason() {
    let err = b_error_when_a_sends(0..10, |m| match m {
        Message::Points(_) => vec![Message::Abort(AbortReason::Cancelled)],
        m => vec![m],
    });
    assert_eq!(err, ProtocolError::PeerAborted(AbortReason::Cancelled));
}

#[test]
fn cancel_tells_the_peer() {
    let mut a = session(0..10);
    let mut b = session(0..10);
    let _hello = a.poll_transmit().unwrap();
    a.cancel();
    let t = a.poll_transmit().unwrap();
    assert_eq!(codec::decode(&t.payload).unwrap(), Message::Abort(AbortReason::Cancelled));
    assert_eq!(b.handle_message(&t.payload), Err(ProtocolError::PeerAborted(AbortReason::Cancelled)));
}

#[test]
fn messages_after_the_result_do_not_undo_it() {
    let mut pair = Pair::new(session(0..10), session(0..10));
    pair.drive();
    let confirm = codec::encode(&Message::Confirm([0; 32]));
    assert!(pair.a.handle_message(&confirm).is_err());
    assert!(pair.a.handle_message(&codec::encode(&Message::Abort(AbortReason::Cancelled))).is_err());
    assert_eq!(pair.a.outcome().map(|o| o.overlap), Some(10));
    assert!(pair.a.error().is_none());
    assert!(pair.a.poll_transmit().is_none());
    let terminal: Vec<Event> = std::iter::from_fn(|| pair.a.poll_event())
        .filter(|e| matches!(e, Event::Finished(_) | Event::Failed(_)))
        .collect();
    assert_eq!(terminal.len(), 1);
}

#[test]
fn finished_session_ignores_close() {
    let mut pair = Pair::new(session(0..10), session(0..10));
    pair.drive();
    pair.a.handle_close();
    assert!(pair.a.outcome().is_some());
    assert!(pair.a.error().is_none());
}

// ----- what leaves a party ----------------------------------------------

/// Every byte A sends in a run is searched for every identifier of A, its
/// SHA-256, its SHA-512 and its element: none may appear, in whole or as a
/// 16-byte prefix.
#[test]
fn transcript_contains_no_identifier_nor_hash_of_one() {
    let ids: Vec<u64> = (0..2_000).collect();
    let mut pair = Pair::new(session(ids.clone()), session(1_000..3_000));
    pair.drive();
    assert_eq!(outcomes(&pair).0.overlap, 1_000);
    let transcript = &pair.transcript_a;
    assert!(transcript.len() > 2_000 * 32);

    const WINDOW: usize = 12;
    let windows: HashSet<&[u8]> = transcript.windows(WINDOW).collect();
    let mut checked = 0;
    for id in ids {
        let raw = format!("user{id}@example.com").into_bytes();
        let sha256 = Sha256::digest(&raw).to_vec();
        let sha512 = Sha512::digest(&raw).to_vec();
        let elem = element(id).0.to_vec();
        for needle in [&raw, &sha256, &sha512, &elem] {
            for part in needle.chunks(16).filter(|p| p.len() >= WINDOW) {
                assert!(!windows.contains(&part[..WINDOW]), "identifier {id} leaked into the transcript");
                checked += 1;
            }
        }
    }
    assert!(checked > 2_000 * 4);
}
