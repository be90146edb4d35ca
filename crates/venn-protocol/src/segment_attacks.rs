//! Segment mode under attack: each test plays one finding of the segment
//! security review (issue 10) against an honest party, and checks that it
//! fails. The threat tables in `docs/security.md` and `docs/protocol.md`
//! name these tests.
//!
//! The pair's first session is the one whose messages a test may rewrite,
//! so a cheating aggregator is built as the pair's `a`, and so is a
//! cheating receiver.

use curve25519_dalek::{constants::RISTRETTO_BASEPOINT_POINT as G, ristretto::CompressedRistretto, Scalar};

use crate::{
    codec,
    segment_tests::{exact, plain, records, session, AGREEMENT},
    segments::{padded_group_size, MIN_PADDED_GROUP},
    tests::{outcomes, Pair},
    LabeledSet, Labels, Machine, Message, Misbehavior, Policy, ProtocolError, Role, SegmentConfig, SegmentSession,
    SessionConfig,
};

fn noisy(epsilon: f64) -> Policy {
    Policy { min_cell: 0, epsilon_micros: Some((epsilon * 1e6) as u64), ..Policy::permissive() }
}

/// Receiver `a`, aggregator `b`, or the other way round.
fn pair(first: Role, r: &[(u64, u16)], a: &[(u64, u16)], lr: u16, la: u16, policy: Policy) -> Pair<SegmentSession> {
    let receiver = session(Role::Receiver, lr, r, policy, false);
    let aggregator = session(Role::Aggregator, la, a, policy, false);
    match first {
        Role::Receiver => Pair::new(receiver, aggregator),
        Role::Aggregator => Pair::new(aggregator, receiver),
    }
}

fn misbehaved(m: Misbehavior) -> Option<ProtocolError> {
    Some(ProtocolError::PeerMisbehaved(m))
}

/// `point + k·G`, re-encoded: what a receiver does to encrypt `m + k`
/// instead of `m` in one component.
fn shift(point: &[u8; 32], k: u64) -> [u8; 32] {
    let p = CompressedRistretto(*point).decompress().expect("an honest point");
    (p + Scalar::from(k) * G).compress().to_bytes()
}

// ---- Finding 1: the aggregator's labels can no longer trace records ----

/// The old attack: the aggregator labels each record with its stream
/// position, so that the returned (tag, label) pairs name their records.
/// Clear labels must lie below the agreed label count: refused before any
/// tag is returned.
#[test]
fn cheating_aggregator_position_labels_are_refused() {
    let a = records(0..1_000, 4, 1);
    let r = records(500..1_500, 4, 0);
    let mut pair = pair(Role::Aggregator, &r, &a, 4, 4, exact());
    let mut position = 0u16;
    let mut tags_returned = 0;
    pair.drive_tampered(&mut |m| match m {
        Message::LabeledPoints { points, labels: Labels::Clear(_) } => {
            let labels = (0..points.len()).map(|_| {
                position = position.wrapping_add(1);
                position
            });
            let labels = Labels::Clear(labels.collect());
            vec![codec::encode(&Message::LabeledPoints { points, labels })]
        }
        m => vec![codec::encode(&m)],
    });
    pair.drive_tampered(&mut |m| {
        tags_returned += matches!(m, Message::LabeledTags { .. }) as usize;
        vec![codec::encode(&m)]
    });
    assert_eq!(pair.b.error(), misbehaved(Misbehavior::BadLabels).as_ref());
    assert!(pair.a.outcome().is_none() && pair.b.outcome().is_none());
}

/// The aggregator tries to send ciphertexts (its old channel for an index)
/// beside its points: only clear labels are accepted from it.
#[test]
fn cheating_aggregator_ciphertext_labels_are_refused() {
    let a = records(0..300, 2, 1);
    let r = records(0..300, 2, 0);
    let mut pair = pair(Role::Aggregator, &r, &a, 2, 2, exact());
    pair.drive_tampered(&mut |m| match m {
        Message::LabeledPoints { points, labels: Labels::Clear(_) } => {
            let ciphertexts = points.iter().flat_map(|p| [*p, *p]).collect();
            let labels = Labels::OneHot { ciphertexts, proofs: vec![0; points.len() * 32] };
            vec![codec::encode(&Message::LabeledPoints { points, labels })]
        }
        m => vec![codec::encode(&m)],
    });
    assert_eq!(pair.b.error(), misbehaved(Misbehavior::BadLabels).as_ref());
}

/// What an honest-format aggregator gets back: tags sorted across the whole
/// stream, each with the label of its group. A returned tag can be pinned
/// to no smaller set of records than its whole padded group (at least 64,
/// dummies included), so the best link is a guess within the group: the
/// 1,000 records of the old demonstration stay unlinked.
#[test]
fn cheating_aggregator_links_no_returned_tag_to_a_record() {
    let a = records(0..1_000, 4, 1);
    let r = records(500..1_500, 4, 0);
    let mut sent: Vec<u16> = Vec::new();
    let mut returned: Vec<([u8; 16], u16)> = Vec::new();
    // The receiver first, so the tamper hook sees the returned tags.
    let mut pair = pair(Role::Receiver, &r, &a, 4, 4, exact());
    pair.drive_tampered(&mut |m| {
        if let Message::LabeledTags { tags, labels: Labels::Clear(l) } = &m {
            returned.extend(tags.iter().copied().zip(l.iter().copied()));
        }
        vec![codec::encode(&m)]
    });
    outcomes(&pair);
    // And the aggregator first, so it sees what the aggregator streams.
    let mut pair = pair_with_aggregator_first(&r, &a);
    pair.drive_tampered(&mut |m| {
        if let Message::LabeledPoints { labels: Labels::Clear(l), .. } = &m {
            sent.extend(l);
        }
        vec![codec::encode(&m)]
    });
    outcomes(&pair);
    assert!(returned.windows(2).all(|w| w[0].0 < w[1].0), "tags come back sorted, not in stream order");
    for label in 0..4u16 {
        let real = a.iter().filter(|r| r.1 == label).count() as u64;
        let group = sent.iter().filter(|&&l| l == label).count() as u64;
        assert_eq!(group, padded_group_size(real), "label {label}: padded to its bucket");
        assert!(group >= MIN_PADDED_GROUP && group > real, "label {label}: {real} real among {group}");
        let back = returned.iter().filter(|t| t.1 == label).count() as u64;
        assert_eq!(back, padded_group_size(real), "a label names a group of {group}, not a record");
    }
}

fn pair_with_aggregator_first(r: &[(u64, u16)], a: &[(u64, u16)]) -> Pair<SegmentSession> {
    pair(Role::Aggregator, r, a, 4, 4, exact())
}

/// The aggregator puts one target alone in a label group and reads that
/// column. With noise on, every released cell carries the receiver's own
/// noise, which the aggregator did not draw and cannot subtract: released
/// minus truth minus the aggregator's own noise is not zero.
#[test]
fn cheating_aggregator_singleton_group_reads_the_label_only_through_noise() {
    let target = 7u64;
    let mut a: Vec<(u64, u16)> = records(100..1_100, 3, 1).into_iter().map(|(id, l)| (id, l + 1)).collect();
    a.push((target, 0));
    let r = records((0..10).chain(100..900), 4, 0);
    let mut residues = Vec::new();
    for _ in 0..3 {
        let mut pair = pair(Role::Aggregator, &r, &a, 4, 4, noisy(1.0));
        pair.drive();
        let (ao, _) = outcomes(&pair);
        let own_noise = pair.a.drawn_noise();
        let truth = plain(&r, &a, 4, 4);
        let released = &ao.segments.as_ref().unwrap().released.cells;
        for (rr, row) in released.iter().enumerate() {
            for (aa, cell) in row.iter().enumerate() {
                // Clamping at 0 hides the residue of a cell pushed below 0.
                if let Some(v) = cell.filter(|&v| v > 0) {
                    residues.push(v - truth[rr][aa] - own_noise[rr][aa]);
                }
            }
        }
    }
    assert!(residues.len() > 20, "enough released cells to judge");
    let nonzero = residues.iter().filter(|&&x| x != 0).count();
    assert!(nonzero * 3 > residues.len(), "the receiver's noise remains: {nonzero} of {} residues", residues.len());
}

// ---- Finding 2: noise in both directions ----

/// The receiver, following the protocol, knows its own noise; what it
/// releases (and sees) still carries the aggregator's.
#[test]
fn semi_honest_receiver_cannot_remove_the_aggregators_noise() {
    let a = records(0..800, 4, 1);
    let r = records(200..1_000, 4, 0);
    let mut residues = Vec::new();
    for _ in 0..3 {
        let mut pair = pair(Role::Receiver, &r, &a, 4, 4, noisy(1.0));
        pair.drive();
        let (ro, _) = outcomes(&pair);
        let own_noise = pair.a.drawn_noise();
        let truth = plain(&r, &a, 4, 4);
        for (rr, row) in ro.segments.as_ref().unwrap().released.cells.iter().enumerate() {
            for (aa, cell) in row.iter().enumerate() {
                if let Some(v) = cell.filter(|&v| v > 0) {
                    residues.push(v - truth[rr][aa] - own_noise[rr][aa]);
                }
            }
        }
    }
    let nonzero = residues.iter().filter(|&&x| x != 0).count();
    assert!(nonzero * 3 > residues.len(), "the aggregator's noise remains: {nonzero} of {}", residues.len());
}

/// Both reports lead with the same overlap and say whether it is exact:
/// the released total, noisy with ε, exact (and equal to the true overlap)
/// without.
#[test]
fn semi_honest_reports_agree_on_the_headline_and_its_exactness() {
    let a = records(0..800, 4, 1);
    let r = records(200..1_000, 4, 0);
    let truth: i64 = plain(&r, &a, 4, 4).iter().flatten().sum();
    for (policy, noisy_expected) in [(exact(), false), (noisy(0.5), true)] {
        let mut pair = pair(Role::Receiver, &r, &a, 4, 4, policy);
        pair.drive();
        let (ro, ao) = outcomes(&pair);
        assert_eq!(ro.overlap, ao.overlap, "one headline");
        let (rs, as_) = (ro.segments.as_ref().unwrap(), ao.segments.as_ref().unwrap());
        assert_eq!((rs.noisy, as_.noisy), (noisy_expected, noisy_expected));
        assert_eq!(ro.overlap as i64, rs.released.total.unwrap());
        let cells: Vec<i64> = rs.released.cells.iter().flatten().map(|c| c.unwrap()).collect();
        assert!(cells.iter().all(|&c| c >= 0), "no negative count: {cells:?}");
        assert_eq!(cells.iter().sum::<i64>(), rs.released.total.unwrap(), "totals consistent with cells");
        if !noisy_expected {
            assert_eq!(ro.overlap as i64, truth, "exact when no noise");
        }
    }
}

// ---- Findings 3 and 4: the receiver's labels are proven one-hot ----

/// The receiver encrypts `K·2ⁱ` instead of 1 for a target component (the
/// demonstrated attack reads, per target, whether it matched and the
/// aggregator's label). Its proofs no longer verify: the aggregator
/// refuses the stream with a named error and never sends accumulators.
#[test]
fn cheating_receiver_scaled_labels_are_refused() {
    let a = records(0..600, 3, 1);
    let r = records(300..900, 4, 0);
    let mut pair = pair(Role::Receiver, &r, &a, 4, 3, noisy(0.5));
    let mut accumulators = 0;
    let mut i = 0u32;
    pair.drive_tampered(&mut |m| match m {
        Message::LabeledPoints { points, labels: Labels::OneHot { mut ciphertexts, proofs } } => {
            for (record, ct) in ciphertexts.chunks_exact_mut(5).enumerate().take(10) {
                // Component 1 + record: encrypts m + K·2^i, K = 1,000.
                ct[1 + record % 4] = shift(&ct[1 + record % 4], 1_000 << (i % 20));
                i += 1;
            }
            let labels = Labels::OneHot { ciphertexts, proofs };
            vec![codec::encode(&Message::LabeledPoints { points, labels })]
        }
        m => vec![codec::encode(&m)],
    });
    let error = pair.b.error().cloned();
    assert!(
        matches!(error, Some(ProtocolError::PeerMisbehaved(Misbehavior::UnprovenLabels(_)))),
        "refused by name: {error:?}"
    );
    pair.drive_tampered(&mut |m| {
        accumulators += matches!(m, Message::Accumulators(_)) as usize;
        vec![codec::encode(&m)]
    });
    assert_eq!(accumulators, 0);
    assert!(pair.a.outcome().is_none(), "nothing is released");
}

/// A valid proof taken from another record proves nothing about this one.
#[test]
fn cheating_receiver_moved_proofs_are_refused() {
    let a = records(0..300, 2, 1);
    let r = records(0..300, 2, 0);
    let mut pair = pair(Role::Receiver, &r, &a, 2, 2, exact());
    pair.drive_tampered(&mut |m| match m {
        Message::LabeledPoints { points, labels: Labels::OneHot { ciphertexts, mut proofs } } => {
            let len = proofs.len() / points.len();
            proofs.rotate_left(len);
            let labels = Labels::OneHot { ciphertexts, proofs };
            vec![codec::encode(&Message::LabeledPoints { points, labels })]
        }
        m => vec![codec::encode(&m)],
    });
    assert!(matches!(pair.b.error(), Some(ProtocolError::PeerMisbehaved(Misbehavior::UnprovenLabels(_)))));
}

/// The aggregator's refusal is no membership oracle: a cheating receiver
/// streams one person twice (its software skips deduplication), once a
/// person in the aggregator's list and once a person outside it. Both runs
/// end in the same error, after the receiver's whole stream, with nothing
/// released: duplicates are refused over the whole stream, not only among
/// matches.
#[test]
fn cheating_receiver_duplicate_gets_the_same_answer_for_member_and_non_member() {
    let a = records(0..500, 2, 1);
    let mut answers = Vec::new();
    for target in [10u64, 900] {
        let mut r = records(400..800, 2, 0);
        r.push((target, 0));
        r.push((target, 1));
        let receiver = session_from(Role::Receiver, 2, LabeledSet::without_dedup_for_test(&r), exact());
        let mut pair = Pair::new(receiver, session(Role::Aggregator, 2, &a, exact(), false));
        pair.drive();
        let error = pair.b.error().cloned();
        answers.push((error, pair.b.progress().points_received, pair.a.outcome().is_some()));
    }
    assert_eq!(answers[0], answers[1], "member and non-member look the same to the receiver");
    assert_eq!(answers[0].0, misbehaved(Misbehavior::DuplicatePoints));
    assert_eq!(answers[0].1, 402, "refused after the whole stream");
}

/// A session over a set as given (a cheating party's, say).
fn session_from(role: Role, labels: u16, set: LabeledSet, policy: Policy) -> SegmentSession {
    let config = SegmentConfig {
        session: SessionConfig { batch_size: 700, ..SessionConfig::new(policy, b"binding".to_vec()) },
        role,
        labels,
        agreement: AGREEMENT,
        reveal_segment_sizes: false,
    };
    SegmentSession::new(config, set).unwrap()
}

/// Finding 4, the other half: a corrupt record makes the aggregator refuse
/// whether or not the person is in its list. The receiver's whole list is
/// the one target, so the corrupted ciphertext is certainly the target's.
#[test]
fn cheating_receiver_corrupt_ciphertext_gets_the_same_answer_for_member_and_non_member() {
    let a = records(0..500, 2, 1);
    let mut answers = Vec::new();
    for target in [10u64, 900] {
        let receiver = session(Role::Receiver, 2, &[(target, 1)], exact(), false);
        let mut pair = Pair::new(receiver, session(Role::Aggregator, 2, &a, exact(), false));
        pair.drive_tampered(&mut |m| match m {
            Message::LabeledPoints { points, labels: Labels::OneHot { mut ciphertexts, proofs } } => {
                ciphertexts[1] = shift(&ciphertexts[1], 1);
                let labels = Labels::OneHot { ciphertexts, proofs };
                vec![codec::encode(&Message::LabeledPoints { points, labels })]
            }
            m => vec![codec::encode(&m)],
        });
        answers.push((pair.b.error().cloned(), pair.b.progress().points_received, pair.a.outcome().is_some()));
    }
    assert_eq!(answers[0], answers[1], "member and non-member look the same to the receiver");
    assert!(matches!(answers[0].0, Some(ProtocolError::PeerMisbehaved(Misbehavior::UnprovenLabels(_)))));
}

// ---- Findings 5 and 7: work and noise that say nothing about the match ----

/// Every receiver record costs the aggregator one accumulator addition,
/// matched or not (unmatched ones go to a dummy accumulator that is never
/// sent): with no overlap and with a full one, the same work.
#[test]
fn semi_honest_aggregator_work_per_record_does_not_depend_on_the_match() {
    let r = records(0..600, 2, 0);
    let mut adds = Vec::new();
    for a in [records(1_000..1_600, 2, 1), records(0..600, 2, 1)] {
        let mut pair =
            Pair::new(session(Role::Aggregator, 2, &a, exact(), false), session(Role::Receiver, 2, &r, exact(), false));
        pair.drive();
        let (ao, _) = outcomes(&pair);
        adds.push((pair.a.accumulator_adds(), ao.segments.as_ref().unwrap().aggregator_marginal.clone()));
    }
    assert_eq!(adds[0].0, 600);
    assert_eq!(adds[1].0, 600, "the same additions with every record matched as with none");
    assert_ne!(adds[0].1, adds[1].1, "the runs did differ in what matched");
}

/// Noise is drawn when the handshake completes, before any data flows, so
/// its variable sampling time cannot be read off the timing of the
/// accumulators or the release.
#[test]
fn semi_honest_noise_is_drawn_at_the_handshake() {
    let r = records(0..300, 2, 0);
    let a = records(0..300, 2, 1);
    let mut receiver = session(Role::Receiver, 2, &r, noisy(1.0), false);
    let mut aggregator = session(Role::Aggregator, 2, &a, noisy(1.0), false);
    let (to_aggregator, to_receiver) = (receiver.poll_transmit().unwrap(), aggregator.poll_transmit().unwrap());
    assert!(receiver.drawn_noise().is_empty() && aggregator.drawn_noise().is_empty(), "nothing drawn before");
    receiver.handle_message(&to_receiver.payload).unwrap();
    aggregator.handle_message(&to_aggregator.payload).unwrap();
    for party in [&receiver, &aggregator] {
        assert_eq!(party.drawn_noise().len(), 2, "a row of noise per receiver label");
        assert!(party.drawn_noise().iter().all(|row| row.len() == 2));
        assert_eq!(party.progress().points_received, 0, "before any data");
    }
}

// ---- Finding 6: suppression against what the aggregator knows ----

/// The review's table, as a real match: cells [[68, 66, 7], [17, 4, 0],
/// [35, 88, 2]] with `min_cell` 10. The aggregator knows its column totals
/// and the overlap; from the released table plus those, no suppressed cell
/// or row total can be solved for (exact rational elimination), and every
/// released figure is true.
#[test]
fn semi_honest_aggregator_cannot_recover_a_suppressed_cell() {
    let table = [[68u64, 66, 7], [17, 4, 0], [35, 88, 2]];
    let (mut r, mut a) = (Vec::new(), Vec::new());
    let mut id = 0u64;
    for (rl, row) in table.iter().enumerate() {
        for (al, &n) in row.iter().enumerate() {
            for _ in 0..n {
                r.push((id, rl as u16));
                a.push((id, al as u16));
                id += 1;
            }
        }
    }
    // Records on one side only, so no label is empty.
    r.extend((0..3).map(|l| (100_000 + l, l as u16)));
    a.extend((0..3).map(|l| (200_000 + l, l as u16)));
    let policy = Policy { min_cell: 10, ..Policy::permissive() };
    let mut pair =
        Pair::new(session(Role::Receiver, 3, &r, policy, false), session(Role::Aggregator, 3, &a, policy, false));
    pair.drive();
    let (ro, ao) = outcomes(&pair);
    let released = &ro.segments.as_ref().unwrap().released;
    assert_eq!(released, &ao.segments.as_ref().unwrap().released);
    assert_eq!(released.cells[2][2], None, "the 2 is suppressed");
    let truth: Vec<Vec<i64>> = table.iter().map(|row| row.iter().map(|&c| c as i64).collect()).collect();
    let row_sizes: Vec<u64> = table.iter().map(|row| row.iter().sum::<u64>() + 1).collect();
    crate::release::tests::audit(&truth, &row_sizes, 10, released).unwrap();
}
