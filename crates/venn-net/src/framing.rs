//! Length-prefixed frames on QUIC streams: a 4-byte big-endian length, then
//! one encoded protocol message.
//!
//! [`run_session`](crate::run_session) is the only reader and writer a party
//! needs. These functions are public for tools and tests that speak the wire
//! format by hand (the adversarial peer of `tests/hostile_peer.rs` uses them
//! to send frames an honest party never would), together with
//! [`PeerConnection::quinn`](crate::PeerConnection::quinn).

use quinn::{ReadExactError, RecvStream, SendStream};
use venn_protocol::codec::MAX_MESSAGE_BYTES;

/// What reading one frame gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete frame.
    Message(Vec<u8>),
    /// The length prefix announced more than any message may be; nothing was
    /// allocated for it.
    Oversize(usize),
    /// The peer finished the stream cleanly at a frame boundary.
    End,
}

/// Errors reading a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended inside a frame.
    #[error("the peer's stream ended in the middle of a message")]
    Truncated,
    /// The connection or stream failed.
    #[error(transparent)]
    Read(#[from] quinn::ReadError),
}

/// Reads one frame. A length prefix above
/// [`MAX_MESSAGE_BYTES`] is reported as [`Frame::Oversize`] without reading
/// or allocating the body, so a peer cannot make us buffer more than one
/// legal message per stream.
pub async fn read_frame(recv: &mut RecvStream) -> Result<Frame, FrameError> {
    let mut prefix = [0u8; 4];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Ok(Frame::End),
        Err(ReadExactError::FinishedEarly(_)) => return Err(FrameError::Truncated),
        Err(ReadExactError::ReadError(e)) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_MESSAGE_BYTES {
        return Ok(Frame::Oversize(len));
    }
    let mut payload = vec![0u8; len];
    match recv.read_exact(&mut payload).await {
        Ok(()) => Ok(Frame::Message(payload)),
        Err(ReadExactError::FinishedEarly(_)) => Err(FrameError::Truncated),
        Err(ReadExactError::ReadError(e)) => Err(e.into()),
    }
}

/// Writes one frame: the length of `payload` as a 4-byte big-endian prefix,
/// then `payload`. Nothing checks the payload, so a test can write anything;
/// it must be shorter than 4 GiB (the prefix is 32 bits).
pub async fn write_frame(send: &mut SendStream, payload: &[u8]) -> Result<(), quinn::WriteError> {
    // Our own messages are bounded by the protocol (MAX_MESSAGE_BYTES < 4 GiB).
    debug_assert!(u32::try_from(payload.len()).is_ok(), "frame of {} bytes", payload.len());
    send.write_all(&(payload.len() as u32).to_be_bytes()).await?;
    send.write_all(payload).await
}
