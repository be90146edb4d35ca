//! Segment mode: the overlap cross-tabulated by both parties' labels.
//!
//! Roles are asymmetric. The **aggregator** A sends its blinded identifiers
//! in label groups: each record carries its label in the clear, and each
//! group is padded with dummy records (random identifiers, which match
//! nothing) up to a bucket size, so the receiver learns group sizes only to
//! within the bucket ([`padded_group_size`]). The **receiver** R re-blinds
//! them into tags and returns the pairs sorted by tag: a label names a
//! group, never a record, so A cannot link a returned tag to one of its
//! records (as it could when it chose what to encrypt beside each record).
//! Then R streams its own blinded identifiers, each with a one-hot
//! encryption of its label under R's keys *and a proof that it is one-hot*
//! ([`venn_crypto::verify_one_hot_batch`]): a receiver that encrypted
//! `K·2ⁱ` instead of 0/1 would read per-record facts out of the sums.
//!
//! A verifies every batch's proofs and validates every point before it
//! looks at any match, re-blinds the points into tags, and adds each
//! record's ciphertext into the accumulator of the matched tag's label, or
//! into a dummy accumulator when nothing matched, so its work per record
//! does not depend on the match. Duplicates in R's stream are refused once
//! the whole stream is in, whatever matched. After R's stream, A adds its
//! noise (drawn at the handshake) under encryption, re-randomizes, and sends
//! the accumulators. R decrypts every cell, adds *its own* noise (drawn at
//! the handshake too), applies the thresholds ([`crate::release`]) and sends
//! the released table, which A confirms. Every figure a party receives so
//! carries noise it did not draw: A's protects A's data from R, R's
//! protects R's data from A.
//!
//! Ordering R's stream after the returned tags means A never stores R's
//! ciphertexts: each batch is verified, matched and summed as it arrives.
//!
//! ```text
//! A ──LabeledPoints (A's records, clear labels, padded groups)──▶ R  re-blind
//! A ◀──LabeledTags (A's records, sorted by tag)────────────────── R
//! A ◀──LabeledPoints (R's records, one-hot + proofs)───────────── R
//!   verify, match, accumulate (dummy accumulator when unmatched)
//! A ──Accumulators (A's noise, re-randomized)───────────────────▶ R  decrypt, R's noise, threshold
//! A ◀──Release──────────────────────────────────────────────────── R
//! A ──Confirm───────────────────────────────────────────────────▶ R
//! ```

use rand::seq::SliceRandom;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use venn_crypto::{
    blind_batch, decrypt_accumulators, proof_len, reblind_to_tags, verify_one_hot_batch_points, Accumulator,
    BlindingKey, DiscreteLog, DomainTag, LabelKeys, PublicLabelKeys, Tag,
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

/// Smallest padded size of an aggregator label group: an empty group and a
/// group of one look alike to the receiver.
pub const MIN_PADDED_GROUP: u64 = 64;

/// The size an aggregator label group of `n` real records is padded to
/// with dummies: `n` rounded up to a multiple of `max(64, 2^(⌊log₂ n⌋ − 3))`,
/// so the receiver learns each group's size to within an eighth (and not
/// at all below 64), for at most `n/8 + 64` dummies per group.
pub fn padded_group_size(n: u64) -> u64 {
    let step = (1u64 << n.max(1).ilog2().saturating_sub(3)).max(MIN_PADDED_GROUP);
    n.div_ceil(step).max(1) * step
}

/// The most records an aggregator may stream for `set_size` real records in
/// `labels` groups: [`padded_group_size`] adds at most `n/8 + 64` per group.
fn max_stream_size(set_size: u64, labels: u16) -> u64 {
    set_size.saturating_add(set_size / 8).saturating_add(MIN_PADDED_GROUP * labels as u64)
}

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
    /// The aggregator's label groups travel unpadded (both must agree): the
    /// receiver then learns the aggregator's segment sizes exactly.
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

    /// A cheating party's set: the records as given, repeats included.
    #[cfg(test)]
    pub(crate) fn without_dedup_for_test(records: &[(u64, u16)]) -> Self {
        let (elements, labels) = records.iter().map(|&(id, l)| (crate::segment_tests::element(id), l)).unzip();
        Self { elements, labels }
    }

    /// Number of distinct elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Records per label, for `labels` labels.
    fn counts(&self, labels: u16) -> Vec<u64> {
        let mut counts = vec![0u64; labels as usize];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// The aggregator's stream: these records plus, per label, random
    /// dummy identifiers up to [`padded_group_size`], shuffled together.
    /// Dummies are uniform 32-byte strings: hashed to the group like any
    /// element, they match a real identifier with probability 2⁻²⁵⁶.
    fn padded(self, labels: u16) -> LabeledSet {
        let counts = self.counts(labels);
        let mut records: Vec<(Element, u16)> = self.elements.into_iter().zip(self.labels).collect();
        for (label, n) in counts.into_iter().enumerate() {
            for _ in n..padded_group_size(n) {
                let mut dummy = [0u8; 32];
                OsRng.fill_bytes(&mut dummy);
                records.push((Element(dummy), label as u16));
            }
        }
        records.shuffle(&mut OsRng);
        let (elements, labels) = records.into_iter().unzip();
        LabeledSet { elements, labels }
    }
}

/// One party's side of a segment match. Drive it through [`crate::Machine`].
pub struct SegmentSession {
    config: SegmentConfig,
    state: State,
    core: Core,
    /// A copy of the noise we drew, for the tests that play a party
    /// subtracting its own noise.
    #[cfg(test)]
    drawn_noise: Vec<Vec<i64>>,
    /// The aggregator's accumulator additions, once its exchange is over.
    #[cfg(test)]
    accumulator_adds: u64,
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
    key: Box<BlindingKey>,
    label_keys: LabelKeys,
    nonce: [u8; NONCE_LEN],
    /// Our distinct records per label, and their number (our set size).
    own_counts: Vec<u64>,
    own_size: u64,
    /// What we stream: our records, padded with dummies when we aggregate.
    stream: LabeledSet,
}

/// What both roles hold during the exchange.
struct Common {
    key: Box<BlindingKey>,
    dst: DomainTag,
    session_id: SessionId,
    policy: crate::Policy,
    /// Our distinct records per label.
    own_counts: Vec<u64>,
    own_size: u64,
    stream: LabeledSet,
    sent: usize,
    own_keys: LabelKeys,
    peer_keys: PublicLabelKeys,
    peer_set_size: u64,
    peer_stream_size: u64,
    peer_received: u64,
    peer_labels: u16,
    /// Our noise, drawn at the handshake: one value per cell, in the order
    /// the receiver's table has them (`noise[r][a]`); zeros without ε.
    noise: Vec<Vec<i64>>,
}

impl Common {
    fn points_done(&self) -> bool {
        self.sent == self.stream.len()
    }

    /// Re-blinds a batch of peer points, after the count checks.
    fn reblind(&mut self, points: &[[u8; 32]]) -> Result<Vec<Tag>, ProtocolError> {
        check_batch_len("LabeledPoints", points.len())?;
        if self.peer_received + points.len() as u64 > self.peer_stream_size {
            return Err(Misbehavior::TooManyPoints { announced: self.peer_stream_size }.into());
        }
        let tags = reblind_to_tags(&self.key, points).map_err(|source| invalid_point(self.peer_received, source))?;
        self.peer_received += points.len() as u64;
        Ok(tags)
    }
}

/// The aggregator during the exchange.
struct Aggregating {
    c: Common,
    /// Our records as returned by the receiver: ascending tags and labels.
    own_tags: Vec<Tag>,
    own_tag_labels: Vec<u16>,
    /// One accumulator per own label, and a last one for records that
    /// matched nothing (discarded), so every record costs the same.
    accumulators: Vec<Accumulator>,
    marginal: Vec<u64>,
    /// Every tag of the receiver's stream, to refuse duplicates once it is
    /// complete, whether or not they matched.
    peer_tags: Vec<Tag>,
    /// Accumulator additions made, for the test that plays a timing oracle.
    #[cfg(test)]
    adds: u64,
}

/// The receiver during the exchange.
struct Receiving {
    c: Common,
    /// The aggregator's records: tags and labels, sorted once the
    /// aggregator's stream is complete.
    peer: Vec<(Tag, u16)>,
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
    /// the nonce from the OS CSPRNG, pads the aggregator's groups, and
    /// queues our Hello.
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
        let own_counts = set.counts(config.labels);
        let (label_keys, stream) = match config.role {
            Role::Receiver => (LabelKeys::random(config.labels as usize), set),
            Role::Aggregator if config.reveal_segment_sizes => (LabelKeys::random(0), set),
            Role::Aggregator => (LabelKeys::random(0), set.padded(config.labels)),
        };
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
                stream_size: stream.len() as u64,
            }),
            index: None,
        };
        let mut core = Core::new(stream.len() as u64);
        core.queue(Channel::Control, &Message::Hello(hello));
        let mut config = config;
        config.session.batch_size = config.session.batch_size.clamp(1, MAX_ITEMS_PER_MESSAGE);
        Ok(Self {
            state: State::Handshake(Box::new(Handshake {
                key: BlindingKey::random(),
                label_keys,
                nonce,
                own_counts,
                own_size,
                stream,
            })),
            config,
            core,
            #[cfg(test)]
            drawn_noise: Vec::new(),
            #[cfg(test)]
            accumulator_adds: 0,
        })
    }

    /// How many receiver records the aggregator added into an accumulator.
    #[cfg(test)]
    pub(crate) fn accumulator_adds(&self) -> u64 {
        self.accumulator_adds
    }

    /// The noise this session drew at its handshake, `[r][a]`.
    #[cfg(test)]
    pub(crate) fn drawn_noise(&self) -> &[Vec<i64>] {
        &self.drawn_noise
    }

    fn on_hello(&mut self, h: Handshake, hello: Hello) -> Result<State, ProtocolError> {
        let accepted = accept_hello(&self.config.session, &h.nonce, h.own_size, &hello)?;
        let Some(peer) = &hello.segments else {
            let theirs = if hello.index.is_some() { "index" } else { "count" };
            return Err(Incompatibility::ModeMismatch { ours: "segments", theirs }.into());
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
            Role::Aggregator => 0,
        };
        if peer.keys.len() != expected_keys {
            return Err(Misbehavior::BadKeys(venn_crypto::CryptoError::TooManyKeys { count: peer.keys.len() }).into());
        }
        // An honest receiver streams its set; an aggregator its set and at
        // most the padding allows (exactly its set when unpadded).
        let stream_ok = match peer.role {
            Role::Receiver => peer.stream_size == hello.set_size,
            Role::Aggregator if peer.reveal_segment_sizes => peer.stream_size == hello.set_size,
            Role::Aggregator => {
                (hello.set_size..=max_stream_size(hello.set_size, peer.labels)).contains(&peer.stream_size)
            }
        };
        if !stream_ok {
            return Err(Misbehavior::BadStreamSize { stream: peer.stream_size, set: hello.set_size }.into());
        }
        let peer_keys = PublicLabelKeys::from_bytes(&peer.keys).map_err(Misbehavior::BadKeys)?;
        let (receiver_labels, aggregator_labels) = match self.config.role {
            Role::Receiver => (self.config.labels, peer.labels),
            Role::Aggregator => (peer.labels, self.config.labels),
        };
        // Noise is drawn now, before any data flows, so that its variable
        // sampling time cannot be read off the timing of our later messages.
        let noise = noise_table(&accepted.policy, receiver_labels, aggregator_labels)?;
        #[cfg(test)]
        {
            self.drawn_noise = noise.clone();
        }
        self.core.progress.peer_size = peer.stream_size;
        self.core.event(accepted.event(hello.set_size));
        let c = Common {
            key: h.key,
            dst: hash_domain(&accepted.session_id),
            session_id: accepted.session_id,
            policy: accepted.policy,
            own_counts: h.own_counts,
            own_size: h.own_size,
            stream: h.stream,
            sent: 0,
            own_keys: h.label_keys,
            peer_keys,
            peer_set_size: hello.set_size,
            peer_stream_size: peer.stream_size,
            peer_received: 0,
            peer_labels: peer.labels,
            noise,
        };
        Ok(match self.config.role {
            Role::Aggregator => State::Aggregating(Box::new(Aggregating {
                accumulators: vec![Accumulator::new(peer.labels as usize + 1); self.config.labels as usize + 1],
                marginal: vec![0; self.config.labels as usize],
                c,
                own_tags: Vec::new(),
                own_tag_labels: Vec::new(),
                peer_tags: Vec::new(),
                #[cfg(test)]
                adds: 0,
            })),
            Role::Receiver => {
                let mut r = Receiving { c, peer: Vec::new(), returned: None };
                // An empty aggregator stream (an empty set, unpadded) is
                // complete before any point arrives.
                r.sort_when_complete()?;
                State::Receiving(Box::new(r))
            }
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
        if self.own_tags.len() + tags.len() > self.c.stream.len() {
            return Err(Misbehavior::TooManyTags { expected: self.c.stream.len() as u64 }.into());
        }
        let tags: Vec<Tag> = tags.into_iter().map(Tag).collect();
        if !strictly_ascending(self.own_tags.last(), &tags) {
            return Err(Misbehavior::UnsortedTags.into());
        }
        let labels = clear_labels(labels, tags.len(), self.marginal.len() as u16)?;
        let n = tags.len() as u64;
        self.own_tags.extend(tags);
        self.own_tag_labels.extend(labels);
        Ok(n)
    }

    /// One batch of the receiver's records: proofs and points are checked
    /// for the whole batch first; then every record is added to the
    /// accumulator of its match, or to the dummy one, at the same cost.
    fn on_points(&mut self, points: Vec<[u8; 32]>, labels: Labels) -> Result<u64, ProtocolError> {
        if self.own_tags.len() < self.c.stream.len() {
            return Err(Misbehavior::PointsBeforeTags.into());
        }
        let width = self.c.peer_labels as usize + 1;
        let Labels::OneHot { ciphertexts, proofs } = labels else { return Err(Misbehavior::BadLabels.into()) };
        if ciphertexts.len() != points.len() * width || proofs.len() != points.len() * proof_len(width - 1) {
            return Err(Misbehavior::BadLabels.into());
        }
        let tags = self.c.reblind(&points)?;
        // The proven ciphertexts come back decompressed: each point is
        // decompressed once, for the proof and the sum alike.
        let proven = verify_one_hot_batch_points(&self.c.peer_keys, &ciphertexts, &proofs, &self.c.session_id.0)
            .map_err(Misbehavior::UnprovenLabels)?;
        let unmatched = self.marginal.len();
        for (tag, ciphertext) in tags.iter().zip(proven.chunks_exact(width)) {
            let target = match self.own_tags.binary_search(tag) {
                Ok(pos) => self.own_tag_labels[pos] as usize,
                Err(_) => unmatched,
            };
            self.accumulators[target].add_points(ciphertext).map_err(|_| Misbehavior::BadCiphertext)?;
            #[cfg(test)]
            {
                self.adds += 1;
            }
            if let Some(m) = self.marginal.get_mut(target) {
                *m += 1;
            }
        }
        self.peer_tags.extend(tags);
        Ok(points.len() as u64)
    }

    /// Once the receiver's stream is complete: refuses a stream with a
    /// repeated record, matched or not.
    fn check_peer_distinct(&mut self) -> Result<(), ProtocolError> {
        self.peer_tags.sort_unstable();
        if self.peer_tags.windows(2).any(|w| w[0] == w[1]) {
            return Err(Misbehavior::DuplicatePoints.into());
        }
        Ok(())
    }
}

impl Receiving {
    fn on_points(&mut self, points: Vec<[u8; 32]>, labels: Labels) -> Result<u64, ProtocolError> {
        let n = points.len();
        let tags = self.c.reblind(&points)?;
        let labels = clear_labels(labels, n, self.c.peer_labels)?;
        self.peer.extend(tags.into_iter().zip(labels));
        Ok(n as u64)
    }

    /// Once the aggregator's stream is complete, sorts its records by tag
    /// (hiding the order it sent them in) and refuses duplicates.
    fn sort_when_complete(&mut self) -> Result<(), ProtocolError> {
        if self.returned.is_some() || self.c.peer_received < self.c.peer_stream_size {
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

/// The aggregator's labels of a batch of `n` records: in the clear, each
/// below `limit`.
fn clear_labels(labels: Labels, n: usize, limit: u16) -> Result<Vec<u16>, ProtocolError> {
    match labels {
        Labels::Clear(l) if l.len() == n && l.iter().all(|&v| v < limit) => Ok(l),
        _ => Err(Misbehavior::BadLabels.into()),
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

/// Discrete Laplace noise of scale 1/ε for every cell, `noise[r][a]`;
/// zeros when the policy sets no ε.
fn noise_table(
    policy: &crate::Policy,
    receiver_labels: u16,
    aggregator_labels: u16,
) -> Result<Vec<Vec<i64>>, ProtocolError> {
    let draw = || match policy.epsilon_micros {
        None => Ok(0),
        Some(micros) => venn_crypto::discrete_laplace(micros, 1_000_000).map_err(|_| ProtocolError::NoiseUnavailable),
    };
    (0..receiver_labels).map(|_| (0..aggregator_labels).map(|_| draw()).collect()).collect()
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
                let confirm = release_confirmation(&w.outcome.session_id, &released);
                let outcome = accept_release(*w, released)?;
                self.core.queue(Channel::Control, &Message::Confirm(confirm));
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
        // Bytes per record: a point and a 2-byte label (aggregator), a tag
        // and a label (returned), a point, L + 1 label points and a proof
        // (receiver).
        let per_aggregator = self.records_per_message(34);
        let per_returned = self.records_per_message(18);
        let receiver_labels = self.config.labels as usize;
        let per_receiver = self.records_per_message(32 * (receiver_labels + 2) + proof_len(receiver_labels));
        match &mut self.state {
            State::Aggregating(a) if !a.c.points_done() => {
                let (start, end) = (a.c.sent, (a.c.sent + per_aggregator).min(a.c.stream.len()));
                let points = blind_batch(&a.c.key, &a.c.dst, &a.c.stream.elements[start..end]);
                let labels = Labels::Clear(a.c.stream.labels[start..end].to_vec());
                a.c.sent = end;
                self.core.progress.points_sent += (end - start) as u64;
                Some((Channel::Data, Message::LabeledPoints { points, labels }))
            }
            State::Receiving(r) => {
                if let Some(done) = r.returned.filter(|&d| d < r.peer.len()) {
                    let end = (done + per_returned).min(r.peer.len());
                    let slice = &r.peer[done..end];
                    let message = Message::LabeledTags {
                        tags: slice.iter().map(|p| p.0 .0).collect(),
                        labels: Labels::Clear(slice.iter().map(|p| p.1).collect()),
                    };
                    r.returned = Some(end);
                    self.core.progress.tags_sent += (end - done) as u64;
                    return Some((Channel::Data, message));
                }
                if r.returned != Some(r.peer.len()) || r.c.points_done() {
                    return None;
                }
                let (start, end) = (r.c.sent, (r.c.sent + per_receiver).min(r.c.stream.len()));
                let points = blind_batch(&r.c.key, &r.c.dst, &r.c.stream.elements[start..end]);
                let (ciphertexts, proofs) =
                    r.c.own_keys.encrypt_one_hot_proven(&r.c.stream.labels[start..end], &r.c.session_id.0).ok()?;
                r.c.sent = end;
                self.core.progress.points_sent += (end - start) as u64;
                Some((Channel::Data, Message::LabeledPoints { points, labels: Labels::OneHot { ciphertexts, proofs } }))
            }
            _ => None,
        }
    }

    /// The aggregator sends its accumulators once everything is in.
    fn advance(&mut self) -> Result<(), ProtocolError> {
        let State::Aggregating(a) = &self.state else { return Ok(()) };
        let complete =
            a.c.points_done() && a.own_tags.len() == a.c.stream.len() && a.c.peer_received == a.c.peer_stream_size;
        if !complete {
            return Ok(());
        }
        let State::Aggregating(a) = std::mem::replace(&mut self.state, State::Failed) else { return Ok(()) };
        let mut a = *a;
        #[cfg(test)]
        {
            self.accumulator_adds = a.adds;
        }
        a.check_peer_distinct()?;
        let receiver_labels = a.c.peer_labels;
        let mut wire = Vec::with_capacity(a.marginal.len() * (receiver_labels as usize + 1));
        // The last accumulator holds the unmatched records: never sent.
        for (v, acc) in a.accumulators.into_iter().take(a.marginal.len()).enumerate() {
            let noise: Vec<i64> = a.c.noise.iter().map(|row| row[v]).collect();
            wire.extend(acc.finish(&a.c.peer_keys, &noise));
        }
        self.core.queue(Channel::Control, &Message::Accumulators(wire));
        self.state = State::AwaitRelease(Box::new(AwaitRelease {
            outcome: Outcome {
                session_id: a.c.session_id,
                own_size: a.c.own_size,
                peer_size: a.c.peer_set_size,
                overlap: a.marginal.iter().sum(),
                policy: a.c.policy,
                segments: None,
                index: None,
            },
            marginal: a.marginal,
            receiver_labels,
            aggregator_labels: self.config.labels,
        }));
        Ok(())
    }

    fn close_error(&self) -> ProtocolError {
        let received = match &self.state {
            State::Aggregating(a) => Some((a.c.peer_stream_size, a.c.peer_received)),
            State::Receiving(r) => Some((r.c.peer_stream_size, r.c.peer_received)),
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

/// The receiver decrypts the accumulators (true counts plus the
/// aggregator's noise), adds its own noise, and applies the thresholds.
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
    let bound = c.own_size.min(c.peer_set_size) + noise_margin;
    let dlog = DiscreteLog::new(bound);
    let mut cells =
        decrypt_accumulators(&c.own_keys, wire, aggregator_labels, &dlog).map_err(|_| Misbehavior::BadCiphertext)?;
    for (row, noise) in cells.iter_mut().zip(&c.noise) {
        for (cell, n) in row.iter_mut().zip(noise) {
            *cell = cell.saturating_add(*n);
        }
    }
    let noisy = c.policy.epsilon_micros.is_some();
    let released = release(&cells, &c.own_counts, c.policy.min_cell, noisy).map_err(|_| Misbehavior::BadCiphertext)?;
    let outcome = Outcome {
        session_id: c.session_id,
        own_size: c.own_size,
        peer_size: c.peer_set_size,
        overlap: headline(&released),
        policy: c.policy,
        segments: Some(SegmentOutcome {
            role: Role::Receiver,
            released: released.clone(),
            aggregator_marginal: None,
            noisy,
        }),
        index: None,
    };
    Ok((outcome, released))
}

/// The overlap both reports lead with: the released total (noisy when the
/// policy set ε, exact otherwise).
fn headline(released: &Released) -> u64 {
    released.total.unwrap_or(0).max(0) as u64
}

/// The aggregator checks the released table's shape and, in an exact
/// release, that it agrees with the overlap it counted itself.
fn accept_release(w: AwaitRelease, released: Released) -> Result<Outcome, ProtocolError> {
    let shape_ok = released.cells.len() == w.receiver_labels as usize
        && released.cells.iter().all(|row| row.len() == w.aggregator_labels as usize)
        && released.row_totals.len() == w.receiver_labels as usize
        && released.col_totals.len() == w.aggregator_labels as usize;
    if !shape_ok {
        return Err(Misbehavior::BadRelease.into());
    }
    let noisy = w.outcome.policy.epsilon_micros.is_some();
    if !noisy {
        let counted: Vec<Option<i64>> = w.marginal.iter().map(|&m| Some(m as i64)).collect();
        if released.col_totals != counted || released.total != Some(w.outcome.overlap as i64) {
            return Err(Misbehavior::InconsistentRelease.into());
        }
    }
    let mut outcome = w.outcome;
    outcome.overlap = headline(&released);
    outcome.segments =
        Some(SegmentOutcome { role: Role::Aggregator, released, aggregator_marginal: Some(w.marginal), noisy });
    Ok(outcome)
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
