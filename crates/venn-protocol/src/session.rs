//! The counting protocol as a sans-I/O state machine.
//!
//! A [`Session`] never touches a socket, a clock or a thread of its own. The
//! driver feeds it the peer's messages ([`Session::handle_message`]), takes
//! what it has to send ([`Session::poll_transmit`]), and reads what happened
//! ([`Session::poll_event`]); deadlines are the driver's business.
//!
//! ```text
//!             Hello ⇄ Hello
//! Handshake ───────────────▶ Exchange ──────────────▶ Confirming ──▶ Finished
//!   (key, set)   (session id, policy)  all points and tags   Confirm = Confirm
//!                                       in both directions
//!                  any error ─▶ Failed (Abort sent to the peer)
//! ```
//!
//! Work is done where it is asked for: blinding our next batch happens inside
//! `poll_transmit`, re-blinding a peer batch inside `handle_message`, each
//! spread over the rayon pool. A driver that polls only when the transport
//! can take more bytes therefore gets backpressure for free.

use rand_core::{OsRng, RngCore};
use venn_crypto::{blind_batch, reblind_to_tags, BlindingKey, CryptoError, DomainTag, Tag};

use crate::{
    core::Core,
    count::{sort_tags, sorted_intersection_size, strictly_ascending},
    machine::Protocol,
    message::{Hello, NONCE_LEN, PROTOCOL_VERSION},
    release::Released,
    transcript::{confirmation, hash_domain, session_id},
    Element, ElementSet, Incompatibility, Message, Misbehavior, Policy, ProtocolError, Role, SessionId, Side,
    MAX_ITEMS_PER_MESSAGE,
};

/// Default number of points per message: small enough that compute and
/// transfer overlap, large enough that per-message costs vanish.
pub const DEFAULT_BATCH_SIZE: usize = 8_192;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// This party's guardrails.
    pub policy: Policy,
    /// Bytes that identify the underlying authenticated channel (the TLS
    /// exporter); empty when there is none, as in memory.
    pub channel_binding: Vec<u8>,
    /// Points or tags per message, clamped to `1..=MAX_ITEMS_PER_MESSAGE`.
    /// By default, [`DEFAULT_BATCH_SIZE`].
    pub batch_size: usize,
}

impl SessionConfig {
    /// A configuration with the default batch size.
    pub fn new(policy: Policy, channel_binding: Vec<u8>) -> Self {
        Self { policy, channel_binding, batch_size: DEFAULT_BATCH_SIZE }
    }
}

/// Which logical channel a message belongs on. A transport may map both to
/// one ordered stream or use one stream each. With separate streams it must
/// not deliver the peer's data before the peer's Hello (hold the data stream
/// until [`Event::HandshakeComplete`]); after that, any interleaving is
/// accepted, including a Confirm that overtakes the last data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Handshake, confirmation and abort.
    Control,
    /// Point and tag batches.
    Data,
}

/// One encoded message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where it goes.
    pub channel: Channel,
    /// The encoded message (one frame).
    pub payload: Vec<u8>,
}

/// Counters for progress reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Our set size.
    pub own_size: u64,
    /// The peer's announced set size (0 before the handshake).
    pub peer_size: u64,
    /// Our points handed to the transport.
    pub points_sent: u64,
    /// Peer points received and re-blinded.
    pub points_received: u64,
    /// Tags of the peer's identifiers sent back.
    pub tags_sent: u64,
    /// Tags of our identifiers received.
    pub tags_received: u64,
}

/// The result of a successful session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The session's id, the same on both sides.
    pub session_id: SessionId,
    /// Our number of distinct identifiers.
    pub own_size: u64,
    /// The peer's number of distinct identifiers.
    pub peer_size: u64,
    /// Identifiers in both sets.
    pub overlap: u64,
    /// The merged policy the session ran under.
    pub policy: Policy,
    /// The segment results, in segment mode.
    pub segments: Option<SegmentOutcome>,
    /// The index results, in index mode.
    pub index: Option<crate::index::IndexOutcome>,
}

/// What a segment match gave this party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentOutcome {
    /// Our role.
    pub role: Role,
    /// The released cross-tab (rows: receiver labels, columns: aggregator
    /// labels), the same on both sides.
    pub released: Released,
    /// Aggregator only: exact overlap per own label (before noise), which
    /// the aggregator learns by matching.
    pub aggregator_marginal: Option<Vec<u64>>,
    /// Whether the released figures carry noise (the policy set ε); if
    /// not, every released figure is exact.
    pub noisy: bool,
}

/// What a driver is told, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Both Hellos are in and accepted; data starts to flow.
    HandshakeComplete {
        /// The session id.
        session_id: SessionId,
        /// The peer's announced set size.
        peer_size: u64,
        /// The merged policy.
        policy: Policy,
    },
    /// A batch went out or came in.
    Progress(Progress),
    /// The session succeeded. Terminal.
    Finished(Outcome),
    /// The session failed. Terminal; no result may be reported.
    Failed(ProtocolError),
}

/// One party's side of a counting session. Drive it through [`Machine`].
pub struct Session {
    config: SessionConfig,
    state: State,
    core: Core,
}

enum State {
    Handshake(Handshake),
    Exchange(Box<Exchange>),
    Confirming(Box<Confirming>),
    Finished,
    Failed,
}

impl State {
    fn phase(&self) -> &'static str {
        match self {
            State::Handshake(_) => "waiting for the handshake",
            State::Exchange(_) => "exchanging points",
            State::Confirming(_) => "waiting for the confirmation",
            State::Finished => "finished",
            State::Failed => "failed",
        }
    }
}

/// Before the peer's Hello: our key and shuffled set, nothing derived yet.
struct Handshake {
    key: Box<BlindingKey>,
    nonce: [u8; NONCE_LEN],
    own: Vec<Element>,
}

/// Points and tags flowing both ways. Dropping it zeroizes the key.
struct Exchange {
    key: Box<BlindingKey>,
    dst: DomainTag,
    session_id: SessionId,
    policy: Policy,
    /// Whether our nonce sorts first (orders the sizes in the confirmation).
    we_are_low: bool,
    own: Vec<Element>,
    /// How many of `own` were blinded and handed out.
    sent: usize,
    peer_size: u64,
    peer_received: u64,
    /// Tags of the peer's identifiers, as computed by us.
    peer_tags: Vec<Tag>,
    /// `None` until the peer's stream is complete and `peer_tags` sorted;
    /// then how many of them went back to the peer.
    returned: Option<usize>,
    /// Tags of our own identifiers, as returned by the peer.
    own_tags: Vec<Tag>,
    /// A Confirm that overtook the last data (it travels on another channel).
    early_confirm: Option<[u8; 32]>,
}

/// Our confirmation is out; waiting for the peer's.
struct Confirming {
    expected: [u8; 32],
    outcome: Outcome,
}

impl Session {
    /// Starts a session: draws the ephemeral key and nonce from the OS CSPRNG
    /// and queues our Hello. Fails if our own set violates our own policy.
    pub fn new(config: SessionConfig, set: ElementSet) -> Result<Self, ProtocolError> {
        let own_size = set.len() as u64;
        config.policy.check(Side::Own, own_size)?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let config = SessionConfig { batch_size: config.batch_size.clamp(1, MAX_ITEMS_PER_MESSAGE), ..config };
        let hello = Hello {
            version: PROTOCOL_VERSION,
            nonce,
            set_size: own_size,
            policy: config.policy,
            segments: None,
            index: None,
        };
        let mut core = Core::new(own_size);
        core.queue(Channel::Control, &Message::Hello(hello));
        Ok(Self {
            state: State::Handshake(Handshake { key: BlindingKey::random(), nonce, own: set.into_vec() }),
            config,
            core,
        })
    }

    fn on_hello(&mut self, h: Handshake, hello: Hello) -> Result<State, ProtocolError> {
        let handshake = accept_hello(&self.config, &h.nonce, h.own.len() as u64, &hello)?;
        if hello.segments.is_some() || hello.index.is_some() {
            let theirs = if hello.index.is_some() { "index" } else { "segments" };
            return Err(Incompatibility::ModeMismatch { ours: "count", theirs }.into());
        }
        self.core.progress.peer_size = hello.set_size;
        self.core.event(handshake.event(hello.set_size));
        Ok(State::Exchange(Box::new(Exchange {
            key: h.key,
            dst: hash_domain(&handshake.session_id),
            session_id: handshake.session_id,
            policy: handshake.policy,
            we_are_low: handshake.we_are_low,
            own: h.own,
            sent: 0,
            peer_size: hello.set_size,
            peer_received: 0,
            peer_tags: Vec::new(),
            returned: None,
            own_tags: Vec::new(),
            early_confirm: None,
        })))
    }

    /// Moves from Exchange to Confirming once everything has been sent and
    /// received. The key is zeroized as the exchange state drops; the set
    /// and the tags are freed (not overwritten: they are pseudorandom or,
    /// for the set, already held by the caller).
    fn try_complete(&mut self) -> Result<(), ProtocolError> {
        let State::Exchange(x) = &self.state else {
            return Ok(());
        };
        let complete =
            x.sent == x.own.len() && x.returned == Some(x.peer_tags.len()) && x.own_tags.len() == x.own.len();
        if !complete {
            return Ok(());
        }
        let State::Exchange(x) = std::mem::replace(&mut self.state, State::Failed) else {
            return Ok(());
        };
        let overlap = sorted_intersection_size(&x.own_tags, &x.peer_tags);
        let (own_size, peer_size) = (x.own.len() as u64, x.peer_size);
        let (low, high) = if x.we_are_low { (own_size, peer_size) } else { (peer_size, own_size) };
        let expected = confirmation(&x.session_id, low, high, overlap);
        self.core.queue(Channel::Control, &Message::Confirm(expected));
        let confirming = Confirming {
            expected,
            outcome: Outcome {
                session_id: x.session_id,
                own_size,
                peer_size,
                overlap,
                policy: x.policy,
                segments: None,
                index: None,
            },
        };
        let early = x.early_confirm;
        drop(x);
        self.state = match early {
            Some(theirs) => self.finish(confirming, theirs)?,
            None => State::Confirming(Box::new(confirming)),
        };
        Ok(())
    }

    fn finish(&mut self, c: Confirming, theirs: [u8; 32]) -> Result<State, ProtocolError> {
        if theirs != c.expected {
            return Err(Misbehavior::ConfirmationMismatch.into());
        }
        self.core.finish(c.outcome);
        Ok(State::Finished)
    }
}

impl Protocol for Session {
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
            (State::Handshake(h), Message::Hello(hello)) => self.on_hello(h, hello)?,
            (State::Exchange(mut x), Message::Points(points)) => {
                self.core.progress.points_received += on_points(&mut x, points)?;
                self.core.progress_event();
                State::Exchange(x)
            }
            (State::Exchange(mut x), Message::Tags(tags)) => {
                self.core.progress.tags_received += on_tags(&mut x, tags)?;
                self.core.progress_event();
                State::Exchange(x)
            }
            (State::Exchange(mut x), Message::Confirm(c)) if x.early_confirm.is_none() => {
                x.early_confirm = Some(c);
                State::Exchange(x)
            }
            (State::Confirming(c), Message::Confirm(theirs)) => self.finish(*c, theirs)?,
            (state, message) => {
                return Err(Misbehavior::UnexpectedMessage { message: message.kind(), phase: state.phase() }.into())
            }
        };
        if let State::Exchange(x) = &mut self.state {
            sort_when_peer_complete(x)?;
        }
        Ok(())
    }

    /// Tags owed to the peer go first (the peer cannot finish without them);
    /// then our next batch of points.
    fn next_message(&mut self) -> Option<(Channel, Message)> {
        let State::Exchange(x) = &mut self.state else {
            return None;
        };
        let batch = self.config.batch_size;
        if let Some(done) = x.returned.filter(|&done| done < x.peer_tags.len()) {
            let end = (done + batch).min(x.peer_tags.len());
            x.returned = Some(end);
            self.core.progress.tags_sent += (end - done) as u64;
            return Some((Channel::Data, Message::Tags(x.peer_tags[done..end].iter().map(|t| t.0).collect())));
        }
        if x.sent < x.own.len() {
            let end = (x.sent + batch).min(x.own.len());
            let points = blind_batch(&x.key, &x.dst, &x.own[x.sent..end]);
            self.core.progress.points_sent += (end - x.sent) as u64;
            x.sent = end;
            return Some((Channel::Data, Message::Points(points)));
        }
        None
    }

    fn advance(&mut self) -> Result<(), ProtocolError> {
        self.try_complete()
    }

    fn close_error(&self) -> ProtocolError {
        match &self.state {
            State::Exchange(x) if x.peer_received < x.peer_size => {
                Misbehavior::TooFewPoints { announced: x.peer_size, received: x.peer_received }.into()
            }
            state => Misbehavior::UnexpectedEnd { phase: state.phase() }.into(),
        }
    }

    fn drop_state(&mut self) {
        self.state = State::Failed;
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("phase", &self.state.phase())
            .field("progress", &self.core.progress)
            .finish_non_exhaustive()
    }
}

/// What both kinds of session derive from an accepted Hello.
pub(crate) struct AcceptedHello {
    pub(crate) session_id: SessionId,
    pub(crate) policy: Policy,
    pub(crate) we_are_low: bool,
}

impl AcceptedHello {
    pub(crate) fn event(&self, peer_size: u64) -> Event {
        Event::HandshakeComplete { session_id: self.session_id, peer_size, policy: self.policy }
    }
}

/// The checks every Hello passes, in either mode: version, reflection, and
/// both set sizes under the merged policy.
pub(crate) fn accept_hello(
    config: &SessionConfig,
    our_nonce: &[u8; NONCE_LEN],
    own_size: u64,
    hello: &Hello,
) -> Result<AcceptedHello, ProtocolError> {
    if hello.version != PROTOCOL_VERSION {
        return Err(Incompatibility::VersionMismatch { ours: PROTOCOL_VERSION, theirs: hello.version }.into());
    }
    if &hello.nonce == our_nonce {
        return Err(Misbehavior::ReflectedNonce.into());
    }
    let policy = config.policy.merge(&hello.policy);
    policy.check(Side::Own, own_size)?;
    policy.check(Side::Peer, hello.set_size)?;
    Ok(AcceptedHello {
        session_id: session_id(PROTOCOL_VERSION, our_nonce, &hello.nonce, &config.channel_binding),
        policy,
        we_are_low: our_nonce < &hello.nonce,
    })
}

/// Checks a batch of the peer's points and re-blinds it into tags.
fn on_points(x: &mut Exchange, points: Vec<[u8; 32]>) -> Result<u64, ProtocolError> {
    check_batch_len("Points", points.len())?;
    let len = points.len() as u64;
    if x.peer_received + len > x.peer_size {
        return Err(Misbehavior::TooManyPoints { announced: x.peer_size }.into());
    }
    let tags = reblind_to_tags(&x.key, &points).map_err(|source| invalid_point(x.peer_received, source))?;
    x.peer_tags.extend(tags);
    x.peer_received += len;
    Ok(len)
}

/// Checks a batch of returned tags of our own identifiers.
fn on_tags(x: &mut Exchange, tags: Vec<[u8; 16]>) -> Result<u64, ProtocolError> {
    check_batch_len("Tags", tags.len())?;
    if x.sent < x.own.len() {
        return Err(Misbehavior::TagsBeforePoints.into());
    }
    if x.own_tags.len() + tags.len() > x.own.len() {
        return Err(Misbehavior::TooManyTags { expected: x.own.len() as u64 }.into());
    }
    let tags: Vec<Tag> = tags.into_iter().map(Tag).collect();
    if !strictly_ascending(x.own_tags.last(), &tags) {
        return Err(Misbehavior::UnsortedTags.into());
    }
    let len = tags.len() as u64;
    x.own_tags.extend(tags);
    Ok(len)
}

/// A bad point in a peer batch, located in the peer's whole stream.
pub(crate) fn invalid_point(received_before: u64, source: CryptoError) -> ProtocolError {
    let index = received_before + source.index().unwrap_or(0) as u64;
    Misbehavior::InvalidPoint { index, source }.into()
}

pub(crate) fn check_batch_len(message: &'static str, len: usize) -> Result<(), ProtocolError> {
    if len == 0 {
        return Err(Misbehavior::EmptyBatch { message }.into());
    }
    if len > MAX_ITEMS_PER_MESSAGE {
        return Err(Misbehavior::OversizeBatch { len }.into());
    }
    Ok(())
}

/// Once the peer's stream is complete, sorts its tags (which hides the
/// order it sent them in) and refuses duplicates.
fn sort_when_peer_complete(x: &mut Exchange) -> Result<(), ProtocolError> {
    if x.returned.is_some() || x.peer_received < x.peer_size {
        return Ok(());
    }
    sort_tags(&mut x.peer_tags);
    if x.peer_tags.windows(2).any(|w| w[0] == w[1]) {
        return Err(Misbehavior::DuplicatePoints.into());
    }
    x.returned = Some(0);
    Ok(())
}
