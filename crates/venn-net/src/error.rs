//! Errors of the transport, each with a one-line message a user can act on.

use std::{path::PathBuf, time::Duration};

use thiserror::Error;
use venn_protocol::ProtocolError;

use crate::Fingerprint;

/// What went wrong on the network side of a session.
#[derive(Debug, Error)]
pub enum NetError {
    /// The identity directory could not be read or written.
    #[error("cannot access identity file {}: {source}", path.display())]
    IdentityIo {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `keygen` would overwrite an existing key.
    #[error("an identity already exists at {}; choose another directory", path.display())]
    IdentityExists {
        /// The existing key file.
        path: PathBuf,
    },
    /// The private key file can be read by group or others.
    #[error("private key {} has mode {mode:03o}; run `chmod 600` on it", path.display())]
    KeyFileTooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key or certificate file does not hold what it should.
    #[error("{} is not a valid Venn identity file", path.display())]
    BadIdentityFile {
        /// The file.
        path: PathBuf,
    },
    /// A certificate whose public key cannot be found.
    #[error("certificate cannot be parsed")]
    BadCertificate,
    /// A fingerprint that is not 64 hex digits.
    #[error("invalid fingerprint {0:?}: expected 64 hex digits")]
    BadFingerprint(String),
    /// Generating a key pair failed.
    #[error("key generation failed: {0}")]
    KeyGeneration(rcgen::Error),
    /// The TLS configuration was refused.
    #[error("TLS setup failed: {0}")]
    TlsSetup(String),
    /// A timeout QUIC cannot represent.
    #[error("timeout {0:?} is out of range")]
    BadTimeout(Duration),
    /// Binding the UDP socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The peer presented an identity that is not pinned.
    #[error("peer presented fingerprint {presented} but we expected {}", list(expected))]
    PeerNotPinned {
        /// What it presented.
        presented: Fingerprint,
        /// What we pinned.
        expected: Vec<Fingerprint>,
    },
    /// The peer refused our identity (it pinned another fingerprint).
    #[error("peer refused our identity ({reason}); check that it pinned our fingerprint")]
    PeerRefusedUs {
        /// The peer's TLS alert.
        reason: String,
    },
    /// Connecting or the handshake failed for a network reason.
    #[error("cannot connect to the peer: {0}")]
    Connect(String),
    /// No connection, handshake or stream within the handshake timeout.
    #[error("the peer did not {what} within {timeout:?}")]
    Timeout {
        /// What we were waiting for.
        what: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// The protocol failed (the peer misbehaved, a policy refused, ...).
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// The connection broke before the protocol finished.
    #[error("the peer went away ({cause}); {error}")]
    PeerGone {
        /// What the protocol says about the ending.
        error: ProtocolError,
        /// The network's reason.
        cause: String,
    },
    /// The peer turned the session away before it started (it is busy or
    /// shutting down): try again later.
    #[error("the peer refused the session ({reason}); try again later")]
    SessionRefused {
        /// The peer's explanation.
        reason: String,
    },
    /// The connection is alive but the protocol made no progress.
    #[error("the peer stalled: no protocol progress for {0:?}")]
    Stalled(Duration),
}

fn list(fingerprints: &[Fingerprint]) -> String {
    match fingerprints {
        [] => "no pinned peer".to_owned(),
        [one] => one.to_hex(),
        many => format!("one of {}", many.iter().map(Fingerprint::to_hex).collect::<Vec<_>>().join(", ")),
    }
}

impl From<rustls::Error> for NetError {
    fn from(e: rustls::Error) -> Self {
        Self::TlsSetup(e.to_string())
    }
}

impl NetError {
    /// Whether this is an authentication failure (ours or the peer's).
    pub fn is_authentication(&self) -> bool {
        matches!(self, Self::PeerNotPinned { .. } | Self::PeerRefusedUs { .. })
    }
}
