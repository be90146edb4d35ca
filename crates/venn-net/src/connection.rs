//! Establishing authenticated connections: [`Server`] accepts, [`connect`]
//! dials; both yield a [`PeerConnection`] whose peer is a pinned identity.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::time::timeout;

use crate::{
    tls::{client_config, server_config, Presented, EXPORTER_LABEL},
    Fingerprint, Identity, Mode, NetConfig, NetError, PeerPins,
};

/// A listening endpoint. Each accepted connection is authenticated against
/// the pins.
pub struct Server {
    endpoint: quinn::Endpoint,
    identity: Identity,
    pins: PeerPins,
    net: NetConfig,
    buffers: SocketBuffers,
    mode: Mode,
}

impl Server {
    /// Binds a UDP socket for count and segment matches ([`Mode::Match`]).
    /// Must be called inside a tokio runtime.
    pub fn bind(addr: SocketAddr, identity: Identity, pins: PeerPins, net: NetConfig) -> Result<Self, NetError> {
        Self::bind_mode(addr, identity, pins, net, Mode::Match)
    }

    /// Binds a UDP socket for sessions of `mode`, which every connection's
    /// TLS handshake advertises by ALPN. Must be called inside a tokio
    /// runtime.
    pub fn bind_mode(
        addr: SocketAddr,
        identity: Identity,
        pins: PeerPins,
        net: NetConfig,
        mode: Mode,
    ) -> Result<Self, NetError> {
        // The endpoint-wide config is only a fallback: every connection is
        // accepted with its own config so its verifier records its own peer.
        let default = server_config(&identity, pins.clone(), Presented::default(), &net, mode)?;
        let (endpoint, buffers) = endpoint(addr, Some(default))?;
        Ok(Self { endpoint, identity, pins, net, buffers, mode })
    }

    /// The listening UDP socket's buffer sizes: what Venn asked for (4 MiB
    /// each, or what the environment variable `VENN_SOCKET_BUFFER` says, in
    /// bytes; `0` asks for nothing and keeps the kernel's default) and what
    /// the kernel reports. Linux caps a request at `net.core.rmem_max` /
    /// `wmem_max` and reports twice what it granted (the extra half is for
    /// its own bookkeeping); a socket nobody asked about reports the plain
    /// `rmem_default`. Dialing asks for the same.
    pub fn socket_buffers(&self) -> SocketBuffers {
        self.buffers
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.endpoint.local_addr().map_err(|e| NetError::Connect(e.to_string()))
    }

    /// Waits for the next peer and authenticates it. The wait for a peer
    /// itself is unbounded (a server waits); the handshake is bounded.
    pub async fn accept(&self) -> Result<PeerConnection, NetError> {
        let incoming = self.endpoint.accept().await.ok_or_else(|| NetError::Connect("endpoint closed".into()))?;
        let presented = Presented::default();
        let config = server_config(&self.identity, self.pins.clone(), presented.clone(), &self.net, self.mode)?;
        let connecting =
            incoming.accept_with(std::sync::Arc::new(config)).map_err(|e| NetError::Connect(e.to_string()))?;
        let connection = match timeout(self.net.handshake_timeout, connecting).await {
            Err(_) => {
                return Err(NetError::Timeout { what: "complete the handshake", timeout: self.net.handshake_timeout })
            }
            Ok(Err(e)) => return Err(handshake_error(e, &presented, &self.pins)),
            Ok(Ok(c)) => c,
        };
        PeerConnection::new(connection, &presented, None)
    }

    /// Stops accepting and closes every connection.
    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"shutdown");
    }

    /// The pinned peers.
    pub fn pins(&self) -> &PeerPins {
        &self.pins
    }
}

/// Dials `addr` and authenticates the server against `pins`.
pub async fn connect(
    addr: SocketAddr,
    identity: &Identity,
    pins: PeerPins,
    net: NetConfig,
) -> Result<PeerConnection, NetError> {
    let local: SocketAddr =
        if addr.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let (endpoint, _) = endpoint(local, None)?;
    let presented = Presented::default();
    let config = client_config(identity, pins.clone(), presented.clone(), &net)?;
    // The name is not checked (the verifier pins keys), but TLS needs one.
    let connecting = endpoint.connect_with(config, addr, "venn-peer").map_err(|e| NetError::Connect(e.to_string()))?;
    let connection = match timeout(net.handshake_timeout, connecting).await {
        Err(_) => return Err(NetError::Timeout { what: "answer", timeout: net.handshake_timeout }),
        Ok(Err(e)) => return Err(handshake_error(e, &presented, &pins)),
        Ok(Ok(c)) => c,
    };
    PeerConnection::new(connection, &presented, Some(endpoint))
}

/// Socket buffer size asked of the kernel (it may grant less, up to
/// `net.core.rmem_max`). While both cores blind, the endpoint's task can be
/// late to drain the socket; a deep buffer absorbs the burst instead of
/// dropping datagrams that QUIC would then send again.
const SOCKET_BUFFER: usize = 4 * 1024 * 1024;

/// A UDP socket's buffer sizes: what was asked and what the kernel reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketBuffers {
    /// Bytes asked for each buffer; `None` when nothing was asked.
    pub requested: Option<usize>,
    /// `SO_RCVBUF` as the kernel reports it (0 if it could not be read).
    pub receive: usize,
    /// `SO_SNDBUF` as the kernel reports it (0 if it could not be read).
    pub send: usize,
}

/// [`SOCKET_BUFFER`], or `VENN_SOCKET_BUFFER` bytes if that is set (`0`:
/// ask for nothing). An unparsable value is ignored.
fn socket_buffer_request() -> Option<usize> {
    match std::env::var("VENN_SOCKET_BUFFER").ok().and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(0) => None,
        Some(bytes) => Some(bytes),
        None => Some(SOCKET_BUFFER),
    }
}

/// A quinn endpoint on a UDP socket with deep buffers.
fn endpoint(
    addr: SocketAddr,
    server: Option<quinn::ServerConfig>,
) -> Result<(quinn::Endpoint, SocketBuffers), NetError> {
    let bind = |addr: SocketAddr| -> std::io::Result<(std::net::UdpSocket, SocketBuffers)> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        let requested = socket_buffer_request();
        if let Some(bytes) = requested {
            // Best effort: a smaller buffer only costs retransmissions.
            let _ = socket.set_recv_buffer_size(bytes);
            let _ = socket.set_send_buffer_size(bytes);
        }
        let buffers = SocketBuffers {
            requested,
            receive: socket.recv_buffer_size().unwrap_or(0),
            send: socket.send_buffer_size().unwrap_or(0),
        };
        socket.bind(&addr.into())?;
        Ok((socket.into(), buffers))
    };
    let (socket, buffers) = bind(addr).map_err(|source| NetError::Bind { addr, source })?;
    let runtime = quinn::default_runtime().ok_or_else(|| NetError::Connect("no async runtime".into()))?;
    let endpoint = quinn::Endpoint::new(quinn::EndpointConfig::default(), server, socket, runtime)
        .map_err(|source| NetError::Bind { addr, source })?;
    Ok((endpoint, buffers))
}

/// Turns a failed handshake into the most useful error: our refusal of the
/// peer's fingerprint, the peer's refusal of ours, or the network reason.
fn handshake_error(e: quinn::ConnectionError, presented: &Presented, pins: &PeerPins) -> NetError {
    if let Some(fingerprint) = presented.get().filter(|f| !pins.contains(f)) {
        return NetError::PeerNotPinned { presented: fingerprint, expected: pins.as_slice().to_vec() };
    }
    match &e {
        quinn::ConnectionError::ConnectionClosed(close) if is_certificate_alert(close.error_code) => {
            NetError::PeerRefusedUs { reason: close.reason.escape_ascii().to_string() }
        }
        _ => NetError::Connect(e.to_string()),
    }
}

/// TLS alerts about certificates (bad_certificate 42 ... certificate_required 116),
/// carried as QUIC CRYPTO_ERROR codes 0x100 + alert.
pub(crate) fn is_certificate_alert(code: quinn::TransportErrorCode) -> bool {
    let code = u64::from(code);
    (0x100 + 42..=0x100 + 49).contains(&code) || code == 0x100 + 116
}

/// Application close code of [`PeerConnection::refuse`].
pub(crate) const CLOSE_REFUSED: u32 = 3;

/// An authenticated connection to a pinned peer.
pub struct PeerConnection {
    pub(crate) connection: quinn::Connection,
    peer: Fingerprint,
    mode: Mode,
    /// A client keeps its endpoint alive for as long as the connection.
    pub(crate) endpoint: Option<quinn::Endpoint>,
}

impl PeerConnection {
    fn new(
        connection: quinn::Connection,
        presented: &Presented,
        endpoint: Option<quinn::Endpoint>,
    ) -> Result<Self, NetError> {
        let peer = presented.get().ok_or_else(|| NetError::Connect("peer presented no certificate".into()))?;
        let protocol = connection
            .handshake_data()
            .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
            .and_then(|data| data.protocol);
        let mode = Mode::from_alpn(protocol.as_deref());
        Ok(Self { connection, peer, mode, endpoint })
    }

    /// What the connection is for, as negotiated by ALPN: the server's
    /// mode (a peer that negotiated nothing counts as [`Mode::Match`]).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The peer's (pinned) fingerprint.
    pub fn peer(&self) -> Fingerprint {
        self.peer
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.connection.remote_address()
    }

    /// Whether we dialed (the dialer opens the control stream).
    pub fn is_client(&self) -> bool {
        self.endpoint.is_some()
    }

    /// Turns the peer away without running a session: closes the connection
    /// at once with a "refused" code and `reason` (say, "busy: 4 sessions in
    /// flight"), which the peer's [`run_session`](crate::run_session)
    /// reports as [`NetError::SessionRefused`]. A server uses it for a pinned
    /// peer it cannot serve now; an unpinned one never gets this far.
    pub fn refuse(self, reason: &str) {
        self.connection.close(CLOSE_REFUSED.into(), reason.as_bytes());
    }

    /// The underlying QUIC connection, for tools and tests that speak the
    /// wire format by hand (with [`crate::framing`]), such as the
    /// adversarial peer of `tests/hostile_peer.rs`. A party has no use for
    /// it: [`run_session`](crate::run_session) owns the streams, and opening
    /// others breaks the session.
    pub fn quinn(&self) -> &quinn::Connection {
        &self.connection
    }

    /// 32 bytes from the TLS exporter (RFC 5705 / RFC 8446 §7.5), equal on
    /// both ends of this connection and unknown to anyone else. The protocol
    /// binds its session id to them.
    pub fn channel_binding(&self) -> Result<[u8; 32], NetError> {
        let mut out = [0u8; 32];
        self.connection
            .export_keying_material(&mut out, EXPORTER_LABEL, b"")
            .map_err(|_| NetError::TlsSetup("TLS exporter unavailable".into()))?;
        Ok(out)
    }
}
