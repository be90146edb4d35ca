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

use std::collections::VecDeque;

use rand_core::{OsRng, RngCore};
use venn_crypto::{blind_batch, reblind_to_tags, BlindingKey, CryptoError, DomainTag, Tag};

use crate::{
    codec,
    count::{sort_tags, sorted_intersection_size, strictly_ascending},
    message::{Hello, NONCE_LEN, PROTOCOL_VERSION},
    transcript::{confirmation, hash_domain, session_id},
    AbortReason, DecodeError, Element, ElementSet, Incompatibility, Message, Misbehavior, Policy, ProtocolError,
    SessionId, Side, MAX_ITEMS_PER_MESSAGE,
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

/// One party's side of a counting session.
pub struct Session {
    config: SessionConfig,
    state: State,
    outbox: VecDeque<Transmit>,
    events: VecDeque<Event>,
    error: Option<ProtocolError>,
    abort_to_send: Option<AbortReason>,
    progress: Progress,
    bytes_sent: u64,
    bytes_received: u64,
}

enum State {
    Handshake(Handshake),
    Exchange(Box<Exchange>),
    Confirming(Confirming),
    Finished(Outcome),
    Failed,
}

impl State {
    fn phase(&self) -> &'static str {
        match self {
            State::Handshake(_) => "waiting for the handshake",
            State::Exchange(_) => "exchanging points",
            State::Confirming(_) => "waiting for the confirmation",
            State::Finished(_) => "finished",
            State::Failed => "failed",
        }
    }
}

/// Before the peer's Hello: our key and shuffled set, nothing derived yet.
struct Handshake {
    key: BlindingKey,
    nonce: [u8; NONCE_LEN],
    own: Vec<Element>,
}

/// Points and tags flowing both ways. Dropping it zeroizes the key.
struct Exchange {
    key: BlindingKey,
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
        let mut session = Self {
            state: State::Handshake(Handshake { key: BlindingKey::random(), nonce, own: set.into_vec() }),
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
            abort_to_send: None,
            progress: Progress { own_size, ..Progress::default() },
            bytes_sent: 0,
            bytes_received: 0,
            config: SessionConfig { batch_size: config.batch_size.clamp(1, MAX_ITEMS_PER_MESSAGE), ..config },
        };
        session.queue(
            Channel::Control,
            &Message::Hello(Hello {
                version: PROTOCOL_VERSION,
                nonce,
                set_size: own_size,
                policy: session.config.policy,
            }),
        );
        Ok(session)
    }

    // ----- inputs -------------------------------------------------------

    /// Processes one message from the peer. An error is final: it is also
    /// reported as [`Event::Failed`], every later call returns it again, and
    /// the next [`poll_transmit`](Self::poll_transmit) yields an Abort for
    /// the peer.
    pub fn handle_message(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if let State::Finished(_) = self.state {
            // The result is confirmed; nothing the peer sends can change it.
            return Err(Misbehavior::UnexpectedMessage { message: "any", phase: self.state.phase() }.into());
        }
        self.bytes_received += bytes.len() as u64;
        let result = codec::decode(bytes).map_err(ProtocolError::from).and_then(|m| self.dispatch(m));
        result.map_err(|e| self.fail(e))
    }

    /// The transport closed before the session finished. Fails the session
    /// unless it already ended.
    pub fn handle_close(&mut self) {
        let error = match &self.state {
            State::Finished(_) | State::Failed => return,
            State::Exchange(x) if x.peer_received < x.peer_size => {
                Misbehavior::TooFewPoints { announced: x.peer_size, received: x.peer_received }
            }
            state => Misbehavior::UnexpectedEnd { phase: state.phase() },
        };
        self.fail(error.into());
    }

    /// The transport read a frame header announcing `len` bytes, more than
    /// any message may have; it did not read the body.
    pub fn handle_oversize(&mut self, len: usize) {
        if !self.is_done() {
            self.fail(DecodeError::Oversize { len, max: codec::MAX_MESSAGE_BYTES }.into());
        }
    }

    /// Stops the session from our side; the peer is told.
    pub fn cancel(&mut self) {
        if !self.is_done() {
            self.fail(ProtocolError::Cancelled);
        }
    }

    // ----- outputs ------------------------------------------------------

    /// The next message to send, if any. Call until it returns `None`, and
    /// again after every input. Blinds the next batch of our identifiers
    /// when nothing else is pending, so the cost lands where the transport
    /// asks for data.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.outbox.pop_front() {
            self.bytes_sent += t.payload.len() as u64;
            return Some(t);
        }
        if self.error.is_some() {
            let reason = self.abort_to_send.take()?;
            let payload = codec::encode(&Message::Abort(reason));
            self.bytes_sent += payload.len() as u64;
            return Some(Transmit { channel: Channel::Control, payload });
        }
        let message = self.next_data_message()?;
        self.events.push_back(Event::Progress(self.progress));
        self.queue(Channel::Data, &message);
        self.try_complete();
        self.poll_transmit()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- getters ------------------------------------------------------

    /// Whether the session reached a terminal state.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Finished(_) | State::Failed)
    }

    /// The result, once finished.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.state {
            State::Finished(o) => Some(o),
            _ => None,
        }
    }

    /// The error that ended the session, if one did.
    pub fn error(&self) -> Option<&ProtocolError> {
        self.error.as_ref()
    }

    /// Counters so far.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Encoded bytes handed out by `poll_transmit`.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Encoded bytes passed to `handle_message`.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    // ----- internals ----------------------------------------------------

    fn dispatch(&mut self, message: Message) -> Result<(), ProtocolError> {
        if let Message::Abort(reason) = message {
            return Err(ProtocolError::PeerAborted(reason));
        }
        let state = std::mem::replace(&mut self.state, State::Failed);
        self.state = match (state, message) {
            (State::Handshake(h), Message::Hello(hello)) => self.on_hello(h, hello)?,
            (State::Exchange(mut x), Message::Points(points)) => {
                self.progress.points_received += on_points(&mut x, points)?;
                self.events.push_back(Event::Progress(self.progress));
                State::Exchange(x)
            }
            (State::Exchange(mut x), Message::Tags(tags)) => {
                self.progress.tags_received += on_tags(&mut x, tags)?;
                self.events.push_back(Event::Progress(self.progress));
                State::Exchange(x)
            }
            (State::Exchange(mut x), Message::Confirm(c)) if x.early_confirm.is_none() => {
                x.early_confirm = Some(c);
                State::Exchange(x)
            }
            (State::Confirming(c), Message::Confirm(theirs)) => self.finish(c, theirs)?,
            (state, message) => {
                return Err(Misbehavior::UnexpectedMessage { message: message.kind(), phase: state.phase() }.into())
            }
        };
        if let State::Exchange(x) = &mut self.state {
            sort_when_peer_complete(x)?;
        }
        self.try_complete();
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn on_hello(&mut self, h: Handshake, hello: Hello) -> Result<State, ProtocolError> {
        if hello.version != PROTOCOL_VERSION {
            return Err(Incompatibility::VersionMismatch { ours: PROTOCOL_VERSION, theirs: hello.version }.into());
        }
        if hello.nonce == h.nonce {
            return Err(Misbehavior::ReflectedNonce.into());
        }
        let policy = self.config.policy.merge(&hello.policy);
        policy.check(Side::Own, h.own.len() as u64)?;
        policy.check(Side::Peer, hello.set_size)?;
        let id = session_id(PROTOCOL_VERSION, &h.nonce, &hello.nonce, &self.config.channel_binding);
        self.progress.peer_size = hello.set_size;
        self.events.push_back(Event::HandshakeComplete { session_id: id, peer_size: hello.set_size, policy });
        Ok(State::Exchange(Box::new(Exchange {
            key: h.key,
            dst: hash_domain(&id),
            session_id: id,
            policy,
            we_are_low: h.nonce < hello.nonce,
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

    /// Tags owed to the peer go first (the peer cannot finish without them);
    /// then our next batch of points.
    fn next_data_message(&mut self) -> Option<Message> {
        let State::Exchange(x) = &mut self.state else {
            return None;
        };
        let batch = self.config.batch_size;
        if let Some(done) = x.returned.filter(|&done| done < x.peer_tags.len()) {
            let end = (done + batch).min(x.peer_tags.len());
            x.returned = Some(end);
            self.progress.tags_sent += (end - done) as u64;
            return Some(Message::Tags(x.peer_tags[done..end].iter().map(|t| t.0).collect()));
        }
        if x.sent < x.own.len() {
            let end = (x.sent + batch).min(x.own.len());
            let points = blind_batch(&x.key, &x.dst, &x.own[x.sent..end]);
            self.progress.points_sent += (end - x.sent) as u64;
            x.sent = end;
            return Some(Message::Points(points));
        }
        None
    }

    /// Moves from Exchange to Confirming once everything has been sent and
    /// received. The key is zeroized as the exchange state drops; the set
    /// and the tags are freed (not overwritten: they are pseudorandom or,
    /// for the set, already held by the caller).
    fn try_complete(&mut self) {
        let State::Exchange(x) = &self.state else {
            return;
        };
        let complete =
            x.sent == x.own.len() && x.returned == Some(x.peer_tags.len()) && x.own_tags.len() == x.own.len();
        if !complete {
            return;
        }
        let State::Exchange(x) = std::mem::replace(&mut self.state, State::Failed) else {
            return;
        };
        let overlap = sorted_intersection_size(&x.own_tags, &x.peer_tags);
        let (own_size, peer_size) = (x.own.len() as u64, x.peer_size);
        let (low, high) = if x.we_are_low { (own_size, peer_size) } else { (peer_size, own_size) };
        let expected = confirmation(&x.session_id, low, high, overlap);
        self.queue(Channel::Control, &Message::Confirm(expected));
        let confirming = Confirming {
            expected,
            outcome: Outcome { session_id: x.session_id, own_size, peer_size, overlap, policy: x.policy },
        };
        let early = x.early_confirm;
        drop(x);
        self.state = match early {
            Some(theirs) => match self.finish(confirming, theirs) {
                Ok(state) => state,
                Err(e) => {
                    self.fail(e);
                    State::Failed
                }
            },
            None => State::Confirming(confirming),
        };
    }

    fn finish(&mut self, c: Confirming, theirs: [u8; 32]) -> Result<State, ProtocolError> {
        if theirs != c.expected {
            return Err(Misbehavior::ConfirmationMismatch.into());
        }
        self.events.push_back(Event::Finished(c.outcome.clone()));
        Ok(State::Finished(c.outcome))
    }

    fn queue(&mut self, channel: Channel, message: &Message) {
        self.outbox.push_back(Transmit { channel, payload: codec::encode(message) });
    }

    /// Records the error once, drops everything queued (and with the state,
    /// the key), and arranges for the peer to be told.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        if let Some(first) = &self.error {
            return first.clone();
        }
        if let State::Finished(_) = self.state {
            return error;
        }
        self.state = State::Failed;
        self.outbox.clear();
        self.abort_to_send = error.abort_reason();
        self.error = Some(error.clone());
        self.events.push_back(Event::Failed(error.clone()));
        error
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("phase", &self.state.phase())
            .field("progress", &self.progress)
            .finish_non_exhaustive()
    }
}

/// Checks a batch of the peer's points and re-blinds it into tags.
fn on_points(x: &mut Exchange, points: Vec<[u8; 32]>) -> Result<u64, ProtocolError> {
    check_batch_len("Points", points.len())?;
    let len = points.len() as u64;
    if x.peer_received + len > x.peer_size {
        return Err(Misbehavior::TooManyPoints { announced: x.peer_size }.into());
    }
    let tags = reblind_to_tags(&x.key, &points).map_err(|source| {
        let index = match source {
            CryptoError::InvalidEncoding { index } | CryptoError::IdentityPoint { index } => index,
            CryptoError::InvalidDomainTag { .. } => 0,
        };
        Misbehavior::InvalidPoint { index: x.peer_received + index as u64, source }
    })?;
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

fn check_batch_len(message: &'static str, len: usize) -> Result<(), ProtocolError> {
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
