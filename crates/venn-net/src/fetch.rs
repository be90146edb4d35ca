//! Index mode's download: the brand fetches the platform's index over the
//! session's own pinned connection, before the session, into its
//! [`Cache`]; resumable, and checked part by part against the header.
//!
//! The brand opens the connection's **first** bidirectional stream as the
//! fetch stream ([`FetchStream::open`]); the platform accepts it
//! ([`FetchStream::accept`]) before [`run_machine`](crate::run_machine)
//! accepts the control stream. On it, one frame per message
//! ([`crate::framing`], the protocol's codec):
//!
//! ```text
//! B ──FetchHeader──────────────────────────▶ P
//! B ◀──IndexHeader(header bytes)──────────── P   checked: parses, pinned platform, not expired
//!   for each part the cache does not hold whole:
//! B ──FetchPart { part, offset }───────────▶ P   offset = bytes already held (resume)
//! B ◀──PartChunk { part, offset, bytes } ×n─ P   ≤ 1 MiB each, up to the part's end
//! B ──FetchDone────────────────────────────▶ P
//! ```
//!
//! A later session in the same epoch asks for the header only. Every length
//! and count from the peer is bounded before use: a frame by the codec's
//! limit, the header by the header format's ([`MAX_HEADER_BYTES`]), a chunk
//! by [`MAX_FETCH_CHUNK`] and by the part's length in the header, a part
//! number by the header's part count. The platform reads only the part
//! files its own header names, by position: nothing from the peer becomes a
//! path. A part that fails verification is refused by name, deleted, and
//! fetched again once; a second failure ends the download
//! ([`FetchError::CorruptPart`]). Either side that refuses the other's
//! message says why with an `Abort` on the stream before it gives up.

use std::{
    collections::HashSet,
    fs::File,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::Duration,
};

use quinn::{RecvStream, SendStream};
use tokio::time::timeout;
use venn_index::{
    Cache, Header, HeaderError, Index, PartEntry, PartError, PartState, HEADER_FRAMING_LEN, MAX_HEADER_BYTES,
};
use venn_protocol::{codec, AbortReason, DecodeError, Message, MAX_FETCH_CHUNK};

use crate::{
    framing::{read_frame, write_frame, Frame},
    Fingerprint, NetConfig, PeerConnection,
};

/// The largest index header accepted from a peer: the header format's own
/// bound (framing plus a body of at most [`MAX_HEADER_BYTES`]).
pub const MAX_HEADER_MESSAGE: usize = HEADER_FRAMING_LEN + MAX_HEADER_BYTES;

/// How long an `Abort` gets to reach the peer before we close.
const ABORT_FLUSH: Duration = Duration::from_secs(2);

/// Why the download failed, on either side.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The brand did not open the fetch stream in time.
    #[error("the peer did not open the index fetch stream within {0:?}")]
    NoStream(Duration),
    /// The connection or the stream failed.
    #[error("index download: the connection failed ({0})")]
    Connection(String),
    /// No message for the stall timeout while the connection lived.
    #[error("index download: nothing from the peer for {0:?}")]
    Stalled(Duration),
    /// The peer ended the fetch stream early.
    #[error("index download: the peer closed the fetch stream while we waited for {0}")]
    Ended(&'static str),
    /// Bytes that are not a message.
    #[error("index download: invalid message from the peer: {0}")]
    Decode(#[from] DecodeError),
    /// A frame over the codec's bound (not read).
    #[error("index download: the peer announced a message of {len} bytes, over the limit of {max}")]
    Oversize {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A message that does not belong here.
    #[error("index download: unexpected {message} while waiting for {waiting_for}")]
    Unexpected {
        /// The message's kind.
        message: &'static str,
        /// What we waited for.
        waiting_for: &'static str,
    },
    /// The peer refused, with its reason.
    #[error("index download: the peer refused because {0}")]
    PeerAborted(AbortReason),
    /// An index header over [`MAX_HEADER_MESSAGE`].
    #[error("the platform's index header of {len} bytes is over the limit of {max}; refused")]
    HeaderTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An index header that does not parse.
    #[error("the platform's index header is refused: {0}")]
    BadHeader(#[source] HeaderError),
    /// An index header of another platform than the pinned peer.
    #[error("the platform's index header names platform {found}, not the pinned peer {expected}; refused")]
    WrongPlatform {
        /// The pinned peer (short form).
        expected: String,
        /// The header's (short form).
        found: String,
    },
    /// An index header whose epoch is over.
    #[error(
        "the platform's index epoch {epoch} expired at unix time {expires_at} (now {now}); refused: \
         the platform must publish a new epoch"
    )]
    Expired {
        /// Epoch id.
        epoch: u64,
        /// Its expiry.
        expires_at: u64,
        /// Our clock.
        now: u64,
    },
    /// A chunk of another part or offset than the one asked for.
    #[error(
        "index download: the platform sent part {part} from byte {offset} where part {expected_part} from \
         byte {expected_offset} was due; refused"
    )]
    ChunkOutOfPlace {
        /// The chunk's part.
        part: u32,
        /// The chunk's offset.
        offset: u64,
        /// The part due.
        expected_part: u32,
        /// The offset due.
        expected_offset: u64,
    },
    /// An empty chunk or one over [`MAX_FETCH_CHUNK`].
    #[error("index download: the platform sent a chunk of {len} bytes (1 to {max} allowed); refused")]
    BadChunkLength {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A part failed verification again after it was fetched again.
    #[error("index download: part {part} failed verification again after it was fetched again ({source}); refused")]
    CorruptPart {
        /// The part's file name.
        part: String,
        /// Why.
        #[source]
        source: PartError,
    },
    /// The local cache failed (a disk error, a stored header we cannot read).
    #[error("index cache: {0}")]
    Cache(#[source] venn_index::Error),
    /// Platform: the brand asked for a part the index does not have.
    #[error("the brand asked for index part {part}, but the index has {parts} parts; refused")]
    PartOutOfRange {
        /// The part asked for.
        part: u32,
        /// Parts in the index.
        parts: usize,
    },
    /// Platform: the brand asked for bytes past a part's end.
    #[error("the brand asked for index part {part} from byte {offset}, but it has {len} bytes; refused")]
    OffsetOutOfRange {
        /// The part.
        part: u32,
        /// The offset asked for.
        offset: u64,
        /// The part's length.
        len: u64,
    },
    /// Platform: one of our own part files cannot be read.
    #[error("cannot read our index part {}: {source}; check the index directory (rebuild it if parts are missing)", path.display())]
    LocalPart {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// Whether the peer sent bad data or broke the fetch protocol (as
    /// opposed to a network failure, a refusal, or a local problem).
    pub fn is_peer_violation(&self) -> bool {
        matches!(
            self,
            Self::Decode(_)
                | Self::Oversize { .. }
                | Self::Unexpected { .. }
                | Self::HeaderTooLarge { .. }
                | Self::BadHeader(_)
                | Self::WrongPlatform { .. }
                | Self::Expired { .. }
                | Self::ChunkOutOfPlace { .. }
                | Self::BadChunkLength { .. }
                | Self::CorruptPart { .. }
                | Self::PartOutOfRange { .. }
                | Self::OffsetOutOfRange { .. }
        )
    }

    /// Whether the network failed or the peer went away.
    pub fn is_network(&self) -> bool {
        matches!(self, Self::NoStream(_) | Self::Connection(_) | Self::Stalled(_) | Self::Ended(_))
    }
}

/// The fetch stream of one connection, with the stall timeout that bounds
/// every wait on it.
pub struct FetchStream {
    send: SendStream,
    recv: RecvStream,
    stall: Duration,
}

impl FetchStream {
    /// Brand: opens the connection's first bidirectional stream. (It
    /// reaches the platform with the first message.)
    pub async fn open(conn: &PeerConnection, net: &NetConfig) -> Result<Self, FetchError> {
        let (send, recv) = conn.connection.open_bi().await.map_err(|e| FetchError::Connection(e.to_string()))?;
        Ok(Self::new(send, recv, net.stall_timeout))
    }

    /// Platform: accepts the brand's fetch stream, within the handshake
    /// timeout.
    pub async fn accept(conn: &PeerConnection, net: &NetConfig) -> Result<Self, FetchError> {
        let (send, recv) = timeout(net.handshake_timeout, conn.connection.accept_bi())
            .await
            .map_err(|_| FetchError::NoStream(net.handshake_timeout))?
            .map_err(|e| FetchError::Connection(e.to_string()))?;
        Ok(Self::new(send, recv, net.stall_timeout))
    }

    /// A fetch stream over raw QUIC streams (for tools and tests).
    pub fn new(send: SendStream, recv: RecvStream, stall: Duration) -> Self {
        Self { send, recv, stall }
    }

    async fn send(&mut self, message: &Message) -> Result<(), FetchError> {
        let payload = codec::encode(message);
        timeout(self.stall, write_frame(&mut self.send, &payload))
            .await
            .map_err(|_| FetchError::Stalled(self.stall))?
            .map_err(|e| FetchError::Connection(e.to_string()))
    }

    /// The next message; an `Abort` from the peer is its refusal.
    async fn recv(&mut self, waiting_for: &'static str) -> Result<Message, FetchError> {
        let frame = timeout(self.stall, read_frame(&mut self.recv))
            .await
            .map_err(|_| FetchError::Stalled(self.stall))?
            .map_err(|e| FetchError::Connection(e.to_string()))?;
        match frame {
            Frame::Message(bytes) => match codec::decode(&bytes)? {
                Message::Abort(reason) => Err(FetchError::PeerAborted(reason)),
                message => Ok(message),
            },
            Frame::Oversize(len) => Err(FetchError::Oversize { len, max: codec::MAX_MESSAGE_BYTES }),
            Frame::End => Err(FetchError::Ended(waiting_for)),
        }
    }

    /// Tells the peer why we give up (best effort) and ends our side,
    /// waiting briefly for the peer to take it, so that closing the
    /// connection next does not drop it.
    async fn abort(&mut self, reason: AbortReason) {
        if self.send(&Message::Abort(reason)).await.is_ok() {
            self.finish();
            let _ = timeout(ABORT_FLUSH, self.send.stopped()).await;
        }
    }

    fn finish(&mut self) {
        let _ = self.send.finish();
    }

    /// Gives up on `error`, telling the peer when it is the peer's fault.
    async fn fail<T>(&mut self, error: FetchError) -> Result<T, FetchError> {
        if error.is_peer_violation() {
            self.abort(AbortReason::ProtocolViolation).await;
        }
        Err(error)
    }
}

/// How the platform serves parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Bytes per chunk, 1 to [`MAX_FETCH_CHUNK`] (clamped). By default,
    /// [`MAX_FETCH_CHUNK`].
    pub chunk_bytes: usize,
    /// For tests of resumed downloads: after this many part bytes, send
    /// nothing more and wait (the connection stays open), as a platform
    /// that hangs mid-download would. By default, `None`.
    pub pause_after_bytes: Option<u64>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { chunk_bytes: MAX_FETCH_CHUNK, pause_after_bytes: None }
    }
}

/// Platform: serves its own index on the fetch stream until the brand says
/// `FetchDone`. Reads only the part files that `header` names, in
/// `index_dir`, by the part number the brand asks for; a part number or
/// offset out of range is refused by name (the brand is told, the stream
/// closed). Returns the part bytes sent.
pub async fn serve_fetch(
    stream: &mut FetchStream,
    index_dir: &Path,
    header: &Header,
    options: ServeOptions,
) -> Result<u64, FetchError> {
    let header_bytes = header.to_bytes().map_err(|e| FetchError::Cache(index_error(index_dir, e)))?;
    let chunk = options.chunk_bytes.clamp(1, MAX_FETCH_CHUNK);
    let mut sent = 0u64;
    loop {
        let waiting_for = "FetchHeader, FetchPart or FetchDone";
        let message = match stream.recv(waiting_for).await {
            Ok(m) => m,
            Err(e) => return stream.fail(e).await,
        };
        match message {
            Message::FetchHeader => stream.send(&Message::IndexHeader(header_bytes.clone())).await?,
            Message::FetchPart { part, offset } => {
                let Some(entry) = header.parts().get(part as usize) else {
                    return stream.fail(FetchError::PartOutOfRange { part, parts: header.parts().len() }).await;
                };
                if offset >= entry.byte_len {
                    return stream.fail(FetchError::OffsetOutOfRange { part, offset, len: entry.byte_len }).await;
                }
                sent +=
                    send_part(stream, index_dir, entry, part, offset, chunk, options.pause_after_bytes, sent).await?;
            }
            Message::FetchDone => {
                stream.finish();
                return Ok(sent);
            }
            other => return stream.fail(FetchError::Unexpected { message: other.kind(), waiting_for }).await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_part(
    stream: &mut FetchStream,
    dir: &Path,
    entry: &PartEntry,
    part: u32,
    offset: u64,
    chunk: usize,
    pause_after: Option<u64>,
    sent_before: u64,
) -> Result<u64, FetchError> {
    let path = dir.join(entry.file_name());
    let local = |source| FetchError::LocalPart { path: path.clone(), source };
    let mut file = File::open(&path).map_err(local)?;
    let len = file.metadata().map_err(local)?.len();
    if len != entry.byte_len {
        let source = std::io::Error::other(format!("{len} bytes where the header says {}", entry.byte_len));
        return Err(local(source));
    }
    file.seek(SeekFrom::Start(offset)).map_err(local)?;
    let mut at = offset;
    let mut sent = 0u64;
    let mut buf = vec![0u8; chunk];
    while at < entry.byte_len {
        let mut n = chunk.min((entry.byte_len - at) as usize);
        if let Some(limit) = pause_after {
            let left = limit.saturating_sub(sent_before + sent);
            if left == 0 {
                tracing::warn!(part, at, "pausing the index download (test hook)");
                std::future::pending::<()>().await;
            }
            n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        file.read_exact(&mut buf[..n]).map_err(local)?;
        stream.send(&Message::PartChunk { part, offset: at, bytes: buf[..n].to_vec() }).await?;
        at += n as u64;
        sent += n as u64;
    }
    Ok(sent)
}

/// Platform: refuses the download with `reason` (an expired epoch, a spent
/// budget): waits for the brand's first message, answers `Abort(reason)`.
/// The brand's [`fetch_index`] fails with [`FetchError::PeerAborted`].
pub async fn refuse_fetch(stream: &mut FetchStream, reason: AbortReason) -> Result<(), FetchError> {
    match stream.recv("FetchHeader").await {
        Ok(Message::FetchHeader) => {
            stream.abort(reason).await;
            Ok(())
        }
        Ok(other) => stream.fail(FetchError::Unexpected { message: other.kind(), waiting_for: "FetchHeader" }).await,
        Err(e) => Err(e),
    }
}

/// What the brand's download gave.
#[derive(Debug)]
pub struct Fetched {
    /// The complete, verified index, opened from the cache.
    pub index: Index,
    /// The header's bytes as received (and stored).
    pub header_bytes: Vec<u8>,
    /// Part bytes downloaded in this session (0 when the cache held them).
    pub part_bytes: u64,
    /// Parts refused by verification and fetched again, by file name.
    pub refetched: Vec<String>,
}

/// Brand: fetches the header of `platform` (the pinned peer), checks it
/// (it parses, names `platform`, has not expired at `now`, unix seconds),
/// stores it in `cache`, then fetches only the part bytes the cache does
/// not hold, from where each stopped, each checked by
/// [`Cache::put_part`]; returns the opened index.
pub async fn fetch_index(
    stream: &mut FetchStream,
    cache: &Cache,
    platform: &Fingerprint,
    now: u64,
) -> Result<Fetched, FetchError> {
    match fetch_inner(stream, cache, platform, now).await {
        Ok(fetched) => Ok(fetched),
        Err(e) => stream.fail(e).await,
    }
}

async fn fetch_inner(
    stream: &mut FetchStream,
    cache: &Cache,
    platform: &Fingerprint,
    now: u64,
) -> Result<Fetched, FetchError> {
    stream.send(&Message::FetchHeader).await?;
    let header_bytes = match stream.recv("the index header").await? {
        Message::IndexHeader(bytes) => bytes,
        other => return Err(FetchError::Unexpected { message: other.kind(), waiting_for: "the index header" }),
    };
    let header = check_header(&header_bytes, platform, now)?;
    let epoch = header.epoch_id();
    cache.put_header(&platform.0, epoch, &header_bytes).map_err(FetchError::Cache)?;
    let mut download = Download { cache, platform: &platform.0, epoch, retried: HashSet::new(), refetched: Vec::new() };
    let mut part_bytes = 0;
    let index = loop {
        for (i, entry) in header.parts().iter().enumerate() {
            part_bytes += download.part(stream, i as u32, entry).await?;
        }
        match cache.complete(&platform.0, epoch) {
            Ok(index) => break index,
            // A held part that no longer verifies (damaged on disk): fetch
            // it again, once.
            Err(venn_index::Error::PartDeleted { part, source }) => {
                download.refused(part, source)?;
            }
            Err(e) => return Err(FetchError::Cache(e)),
        }
    };
    stream.send(&Message::FetchDone).await?;
    stream.finish();
    Ok(Fetched { index, header_bytes, part_bytes, refetched: download.refetched })
}

/// Parses and checks header bytes from the platform `platform` at `now`.
pub fn check_header(bytes: &[u8], platform: &Fingerprint, now: u64) -> Result<Header, FetchError> {
    if bytes.len() > MAX_HEADER_MESSAGE {
        return Err(FetchError::HeaderTooLarge { len: bytes.len(), max: MAX_HEADER_MESSAGE });
    }
    let header = Header::from_bytes(bytes).map_err(FetchError::BadHeader)?;
    if header.platform_fingerprint() != &platform.0 {
        return Err(FetchError::WrongPlatform {
            expected: platform.short(),
            found: Fingerprint(*header.platform_fingerprint()).short(),
        });
    }
    let expires_at = header.fields().expires_at;
    if now >= expires_at {
        return Err(FetchError::Expired { epoch: header.epoch_id(), expires_at, now });
    }
    Ok(header)
}

struct Download<'a> {
    cache: &'a Cache,
    platform: &'a [u8; 32],
    epoch: u64,
    /// Parts (by file name) already fetched again once.
    retried: HashSet<String>,
    refetched: Vec<String>,
}

impl Download<'_> {
    /// A part failed verification and was deleted: fetch it again once,
    /// then give up.
    fn refused(&mut self, part: String, source: PartError) -> Result<(), FetchError> {
        if !self.retried.insert(part.clone()) {
            return Err(FetchError::CorruptPart { part, source });
        }
        tracing::warn!(%part, error = %source, "index part refused and deleted; fetching it again");
        eprintln!("venn: index part {part} refused ({source}); fetching it again");
        self.refetched.push(part);
        Ok(())
    }

    /// Brings one part to complete; returns the bytes downloaded.
    async fn part(&mut self, stream: &mut FetchStream, part: u32, entry: &PartEntry) -> Result<u64, FetchError> {
        let mut got = 0u64;
        loop {
            let state = self.cache.part_state(self.platform, self.epoch, entry).map_err(FetchError::Cache)?;
            let offset = match state {
                PartState::Complete => return Ok(got),
                PartState::Resume { offset } => offset,
            };
            if offset >= entry.byte_len {
                // Every byte is held but was never checked (a crash before
                // the rename): check it now.
                self.put(entry, offset, &[])?;
                continue;
            }
            if offset > 0 {
                tracing::info!(part, offset, "resuming index part download");
            }
            stream.send(&Message::FetchPart { part, offset }).await?;
            let mut at = offset;
            while at < entry.byte_len {
                let waiting_for = "a chunk of an index part";
                let (p, o, bytes) = match stream.recv(waiting_for).await? {
                    Message::PartChunk { part: p, offset: o, bytes } => (p, o, bytes),
                    other => return Err(FetchError::Unexpected { message: other.kind(), waiting_for }),
                };
                if p != part || o != at {
                    return Err(FetchError::ChunkOutOfPlace {
                        part: p,
                        offset: o,
                        expected_part: part,
                        expected_offset: at,
                    });
                }
                if bytes.is_empty() || bytes.len() > MAX_FETCH_CHUNK {
                    return Err(FetchError::BadChunkLength { len: bytes.len(), max: MAX_FETCH_CHUNK });
                }
                got += bytes.len() as u64;
                match self.put(entry, at, &bytes)? {
                    Some(next) => {
                        at = next;
                        tracing::info!(part, offset = at, "index part chunk stored");
                    }
                    // Complete, or refused and deleted: the state says which.
                    None => break,
                }
            }
        }
    }

    /// Stores a chunk: `Some(next offset)` while the part is incomplete,
    /// `None` once it is complete or was refused (and is to be fetched
    /// again).
    fn put(&mut self, entry: &PartEntry, offset: u64, bytes: &[u8]) -> Result<Option<u64>, FetchError> {
        match self.cache.put_part(self.platform, self.epoch, entry, offset, bytes) {
            Ok(PartState::Resume { offset }) => Ok(Some(offset)),
            Ok(PartState::Complete) => Ok(None),
            Err(venn_index::Error::PartDeleted { part, source }) => {
                self.refused(part, source)?;
                Ok(None)
            }
            Err(e) => Err(FetchError::Cache(e)),
        }
    }
}

fn index_error(dir: &Path, source: HeaderError) -> venn_index::Error {
    venn_index::Error::Header { path: dir.join(venn_index::HEADER_FILE), source }
}
