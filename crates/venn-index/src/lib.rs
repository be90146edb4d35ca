//! Venn's index mode, storage half: a platform's epoch tags in static
//! binary fuse filters, split into parts, described by a verified header,
//! written atomically, memory-mapped to read, and cached by the brand.
//!
//! This crate sees only 64-bit keys. The protocol layer derives them from
//! curve points (`trunc(k·H_e(p))` on the platform, the same value unblinded
//! on the brand); nothing here knows a curve, a socket or a clock (expiry
//! checks take `now` as an argument).
//!
//! ```
//! # fn main() -> Result<(), venn_index::Error> {
//! use venn_index::{publish, HeaderFields, Index, PartBuilder};
//!
//! let dir = tempfile::tempdir().unwrap();
//! // Two shards, built separately (on two machines in production).
//! let mut entries = Vec::new();
//! for shard in 0..2u32 {
//!     let mut b = PartBuilder::new(shard, 2)?;
//!     b.extend((0..1000u64).filter(|k| k % 2 == u64::from(shard)).map(|k| k * 7919));
//!     entries.push(b.write(dir.path())?.entry);
//! }
//! let fields = HeaderFields {
//!     epoch_id: 1,
//!     epoch_label: "2026-W48".into(),
//!     expires_at: 1_800_000_000,
//!     epoch_key: [0; 32],
//!     platform_fingerprint: [1; 32],
//! };
//! publish(dir.path(), fields, entries)?;
//!
//! let index = Index::open(dir.path())?;
//! assert_eq!(index.len(), 1000);
//! assert!(index.contains(7919 * 5));
//! // About 4.5 bytes per element for large parts; small ones carry more slack.
//! println!("{:.2} bytes per element", index.bytes_per_element());
//! println!("expected false matches for 1M queries: {}", index.expected_false_matches(1_000_000));
//! # Ok(()) }
//! ```
//!
//! # Format, version 1
//!
//! An index is a directory holding `header.bin` and one file per part,
//! `part-<i>-of-<N>.vidx` with `0 ≤ i < N`. All integers are little-endian.
//!
//! **Why parts.** The platform's build is sharded (`--shard i/N`, one
//! Kubernetes Indexed Job completion per part): each machine builds its part
//! from its slice of the input without seeing the others, and the publish
//! step only hashes files. A key may be in any part, so a lookup asks every
//! part; the false-positive rate is then `N × 2^-32`, still negligible for a
//! few parts (see [`Index::false_positive_rate`]).
//!
//! ## Part file
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `VENNIDX\0` |
//! | 8 | 2 | format version (1) |
//! | 10 | 2 | part kind: 1 = binary-fuse-32 filter; 2 = per-element labels (reserved) |
//! | 12 | 4 | shard index `i` |
//! | 16 | 4 | shard count `N` |
//! | 20 | 4 | reserved, zero |
//! | 24 | 8 | element count (distinct keys) |
//! | 32 | 8 | seed (effective, see below) |
//! | 40 | 4 | segment length (power of two, ≤ 2^18) |
//! | 44 | 4 | segment length mask (= segment length − 1) |
//! | 48 | 4 | segment count length (= segment count × segment length) |
//! | 52 | 4 | array length `m` (= segment count length + 2 × segment length) |
//! | 56 | 8 | reserved, zero |
//! | 64 | 4m | fingerprints, `u32` each |
//!
//! The file is exactly `64 + 4m` bytes. Every field is checked when a part
//! is read, so a part is buildable and checkable on its own; the parameters
//! are those of xorf's `BinaryFuse32` (fingerprints of 32 bits: about 36
//! bits per element, false-positive rate about 2^-32). The lookup is
//! specified in [`FuseView::contains`]; it reads the mapped bytes directly,
//! without copying the array. Unknown kinds are refused as unknown, kind 2
//! by its name, and so are reserved bytes that are not zero: a later
//! version that gives them meaning bumps the format version.
//!
//! ## Header file
//!
//! `VENNHDR\0`, format version (u16), body length (u32, at most
//! [`MAX_HEADER_BYTES`]), then the body in bincode 2 (serde; fixed-width
//! little-endian integers; lengths as u64):
//!
//! | field | type |
//! |---|---|
//! | epoch id | u64 |
//! | epoch label | string, ≤ [`MAX_LABEL_BYTES`] bytes |
//! | epoch expiry | u64, unix seconds |
//! | epoch key `K` | 32 bytes (compressed ristretto255, opaque here) |
//! | platform identity fingerprint | 32 bytes (opaque here) |
//! | total element count | u64, = sum over the parts |
//! | parts | list of ≤ [`MAX_PARTS`], in shard order, each: kind u16, shard u32, shard count u32, element count u64, byte length u64, SHA-256 of the part file (32 bytes) |
//!
//! **Why this shape.** The header is the one small thing the brand fetches
//! first: it binds the index to one platform identity and one epoch key
//! `K` (which the session's proof is checked against), and each part to
//! its SHA-256, so parts can come from any mirror or a resumed download and
//! still be checked. [`Header::from_bytes`] treats the bytes as hostile:
//! framing and bounds are checked before anything is allocated, and
//! trailing bytes are refused.
//!
//! ## Determinism
//!
//! The same set of keys for the same shard i/N gives a byte-identical part
//! file on any machine, so N machines, or an auditor, can rebuild a part and
//! compare SHA-256s. Keys are sorted and deduplicated; the filter's hash
//! seed is the part's seed offset `s` (the first 8 bytes of SHA-256 over a
//! domain tag, i, N, the count and the sorted keys; see [`part_seed`]) plus
//! xorf's own seed, which xorf draws from a fixed SplitMix64 sequence. xorf
//! is built over `key + s`, which shifts its seed by `s`; the file stores
//! the sum. xorf's `uniform-random` feature (one of its defaults) would fill
//! unused slots from `thread_rng`; the workspace turns it off, and a build
//! with it on anywhere is refused ([`Error::BuildFailed`]) rather than
//! producing irreproducible parts.
//!
//! ## Writes and mapping
//!
//! Every file is written to a temporary file in the same directory,
//! `fsync`ed, renamed into place, and the directory `fsync`ed
//! ([`write_atomic`]). Readers memory-map parts read-only; **a mapped file
//! must not be modified in place** (which would be undefined behaviour for
//! the slice the map hands out). Venn never does: a new index, or a
//! finished download, replaces files by rename, and an existing map keeps
//! the old bytes.
//!
//! ## Resources
//!
//! Building a part holds all its keys in memory: about 36 bytes per key at
//! the peak (the keys, 8 bytes; xorf's working arrays, about 28), so shard
//! inputs of more than a few hundred million keys. A part holds at most
//! [`MAX_PART_ELEMENTS`] (2^30) keys. On disk and on the wire a part costs
//! about 4.5 bytes (36 bits) per key for large parts.
//!
//! Measured with `cargo bench -p venn-index --bench filter` (one part,
//! random keys, build through a part file on disk; 2 shared cores under a
//! load average of about 6, so read these as lower bounds on speed):
//!
//! | keys | build | lookup (half members, random order) | size |
//! |---|---|---|---|
//! | 1,000,000 | 126 ms, 7.9 M keys/s | 27 ns | 4.522 bytes (36.18 bits) per key |
//! | 10,000,000 | 1.26 s, 7.9 M keys/s | 105 ns | 4.509 bytes (36.07 bits) per key |
//!
//! The build (sort, seed hash, xorf, write) is single-threaded per part;
//! parallelism comes from building parts on separate cores or machines. A
//! lookup costs three random reads per part, so it is memory-bound once the
//! index outgrows the cache.

#![forbid(missing_docs)]

mod cache;
mod error;
mod format;
mod header;
mod read;
mod write;

#[cfg(test)]
mod tests;

pub use cache::{Cache, PartState};
pub use error::{Error, HeaderError, PartError};
pub use format::{
    FilterParams, FuseView, PartKind, PartPrefix, FORMAT_VERSION, MAX_PART_ELEMENTS, MAX_SEGMENT_LENGTH, PART_MAGIC,
    PART_PREFIX_LEN,
};
pub use header::{
    part_file_name, Header, HeaderFields, PartEntry, HEADER_FILE, HEADER_FRAMING_LEN, HEADER_MAGIC, MAX_HEADER_BYTES,
    MAX_LABEL_BYTES, MAX_PARTS,
};
pub use read::{read_header, verify_part_file, Index, Part};
pub use write::{part_seed, publish, read_part_entry, write_atomic, BuiltPart, PartBuilder};
