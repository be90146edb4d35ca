//! Index mode: a brand's list against a platform's precomputed index, at
//! the cost of the brand's list alone.
//!
//! Offline, once per epoch, the platform computes `t_p = F(k·H_e(p))` for
//! every identifier `p` of its audience under a long-lived epoch key `k`
//! (`H_e`: RFC 9380 hash to ristretto255 under [`index_domain`] of the
//! epoch; `F`: [`venn_crypto::filter_key`]) and puts the tags into a static
//! filter, the index, whose header names `K = k·G`. The brand holds a copy
//! of the index (downloaded and checked against the header before the
//! session; not this module's business). Then, per session:
//!
//! ```text
//! B ──Hello (index: epoch, K, header hash it holds)──▶ P   both must agree
//! B ◀──Hello (index: epoch, K, header hash it serves)── P
//! B ──Points r·H_e(b) (shuffled, all of B's list)────▶ P   evaluate k·X, keep
//! B ◀──Evaluated k·r·H_e(b) (CSPRNG-shuffled order)─── P   after the last input
//! B ◀──SumProof: log_G K = log_{ΣX} ΣY ──────────────── P
//!   verify, r⁻¹, F, look up each in the index, count
//! B ──IndexDone (the overlap, only with --share-result)▶ P
//! ```
//!
//! The brand's work is one hash, two variable-base multiplications
//! (`r`, `r⁻¹`) and a decompression per own element, the platform's one
//! multiplication per brand element: neither depends on the audience size.
//! The platform learns the brand's list size (and the overlap only if the
//! brand shares it); the brand learns the overlap and the audience size, and
//! holds a PRF image of the audience for the epoch (see docs/security.md).
//! The sum proof catches a platform that evaluates under another key than
//! the header's, not outputs whose errors cancel in the sum
//! ([`venn_crypto::verify_sum`] documents both); an output set of the wrong
//! size is refused by count.

use rand::seq::SliceRandom;
use rand_core::{OsRng, RngCore};
use venn_crypto::{
    blind_batch_summed, evaluate_batch_summed, prove_sum, unblind_to_filter_keys_summed, verify_sum, BlindingKey,
    DleqProof, DomainTag, EpochKey, EpochPublicKey, PointBytes, SumAccumulator, DLEQ_PROOF_LEN,
};

use crate::{
    core::Core,
    machine::Protocol,
    message::{Hello, IndexHello, IndexRole, NONCE_LEN, PROTOCOL_VERSION},
    session::{check_batch_len, invalid_point},
    transcript::session_id,
    Channel, Element, ElementSet, Event, Incompatibility, Message, Misbehavior, Outcome, ProtocolError, Refusal,
    SessionConfig, SessionId, Side, MAX_ITEMS_PER_MESSAGE,
};

/// Which index a session is about: what the index header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEpoch {
    /// The epoch id.
    pub id: u64,
    /// `K = k·G`.
    pub public_key: PointBytes,
    /// SHA-256 of the index header.
    pub header_sha256: [u8; 32],
    /// Elements in the index.
    pub elements: u64,
}

/// Looking a filter key up in the index the brand holds.
pub trait IndexLookup: Send {
    /// Whether `key` is (probably: a filter has false positives) in the
    /// index.
    fn contains(&self, key: u64) -> bool;
}

impl<F: Fn(u64) -> bool + Send> IndexLookup for F {
    fn contains(&self, key: u64) -> bool {
        self(key)
    }
}

/// The platform's per-brand guardrail: asked once, when the brand's Hello
/// announces its list size, before any of the brand's points is evaluated.
/// A refusal ends the session with [`ProtocolError::Refused`] and reaches
/// the brand as the matching [`crate::AbortReason`]. The platform's driver
/// implements it (a ledger of sessions and queried identifiers per brand and
/// epoch, charged atomically here); this crate only asks.
pub trait IndexAdmission: Send {
    /// Admits a session over a list of `brand_size` identifiers, charging
    /// it, or refuses it.
    fn admit(&mut self, brand_size: u64) -> Result<(), Refusal>;
}

impl<F: FnMut(u64) -> Result<(), Refusal> + Send> IndexAdmission for F {
    fn admit(&mut self, brand_size: u64) -> Result<(), Refusal> {
        self(brand_size)
    }
}

/// What an index session gave this party.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOutcome {
    /// Our side.
    pub role: IndexRole,
    /// The index's epoch.
    pub epoch: u64,
    /// Platform only: whether the brand shared the overlap (then it is the
    /// outcome's `overlap`, as the brand reported it, unverifiable by us).
    pub shared_by_brand: bool,
}

/// The hash-to-group domain of an epoch: the platform builds its index and
/// the brand blinds its list under it, so that tags of one epoch mean
/// nothing in another.
pub fn index_domain(epoch: u64) -> DomainTag {
    let tag = format!("venn-v1-index-epoch-{epoch:020}-ristretto255_XMD:SHA-512_R255MAP_RO_");
    DomainTag::new(tag.as_bytes()).unwrap_or_else(|_| unreachable!("a fixed-length ASCII tag under 255 bytes"))
}

/// A party's input to an index session.
pub enum IndexParty {
    /// The brand: its list and the index it holds.
    Brand {
        /// Distinct identifiers, shuffled.
        set: ElementSet,
        /// The downloaded, checked index.
        index: Box<dyn IndexLookup>,
        /// Send the overlap to the platform at the end.
        share_result: bool,
    },
    /// The platform: its epoch key (the index's `K` must be its public key).
    Platform {
        /// `k`.
        key: Box<EpochKey>,
        /// Asked with the brand's list size before anything is evaluated.
        admission: Box<dyn IndexAdmission>,
    },
}

/// One party's side of an index session. Drive it through
/// [`crate::Machine`].
pub struct IndexSession {
    config: SessionConfig,
    epoch: IndexEpoch,
    state: State,
    core: Core,
}

enum State {
    Handshake(Box<Handshake>),
    Brand(Box<Brand>),
    Platform(Box<Platform>),
    /// The platform, waiting for the brand's `IndexDone`.
    AwaitDone(Box<Outcome>),
    Finished,
    Failed,
}

impl State {
    fn phase(&self) -> &'static str {
        match self {
            State::Handshake(_) => "waiting for the handshake",
            State::Brand(_) | State::Platform(_) => "exchanging points",
            State::AwaitDone(_) => "waiting for the brand to finish",
            State::Finished => "finished",
            State::Failed => "failed",
        }
    }
}

struct Handshake {
    nonce: [u8; NONCE_LEN],
    own_size: u64,
    party: IndexParty,
}

struct Brand {
    r: Box<BlindingKey>,
    dst: DomainTag,
    session_id: SessionId,
    policy: crate::Policy,
    elements: Vec<Element>,
    sent: usize,
    sums: SumAccumulator,
    received: u64,
    matches: u64,
    index: Box<dyn IndexLookup>,
    share_result: bool,
}

struct Platform {
    key: Box<EpochKey>,
    session_id: SessionId,
    policy: crate::Policy,
    brand_size: u64,
    sums: SumAccumulator,
    outputs: Vec<PointBytes>,
    /// Outputs handed out, once all inputs are in and shuffled.
    returned: Option<usize>,
    proof_sent: bool,
}

impl IndexSession {
    /// Starts an index session and queues our Hello. The brand draws its
    /// blinding scalar at the handshake; the platform's key must match the
    /// epoch's public key.
    pub fn new(config: SessionConfig, epoch: IndexEpoch, party: IndexParty) -> Result<Self, ProtocolError> {
        let (role, own_size) = match &party {
            IndexParty::Brand { set, .. } => (IndexRole::Brand, set.len() as u64),
            IndexParty::Platform { key, .. } => {
                if key.public_key().to_bytes() != epoch.public_key {
                    return Err(Incompatibility::IndexMismatch { what: "our epoch key is not the index's" }.into());
                }
                (IndexRole::Platform, epoch.elements)
            }
        };
        if role == IndexRole::Brand {
            config.policy.check(Side::Own, own_size)?;
        }
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let hello = Hello {
            version: PROTOCOL_VERSION,
            nonce,
            set_size: own_size,
            policy: config.policy,
            segments: None,
            index: Some(Box::new(IndexHello {
                role,
                epoch: epoch.id,
                public_key: epoch.public_key,
                header_sha256: epoch.header_sha256,
                elements: epoch.elements,
            })),
        };
        let mut core = Core::new(own_size);
        core.queue(Channel::Control, &Message::Hello(hello));
        let mut config = config;
        config.batch_size = config.batch_size.clamp(1, MAX_ITEMS_PER_MESSAGE);
        Ok(Self { config, epoch, state: State::Handshake(Box::new(Handshake { nonce, own_size, party })), core })
    }

    fn on_hello(&mut self, mut h: Handshake, hello: Hello) -> Result<State, ProtocolError> {
        if hello.version != PROTOCOL_VERSION {
            return Err(Incompatibility::VersionMismatch { ours: PROTOCOL_VERSION, theirs: hello.version }.into());
        }
        if hello.nonce == h.nonce {
            return Err(Misbehavior::ReflectedNonce.into());
        }
        let Some(peer) = &hello.index else {
            let theirs = if hello.segments.is_some() { "segments" } else { "count" };
            return Err(Incompatibility::ModeMismatch { ours: "index", theirs }.into());
        };
        let ours = match &h.party {
            IndexParty::Brand { .. } => IndexRole::Brand,
            IndexParty::Platform { .. } => IndexRole::Platform,
        };
        if peer.role == ours {
            return Err(Incompatibility::IndexMismatch { what: "both parties play the same side" }.into());
        }
        let e = &self.epoch;
        let same = (peer.epoch, peer.public_key, peer.header_sha256, peer.elements)
            == (e.id, e.public_key, e.header_sha256, e.elements);
        if !same {
            return Err(Incompatibility::IndexMismatch {
                what: "the brand's index is not the one the platform serves",
            }
            .into());
        }
        // The brand's size is what the policy bounds; the index may be far
        // larger than any list, and costs the brand nothing per element.
        let policy = self.config.policy.merge(&hello.policy);
        let brand_size = match ours {
            IndexRole::Brand => h.own_size,
            IndexRole::Platform => hello.set_size,
        };
        policy.check(if ours == IndexRole::Brand { Side::Own } else { Side::Peer }, brand_size)?;
        if ours == IndexRole::Platform && hello.set_size != brand_size {
            return Err(Misbehavior::BadStreamSize { stream: hello.set_size, set: brand_size }.into());
        }
        if let IndexParty::Platform { admission, .. } = &mut h.party {
            admission.admit(brand_size).map_err(ProtocolError::Refused)?;
        }
        let id = session_id(PROTOCOL_VERSION, &h.nonce, &hello.nonce, &self.config.channel_binding);
        self.core.progress.peer_size = hello.set_size;
        self.core.event(Event::HandshakeComplete { session_id: id, peer_size: hello.set_size, policy });
        Ok(match h.party {
            IndexParty::Brand { set, index, share_result } => State::Brand(Box::new(Brand {
                r: BlindingKey::random(),
                dst: index_domain(self.epoch.id),
                session_id: id,
                policy,
                elements: set.into_vec(),
                sent: 0,
                sums: SumAccumulator::new(),
                received: 0,
                matches: 0,
                index,
                share_result,
            })),
            IndexParty::Platform { key, .. } => State::Platform(Box::new(Platform {
                key,
                session_id: id,
                policy,
                brand_size,
                sums: SumAccumulator::new(),
                outputs: Vec::new(),
                // An empty list is all in at once.
                returned: (brand_size == 0).then_some(0),
                proof_sent: false,
            })),
        })
    }

    /// What the proof is bound to: this session and this index.
    fn proof_context(&self, id: &SessionId) -> Vec<u8> {
        [id.0.as_slice(), self.epoch.header_sha256.as_slice()].concat()
    }
}

impl Platform {
    /// Evaluates a batch of the brand's blinded points; once all are in,
    /// shuffles every output so their order says nothing about the inputs'.
    fn on_points(&mut self, points: Vec<PointBytes>) -> Result<u64, ProtocolError> {
        check_batch_len("Points", points.len())?;
        let before = self.sums.input_count();
        if before + points.len() as u64 > self.brand_size {
            return Err(Misbehavior::TooManyPoints { announced: self.brand_size }.into());
        }
        let outputs = evaluate_batch_summed(&self.key, &points, &mut self.sums)
            .map_err(|source| invalid_point(before, source))?;
        self.outputs.extend(outputs);
        if self.sums.input_count() == self.brand_size {
            self.outputs.shuffle(&mut OsRng);
            self.returned = Some(0);
        }
        Ok(points.len() as u64)
    }
}

impl Brand {
    /// Unblinds a batch of outputs into filter keys and counts those the
    /// index holds.
    fn on_evaluated(&mut self, outputs: Vec<PointBytes>) -> Result<u64, ProtocolError> {
        check_batch_len("Evaluated", outputs.len())?;
        if self.sent < self.elements.len() {
            return Err(Misbehavior::TagsBeforePoints.into());
        }
        if self.received + outputs.len() as u64 > self.elements.len() as u64 {
            return Err(Misbehavior::TooManyTags { expected: self.elements.len() as u64 }.into());
        }
        let keys = unblind_to_filter_keys_summed(&self.r, &outputs, &mut self.sums)
            .map_err(|source| invalid_point(self.received, source))?;
        self.matches += keys.iter().filter(|&&k| self.index.contains(k)).count() as u64;
        self.received += outputs.len() as u64;
        Ok(outputs.len() as u64)
    }
}

impl Protocol for IndexSession {
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
            (State::Platform(mut p), Message::Points(points)) => {
                self.core.progress.points_received += p.on_points(points)?;
                self.core.progress_event();
                State::Platform(p)
            }
            (State::Brand(mut b), Message::Evaluated(outputs)) => {
                self.core.progress.tags_received += b.on_evaluated(outputs)?;
                self.core.progress_event();
                State::Brand(b)
            }
            (State::Brand(b), Message::SumProof(bytes)) => self.on_proof(*b, &bytes)?,
            (State::AwaitDone(outcome), Message::IndexDone(shared)) => {
                let mut outcome = *outcome;
                if let Some(overlap) = shared {
                    if overlap > outcome.peer_size {
                        return Err(Misbehavior::BadRelease.into());
                    }
                    outcome.overlap = overlap;
                }
                outcome.index = Some(IndexOutcome {
                    role: IndexRole::Platform,
                    epoch: self.epoch.id,
                    shared_by_brand: shared.is_some(),
                });
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
        let batch = self.config.batch_size;
        match &mut self.state {
            State::Brand(b) if b.sent < b.elements.len() => {
                let end = (b.sent + batch).min(b.elements.len());
                let points = blind_batch_summed(&b.r, &b.dst, &b.elements[b.sent..end], &mut b.sums);
                self.core.progress.points_sent += (end - b.sent) as u64;
                b.sent = end;
                Some((Channel::Data, Message::Points(points)))
            }
            State::Platform(p) => {
                let done = p.returned?;
                if done < p.outputs.len() {
                    let end = (done + batch).min(p.outputs.len());
                    p.returned = Some(end);
                    self.core.progress.tags_sent += (end - done) as u64;
                    return Some((Channel::Data, Message::Evaluated(p.outputs[done..end].to_vec())));
                }
                if p.proof_sent {
                    return None;
                }
                p.proof_sent = true;
                let context = [p.session_id.0.as_slice(), self.epoch.header_sha256.as_slice()].concat();
                let proof = prove_sum(&p.key, &p.sums, &context);
                Some((Channel::Data, Message::SumProof(proof.to_bytes().to_vec())))
            }
            _ => None,
        }
    }

    /// The platform waits for `IndexDone` once its proof is out.
    fn advance(&mut self) -> Result<(), ProtocolError> {
        let State::Platform(p) = &self.state else { return Ok(()) };
        if !p.proof_sent {
            return Ok(());
        }
        let outcome = Outcome {
            session_id: p.session_id,
            own_size: self.epoch.elements,
            peer_size: p.brand_size,
            overlap: 0,
            policy: p.policy,
            segments: None,
            index: None,
        };
        // The key is dropped (wiped) with the exchange state.
        self.state = State::AwaitDone(Box::new(outcome));
        Ok(())
    }

    fn drop_state(&mut self) {
        self.state = State::Failed;
    }
}

impl IndexSession {
    /// The proof arrives after the last output: verify it, then report.
    fn on_proof(&mut self, b: Brand, bytes: &[u8]) -> Result<State, ProtocolError> {
        if b.received != b.elements.len() as u64 {
            return Err(Misbehavior::TooFewPoints { announced: b.elements.len() as u64, received: b.received }.into());
        }
        let bytes: &[u8; DLEQ_PROOF_LEN] = bytes.try_into().map_err(|_| Misbehavior::BadProof)?;
        let proof = DleqProof::from_bytes(bytes).map_err(|_| Misbehavior::BadProof)?;
        let public = EpochPublicKey::from_bytes(&self.epoch.public_key).map_err(|_| Misbehavior::BadProof)?;
        let context = self.proof_context(&b.session_id);
        // An empty list has nothing to prove (and an empty sum to refuse).
        if !b.elements.is_empty() {
            verify_sum(&public, &b.sums, &proof, &context).map_err(|_| Misbehavior::BadProof)?;
        }
        let shared = b.share_result.then_some(b.matches);
        self.core.queue(Channel::Control, &Message::IndexDone(shared));
        self.core.finish(Outcome {
            session_id: b.session_id,
            own_size: b.elements.len() as u64,
            peer_size: self.epoch.elements,
            overlap: b.matches,
            policy: b.policy,
            segments: None,
            index: Some(IndexOutcome { role: IndexRole::Brand, epoch: self.epoch.id, shared_by_brand: b.share_result }),
        });
        Ok(State::Finished)
    }
}

impl std::fmt::Debug for IndexSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexSession").field("epoch", &self.epoch.id).field("progress", &self.core.progress).finish()
    }
}
