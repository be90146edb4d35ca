//! A scripted peer for the robustness and load tests: it completes the real
//! mutually authenticated QUIC handshake with an honest `venn-net` party,
//! then speaks the wire format by hand, so it can misbehave at any step.
//!
//! Its "brain" is an honest protocol session. Every message the brain wants
//! to send, and every message that arrives from the party under test, is
//! shown to a script, which answers with the acts to perform: forward the
//! message, send another one, write raw bytes, stall, finish the streams,
//! close the connection. Without a brain the script alone decides what is
//! sent (the replay test uses this).
//!
//! Each test binary uses a part of it.
#![allow(dead_code, reason = "each test binary that includes this module uses a different part of it")]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use quinn::{RecvStream, SendStream};
use tokio::sync::{mpsc, watch, Notify};
use venn_net::{
    framing::{read_frame, write_frame, Frame},
    Fingerprint, Identity, NetConfig, PeerConnection, PeerPins, Server,
};
use venn_protocol::{
    codec, AbortReason, Channel, Element, ElementSet, Event, Machine, Message, Outcome, Policy, ProtocolError, Session,
    SessionConfig,
};

/// What the script is shown.
#[derive(Debug)]
pub enum Seen<'a> {
    /// The peer is connected and its streams are ready; nothing was sent.
    Start,
    /// The brain wants to send this message on this channel.
    Out(Channel, &'a Message),
    /// This message arrived from the party under test (the brain has seen it).
    In(Channel, &'a Message),
}

/// What the peer does.
#[derive(Debug, Clone)]
pub enum Act {
    /// Sends a message as one frame.
    Send(Channel, Message),
    /// Sends these bytes as one frame, whatever they are.
    Frame(Channel, Vec<u8>),
    /// Writes these bytes on the channel's stream with no framing at all.
    Raw(Channel, Vec<u8>),
    /// Finishes both of our streams cleanly (at a frame boundary).
    Finish,
    /// Closes the connection at once, as a crashing process's stack would.
    Close,
    /// Stops sending for good; keeps reading, and QUIC keep-alives flow.
    Stall,
    /// Sleeps before the next act.
    Sleep(Duration),
    /// Waits until the value turns true (a gate a test opens).
    WaitFor(watch::Receiver<bool>),
}

/// The script: what to do on each thing seen.
pub type Script = Box<dyn FnMut(Seen<'_>) -> Vec<Act> + Send>;

/// A script that lets the brain speak honestly.
pub fn honest() -> Script {
    Box::new(|seen| forward(&seen))
}

/// The honest reaction: forward what the brain sends, ignore what arrives.
pub fn forward(seen: &Seen<'_>) -> Vec<Act> {
    match seen {
        Seen::Out(channel, message) => vec![Act::Send(*channel, (*message).clone())],
        _ => vec![],
    }
}

/// What a peer run produced.
#[derive(Debug, Default)]
pub struct PeerRun {
    /// The brain's result, if it finished.
    pub outcome: Option<Outcome>,
    /// The brain's error, if it failed.
    pub error: Option<ProtocolError>,
    /// Every frame we sent, in order, with its channel: a recording that a
    /// later session can replay.
    pub sent: Vec<(Channel, Vec<u8>)>,
    /// Whether the party under test sent an Abort, and which.
    pub abort_received: Option<AbortReason>,
}

enum Input {
    Frame(Channel, Vec<u8>),
    /// The party under test finished its data stream: normal.
    DataEnd,
    /// Its control stream ended or the connection failed: it is gone.
    Gone,
}

/// Our two streams.
struct Streams {
    conn: quinn::Connection,
    control: SendStream,
    data: Option<SendStream>,
}

impl Streams {
    /// The stream of a channel, the data one opened on first use; `None`
    /// once the connection is gone.
    async fn stream(&mut self, channel: Channel) -> Option<&mut SendStream> {
        match channel {
            Channel::Control => Some(&mut self.control),
            Channel::Data => {
                if self.data.is_none() {
                    self.data = self.conn.open_uni().await.ok();
                }
                self.data.as_mut()
            }
        }
    }

    async fn frame(&mut self, channel: Channel, bytes: &[u8]) {
        if let Some(stream) = self.stream(channel).await {
            let _ = write_frame(stream, bytes).await;
        }
    }
}

/// Runs the peer on an authenticated connection until the script closes
/// it, the party under test goes away, or `limit` passes. With a `brain`
/// set, an honest session drives what the script sees.
pub async fn run_peer(conn: PeerConnection, brain: Option<ElementSet>, policy: Policy, script: Script) -> PeerRun {
    run_peer_with(conn, brain.map(|set| count_brain(set, policy)), Duration::from_secs(30), script).await
}

/// Builds the brain from the connection's channel binding.
pub type Brain = Box<dyn FnOnce(Vec<u8>) -> Box<dyn Machine + Send> + Send>;

/// An honest counting session over `set`, 64 points per batch.
pub fn count_brain(set: ElementSet, policy: Policy) -> Brain {
    Box::new(move |binding| {
        let config = SessionConfig { batch_size: 64, ..SessionConfig::new(policy, binding) };
        Box::new(Session::new(config, set).expect("the brain's own set passes its own policy"))
    })
}

/// [`run_peer`] with any brain (a segment session, say) and an overall
/// time limit.
pub async fn run_peer_with(conn: PeerConnection, brain: Option<Brain>, limit: Duration, mut script: Script) -> PeerRun {
    let deadline = Instant::now() + limit;
    let quinn = conn.quinn().clone();
    let mut session = brain.map(|start| start(conn.channel_binding().expect("channel binding").to_vec()));
    let (control_send, control_recv) = if conn.is_client() {
        quinn.open_bi().await.expect("open the control stream")
    } else {
        quinn.accept_bi().await.expect("accept the control stream")
    };
    let mut streams = Streams { conn: quinn.clone(), control: control_send, data: None };

    // Readers: everything the party under test sends, in arrival order per
    // stream; its data only after its Hello, as venn-net does.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let hello_seen = Arc::new(Notify::new());
    tokio::spawn(read_stream(control_recv, Channel::Control, tx.clone(), Some(hello_seen.clone())));
    let data_conn = quinn.clone();
    tokio::spawn(async move {
        hello_seen.notified().await;
        if let Ok(recv) = data_conn.accept_uni().await {
            read_stream(recv, Channel::Data, tx, None).await;
        }
    });

    let mut run = PeerRun::default();
    let mut stalled = false;
    // Inputs that arrived while an act waited.
    let mut held = std::collections::VecDeque::new();
    let mut pending: Vec<Act> = script(Seen::Start);
    'outer: loop {
        // What the brain wants to send, through the script.
        if let Some(s) = session.as_mut() {
            while let Some(t) = s.poll_transmit() {
                let message = codec::decode(&t.payload).expect("the brain encodes valid messages");
                pending.extend(script(Seen::Out(t.channel, &message)));
            }
        }
        for act in std::mem::take(&mut pending) {
            match act {
                _ if stalled => {}
                Act::Send(channel, message) => {
                    let bytes = codec::encode(&message);
                    streams.frame(channel, &bytes).await;
                    run.sent.push((channel, bytes));
                }
                Act::Frame(channel, bytes) => {
                    streams.frame(channel, &bytes).await;
                    run.sent.push((channel, bytes));
                }
                Act::Raw(channel, bytes) => {
                    if let Some(stream) = streams.stream(channel).await {
                        let _ = stream.write_all(&bytes).await;
                    }
                }
                Act::Finish => {
                    let _ = streams.control.finish();
                    if let Some(data) = streams.data.as_mut() {
                        let _ = data.finish();
                    }
                }
                Act::Close => {
                    quinn.close(0x42u32.into(), b"hostile peer hangs up");
                    break 'outer;
                }
                Act::Stall => stalled = true,
                Act::Sleep(d) => tokio::time::sleep(d).await,
                Act::WaitFor(mut gate) => {
                    // Keep listening while we wait: an Abort or the end of
                    // the connection ends the wait.
                    loop {
                        tokio::select! {
                            _ = gate.wait_for(|open| *open) => break,
                            input = rx.recv() => {
                                let Some(input) = input else { break };
                                let last = match &input {
                                    Input::Gone => true,
                                    Input::Frame(_, bytes) => matches!(codec::decode(bytes), Ok(Message::Abort(_))),
                                    Input::DataEnd => false,
                                };
                                held.push_back(input);
                                if last {
                                    break;
                                }
                            }
                        }
                    }
                }
            }
        }
        if session.as_ref().is_some_and(|s| s.is_done()) && !stalled {
            // Honest ending: our streams finish, we wait for the other side's.
            let _ = streams.control.finish();
            if let Some(data) = streams.data.as_mut() {
                let _ = data.finish();
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(input) = rx.recv().await {
                    match input {
                        Input::Gone => return,
                        Input::Frame(_, bytes) => {
                            if let Ok(Message::Abort(reason)) = codec::decode(&bytes) {
                                run.abort_received = Some(reason);
                            }
                        }
                        Input::DataEnd => {}
                    }
                }
            })
            .await;
            break;
        }
        let input = match held.pop_front() {
            Some(input) => input,
            None => match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some(input)) => input,
                Ok(None) | Err(_) => break,
            },
        };
        match input {
            Input::Frame(channel, bytes) => {
                if let Some(s) = session.as_mut() {
                    let _ = s.handle_message(&bytes);
                    while let Some(event) = s.poll_event() {
                        if let Event::Failed(e) = event {
                            run.error = Some(e);
                        }
                    }
                }
                if let Ok(message) = codec::decode(&bytes) {
                    if let Message::Abort(reason) = message {
                        run.abort_received = Some(reason);
                    }
                    pending.extend(script(Seen::In(channel, &message)));
                }
            }
            Input::DataEnd => {}
            Input::Gone => {
                if let Some(s) = session.as_mut() {
                    s.handle_close();
                }
                if pending.is_empty() {
                    break;
                }
            }
        }
    }
    if let Some(s) = session.as_ref() {
        run.outcome = s.outcome().cloned();
        run.error = run.error.take().or_else(|| s.error().cloned());
    }
    // Dropping the connection handles closes it unless the test keeps a
    // clone; a stalled peer is kept open by its caller until the end.
    run
}

async fn read_stream(
    mut recv: RecvStream,
    channel: Channel,
    tx: mpsc::UnboundedSender<Input>,
    hello: Option<Arc<Notify>>,
) {
    loop {
        match read_frame(&mut recv).await {
            Ok(Frame::Message(bytes)) => {
                if let Some(hello) = &hello {
                    if matches!(codec::decode(&bytes), Ok(Message::Hello(_))) {
                        hello.notify_one();
                    }
                }
                if tx.send(Input::Frame(channel, bytes)).is_err() {
                    return;
                }
            }
            Ok(Frame::End) if channel == Channel::Data => {
                let _ = tx.send(Input::DataEnd);
                return;
            }
            Ok(Frame::Oversize(_)) | Ok(Frame::End) | Err(_) => {
                let _ = tx.send(Input::Gone);
                return;
            }
        }
    }
}

/// Short timeouts, so every failure is reported within a few seconds.
pub fn quick() -> NetConfig {
    NetConfig {
        idle_timeout: Duration::from_secs(3),
        keep_alive: Duration::from_millis(400),
        stall_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(3),
    }
}

/// Timeouts far beyond any test's guard (two minutes): with these no timer
/// can fire while a test waits, so a failure reported in time was noticed
/// from what the peer did, not from a timeout.
pub fn patient() -> NetConfig {
    NetConfig {
        idle_timeout: Duration::from_secs(600),
        keep_alive: Duration::from_secs(1),
        stall_timeout: Duration::from_secs(600),
        handshake_timeout: Duration::from_secs(600),
    }
}

/// Elements `lo..hi`, distinct and unrelated to any real identifier.
pub fn elements(range: std::ops::Range<u32>) -> ElementSet {
    use sha2::Digest;
    let digests = range.map(|i| Element(sha2::Sha256::digest(format!("venn-test-element-{i}")).into()));
    ElementSet::new(digests.collect()).0
}

/// A listening honest party and the identity of a peer it pins.
pub struct Listener {
    /// The server.
    pub server: Server,
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The pinned peer's identity.
    pub peer: Identity,
}

/// A server on loopback that pins one fresh peer identity.
pub fn listener(net: NetConfig) -> Listener {
    let (identity, peer) = (Identity::generate().expect("identity"), Identity::generate().expect("identity"));
    let fingerprint = identity.fingerprint();
    let server =
        Server::bind("127.0.0.1:0".parse().expect("address"), identity, PeerPins::new([peer.fingerprint()]), net)
            .expect("bind");
    let addr = server.local_addr().expect("address");
    Listener { server, addr, fingerprint, peer }
}

/// Dials `addr` as `identity`, pinning `server`.
pub async fn dial(
    addr: std::net::SocketAddr,
    identity: &Identity,
    server: Fingerprint,
    net: NetConfig,
) -> PeerConnection {
    venn_net::connect(addr, identity, PeerPins::new([server]), net).await.expect("the handshake succeeds")
}
