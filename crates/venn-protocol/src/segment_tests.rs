//! Segment-mode scenarios: two segment sessions wired in memory.

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::{
    codec,
    tests::{outcomes, Pair},
    Element, Incompatibility, LabeledSet, Labels, Machine, Message, Misbehavior, Policy, ProtocolError, Role,
    SegmentConfig, SegmentSession, SessionConfig,
};

pub(crate) const AGREEMENT: [u8; 32] = [0xa6; 32];

pub(crate) fn element(id: u64) -> Element {
    Element(Sha256::digest(format!("person{id}@example.com")).into())
}

/// A party's records: ids with a label each, derived from the id so both
/// sides can compute the expected table.
pub(crate) fn records(ids: impl IntoIterator<Item = u64>, labels: u16, salt: u64) -> Vec<(u64, u16)> {
    ids.into_iter().map(|id| (id, ((id.wrapping_mul(2654435761).wrapping_add(salt)) % labels as u64) as u16)).collect()
}

pub(crate) fn session(role: Role, labels: u16, recs: &[(u64, u16)], policy: Policy, reveal: bool) -> SegmentSession {
    session_with(role, labels, recs, policy, reveal, AGREEMENT)
}

fn session_with(
    role: Role,
    labels: u16,
    recs: &[(u64, u16)],
    policy: Policy,
    reveal: bool,
    agreement: [u8; 32],
) -> SegmentSession {
    let (set, _) = LabeledSet::new(recs.iter().map(|&(id, l)| (element(id), l)).collect());
    let config = SegmentConfig {
        session: SessionConfig { batch_size: 700, ..SessionConfig::new(policy, b"binding".to_vec()) },
        role,
        labels,
        agreement,
        reveal_segment_sizes: reveal,
    };
    SegmentSession::new(config, set).unwrap()
}

/// The plain cross-tab: `cells[r][a]` = ids in both with receiver label r
/// and aggregator label a.
pub(crate) fn plain(receiver: &[(u64, u16)], aggregator: &[(u64, u16)], lr: u16, la: u16) -> Vec<Vec<i64>> {
    let a: std::collections::HashMap<u64, u16> = aggregator.iter().copied().collect();
    let mut cells = vec![vec![0i64; la as usize]; lr as usize];
    for (id, r) in receiver {
        if let Some(&v) = a.get(id) {
            cells[*r as usize][v as usize] += 1;
        }
    }
    cells
}

pub(crate) fn exact() -> Policy {
    Policy { min_cell: 0, ..Policy::permissive() }
}

fn run(receiver_first: bool, reveal: bool, r: &[(u64, u16)], a: &[(u64, u16)], lr: u16, la: u16) {
    let rs = session(Role::Receiver, lr, r, exact(), reveal);
    let as_ = session(Role::Aggregator, la, a, exact(), reveal);
    let mut pair = if receiver_first { Pair::new(rs, as_) } else { Pair::new(as_, rs) };
    pair.drive();
    let (x, y) = outcomes(&pair);
    let (ro, ao) = if receiver_first { (x, y) } else { (y, x) };
    let expected = plain(r, a, lr, la);
    let rseg = ro.segments.as_ref().unwrap();
    let aseg = ao.segments.as_ref().unwrap();
    assert_eq!(rseg.role, Role::Receiver);
    assert_eq!(aseg.role, Role::Aggregator);
    assert_eq!(rseg.released, aseg.released, "both sides hold the same release");
    let released: Vec<Vec<i64>> =
        rseg.released.cells.iter().map(|row| row.iter().map(|c| c.unwrap()).collect()).collect();
    assert_eq!(released, expected);
    let overlap: i64 = expected.iter().flatten().sum();
    assert_eq!(ao.overlap, overlap as u64);
    assert_eq!(ro.overlap, overlap as u64);
    assert_eq!(rseg.released.total, Some(overlap));
    // The aggregator's exact marginal is the column sums.
    let columns: Vec<u64> = (0..la as usize).map(|v| expected.iter().map(|row| row[v] as u64).sum()).collect();
    assert_eq!(aseg.aggregator_marginal.as_ref().unwrap(), &columns);
}

#[test]
fn cross_tab_equals_plain_computation_in_both_role_orders() {
    let r = records(0..1_500, 5, 1);
    let a = records(900..2_400, 3, 7);
    run(true, false, &r, &a, 5, 3);
    run(false, false, &r, &a, 5, 3);
}

#[test]
fn cross_tab_with_revealed_aggregator_labels() {
    let r = records(0..800, 4, 2);
    let a = records(300..1_000, 6, 3);
    run(true, true, &r, &a, 4, 6);
}

#[test]
fn empty_overlap_gives_a_zero_table() {
    run(true, false, &records(0..100, 2, 0), &records(100..200, 2, 0), 2, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]
    #[test]
    fn cross_tab_matches_on_random_sets_and_labels(
        r in proptest::collection::btree_map(0u64..300, 0u16..4, 0..120),
        a in proptest::collection::btree_map(0u64..300, 0u16..3, 0..120),
        reveal in any::<bool>(),
    ) {
        let r: Vec<(u64, u16)> = r.into_iter().collect();
        let a: Vec<(u64, u16)> = a.into_iter().collect();
        run(true, reveal, &r, &a, 4, 3);
    }
}

#[test]
fn noisy_release_sums_noisy_cells() {
    let policy = Policy { epsilon_micros: Some(500_000), ..exact() };
    let r = records(0..600, 3, 1);
    let a = records(0..600, 2, 5);
    let mut pair =
        Pair::new(session(Role::Receiver, 3, &r, policy, false), session(Role::Aggregator, 2, &a, policy, false));
    pair.drive();
    let (ro, _) = outcomes(&pair);
    let rel = &ro.segments.as_ref().unwrap().released;
    let cells: Vec<Vec<i64>> = rel.cells.iter().map(|row| row.iter().map(|c| c.unwrap()).collect()).collect();
    let total: i64 = cells.iter().flatten().sum();
    assert_eq!(rel.total, Some(total));
    // Six cells of noise at scale 2 cannot all be zero except with tiny probability.
    assert_ne!(cells, plain(&r, &a, 3, 2));
}

#[test]
fn agreement_mismatch_is_refused_showing_both_hashes() {
    let r = records(0..50, 2, 0);
    let mut pair = Pair::new(
        session(Role::Receiver, 2, &r, exact(), false),
        session_with(Role::Aggregator, 2, &r, exact(), false, [0x11; 32]),
    );
    pair.drive();
    let err = pair.a.error().unwrap().clone();
    assert_eq!(
        err,
        ProtocolError::Incompatible(Incompatibility::AgreementMismatch {
            ours: "a6".repeat(32),
            theirs: "11".repeat(32)
        })
    );
    assert!(pair.b.outcome().is_none());
}

#[test]
fn same_role_on_both_sides_is_refused() {
    let r = records(0..50, 2, 0);
    let mut pair =
        Pair::new(session(Role::Receiver, 2, &r, exact(), false), session(Role::Receiver, 2, &r, exact(), false));
    pair.drive();
    assert_eq!(pair.a.error(), Some(&ProtocolError::Incompatible(Incompatibility::SameRole(Role::Receiver))));
}

#[test]
fn reveal_flag_must_match() {
    let r = records(0..50, 2, 0);
    let mut pair =
        Pair::new(session(Role::Receiver, 2, &r, exact(), true), session(Role::Aggregator, 2, &r, exact(), false));
    pair.drive();
    assert_eq!(pair.a.error(), Some(&ProtocolError::Incompatible(Incompatibility::RevealMismatch)));
}

#[test]
fn too_many_label_combinations_are_refused_before_any_data() {
    let policy = Policy { max_labels: 4, ..exact() };
    let (set, _) = LabeledSet::new(vec![(element(1), 0)]);
    let config = SegmentConfig {
        session: SessionConfig::new(policy, vec![]),
        role: Role::Receiver,
        labels: 5,
        agreement: AGREEMENT,
        reveal_segment_sizes: false,
    };
    let err = SegmentSession::new(config, set).unwrap_err();
    assert!(
        matches!(err, ProtocolError::Incompatible(Incompatibility::TooManyLabels { labels: 5, max: 4, .. })),
        "{err}"
    );
}

#[test]
fn count_and_segment_sessions_do_not_talk() {
    let r = records(0..50, 2, 0);
    let seg = session(Role::Receiver, 2, &r, exact(), false);
    let (set, _) = crate::ElementSet::new(r.iter().map(|&(id, _)| element(id)).collect());
    let count = crate::Session::new(SessionConfig::new(exact(), b"binding".to_vec()), set).unwrap();
    let mut seg = seg;
    let mut count = count;
    let hello = count.poll_transmit().unwrap();
    assert!(matches!(
        seg.handle_message(&hello.payload),
        Err(ProtocolError::Incompatible(Incompatibility::ModeMismatch { .. }))
    ));
}

#[test]
fn receiver_points_before_returned_tags_are_refused() {
    // The receiver (A in the pair) is rewritten to send its own points first.
    let r = records(0..300, 2, 0);
    let a = records(0..300, 2, 1);
    let mut pair =
        Pair::new(session(Role::Receiver, 2, &r, exact(), false), session(Role::Aggregator, 2, &a, exact(), false));
    let mut held = Vec::new();
    pair.drive_tampered(&mut |m| match m {
        Message::LabeledTags { .. } => {
            held.push(codec::encode(&m));
            vec![]
        }
        Message::LabeledPoints { .. } => {
            let mut out = vec![codec::encode(&m)];
            out.append(&mut held);
            out
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::PointsBeforeTags)));
}

#[test]
fn labels_that_do_not_fit_the_batch_are_refused() {
    let r = records(0..100, 2, 0);
    let a = records(0..100, 2, 1);
    let mut pair =
        Pair::new(session(Role::Aggregator, 2, &a, exact(), false), session(Role::Receiver, 2, &r, exact(), false));
    pair.drive_tampered(&mut |m| match m {
        Message::LabeledPoints { points, labels: Labels::Clear(mut c) } => {
            c.pop();
            vec![codec::encode(&Message::LabeledPoints { points, labels: Labels::Clear(c) })]
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::BadLabels)));
}

#[test]
fn tampered_release_shape_is_refused() {
    let r = records(0..100, 2, 0);
    let a = records(0..100, 3, 1);
    let mut pair =
        Pair::new(session(Role::Receiver, 2, &r, exact(), false), session(Role::Aggregator, 3, &a, exact(), false));
    pair.drive_tampered(&mut |m| match m {
        Message::Release(mut rel) => {
            rel.cells.pop();
            vec![codec::encode(&Message::Release(rel))]
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::BadRelease)));
}

/// The receiver's labels never travel in the clear (the aggregator's do,
/// as group names), and no identifier or hash of one (of either party)
/// appears in either direction. The pair records what its first session
/// sends, so the match runs twice, each role first once.
#[test]
fn transcript_has_no_receiver_label_and_no_identifier() {
    let a = records(0..400, 3, 1);
    let r = records(200..600, 2, 0);
    let aggregator = || session(Role::Aggregator, 3, &a, exact(), false);
    let receiver = || session(Role::Receiver, 2, &r, exact(), false);
    let mut transcripts = Vec::new();
    for aggregator_first in [true, false] {
        let mut pair =
            if aggregator_first { Pair::new(aggregator(), receiver()) } else { Pair::new(receiver(), aggregator()) };
        let (mut clear, mut one_hot) = (0, 0);
        pair.drive_tampered(&mut |m| {
            match &m {
                Message::LabeledPoints { labels: Labels::Clear(_), .. } => clear += 1,
                Message::LabeledPoints { labels: Labels::OneHot { .. }, .. } => one_hot += 1,
                _ => {}
            }
            vec![codec::encode(&m)]
        });
        assert!(pair.a.outcome().is_some() && pair.b.outcome().is_some(), "{:?} {:?}", pair.a.error(), pair.b.error());
        if aggregator_first {
            assert!(clear > 0 && one_hot == 0, "the aggregator sends group labels");
        } else {
            assert!(clear == 0 && one_hot > 0, "the receiver's labels are encrypted and proven");
        }
        transcripts.push((aggregator_first, std::mem::take(&mut pair.transcript_a)));
    }
    for (aggregator_first, transcript) in &transcripts {
        assert!(transcript.len() > 100 * 32, "a transcript of {} bytes", transcript.len());
        let windows: std::collections::HashSet<&[u8]> = transcript.windows(12).collect();
        for &(id, _) in a.iter().chain(&r) {
            let raw = format!("person{id}@example.com").into_bytes();
            for needle in [raw.clone(), Sha256::digest(&raw).to_vec(), element(id).0.to_vec()] {
                assert!(
                    !windows.contains(&needle[..12]),
                    "identifier {id} leaked (aggregator first: {aggregator_first})"
                );
            }
        }
    }
}

#[test]
fn a_budget_refusal_reaches_the_peer_with_its_reason() {
    let r = records(0..300, 2, 0);
    let a = records(0..300, 2, 1);
    let mut pair =
        Pair::new(session(Role::Receiver, 2, &r, exact(), false), session(Role::Aggregator, 2, &a, exact(), false));
    pair.a.refuse(crate::Refusal::PrivacyBudgetSpent);
    pair.drive();
    assert_eq!(pair.a.error(), Some(&ProtocolError::Refused(crate::Refusal::PrivacyBudgetSpent)));
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerAborted(crate::AbortReason::PrivacyBudgetSpent)));
}

#[test]
fn a_stream_size_beyond_the_padding_is_refused() {
    let r = records(0..300, 2, 0);
    let a = records(0..300, 2, 1);
    let mut pair =
        Pair::new(session(Role::Aggregator, 2, &a, exact(), false), session(Role::Receiver, 2, &r, exact(), false));
    pair.drive_tampered(&mut |m| match m {
        Message::Hello(mut hello) => {
            if let Some(s) = hello.segments.as_mut() {
                s.stream_size = 10_000;
            }
            vec![codec::encode(&Message::Hello(hello))]
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(
        pair.b.error(),
        Some(&ProtocolError::PeerMisbehaved(Misbehavior::BadStreamSize { stream: 10_000, set: 300 }))
    );
}

#[test]
fn an_exact_release_that_contradicts_the_aggregators_count_is_refused() {
    let r = records(0..300, 2, 0);
    let a = records(0..300, 2, 1);
    let mut pair =
        Pair::new(session(Role::Receiver, 2, &r, exact(), false), session(Role::Aggregator, 2, &a, exact(), false));
    pair.drive_tampered(&mut |m| match m {
        Message::Release(mut rel) => {
            rel.col_totals[0] = rel.col_totals[0].map(|v| v + 1);
            vec![codec::encode(&Message::Release(rel))]
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), Some(&ProtocolError::PeerMisbehaved(Misbehavior::InconsistentRelease)));
}

#[test]
fn group_padding_hides_sizes_to_an_eighth() {
    use crate::segments::padded_group_size;
    assert_eq!(padded_group_size(0), 64, "an empty group looks like a small one");
    assert_eq!(padded_group_size(1), 64);
    assert_eq!(padded_group_size(64), 64);
    assert_eq!(padded_group_size(65), 128);
    for n in [100u64, 1_000, 12_345, 999_999, 123_456_789] {
        let p = padded_group_size(n);
        assert!(p >= n && p - n <= (n / 8).max(64), "{n} → {p}");
    }
}

#[test]
fn empty_aggregator_set_with_revealed_labels() {
    run(true, true, &records(0..50, 4, 0), &[], 4, 3);
}
