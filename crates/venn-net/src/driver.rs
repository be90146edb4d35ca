//! Runs a protocol [`Session`] over a [`PeerConnection`].
//!
//! Four tasks move bytes: one reader and one writer per stream.
//! The session itself lives in the calling task, which waits on two things
//! at once: a message from a reader, or room in the writer's queue. Both
//! queues are a few frames deep, so memory stays bounded: when we compute
//! slower than the peer sends, the readers stop reading and QUIC flow
//! control holds the peer back; when the peer reads slower than we send,
//! the writer blocks and we stop blinding. Because the session keeps taking
//! input while its output is blocked, two parties can never wait on each
//! other's full queues.

use std::{future::Future, sync::Arc, time::Duration};

use quinn::{RecvStream, SendStream};
use tokio::{
    sync::{mpsc, Notify},
    time::{sleep_until, timeout, Instant},
};
use venn_protocol::{Channel, ElementSet, Event, Machine, Outcome, ProtocolError, Session, SessionConfig, Transmit};

use crate::{
    connection::{is_certificate_alert, CLOSE_REFUSED},
    framing::{read_frame, write_frame, Frame},
    Fingerprint, NetConfig, NetError, PeerConnection,
};

/// How long the last messages (Confirm or Abort) get to reach the peer.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a finished party waits for the peer to finish too.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames buffered between the readers or the writer and the session.
const QUEUE_DEPTH: usize = 4;

/// A finished session, with its transport statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// The protocol result.
    pub outcome: Outcome,
    /// The peer's fingerprint.
    pub peer: Fingerprint,
    /// Protocol bytes we sent (encoded messages, without framing).
    pub payload_bytes_sent: u64,
    /// Protocol bytes we received.
    pub payload_bytes_received: u64,
    /// UDP payload bytes sent, QUIC and TLS overhead included.
    pub wire_bytes_sent: u64,
    /// UDP payload bytes received.
    pub wire_bytes_received: u64,
}

enum Input {
    Frame(Vec<u8>),
    Oversize(usize),
    End(Channel),
    Lost(String),
}

/// Runs one counting session with the connected peer. `observe` sees every
/// protocol event (progress, completion) as it happens.
///
/// On success both parties have confirmed the same result. On failure the
/// peer has been told why (when the connection still allows), and the
/// error says whose fault it was.
pub async fn run_session<F>(
    conn: PeerConnection,
    config: SessionConfig,
    set: ElementSet,
    net: &NetConfig,
    observe: F,
) -> Result<SessionReport, NetError>
where
    F: FnMut(&Event) + Send,
{
    let start = move |channel_binding: Vec<u8>| Session::new(SessionConfig { channel_binding, ..config }, set);
    run_machine(conn, start, net, observe).await
}

/// Runs any protocol [`Machine`] (a count or a segment session) with the
/// connected peer. `start` builds the machine from the connection's channel
/// binding.
pub async fn run_machine<M, S, F>(
    conn: PeerConnection,
    start: S,
    net: &NetConfig,
    observe: F,
) -> Result<SessionReport, NetError>
where
    M: Machine + Send,
    S: FnOnce(Vec<u8>) -> Result<M, ProtocolError>,
    F: FnMut(&Event) + Send,
{
    run_machine_until(conn, start, net, std::future::pending(), observe).await
}

/// [`run_machine`], cancelled if `stop` completes first: the machine sends
/// the peer `Abort(Cancelled)`, the Abort is flushed, the connection closed,
/// and the result is `NetError::Protocol(ProtocolError::Cancelled)`. A
/// server that shuts down ends its sessions in flight this way, so that
/// each peer learns why (a dropped session only closes the connection).
pub async fn run_machine_until<M, S, F, C>(
    conn: PeerConnection,
    start: S,
    net: &NetConfig,
    stop: C,
    mut observe: F,
) -> Result<SessionReport, NetError>
where
    M: Machine + Send,
    S: FnOnce(Vec<u8>) -> Result<M, ProtocolError>,
    F: FnMut(&Event) + Send,
    C: Future<Output = ()> + Send,
{
    tokio::pin!(stop);
    let mut stopping = false;
    // If this future is dropped midway, the peer learns at once instead of
    // waiting for its idle timeout.
    let _close_on_drop = CloseOnDrop(conn.connection.clone());
    let binding = conn.channel_binding()?;
    let mut session = start(binding.to_vec())?;
    let (control_send, control_recv) = open_control(&conn, net).await?;

    let (in_tx, mut in_rx) = mpsc::channel::<Input>(QUEUE_DEPTH);
    tokio::spawn(read_stream(control_recv, Channel::Control, in_tx.clone()));
    // The peer's data may only be handed to the session after its Hello,
    // which travels on the other stream and may be overtaken by it.
    let handshake_done = Arc::new(Notify::new());
    let data_may_start = handshake_done.clone();
    let data_conn = conn.connection.clone();
    tokio::spawn(async move {
        data_may_start.notified().await;
        match data_conn.accept_uni().await {
            Ok(recv) => read_stream(recv, Channel::Data, in_tx).await,
            Err(e) => {
                let _ = in_tx.send(Input::Lost(e.to_string())).await;
            }
        }
    });
    // One writer per stream, so a Confirm or an Abort never waits behind
    // data that the peer is slow to take. Control carries three messages at
    // most; data is bounded by the queue depth.
    let (control_tx, control_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let control_writer = tokio::spawn(write_control(control_send, control_rx));
    let (data_tx, data_rx) = mpsc::channel::<Vec<u8>>(QUEUE_DEPTH);
    let data_writer = tokio::spawn(write_data(conn.connection.clone(), data_rx));

    // Our Hello leaves before we read anything. Otherwise a session that
    // refuses the peer's Hello (a policy, a version, an agreement) would
    // drop its own unsent Hello with everything else queued, and the peer
    // would get a bare Abort instead of the sizes and settings that explain
    // it. (Before the handshake a session has nothing but its Hello to send.)
    while let Some(t) = session.poll_transmit() {
        match t.channel {
            Channel::Control => {
                let _ = control_tx.send(t.payload);
            }
            Channel::Data => {
                let _ = data_tx.send(t.payload).await;
            }
        }
    }

    let mut last_progress = Instant::now();
    let mut want_send = true;
    let mut peer_finished = false;
    let mut lost: Option<String> = None;
    let mut stalled = false;
    while !session.is_done() {
        tokio::select! {
            biased;
            input = in_rx.recv() => {
                match input {
                    Some(Input::Frame(bytes)) => {
                        // An error is recorded in the session and reported below.
                        let _ = compute(|| session.handle_message(&bytes));
                        want_send = true;
                    }
                    Some(Input::Oversize(len)) => session.handle_oversize(len),
                    Some(Input::End(Channel::Control)) => {
                        peer_finished = true;
                        lost.get_or_insert_with(|| "it closed its streams before the end".into());
                        session.handle_close();
                    }
                    Some(Input::End(Channel::Data)) => {}
                    Some(Input::Lost(reason)) => {
                        lost = Some(reason);
                        session.handle_close();
                    }
                    None => session.handle_close(),
                }
                // Measured after the work, so our own computing never counts
                // as the peer's silence.
                last_progress = Instant::now();
            }
            permit = data_tx.reserve(), if want_send => match permit {
                Ok(permit) => {
                    match compute(|| session.poll_transmit()) {
                        Some(Transmit { channel: Channel::Data, payload }) => permit.send(payload),
                        Some(Transmit { channel: Channel::Control, payload }) => {
                            let _ = control_tx.send(payload);
                        }
                        None => want_send = false,
                    }
                    last_progress = Instant::now();
                }
                Err(_) => {
                    lost.get_or_insert_with(|| "the connection failed while sending".into());
                    session.handle_close();
                }
            },
            _ = sleep_until(last_progress + net.stall_timeout) => {
                stalled = true;
                session.cancel();
            }
            () = &mut stop, if !stopping => {
                stopping = true;
                session.cancel();
            }
        }
        while let Some(event) = session.poll_event() {
            if let Event::HandshakeComplete { .. } = event {
                handshake_done.notify_one();
            }
            observe(&event);
        }
    }

    // What is left is a Confirm after success or an Abort after failure:
    // both are control messages. After a failure, queued data is moot.
    if session.outcome().is_none() {
        data_writer.abort();
    }
    drop(data_tx);
    while let Some(t) = session.poll_transmit() {
        let _ = control_tx.send(t.payload);
    }
    drop(control_tx);
    let _ = timeout(FLUSH_TIMEOUT, control_writer).await;
    while let Some(event) = session.poll_event() {
        observe(&event);
    }

    let result = match (session.outcome(), session.error()) {
        (Some(outcome), _) => {
            // Both sides finish their streams once finished; waiting for the
            // peer's end means neither closes while the other still reads.
            if !peer_finished {
                let _ = timeout(GOODBYE_TIMEOUT, wait_for_control_end(&mut in_rx)).await;
            }
            let stats = conn.connection.stats();
            tracing::info!(
                datagrams_sent = stats.udp_tx.datagrams,
                datagrams_received = stats.udp_rx.datagrams,
                bytes_sent = stats.udp_tx.bytes,
                lost_packets = stats.path.lost_packets,
                congestion_events = stats.path.congestion_events,
                mtu = stats.path.current_mtu,
                acks_sent = stats.frame_tx.acks,
                "connection statistics"
            );
            Ok(SessionReport {
                outcome: outcome.clone(),
                peer: conn.peer(),
                payload_bytes_sent: session.bytes_sent(),
                payload_bytes_received: session.bytes_received(),
                wire_bytes_sent: stats.udp_tx.bytes,
                wire_bytes_received: stats.udp_rx.bytes,
            })
        }
        (None, error) => {
            let error = error.cloned().unwrap_or(ProtocolError::Cancelled);
            Err(if let Some(refused) = conn.connection.close_reason().as_ref().and_then(refusal) {
                refused
            } else if stalled {
                NetError::Stalled(net.stall_timeout)
            } else if let Some(cause) = lost {
                NetError::PeerGone { error, cause }
            } else {
                NetError::Protocol(error)
            })
        }
    };
    let (code, reason): (u32, &[u8]) = if result.is_ok() { (0, b"done") } else { (1, b"failed") };
    conn.connection.close(code.into(), reason);
    if let Some(endpoint) = &conn.endpoint {
        let _ = timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    }
    result
}

struct CloseOnDrop(quinn::Connection);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if self.0.close_reason().is_none() {
            self.0.close(2u32.into(), b"abandoned");
        }
    }
}

/// The dialer opens the control stream; the listener accepts it (bounded:
/// a peer that connects and then says nothing is dropped).
async fn open_control(conn: &PeerConnection, net: &NetConfig) -> Result<(SendStream, RecvStream), NetError> {
    let opened = if conn.is_client() {
        conn.connection.open_bi().await
    } else {
        match timeout(net.handshake_timeout, conn.connection.accept_bi()).await {
            Ok(opened) => opened,
            Err(_) => {
                return Err(NetError::Timeout { what: "open its control stream", timeout: net.handshake_timeout })
            }
        }
    };
    opened.map_err(|e| {
        refusal(&e).unwrap_or_else(|| NetError::PeerGone {
            error: venn_protocol::Misbehavior::UnexpectedEnd { phase: "waiting for the handshake" }.into(),
            cause: e.to_string(),
        })
    })
}

/// The peer's explanation, if it turned us away: with
/// [`PeerConnection::refuse`], or by refusing our certificate. (In TLS 1.3
/// a client's handshake completes before the server has checked the
/// client's certificate, so a client learns of that refusal only now.)
fn refusal(error: &quinn::ConnectionError) -> Option<NetError> {
    match error {
        quinn::ConnectionError::ApplicationClosed(close) if close.error_code == CLOSE_REFUSED.into() => {
            Some(NetError::SessionRefused { reason: close.reason.escape_ascii().to_string() })
        }
        quinn::ConnectionError::ConnectionClosed(close) if is_certificate_alert(close.error_code) => {
            Some(NetError::PeerRefusedUs { reason: close.reason.escape_ascii().to_string() })
        }
        _ => None,
    }
}

async fn read_stream(mut recv: RecvStream, channel: Channel, tx: mpsc::Sender<Input>) {
    loop {
        let input = match read_frame(&mut recv).await {
            Ok(Frame::Message(bytes)) => Input::Frame(bytes),
            Ok(Frame::Oversize(len)) => Input::Oversize(len),
            Ok(Frame::End) => Input::End(channel),
            Err(e) => Input::Lost(e.to_string()),
        };
        let last = !matches!(input, Input::Frame(_));
        if tx.send(input).await.is_err() || last {
            return;
        }
    }
}

async fn write_control(mut stream: SendStream, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(payload) = rx.recv().await {
        if write_frame(&mut stream, &payload).await.is_err() {
            return;
        }
    }
    finish(stream).await;
}

async fn write_data(connection: quinn::Connection, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut stream: Option<SendStream> = None;
    while let Some(payload) = rx.recv().await {
        let send = match &mut stream {
            Some(send) => send,
            None => match connection.open_uni().await {
                Ok(send) => stream.insert(send),
                Err(_) => return,
            },
        };
        if write_frame(send, &payload).await.is_err() {
            return;
        }
    }
    if let Some(stream) = stream {
        finish(stream).await;
    }
}

/// Finishes a stream and waits until the peer has acknowledged all of it, so
/// that closing the connection afterwards cannot drop our last message.
async fn finish(mut stream: SendStream) {
    let _ = stream.finish();
    let _ = stream.stopped().await;
}

async fn wait_for_control_end(rx: &mut mpsc::Receiver<Input>) {
    while let Some(input) = rx.recv().await {
        if matches!(input, Input::End(Channel::Control) | Input::Lost(_)) {
            return;
        }
    }
}

/// Runs curve work on the current thread without starving the runtime: on
/// a multi-threaded runtime the other tasks move to another worker.
fn compute<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}
