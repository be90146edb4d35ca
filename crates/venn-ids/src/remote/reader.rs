//! Reading one stored object: byte ranges, each pinned to the version that
//! was listed.
//!
//! Every request carries the object's ETag as `If-Match` (its modification
//! time as `If-Unmodified-Since` where the store gives no ETag), so a part
//! rewritten while it is read fails the read instead of mixing versions:
//! the object-store form of the guard local files get.
//!
//! - Text parts (CSV, gzip, zstd) are read front to back as [`CHUNK`]-byte
//!   ranges, [`IN_FLIGHT`] requests ahead of the parser ([`ObjectStream`]).
//! - Parquet parts are read where the Parquet reader asks ([`ObjectChunks`]):
//!   the footer, then the pages of the projected columns only. Page reads
//!   are small and many, so each miss fetches up to [`READ_AHEAD`] bytes,
//!   never past the end of the column chunk it falls in (the footer tells
//!   where chunks end), into a small cache of recent blocks.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::{Buf, Bytes};
use futures::StreamExt;
use object_store::{GetOptions, ObjectMeta, ObjectStore};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};
use tokio::sync::mpsc;

/// Bytes per request of a text part.
pub(super) const CHUNK: u64 = 8 << 20;

/// Requests of a text part in flight ahead of the parser: memory is bounded
/// by about `(2 × IN_FLIGHT + 2) × CHUNK` per part (48 MiB): the requests in
/// flight, the chunks waiting in the channel, one waiting for room in it and
/// the one being parsed.
pub(super) const IN_FLIGHT: usize = 2;

/// Most bytes one Parquet miss fetches.
pub(super) const READ_AHEAD: u64 = 4 << 20;

/// Blocks a Parquet part's cache keeps: four per decoding thread (the
/// Parquet reader decodes two runs of row groups per thread at a time, each
/// reading its own column chunks), at least 16 and at most 64, so
/// `16–64 × READ_AHEAD` bytes (64–256 MiB), plus at most a block held by
/// each page reader at work. Fewer would make concurrent readers evict
/// each other's blocks and fetch them again.
fn cached_blocks() -> usize {
    (4 * rayon::current_num_threads()).clamp(16, 64)
}

/// One listed object and how to reach it. Cheap to clone.
#[derive(Clone)]
pub(super) struct Object {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) meta: ObjectMeta,
    pub(super) runtime: tokio::runtime::Handle,
    /// The first error of the store while reading this object, kept so that
    /// the caller reports it as it is, not as a decoder's rewording.
    failure: Arc<Mutex<Option<object_store::Error>>>,
    /// Bytes downloaded so far.
    fetched: Arc<AtomicU64>,
}

impl Object {
    pub(super) fn new(store: Arc<dyn ObjectStore>, meta: ObjectMeta, runtime: tokio::runtime::Handle) -> Object {
        Object { store, meta, runtime, failure: Arc::default(), fetched: Arc::default() }
    }

    /// Fetches `range` of the listed version, blocking this thread (which
    /// must not be one of the runtime's).
    pub(super) fn fetch(&self, range: Range<u64>) -> Result<Bytes, io::Error> {
        self.runtime.block_on(fetch(self.clone(), range)).map_err(|e| self.failed(e))
    }

    /// The store error that stopped the read, if one did (taken once).
    pub(super) fn take_failure(&self) -> Option<object_store::Error> {
        self.failure.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Bytes downloaded so far, all requests together (tests check what a
    /// read costs).
    #[cfg(test)]
    pub(super) fn fetched(&self) -> u64 {
        self.fetched.load(Ordering::Relaxed)
    }

    /// Keeps the first store error and turns it into an I/O error.
    fn failed(&self, e: object_store::Error) -> io::Error {
        let text = e.to_string();
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        io::Error::other(text)
    }

    pub(super) fn size(&self) -> u64 {
        self.meta.size
    }
}

/// `range` of the listed version of `object`.
async fn fetch(object: Object, range: Range<u64>) -> object_store::Result<Bytes> {
    let meta = &object.meta;
    // A server that gives neither an ETag nor a modification time leaves
    // the epoch here: no precondition can be asked of it.
    let dated = meta.last_modified.timestamp() > 0;
    let options = GetOptions {
        range: Some(range.into()),
        if_match: meta.e_tag.clone(),
        if_unmodified_since: (meta.e_tag.is_none() && dated).then_some(meta.last_modified),
        ..GetOptions::default()
    };
    let bytes = object.store.get_opts(&meta.location, options).await?.bytes().await?;
    object.fetched.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    Ok(bytes)
}

/// A text part front to back: a task of the runtime fetches [`CHUNK`]-byte
/// ranges, [`IN_FLIGHT`] at a time, in order; this end reads them.
pub(super) struct ObjectStream {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    done: bool,
    /// Bytes received, checked against the object's size at the end: a
    /// fetching task that stopped early never passes for a whole object.
    received: u64,
    size: u64,
}

impl ObjectStream {
    pub(super) fn open(object: &Object) -> ObjectStream {
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(IN_FLIGHT);
        let ranges: Vec<Range<u64>> =
            (0..object.size()).step_by(CHUNK as usize).map(|s| s..(s + CHUNK).min(object.size())).collect();
        let task_object = object.clone();
        object.runtime.spawn(async move {
            let o = &task_object;
            let mut fetched = futures::stream::iter(ranges).map(|r| fetch(o.clone(), r)).buffered(IN_FLIGHT);
            while let Some(result) = fetched.next().await {
                let failed = result.is_err();
                // Waits for room: the channel bounds what is held ahead.
                let sent = tx.send(result.map_err(|e| o.failed(e))).await.is_ok();
                if failed || !sent {
                    return;
                }
            }
        });
        ObjectStream { chunks: rx, current: Bytes::new(), done: false, received: 0, size: object.size() }
    }
}

impl Read for ObjectStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.current.has_remaining() {
            if self.done {
                return Ok(0);
            }
            // This thread is not the runtime's: blocking here is allowed.
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.received += chunk.len() as u64;
                    self.current = chunk;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                // Every range was sent, or the task stopped.
                None => {
                    self.done = true;
                    if self.received != self.size {
                        return Err(io::Error::other(format!(
                            "the download stopped after {} of {} bytes",
                            self.received, self.size
                        )));
                    }
                }
            }
        }
        let n = buf.len().min(self.current.remaining());
        self.current.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

/// A Parquet part, read where the Parquet reader asks. Cheap to clone:
/// clones share one cache.
#[derive(Clone)]
pub(super) struct ObjectChunks(Arc<Blocks>);

/// An object's recently fetched blocks, least recently used first.
struct Blocks {
    object: Object,
    /// Ends of the file's column chunks, sorted: a fetch stops at the next.
    chunk_ends: OnceLock<Vec<u64>>,
    cache: Mutex<VecDeque<(u64, Bytes)>>,
}

impl ObjectChunks {
    pub(super) fn new(object: Object) -> ObjectChunks {
        ObjectChunks(Arc::new(Blocks { object, chunk_ends: OnceLock::new(), cache: Mutex::new(VecDeque::new()) }))
    }

    /// Tells where the file's column chunks end (from its footer), so that
    /// no fetch reads into a column that is not wanted. Before this, a
    /// fetch may run to the end of the object (the footer is there).
    pub(super) fn set_chunk_ends(&self, mut ends: Vec<u64>) {
        ends.sort_unstable();
        ends.dedup();
        let _ = self.0.chunk_ends.set(ends);
    }
}

impl Blocks {
    /// The bytes from `at` to the end of the block that holds it, fetching
    /// that block on a miss. Never empty below the object's size.
    fn block_at(&self, at: u64) -> io::Result<Bytes> {
        {
            let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = cache.iter().position(|(s, b)| (*s..*s + b.len() as u64).contains(&at)) {
                // Most recently used goes last.
                let entry = cache.remove(i).unwrap_or_default();
                let hit = entry.1.slice((at - entry.0) as usize..);
                cache.push_back(entry);
                return Ok(hit);
            }
        }
        let ends = self.chunk_ends.get().map(Vec::as_slice).unwrap_or_default();
        let limit = ends[ends.partition_point(|&end| end <= at)..].first().copied().unwrap_or(self.object.size());
        let end = (at + READ_AHEAD).min(limit).min(self.object.size());
        let block = self.object.fetch(at..end)?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= cached_blocks() {
            cache.pop_front();
        }
        cache.push_back((at, block.clone()));
        Ok(block)
    }

    /// `length` bytes from `start`: from cached blocks, or in one request
    /// when they are more than a block.
    fn bytes(&self, start: u64, length: usize) -> io::Result<Bytes> {
        let end = start.checked_add(length as u64).filter(|&e| e <= self.object.size()).ok_or_else(|| {
            io::Error::new(io::ErrorKind::UnexpectedEof, format!("{length} bytes at {start} are past the end"))
        })?;
        if length == 0 {
            return Ok(Bytes::new());
        }
        let first = self.block_at(start)?;
        if first.len() >= length {
            return Ok(first.slice(..length));
        }
        if length as u64 > READ_AHEAD {
            return self.object.fetch(start..end);
        }
        let mut whole = Vec::with_capacity(length);
        let mut at = start;
        while at < end {
            let block = self.block_at(at)?;
            let take = block.len().min((end - at) as usize);
            whole.extend_from_slice(&block[..take]);
            at += take as u64;
        }
        Ok(Bytes::from(whole))
    }
}

impl Length for ObjectChunks {
    fn len(&self) -> u64 {
        self.0.object.size()
    }
}

/// A reader from one offset on, a block at a time (the Parquet reader reads
/// page headers through it, a few bytes each).
pub(super) struct BlockReader {
    blocks: Arc<Blocks>,
    at: u64,
    current: Bytes,
}

impl Read for BlockReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.current.has_remaining() {
            if self.at >= self.blocks.object.size() {
                return Ok(0);
            }
            self.current = self.blocks.block_at(self.at)?;
        }
        let n = buf.len().min(self.current.remaining());
        self.current.copy_to_slice(&mut buf[..n]);
        self.at += n as u64;
        Ok(n)
    }
}

impl ChunkReader for ObjectChunks {
    type T = BlockReader;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(BlockReader { blocks: self.0.clone(), at: start, current: Bytes::new() })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.0.bytes(start, length).map_err(|e| ParquetError::External(Box::new(e)))
    }
}
