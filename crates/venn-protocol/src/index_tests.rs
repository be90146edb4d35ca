//! Index mode in memory: an honest brand and platform, and each way a
//! platform can try to bend the answer or a peer can send garbage.

use std::{collections::HashSet, sync::Arc};

use curve25519_dalek::{ristretto::CompressedRistretto, Scalar};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use venn_crypto::{epoch_tags, EpochKey};

use crate::{
    codec,
    index::{index_domain, IndexEpoch, IndexParty, IndexSession},
    tests::{outcomes, Pair},
    Element, ElementSet, Incompatibility, IndexRole, Machine, Message, Misbehavior, Policy, ProtocolError, Session,
    SessionConfig,
};

const EPOCH: u64 = 20_261_130;

fn element(id: u64) -> Element {
    Element(Sha256::digest(format!("person{id}@example.com")).into())
}

/// A platform's index: its key, the epoch, and the set of filter keys (a
/// `HashSet` stands in for the filter: no false positives here).
struct Platform {
    key: Box<EpochKey>,
    epoch: IndexEpoch,
    keys: Arc<HashSet<u64>>,
}

fn platform(ids: impl IntoIterator<Item = u64>) -> Platform {
    let key = EpochKey::random();
    let elements: Vec<Element> = ids.into_iter().map(element).collect();
    let keys: HashSet<u64> = epoch_tags(&key, &index_domain(EPOCH), &elements).into_iter().collect();
    let epoch = IndexEpoch {
        id: EPOCH,
        public_key: key.public_key().to_bytes(),
        header_sha256: [0x4d; 32],
        elements: elements.len() as u64,
    };
    Platform { key, epoch, keys: Arc::new(keys) }
}

fn config() -> SessionConfig {
    SessionConfig { batch_size: 500, ..SessionConfig::new(Policy::permissive(), b"binding".to_vec()) }
}

fn brand(p: &Platform, ids: impl IntoIterator<Item = u64>, share_result: bool) -> IndexSession {
    let set = ElementSet::new(ids.into_iter().map(element).collect()).0;
    let keys = Arc::clone(&p.keys);
    let index = Box::new(move |k: u64| keys.contains(&k));
    IndexSession::new(config(), p.epoch, IndexParty::Brand { set, index, share_result }).unwrap()
}

fn serving(p: Platform) -> IndexSession {
    IndexSession::new(config(), p.epoch, IndexParty::Platform { key: p.key, admission: Box::new(|_| Ok(())) }).unwrap()
}

#[test]
fn brand_learns_the_overlap_and_the_platform_only_the_brand_size() {
    let p = platform(0..5_000);
    let b = brand(&p, (3_000..5_000).chain(10_000..11_000), false);
    let mut pair = Pair::new(b, serving(p));
    pair.drive();
    let (bo, po) = outcomes(&pair);
    assert_eq!((bo.overlap, bo.own_size, bo.peer_size), (2_000, 3_000, 5_000));
    assert_eq!(po.peer_size, 3_000, "the platform learns the brand's size");
    assert_eq!(po.overlap, 0, "and not the overlap");
    let index = po.index.unwrap();
    assert_eq!((index.role, index.shared_by_brand), (IndexRole::Platform, false));
}

#[test]
fn a_shared_result_reaches_the_platform_marked_as_the_brands() {
    let p = platform(0..2_000);
    let b = brand(&p, 1_500..2_500, true);
    let mut pair = Pair::new(serving(p), b);
    pair.drive();
    let (po, bo) = outcomes(&pair);
    assert_eq!(bo.overlap, 500);
    assert_eq!(po.overlap, 500);
    assert!(po.index.unwrap().shared_by_brand);
}

#[test]
fn the_session_costs_the_brands_list_not_the_audience() {
    // Messages and points scale with the brand's list: a 10× larger index
    // changes nothing on the wire but the Hello's element count.
    let mut wires = Vec::new();
    for audience in [1_000u64, 10_000] {
        let p = platform(0..audience);
        let b = brand(&p, 0..600, false);
        let mut pair = Pair::new(serving(p), b);
        pair.drive();
        outcomes(&pair);
        wires.push(pair.b.bytes_received());
    }
    assert_eq!(wires[0], wires[1], "the platform sends the same bytes whatever its audience");
}

/// `s·Y` for every point: outputs as if evaluated under `s·k`.
fn scale(points: &[[u8; 32]], s: &Scalar) -> Vec<[u8; 32]> {
    points.iter().map(|p| (CompressedRistretto(*p).decompress().unwrap() * s).compress().to_bytes()).collect()
}

#[test]
fn a_platform_evaluating_with_another_key_is_refused() {
    let p = platform(0..1_000);
    let b = brand(&p, 500..1_500, false);
    let mut pair = Pair::new(serving(p), b);
    let other = Scalar::random(&mut OsRng);
    pair.drive_tampered(&mut |m| match m {
        Message::Evaluated(outputs) => vec![codec::encode(&Message::Evaluated(scale(&outputs, &other)))],
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::BadProof)));
    assert!(pair.b.outcome().is_none(), "no count from a wrong key");
}

#[test]
fn a_forged_proof_is_refused() {
    let p = platform(0..1_000);
    let b = brand(&p, 500..1_500, false);
    let mut pair = Pair::new(serving(p), b);
    pair.drive_tampered(&mut |m| match m {
        Message::SumProof(mut proof) => {
            proof[3] ^= 1;
            vec![codec::encode(&Message::SumProof(proof))]
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::BadProof)));
}

#[test]
fn answers_of_the_wrong_length_are_refused() {
    for extra in [false, true] {
        let p = platform(0..1_000);
        let b = brand(&p, 0..1_000, false);
        let mut pair = Pair::new(serving(p), b);
        let mut first = true;
        pair.drive_tampered(&mut |m| match m {
            Message::Evaluated(mut outputs) if first => {
                first = false;
                if extra {
                    outputs.push(outputs[0]);
                } else {
                    outputs.pop();
                }
                vec![codec::encode(&Message::Evaluated(outputs))]
            }
            m => vec![codec::encode(&m)],
        });
        let err = pair.b.error().cloned();
        let expected = if extra {
            Misbehavior::TooManyTags { expected: 1_000 }
        } else {
            Misbehavior::TooFewPoints { announced: 1_000, received: 999 }
        };
        assert_eq!(err, Some(ProtocolError::PeerMisbehaved(expected)), "extra: {extra}");
    }
}

#[test]
fn an_invalid_point_in_the_answer_is_refused_with_its_index() {
    let p = platform(0..600);
    let b = brand(&p, 0..600, false);
    let mut pair = Pair::new(serving(p), b);
    pair.drive_tampered(&mut |m| match m {
        Message::Evaluated(mut outputs) => {
            outputs[7] = [0xff; 32];
            vec![codec::encode(&Message::Evaluated(outputs))]
        }
        m => vec![codec::encode(&m)],
    });
    assert!(
        matches!(pair.b.error(), Some(ProtocolError::PeerMisbehaved(Misbehavior::InvalidPoint { index: 7, .. }))),
        "{:?}",
        pair.b.error()
    );
}

#[test]
fn a_brand_holding_another_index_is_refused_on_both_sides() {
    let p = platform(0..600);
    let mut stale = platform(0..600).epoch;
    stale.header_sha256 = [0x11; 32];
    let set = ElementSet::new((0..600).map(element).collect()).0;
    let b =
        IndexSession::new(config(), stale, IndexParty::Brand { set, index: Box::new(|_| true), share_result: false })
            .unwrap();
    let mut pair = Pair::new(b, serving(p));
    pair.drive();
    for side in [pair.a.error(), pair.b.error()] {
        assert!(
            matches!(
                side,
                Some(ProtocolError::Incompatible(Incompatibility::IndexMismatch { .. }))
                    | Some(ProtocolError::PeerAborted(crate::AbortReason::IndexMismatch))
            ),
            "{side:?}"
        );
    }
}

#[test]
fn a_platform_key_that_is_not_the_indexs_is_refused_at_start() {
    let p = platform(0..10);
    let other = EpochKey::random();
    let err =
        IndexSession::new(config(), p.epoch, IndexParty::Platform { key: other, admission: Box::new(|_| Ok(())) })
            .unwrap_err();
    assert!(matches!(err, ProtocolError::Incompatible(Incompatibility::IndexMismatch { .. })), "{err}");
}

#[test]
fn a_count_session_and_an_index_session_do_not_talk() {
    let mut index = serving(platform(0..600));
    let mut count = Session::new(config(), ElementSet::new((0..600).map(element).collect()).0).unwrap();
    let (to_count, to_index) = (index.poll_transmit().unwrap(), count.poll_transmit().unwrap());
    let mismatch = |e: Result<(), ProtocolError>| {
        matches!(e, Err(ProtocolError::Incompatible(Incompatibility::ModeMismatch { .. })))
    };
    assert!(mismatch(count.handle_message(&to_count.payload)), "the count session names the mode");
    assert!(mismatch(index.handle_message(&to_index.payload)), "the index session names the mode");
}

#[test]
fn a_brand_below_the_platforms_minimum_is_refused() {
    let p = platform(0..600);
    let strict = SessionConfig { policy: Policy { min_set_size: 1_000, ..Policy::permissive() }, ..config() };
    let platform =
        IndexSession::new(strict, p.epoch, IndexParty::Platform { key: p.key, admission: Box::new(|_| Ok(())) })
            .unwrap();
    let set = ElementSet::new((0..600).map(element).collect()).0;
    let keys = Arc::clone(&p.keys);
    let b = IndexSession::new(
        config(),
        p.epoch,
        IndexParty::Brand { set, index: Box::new(move |k| keys.contains(&k)), share_result: false },
    )
    .unwrap();
    let mut pair = Pair::new(b, platform);
    pair.drive();
    assert!(matches!(pair.b.error(), Some(ProtocolError::PolicyRefused(_))), "{:?}", pair.b.error());
    assert!(matches!(pair.a.error(), Some(ProtocolError::PolicyRefused(_))), "{:?}", pair.a.error());
}

/// The brand's messages carry no identifier and no hash of one.
#[test]
fn the_brands_transcript_holds_no_identifier() {
    let p = platform(0..800);
    let b = brand(&p, 400..1_200, false);
    let mut pair = Pair::new(b, serving(p));
    pair.drive();
    outcomes(&pair);
    let windows: HashSet<&[u8]> = pair.transcript_a.windows(12).collect();
    for id in 400..1_200u64 {
        let raw = format!("person{id}@example.com").into_bytes();
        for needle in [raw.clone(), Sha256::digest(&raw).to_vec(), element(id).0.to_vec()] {
            assert!(!windows.contains(&needle[..12]), "identifier {id} leaked");
        }
    }
}

#[test]
fn a_brand_over_its_index_budget_is_refused_before_any_evaluation() {
    let p = platform(0..300);
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    let admission = Box::new(move |size: u64| {
        seen.lock().unwrap().push(size);
        Err(crate::Refusal::IndexBudgetSpent)
    });
    let b = brand(&p, 100..250, false);
    let platform = IndexSession::new(config(), p.epoch, IndexParty::Platform { key: p.key, admission }).unwrap();
    let mut pair = Pair::new(b, platform);
    pair.drive();
    assert_eq!(*asked.lock().unwrap(), vec![150], "asked once, with the brand's size");
    assert_eq!(pair.b.error(), Some(&ProtocolError::Refused(crate::Refusal::IndexBudgetSpent)));
    assert_eq!(pair.a.error(), Some(&ProtocolError::PeerAborted(crate::AbortReason::IndexBudgetSpent)));
    assert_eq!(pair.b.progress().tags_sent, 0, "nothing was evaluated");
}
