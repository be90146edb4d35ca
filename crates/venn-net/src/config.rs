//! Transport settings.

use std::time::Duration;

use quinn::{IdleTimeout, TransportConfig, VarInt};

use crate::NetError;

/// Timeouts and windows of a connection. Every wait in `venn-net` is bounded
/// by one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetConfig {
    /// Close the connection when nothing at all arrives for this long; the
    /// peer's keep-alives reset it. By default, 30 s.
    pub idle_timeout: Duration,
    /// Send a keep-alive after this much silence, so a slow but live peer is
    /// not mistaken for a dead one. By default, 5 s.
    pub keep_alive: Duration,
    /// Fail when the protocol makes no progress (no message in or out) for
    /// this long even though the connection is alive: a peer that stalls
    /// mid-stream. By default, 120 s.
    pub stall_timeout: Duration,
    /// Give up on connecting, the TLS handshake, or the peer opening its
    /// streams after this long. By default, 30 s.
    pub handshake_timeout: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            keep_alive: Duration::from_secs(5),
            stall_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Per-stream receive window: about four full point batches, enough to keep
/// a long fat pipe busy while bounding what a peer can make us buffer.
const STREAM_WINDOW: u32 = 8 * 1024 * 1024;
/// Connection-wide receive window (both streams).
const CONNECTION_WINDOW: u32 = 16 * 1024 * 1024;

impl NetConfig {
    pub(crate) fn transport(&self) -> Result<TransportConfig, NetError> {
        let idle = IdleTimeout::try_from(self.idle_timeout).map_err(|_| NetError::BadTimeout(self.idle_timeout))?;
        let mut t = TransportConfig::default();
        t.max_idle_timeout(Some(idle))
            .keep_alive_interval(Some(self.keep_alive.min(self.idle_timeout / 2)))
            .stream_receive_window(VarInt::from_u32(STREAM_WINDOW))
            .receive_window(VarInt::from_u32(CONNECTION_WINDOW))
            .send_window(u64::from(CONNECTION_WINDOW))
            // The protocol uses one control stream and one data stream per
            // direction, and in index mode a fetch stream opened before
            // the control stream; a peer gets no more.
            .max_concurrent_bidi_streams(VarInt::from_u32(2))
            .max_concurrent_uni_streams(VarInt::from_u32(1));
        Ok(t)
    }
}
