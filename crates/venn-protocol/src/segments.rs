//! Segment mode: the overlap cross-tabulated by both parties' labels.
//!
//! Roles are asymmetric. The **aggregator** A sends its blinded identifiers
//! with its label encrypted under its own key (or in the clear with
//! `--reveal-segment-sizes`). The **receiver** R re-blinds them into tags,
//! re-randomizes the label ciphertexts and returns the pairs sorted by tag.
//! Only then does R stream its own blinded identifiers, each with a one-hot
//! encryption of its label under R's keys. A re-blinds them into tags, and
//! for each tag that equals one of its own, decrypts its own label `v` and
//! adds R's ciphertext into accumulator `v`. After R's stream, A adds noise
//! under encryption (when the policy asks), re-randomizes, and sends the
//! accumulators; R decrypts every cell, applies the thresholds
//! ([`crate::release`]) and sends the released table, which A confirms.
//!
//! Ordering R's stream after the returned tags means A never stores R's
//! ciphertexts: each batch is matched and summed as it arrives, so memory is
//! the 16-byte tags plus A's own label ciphertexts, bounded per record.
//!
//! ```text
//! A ──LabeledPoints (A's records)──────────────▶ R   re-blind, re-randomize
//! A ◀──LabeledTags (A's records, sorted)──────── R
//! A ◀──LabeledPoints (R's records, one-hot)──── R
//!   match, decrypt own label, accumulate
//! A ──Accumulators (noise, re-randomized)──────▶ R   decrypt, threshold
//! A ◀──Release─────────────────────────────────── R
//! A ──Confirm───────────────────────────────────▶ R
//! ```

use rand::seq::SliceRandom;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use venn_crypto::{
    blind_batch, decrypt_accumulators, encrypt_index, encrypt_one_hot, reblind_to_tags, rerandomize, Accumulator,
    BlindingKey, CryptoError, DiscreteLog, DomainTag, IndexDecryptor, LabelKeys, PublicLabelKeys, Tag,
};

use crate::{
    codec,
    core::Core,
    count::strictly_ascending,
    machine::Protocol,
    message::{Hello, Labels, NONCE_LEN, PROTOCOL_VERSION},
    release::{release, Released},
    session::{accept_hello, check_batch_len, invalid_point},
    transcript::hash_domain,
    Channel, Element, Incompatibility, Message, Misbehavior, Outcome, ProtocolError, Role, SegmentHello,
    SegmentOutcome, SessionConfig, SessionId, Side, MAX_ITEMS_PER_MESSAGE,
};

/// Most label combinations a side may have, whatever the policy says: keeps
/// the accumulators (labels × (labels + 1) points) inside one message.
pub const MAX_SEGMENT_LABELS: u16 = 128;

/// How a segment session is set up.
#[derive(Debug, Clone)]
pub struct SegmentConfig {
    /// Policy, channel binding, batch size.
    pub session: SessionConfig,
    /// Our role, from the agreement.
    pub role: Role,
    /// Our number of label combinations (labels are `0..labels`).
    pub labels: u16,
    /// SHA-256 of the agreement file; must equal the peer's.
    pub agreement: [u8; 32],
    /// Aggregator sends its labels in the clear (both must agree).
    pub reveal_segment_sizes: bool,
}

/// Distinct elements with their labels, in a uniformly random order.
pub struct LabeledSet {
    elements: Vec<Element>,
    labels: Vec<u16>,
}

impl LabeledSet {
    /// Removes duplicate elements, keeping the first occurrence's label, and
    /// shuffles with a permutation from the OS CSPRNG. Returns how many
    /// duplicates were dropped.
    pub fn new(mut records: Vec<(Element, u16)>) -> (Self, u64) {
        let before = records.len();
        // Stable, so the first occurrence of an element stays first.
        records.sort_by_key(|r| r.0);
        records.dedup_by(|later, earlier| later.0 == earlier.0);
        let duplicates = (before - records.len()) as u64;
        records.shuffle(&mut OsRng);
        let (elements, labels) = records.into_iter().unzip();
        (Self { elements, labels }, duplicates)
    }

    /// Number of distinct elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

/// One party's side of a segment match. Drive it through [`crate::Machine`].
pub struct SegmentSession {
    config: SegmentConfig,
    state: State,
    core: Core,
}

enum State {
    Handshake(Box<Handshake>),
    Aggregating(Box<Aggregating>),
    Receiving(Box<Receiving>),
    AwaitRelease(Box<AwaitRelease>),
    AwaitConfirm(Box<AwaitConfirm>),
    Finished,
    Failed,
}

impl State {
    fn phase(&self) -> &'static str {
        match self {
            State::Handshake(_) => "waiting for the handshake",
            State::Aggregating(_) | State::Receiving(_) => "exchanging points",
            State::AwaitRelease(_) => "waiting for the released table",
            State::AwaitConfirm(_) => "waiting for the confirmation",
            State::Finished => "finished",
            State::Failed => "failed",
        }
    }
}

struct Handshake {
    key: BlindingKey,
    label_keys: LabelKeys,
    nonce: [u8; NONCE_LEN],
    own: LabeledSet,
}

/// What both roles hold during the exchange.
struct Common {
    key: BlindingKey,
    dst: DomainTag,
    session_id: SessionId,
    policy: crate::Policy,
    own: LabeledSet,
    sent: usize,
    own_keys: LabelKeys,
    peer_keys: PublicLabelKeys,
    peer_size: u64,
    peer_received: u64,
    peer_labels: u16,
}

impl Common {
    fn points_done(&self) -> bool {
        self.sent == self.own.len()
    }

    /// Re-blinds a batch of peer points, after the count checks.
    fn reblind(&mut self, points: &[[u8; 32]]) -> Result<Vec<Tag>, ProtocolError> {
        check_batch_len("LabeledPoints", points.len())?;
        if self.peer_received + points.len() as u64 > self.peer_size {
            return Err(Misbehavior::TooManyPoints { announced: self.peer_size }.into());
        }
        let tags = reblind_to_tags(&self.key, points).map_err(|source| invalid_point(self.peer_received, source))?;
        self.peer_received += points.len() as u64;
        Ok(tags)
    }
}

/// The aggregator during the exchange.
struct Aggregating {
    c: Common,
    reveal: bool,
    /// Our records as returned by the receiver: ascending tags and labels.
    own_tags: Vec<Tag>,
    own_tag_labels: Vec<OwnLabel>,
    matched: Vec<bool>,
    accumulators: Vec<Accumulator>,
    marginal: Vec<u64>,
}

/// The label of one of our returned records.
#[derive(Clone, Copy)]
enum OwnLabel {
    Encrypted([u8; 32], [u8; 32]),
    Clear(u16),
}

/// The receiver during the exchange.
struct Receiving {
    c: Common,
    reveal: bool,
    /// The aggregator's records: tags and re-randomized labels, sorted once
    /// the aggregator's stream is complete.
    peer: Vec<(Tag, OwnLabel)>,
    returned: Option<usize>,
}

struct AwaitRelease {
    outcome: Outcome,
    marginal: Vec<u64>,
    receiver_labels: u16,
    aggregator_labels: u16,
}

struct AwaitConfirm {
    expected: [u8; 32],
    outcome: Outcome,
}

impl SegmentSession {
    /// Starts a segment session: draws the blinding key, the label keys and
    /// the nonce from the OS CSPRNG, and queues our Hello.
    pub fn new(config: SegmentConfig, set: LabeledSet) -> Result<Self, ProtocolError> {
        let own_size = set.len() as u64;
        let policy = config.session.policy;
        policy.check(Side::Own, own_size)?;
        let max = policy.max_labels.min(MAX_SEGMENT_LABELS);
        if config.labels == 0 || config.labels > max {
            return Err(Incompatibility::TooManyLabels { side: Side::Own, labels: config.labels, max }.into());
        }
        if let Some(&bad) = set.labels.iter().find(|&&l| l >= config.labels) {
            return Err(Incompatibility::TooManyLabels {
                side: Side::Own,
                labels: bad.saturating_add(1),
                max: config.labels,
            }
            .into());
        }
        let label_keys = LabelKeys::random(match config.role {
            Role::Receiver => config.labels as usize,
            Role::Aggregator => 1,
        });
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let hello = Hello {
            version: PROTOCOL_VERSION,
            nonce,
            set_size: own_size,
            policy,
            segments: Some(SegmentHello {
                role: config.role,
                labels: config.labels,
                agreement: config.agreement,
                reveal_segment_sizes: config.reveal_segment_sizes,
                keys: label_keys.public().to_bytes(),
            }),
        };
        let mut core = Core::new(own_size);
        core.queue(Channel::Control, &Message::Hello(hello));
        let mut config = config;
        config.session.batch_size = config.session.batch_size.clamp(1, MAX_ITEMS_PER_MESSAGE);
        Ok(Self {
            state: State::Handshake(Box::new(Handshake { key: BlindingKey::random(), label_keys, nonce, own: set })),
            config,
            core,
        })
    }

    fn on_hello(&mut self, h: Handshake, hello: Hello) -> Result<State, ProtocolError> {
        let accepted = accept_hello(&self.config.session, &h.nonce, h.own.len() as u64, &hello)?;
        let Some(peer) = &hello.segments else {
            return Err(Incompatibility::ModeMismatch { ours: "segments", theirs: "count" }.into());
        };
        if peer.agreement != self.config.agreement {
            return Err(Incompatibility::AgreementMismatch {
                ours: hex(&self.config.agreement),
                theirs: hex(&peer.agreement),
            }
            .into());
        }
        if peer.role == self.config.role {
            return Err(Incompatibility::SameRole(peer.role).into());
        }
        if peer.reveal_segment_sizes != self.config.reveal_segment_sizes {
            return Err(Incompatibility::RevealMismatch.into());
        }
        let max = accepted.policy.max_labels.min(MAX_SEGMENT_LABELS);
        for (side, labels) in [(Side::Own, self.config.labels), (Side::Peer, peer.labels)] {
            if labels == 0 || labels > max {
                return Err(Incompatibility::TooManyLabels { side, labels, max }.into());
            }
        }
        let expected_keys = match peer.role {
            Role::Receiver => peer.labels as usize,
            Role::Aggregator => 1,
        };
        if peer.keys.len() != expected_keys {
            return Err(Misbehavior::BadKeys(CryptoError::TooManyKeys { count: peer.keys.len() }).into());
        }
        let peer_keys = PublicLabelKeys::from_bytes(&peer.keys).map_err(Misbehavior::BadKeys)?;
        self.core.progress.peer_size = hello.set_size;
        self.core.event(accepted.event(hello.set_size));
        let c = Common {
            key: h.key,
            dst: hash_domain(&accepted.session_id),
            session_id: accepted.session_id,
            policy: accepted.policy,
            own: h.own,
            sent: 0,
            own_keys: h.label_keys,
            peer_keys,
            peer_size: hello.set_size,
            peer_received: 0,
            peer_labels: peer.labels,
        };
        let reveal = self.config.reveal_segment_sizes;
        Ok(match self.config.role {
            Role::Aggregator => State::Aggregating(Box::new(Aggregating {
                accumulators: vec![Accumulator::new(peer.labels as usize + 1); self.config.labels as usize],
                marginal: vec![0; self.config.labels as usize],
                c,
                reveal,
                own_tags: Vec::new(),
                own_tag_labels: Vec::new(),
                matched: Vec::new(),
            })),
            Role::Receiver => State::Receiving(Box::new(Receiving { c, reveal, peer: Vec::new(), returned: None })),
        })
    }

    /// Records per message for records of `bytes` bytes each.
    fn records_per_message(&self, bytes: usize) -> usize {
        let fit = (codec::MAX_MESSAGE_BYTES - 64) / bytes.max(1);
        self.config.session.batch_size.clamp(1, fit.max(1))
    }
}

impl Aggregating {
    fn on_tags(&mut self, tags: Vec<[u8; 16]>, labels: Labels) -> Result<u64, ProtocolError> {
        check_batch_len("LabeledTags", tags.len())?;
        if !self.c.points_done() {
            return Err(Misbehavior::TagsBeforePoints.into());
        }
        if self.own_tags.len() + tags.len() > self.c.own.len() {
            return Err(Misbehavior::TooManyTags { expected: self.c.own.len() as u64 }.into());
        }
        let tags: Vec<Tag> = tags.into_iter().map(Tag).collect();
        if !strictly_ascending(self.own_tags.last(), &tags) {
            return Err(Misbehavior::UnsortedTags.into());
        }
        let labels = own_labels(labels, tags.len(), self.reveal, self.accumulators.len() as u16)?;
        let n = tags.len() as u64;
        self.own_tags.extend(tags);
        self.own_tag_labels.extend(labels);
        Ok(n)
    }

    fn on_points(&mut self, points: Vec<[u8; 32]>, labels: Labels) -> Result<u64, ProtocolError> {
        if self.own_tags.len() < self.c.own.len() {
            return Err(Misbehavior::PointsBeforeTags.into());
        }
        let width = self.c.peer_labels as usize + 1;
        let Labels::Encrypted(cts) = labels else { return Err(Misbehavior::BadLabels.into()) };
        if cts.len() != points.len() * width {
            return Err(Misbehavior::BadLabels.into());
        }
        let tags = self.c.reblind(&points)?;
        let decryptor = IndexDecryptor::new(&self.c.own_keys, self.accumulators.len());
        for (i, tag) in tags.iter().enumerate() {
            let Ok(pos) = self.own_tags.binary_search(tag) else { continue };
            if std::mem::replace(&mut self.matched[pos], true) {
                return Err(Misbehavior::DuplicatePoints.into());
            }
            let v = match self.own_tag_labels[pos] {
                OwnLabel::Clear(v) => v,
                OwnLabel::Encrypted(c0, c1) => decryptor.decrypt(&c0, &c1).map_err(|_| Misbehavior::BadCiphertext)?,
            } as usize;
            let acc = self.accumulators.get_mut(v).ok_or(Misbehavior::BadLabels)?;
            acc.add(&cts[i * width..(i + 1) * width]).map_err(|_| Misbehavior::BadCiphertext)?;
            self.marginal[v] += 1;
        }
        Ok(points.len() as u64)
    }
}

impl Receiving {
    fn on_points(&mut self, points: Vec<[u8; 32]>, labels: Labels) -> Result<u64, ProtocolError> {
        let n = points.len();
        let tags = self.c.reblind(&points)?;
        let labels = match labels {
            Labels::Encrypted(cts) if !self.reveal => {
                if cts.len() != 2 * n {
                    return Err(Misbehavior::BadLabels.into());
                }
                let fresh = rerandomize(&self.c.peer_keys, &cts).map_err(|_| Misbehavior::BadCiphertext)?;
                fresh.chunks(2).map(|c| OwnLabel::Encrypted(c[0], c[1])).collect::<Vec<_>>()
            }
            labels => own_labels(labels, n, self.reveal, self.c.peer_labels)?,
        };
        self.peer.extend(tags.into_iter().zip(labels));
        Ok(n as u64)
    }

    /// Once the aggregator's stream is complete, sorts its records by tag
    /// (hiding the order it sent them in) and refuses duplicates.
    fn sort_when_complete(&mut self) -> Result<(), ProtocolError> {
        if self.returned.is_some() || self.c.peer_received < self.c.peer_size {
            return Ok(());
        }
        self.peer.sort_unstable_by_key(|p| p.0);
        if self.peer.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(Misbehavior::DuplicatePoints.into());
        }
        self.returned = Some(0);
        Ok(())
    }

    fn ready_for_accumulators(&self) -> bool {
        self.c.points_done() && self.returned == Some(self.peer.len())
    }
}

/// Checks the aggregator's labels of a batch of `n` records: in the clear
/// when (and only when) `reveal`, each below `clear_limit`; otherwise one
/// ciphertext pair per record.
fn own_labels(labels: Labels, n: usize, reveal: bool, clear_limit: u16) -> Result<Vec<OwnLabel>, ProtocolError> {
    match labels {
        Labels::Clear(l) if reveal && l.len() == n && l.iter().all(|&v| v < clear_limit) => {
            Ok(l.into_iter().map(OwnLabel::Clear).collect())
        }
        Labels::Encrypted(c) if !reveal && c.len() == 2 * n => {
            Ok(c.chunks(2).map(|c| OwnLabel::Encrypted(c[0], c[1])).collect())
        }
        _ => Err(Misbehavior::BadLabels.into()),
    }
}

fn labels_of(records: &[(Tag, OwnLabel)]) -> Labels {
    match records.first().map(|r| r.1) {
        Some(OwnLabel::Clear(_)) => {
            Labels::Clear(records.iter().map(|r| if let OwnLabel::Clear(v) = r.1 { v } else { 0 }).collect())
        }
        _ => Labels::Encrypted(
            records
                .iter()
                .flat_map(|r| match r.1 {
                    OwnLabel::Encrypted(a, b) => [a, b],
                    OwnLabel::Clear(_) => [[0; 32]; 2],
                })
                .collect(),
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `SHA-256("venn/v1/segments-confirm" ‖ session id ‖ encoded release)`.
fn release_confirmation(id: &SessionId, release: &Released) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"venn/v1/segments-confirm")
        .chain_update(id.0)
        .chain_update(codec::encode(&Message::Release(release.clone())))
        .finalize()
        .into()
}

/// Discrete Laplace noise for one accumulator (one value per receiver label).
fn noise_vector(policy: &crate::Policy, labels: usize) -> Result<Vec<i64>, ProtocolError> {
    match policy.epsilon_micros {
        None => Ok(vec![0; labels]),
        Some(micros) => (0..labels)
            .map(|_| venn_crypto::discrete_laplace(micros, 1_000_000).map_err(|_| ProtocolError::NoiseUnavailable))
            .collect(),
    }
}

impl Protocol for SegmentSession {
    fn core(&mut self) -> &mut Core {
        &mut self.core
    }

    fn core_ref(&self) -> &Core {
        &self.core
    }

    fn phase(&self) -> &'static str {
        self.state.phase()
    }

    fn dispatch(&mut self, message: Message) -> Result<(), ProtocolError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        self.state = match (state, message) {
            (State::Handshake(h), Message::Hello(hello)) => self.on_hello(*h, hello)?,
            (State::Aggregating(mut a), Message::LabeledTags { tags, labels }) => {
                self.core.progress.tags_received += a.on_tags(tags, labels)?;
                a.matched = vec![false; a.own_tags.len()];
                self.core.progress_event();
                State::Aggregating(a)
            }
            (State::Aggregating(mut a), Message::LabeledPoints { points, labels }) => {
                self.core.progress.points_received += a.on_points(points, labels)?;
                self.core.progress_event();
                State::Aggregating(a)
            }
            (State::Receiving(mut r), Message::LabeledPoints { points, labels }) => {
                self.core.progress.points_received += r.on_points(points, labels)?;
                r.sort_when_complete()?;
                self.core.progress_event();
                State::Receiving(r)
            }
            (State::Receiving(r), Message::Accumulators(acc)) if r.ready_for_accumulators() => {
                let (outcome, released) = receive_accumulators(*r, &acc, self.config.labels)?;
                self.core.queue(Channel::Control, &Message::Release(released.clone()));
                let expected = release_confirmation(&outcome.session_id, &released);
                State::AwaitConfirm(Box::new(AwaitConfirm { expected, outcome }))
            }
            (State::AwaitConfirm(c), Message::Confirm(theirs)) => {
                if theirs != c.expected {
                    return Err(Misbehavior::ConfirmationMismatch.into());
                }
                self.core.finish(c.outcome);
                State::Finished
            }
            (State::AwaitRelease(w), Message::Release(released)) => {
                let shape_ok = released.cells.len() == w.receiver_labels as usize
                    && released.cells.iter().all(|row| row.len() == w.aggregator_labels as usize)
                    && released.row_totals.len() == w.receiver_labels as usize
                    && released.col_totals.len() == w.aggregator_labels as usize;
                if !shape_ok {
                    return Err(Misbehavior::BadRelease.into());
                }
                self.core
                    .queue(Channel::Control, &Message::Confirm(release_confirmation(&w.outcome.session_id, &released)));
                let mut outcome = w.outcome;
                outcome.segments =
                    Some(SegmentOutcome { role: Role::Aggregator, released, aggregator_marginal: Some(w.marginal) });
                self.core.finish(outcome);
                State::Finished
            }
            (state, message) => {
                return Err(Misbehavior::UnexpectedMessage { message: message.kind(), phase: state.phase() }.into())
            }
        };
        Ok(())
    }

    fn next_message(&mut self) -> Option<(Channel, Message)> {
        // Bytes per record: a point and two label points (aggregator), a tag
        // and two label points (returned), a point and L + 1 label points
        // (receiver).
        let per_aggregator = self.records_per_message(96);
        let per_returned = self.records_per_message(80);
        let per_receiver = self.records_per_message(32 * (self.config.labels as usize + 2));
        match &mut self.state {
            State::Aggregating(a) if !a.c.points_done() => {
                let (start, end) = (a.c.sent, (a.c.sent + per_aggregator).min(a.c.own.len()));
                let points = blind_batch(&a.c.key, &a.c.dst, &a.c.own.elements[start..end]);
                let own = &a.c.own.labels[start..end];
                let labels = if a.reveal {
                    Labels::Clear(own.to_vec())
                } else {
                    Labels::Encrypted(encrypt_index(a.c.own_keys.public(), own).ok()?)
                };
                a.c.sent = end;
                self.core.progress.points_sent += (end - start) as u64;
                Some((Channel::Data, Message::LabeledPoints { points, labels }))
            }
            State::Receiving(r) => {
                if let Some(done) = r.returned.filter(|&d| d < r.peer.len()) {
                    let end = (done + per_returned).min(r.peer.len());
                    let slice = &r.peer[done..end];
                    let message =
                        Message::LabeledTags { tags: slice.iter().map(|p| p.0 .0).collect(), labels: labels_of(slice) };
                    r.returned = Some(end);
                    self.core.progress.tags_sent += (end - done) as u64;
                    return Some((Channel::Data, message));
                }
                if r.returned != Some(r.peer.len()) || r.c.points_done() {
                    return None;
                }
                let (start, end) = (r.c.sent, (r.c.sent + per_receiver).min(r.c.own.len()));
                let points = blind_batch(&r.c.key, &r.c.dst, &r.c.own.elements[start..end]);
                let cts = encrypt_one_hot(r.c.own_keys.public(), &r.c.own.labels[start..end]).ok()?;
                r.c.sent = end;
                self.core.progress.points_sent += (end - start) as u64;
                Some((Channel::Data, Message::LabeledPoints { points, labels: Labels::Encrypted(cts) }))
            }
            _ => None,
        }
    }

    /// The aggregator sends its accumulators once everything is in.
    fn advance(&mut self) -> Result<(), ProtocolError> {
        let State::Aggregating(a) = &self.state else { return Ok(()) };
        let complete = a.c.points_done() && a.own_tags.len() == a.c.own.len() && a.c.peer_received == a.c.peer_size;
        if !complete {
            return Ok(());
        }
        let State::Aggregating(a) = std::mem::replace(&mut self.state, State::Failed) else { return Ok(()) };
        let a = *a;
        let receiver_labels = a.c.peer_labels;
        let mut wire = Vec::with_capacity(a.accumulators.len() * (receiver_labels as usize + 1));
        for acc in a.accumulators {
            let noise = noise_vector(&a.c.policy, receiver_labels as usize)?;
            wire.extend(acc.finish(&a.c.peer_keys, &noise));
        }
        self.core.queue(Channel::Control, &Message::Accumulators(wire));
        let overlap = a.marginal.iter().sum();
        self.state = State::AwaitRelease(Box::new(AwaitRelease {
            outcome: Outcome {
                session_id: a.c.session_id,
                own_size: a.c.own.len() as u64,
                peer_size: a.c.peer_size,
                overlap,
                policy: a.c.policy,
                segments: None,
            },
            marginal: a.marginal,
            receiver_labels,
            aggregator_labels: self.config.labels,
        }));
        Ok(())
    }

    fn close_error(&self) -> ProtocolError {
        let received = match &self.state {
            State::Aggregating(a) => Some((a.c.peer_size, a.c.peer_received)),
            State::Receiving(r) => Some((r.c.peer_size, r.c.peer_received)),
            _ => None,
        };
        match received {
            Some((announced, received)) if received < announced => {
                Misbehavior::TooFewPoints { announced, received }.into()
            }
            _ => Misbehavior::UnexpectedEnd { phase: self.state.phase() }.into(),
        }
    }

    fn drop_state(&mut self) {
        self.state = State::Failed;
    }
}

/// The receiver decrypts the accumulators and applies the thresholds.
fn receive_accumulators(
    r: Receiving,
    wire: &[[u8; 32]],
    own_labels: u16,
) -> Result<(Outcome, Released), ProtocolError> {
    let c = r.c;
    let aggregator_labels = c.peer_labels as usize;
    if wire.len() != aggregator_labels * (own_labels as usize + 1) {
        return Err(Misbehavior::BadCiphertext.into());
    }
    // Each cell counts common identifiers, at most the smaller set, plus
    // noise whose tail beyond 60 scales has probability below e^-60.
    let noise_margin = c.policy.epsilon_micros.map(|e| 60 * 1_000_000 / e.max(1) + 1).unwrap_or(0);
    let bound = (c.own.len() as u64).min(c.peer_size) + noise_margin;
    let dlog = DiscreteLog::new(bound);
    let cells =
        decrypt_accumulators(&c.own_keys, wire, aggregator_labels, &dlog).map_err(|_| Misbehavior::BadCiphertext)?;
    let released = release(&cells, c.policy.min_cell, c.policy.epsilon_micros.is_some())
        .map_err(|_| Misbehavior::BadCiphertext)?;
    let overlap = cells.iter().flatten().sum::<i64>().max(0) as u64;
    let outcome = Outcome {
        session_id: c.session_id,
        own_size: c.own.len() as u64,
        peer_size: c.peer_size,
        overlap,
        policy: c.policy,
        segments: Some(SegmentOutcome { role: Role::Receiver, released: released.clone(), aggregator_marginal: None }),
    };
    Ok((outcome, released))
}

impl std::fmt::Debug for SegmentSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentSession")
            .field("role", &self.config.role)
            .field("phase", &self.state.phase())
            .field("progress", &self.core.progress)
            .finish_non_exhaustive()
    }
}
