//! Typed errors, split by what is wrong: the bytes of a header
//! ([`HeaderError`]), the bytes of one part ([`PartError`]), or an operation
//! on files with its path ([`Error`]). Each message is one line that says
//! what happened and what to do.

use std::path::PathBuf;

use crate::format::PartKind;

/// The header bytes are not a valid index header. The header may come from
/// the network: every one of these is a refusal, never a panic.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// Fewer bytes than the framing or the body length say.
    #[error("index header truncated: {len} bytes, {needed} needed; fetch the header again")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// Bytes after the header's body.
    #[error("index header has {extra} trailing bytes; refuse it and fetch it again")]
    TrailingBytes {
        /// How many bytes follow the body.
        extra: usize,
    },
    /// The first eight bytes are not `VENNHDR\0`.
    #[error("not a Venn index header (bad magic); check the path or the peer")]
    BadMagic,
    /// A format version this build does not read.
    #[error("index header format version {found} is not supported (this build reads {supported}); upgrade venn or rebuild the index")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The body length is over [`crate::MAX_HEADER_BYTES`].
    #[error("index header body of {len} bytes is over the limit of {max}; refuse it")]
    TooLarge {
        /// The declared or actual length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// The body does not decode (bincode).
    #[error("index header body does not decode ({0}); refuse it and fetch it again")]
    Decode(#[source] bincode::error::DecodeError),
    /// A count or length over its bound.
    #[error("index header {what} is {value}, over the bound of {max}; refuse it")]
    CountOverBound {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The bound.
        max: u64,
    },
    /// No parts at all.
    #[error("index header lists no parts; rebuild and publish the index")]
    NoParts,
    /// A part of a kind number nobody defined.
    #[error("index part {part} has unknown kind {kind}; upgrade venn or refuse this index")]
    UnknownPartKind {
        /// Position of the part in the header.
        part: usize,
        /// The kind number.
        kind: u16,
    },
    /// A part of a defined kind that this version cannot use.
    #[error("index part {part} is of kind {kind}, which this version of venn does not read; upgrade venn")]
    UnsupportedPartKind {
        /// Position of the part in the header.
        part: usize,
        /// The kind.
        kind: PartKind,
    },
    /// A part says the index has a different number of parts.
    #[error("index part {part} says the index has {shards} parts but the header lists {parts}; rebuild and publish the index")]
    PartCountMismatch {
        /// Position of the part in the header.
        part: usize,
        /// Its shard count.
        shards: u32,
        /// Parts in the header.
        parts: usize,
    },
    /// Parts must be listed once each, in shard order.
    #[error("index header lists shard {shard} at position {position}: each shard must appear once, in order; republish the index")]
    ShardOutOfPlace {
        /// Position in the header.
        position: usize,
        /// The shard index there.
        shard: u32,
    },
    /// A part's byte length cannot be a part of its element count.
    #[error("index part {part} declares {byte_len} bytes, impossible for {elements} elements; refuse this index")]
    PartLengthInvalid {
        /// Position of the part in the header.
        part: usize,
        /// Declared byte length.
        byte_len: u64,
        /// Declared element count.
        elements: u64,
    },
    /// The total is not the sum of the parts.
    #[error("index header total of {total} elements differs from the parts' sum {sum}; refuse this index")]
    TotalMismatch {
        /// Declared total.
        total: u64,
        /// Sum over the parts.
        sum: u64,
    },
    /// The header does not encode (a bound was broken locally).
    #[error("index header does not encode ({0}); this is a bug in the caller's values")]
    Encode(#[source] bincode::error::EncodeError),
}

/// One part file's bytes are not what they must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartError {
    /// Shorter than its prefix or its parameters say.
    #[error("truncated: {len} bytes, {expected} expected; delete it and fetch or build it again")]
    Truncated {
        /// Bytes present.
        len: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// Longer than its parameters say.
    #[error("{len} bytes, longer than the {expected} its parameters say; delete it and fetch or build it again")]
    TrailingBytes {
        /// Bytes present.
        len: u64,
        /// Bytes expected.
        expected: u64,
    },
    /// The first eight bytes are not `VENNIDX\0`.
    #[error("not a Venn index part (bad magic); check the path")]
    BadMagic,
    /// A format version this build does not read.
    #[error("part format version {found} is not supported (this build reads {supported}); upgrade venn or rebuild")]
    UnsupportedVersion {
        /// The version in the file.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A kind number nobody defined.
    #[error("unknown part kind {0}; upgrade venn or refuse this index")]
    UnknownKind(u16),
    /// A defined kind this version cannot read, by name.
    #[error("part kind '{0}' is not readable by this version of venn; upgrade venn")]
    UnsupportedKind(&'static str),
    /// Shard index not below the shard count, or a zero count.
    #[error("shard {shard}/{shards} is not a valid shard (need 0 <= i < N); rebuild the part")]
    BadShard {
        /// Shard index.
        shard: u32,
        /// Shard count.
        shards: u32,
    },
    /// Reserved bytes are not zero.
    #[error("reserved bytes are not zero; the file is corrupt or from a newer format: fetch or build it again")]
    ReservedNotZero,
    /// Inconsistent filter parameters.
    #[error("filter parameters are invalid: {0}; the file is corrupt: fetch or build it again")]
    BadParams(&'static str),
    /// More elements than one part may hold.
    #[error("{elements} elements, over the bound of {max} per part; split the input into more shards")]
    TooManyElements {
        /// Declared or pushed elements.
        elements: u64,
        /// The bound.
        max: u64,
    },
    /// The file length differs from the header's.
    #[error("{len} bytes where the header says {expected}; delete it and fetch it again")]
    LengthMismatch {
        /// Bytes present.
        len: u64,
        /// Bytes in the header.
        expected: u64,
    },
    /// The SHA-256 differs from the header's.
    #[error(
        "SHA-256 does not match the header; the part is corrupt or from another index: delete it and fetch it again"
    )]
    HashMismatch,
    /// The part's own fields disagree with its header entry.
    #[error(
        "its {what} is {found} where the header says {expected}; the part belongs to another index: fetch it again"
    )]
    EntryMismatch {
        /// Which field.
        what: &'static str,
        /// In the part.
        found: String,
        /// In the header.
        expected: String,
    },
}

/// An index operation failed; the message names the file or part.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system call failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("read", "write", …).
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The header file is invalid.
    #[error("index header {path}: {source}")]
    Header {
        /// The header's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: HeaderError,
    },
    /// A part file is refused.
    #[error("index part {part} refused: {source}")]
    Part {
        /// The part's file name, e.g. `part-1-of-4.vidx`.
        part: String,
        /// Why.
        #[source]
        source: PartError,
    },
    /// A downloaded part failed verification and was deleted.
    #[error("downloaded index part {part} refused and deleted: {source}")]
    PartDeleted {
        /// The part's file name.
        part: String,
        /// Why it was refused.
        #[source]
        source: PartError,
    },
    /// A part named in the header is not on disk.
    #[error("index part {part} is missing ({missing} of {parts} parts missing); fetch or build it, then open again")]
    MissingPart {
        /// The first missing part's file name.
        part: String,
        /// How many are missing.
        missing: usize,
        /// How many parts the header lists.
        parts: usize,
    },
    /// An invalid shard i/N for a builder.
    #[error("shard {shard}/{shards} is invalid: need N >= 1 and 0 <= i < N")]
    BadShard {
        /// Shard index.
        shard: u32,
        /// Shard count.
        shards: u32,
    },
    /// More distinct keys than one part may hold.
    #[error("{keys} distinct keys in one part, over the bound of {max}; build with more shards (--shard i/N)")]
    TooManyKeys {
        /// Distinct keys.
        keys: u64,
        /// The bound.
        max: u64,
    },
    /// xorf could not build the filter (practically impossible with distinct keys).
    #[error("building the filter for shard {shard} failed: {reason}; report this as a bug")]
    BuildFailed {
        /// Shard index.
        shard: u32,
        /// xorf's reason.
        reason: &'static str,
    },
    /// The header or a part belongs to another platform.
    #[error("index belongs to platform {found}, not the pinned {expected}; refuse it")]
    WrongPlatform {
        /// Expected fingerprint (hex).
        expected: String,
        /// Fingerprint in the header (hex).
        found: String,
    },
    /// The header is for another epoch than the cache slot.
    #[error("index header is for epoch {found}, not {expected}; fetch the header for the right epoch")]
    WrongEpoch {
        /// Expected epoch id.
        expected: u64,
        /// Epoch id in the header.
        found: u64,
    },
    /// The epoch is past its expiry.
    #[error(
        "index epoch {epoch} expired at unix time {expires_at} (now {now}); the platform must publish a new epoch"
    )]
    Expired {
        /// Epoch id.
        epoch: u64,
        /// Its expiry.
        expires_at: u64,
        /// The time given.
        now: u64,
    },
    /// A download chunk does not continue the partial file.
    #[error("chunk for {part} starts at byte {offset} but {have} bytes are held; resume from {have}")]
    OffsetGap {
        /// Part file name.
        part: String,
        /// The chunk's offset.
        offset: u64,
        /// Bytes already held.
        have: u64,
    },
    /// No header stored for this cache slot yet.
    #[error("no index header cached for platform {platform} epoch {epoch}; store the header first")]
    NoHeader {
        /// Platform fingerprint (hex).
        platform: String,
        /// Epoch id.
        epoch: u64,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { op, path: path.into(), source }
    }
}
