//! Writing an index: [`PartBuilder`] turns one shard's keys into a part
//! file, [`publish`] writes the header over parts already on disk, and
//! every file is written atomically so that a reader (or a crash) never sees
//! half a file.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use xorf::BinaryFuse32;

use crate::error::{Error, PartError};
use crate::format::{FilterParams, PartKind, PartPrefix, MAX_PART_ELEMENTS};
use crate::header::{Header, HeaderFields, PartEntry, HEADER_FILE};
use crate::read::{map_file, verify_part_file};

/// Domain separation for the per-part seed offset.
const SEED_DOMAIN: &[u8] = b"venn-index/v1/part-seed\0";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `dir/name` atomically: a temporary file in the same directory,
/// `fsync`, `rename` over `name`, then `fsync` of the directory so the
/// rename itself survives a crash. A reader sees the old file or the new
/// one, never a mix; an existing memory map of the old file keeps the old
/// bytes (its inode is unlinked, not modified), which is what makes
/// [`crate::Index`]'s mapping assumption hold.
pub fn write_atomic<T>(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<T>,
) -> Result<T, Error> {
    let tmp = dir.join(format!(".{name}.tmp-{}-{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = (|| {
        let file =
            OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let value = write(&mut w).map_err(|e| Error::io("write", &tmp, e))?;
        let file = w.into_inner().map_err(|e| Error::io("write", &tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io("fsync", &tmp, e))?;
        drop(file);
        let target = dir.join(name);
        fs::rename(&tmp, &target).map_err(|e| Error::io("rename into", &target, e))?;
        sync_dir(dir)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `fsync` of a directory, so that a rename inside it is durable. A no-op
/// where directories cannot be opened as files (Windows).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("fsync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The seed offset of a part: the first 8 bytes (little-endian) of
/// `SHA-256("venn-index/v1/part-seed\0" ‖ shard ‖ shards ‖ n ‖ keys)`, the
/// integers little-endian, `keys` the part's distinct keys in ascending
/// order. A function of the part's content only, so every machine that
/// builds the same shard gets the same file.
pub fn part_seed(shard: u32, shards: u32, sorted_keys: &[u64]) -> u64 {
    let mut h = Sha256::new();
    h.update(SEED_DOMAIN);
    h.update(shard.to_le_bytes());
    h.update(shards.to_le_bytes());
    h.update((sorted_keys.len() as u64).to_le_bytes());
    let mut buf = Vec::with_capacity(8 * 8192);
    for chunk in sorted_keys.chunks(8192) {
        buf.clear();
        for k in chunk {
            buf.extend_from_slice(&k.to_le_bytes());
        }
        h.update(&buf);
    }
    let d = h.finalize();
    u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Whether xorf fills unused fingerprint slots deterministically. It does
/// unless some crate in the build enables xorf's `uniform-random` feature
/// (part of its defaults), which fills them from `thread_rng` and would make
/// part files differ between builds of the same keys.
fn xorf_is_deterministic() -> bool {
    static ONCE: OnceLock<bool> = OnceLock::new();
    *ONCE.get_or_init(|| {
        let keys = [1u64, 2, 3];
        match (BinaryFuse32::try_from(&keys[..]), BinaryFuse32::try_from(&keys[..])) {
            (Ok(a), Ok(b)) => a.fingerprints == b.fingerprints,
            _ => false,
        }
    })
}

/// A filter built by xorf over a part's keys, with the seed offset that was
/// added to every key before xorf saw it.
pub(crate) struct BuiltFilter {
    pub(crate) offset: u64,
    pub(crate) filter: BinaryFuse32,
}

/// Sorts and deduplicates `keys` in place, derives the seed offset, and
/// builds xorf's filter over `key + offset` for every key. Leaves `keys`
/// sorted and distinct (without the offset). Returns the duplicates removed.
pub(crate) fn build_filter(shard: u32, shards: u32, keys: &mut Vec<u64>) -> Result<(BuiltFilter, u64), Error> {
    let before = keys.len() as u64;
    keys.sort_unstable();
    keys.dedup();
    let duplicates = before - keys.len() as u64;
    if keys.len() as u64 > MAX_PART_ELEMENTS {
        return Err(Error::TooManyKeys { keys: keys.len() as u64, max: MAX_PART_ELEMENTS });
    }
    if !xorf_is_deterministic() {
        return Err(Error::BuildFailed {
            shard,
            reason:
                "xorf's uniform-random feature is enabled somewhere in this build, so parts would not be reproducible",
        });
    }
    let offset = part_seed(shard, shards, keys);
    // Adding a constant modulo 2^64 keeps the keys distinct, as xorf needs;
    // xorf's hash is mix64(key + seed), so the offset shifts its seed.
    let filter = BinaryFuse32::try_from_iterator(keys.iter().map(|k| k.wrapping_add(offset)))
        .map_err(|reason| Error::BuildFailed { shard, reason })?;
    Ok((BuiltFilter { offset, filter }, duplicates))
}

/// Collects one shard's keys and writes its part file.
///
/// Memory: the builder holds every pushed key (8 bytes each, plus the
/// vector's growth slack unless [`PartBuilder::with_capacity`] was exact);
/// building adds xorf's working arrays, about 28 bytes per distinct key
/// (fingerprints 4.5, peeling state 15, reverse order 9), so the peak is
/// about 36 bytes per key (about 44 with growth slack): 10 million keys need
/// about 0.4 GB, a part of 2^30 keys about 40 GB. Shard a larger audience.
///
/// ```no_run
/// # fn main() -> Result<(), venn_index::Error> {
/// use venn_index::PartBuilder;
/// let mut b = PartBuilder::new(0, 4)?; // shard 0 of 4
/// b.extend([11u64, 22, 33, 22]);
/// let built = b.write(std::path::Path::new("index-dir"))?;
/// assert_eq!(built.entry.elements, 3); // the duplicate 22 is dropped
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PartBuilder {
    shard: u32,
    shards: u32,
    keys: Vec<u64>,
}

/// What [`PartBuilder::write`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltPart {
    /// The part's header entry (pass it to [`publish`]).
    pub entry: PartEntry,
    /// Where the part was written.
    pub path: PathBuf,
    /// Keys pushed, duplicates included.
    pub keys_in: u64,
    /// Duplicate keys dropped.
    pub duplicates: u64,
}

impl PartBuilder {
    /// A builder for shard `shard` of `shards` (`0 ≤ shard < shards`).
    pub fn new(shard: u32, shards: u32) -> Result<PartBuilder, Error> {
        PartBuilder::with_capacity(shard, shards, 0)
    }

    /// Like [`PartBuilder::new`], reserving room for `keys` keys up front.
    pub fn with_capacity(shard: u32, shards: u32, keys: usize) -> Result<PartBuilder, Error> {
        if shards == 0 || shard >= shards {
            return Err(Error::BadShard { shard, shards });
        }
        Ok(PartBuilder { shard, shards, keys: Vec::with_capacity(keys) })
    }

    /// Adds one key. Duplicates are allowed and dropped at build time.
    pub fn push(&mut self, key: u64) {
        self.keys.push(key);
    }

    /// Keys pushed so far, duplicates included.
    pub fn pushed(&self) -> u64 {
        self.keys.len() as u64
    }

    /// Builds the filter and writes `dir/part-<shard>-of-<shards>.vidx`
    /// atomically (the directory must exist). Deterministic: the same set of
    /// keys, in any order and with any duplicates, gives byte-identical
    /// files.
    pub fn write(mut self, dir: &Path) -> Result<BuiltPart, Error> {
        let keys_in = self.keys.len() as u64;
        let (built, duplicates) = build_filter(self.shard, self.shards, &mut self.keys)?;
        let elements = self.keys.len() as u64;
        drop(std::mem::take(&mut self.keys));
        let d = &built.filter.descriptor;
        let prefix = PartPrefix {
            kind: PartKind::BinaryFuse32,
            shard: self.shard,
            shards: self.shards,
            elements,
            params: FilterParams {
                seed: d.seed.wrapping_add(built.offset),
                segment_length: d.segment_length,
                segment_length_mask: d.segment_length_mask,
                segment_count_length: d.segment_count_length,
                array_len: u32::try_from(built.filter.fingerprints.len()).unwrap_or(u32::MAX),
            },
        };
        // Our own reader must accept what we write; refuse here rather than
        // publish a part nobody can open.
        prefix
            .params
            .validate(elements)
            .map_err(|source| Error::Part { part: crate::header::part_file_name(self.shard, self.shards), source })?;
        let name = crate::header::part_file_name(self.shard, self.shards);
        let (byte_len, sha256) = write_atomic(dir, &name, |w| {
            let mut h = Sha256::new();
            let head = prefix.encode();
            h.update(head);
            w.write_all(&head)?;
            let mut buf = Vec::with_capacity(4 * 16384);
            for chunk in built.filter.fingerprints.chunks(16384) {
                buf.clear();
                for f in chunk {
                    buf.extend_from_slice(&f.to_le_bytes());
                }
                h.update(&buf);
                w.write_all(&buf)?;
            }
            let sha: [u8; 32] = h.finalize().into();
            Ok((prefix.params.file_len(), sha))
        })?;
        Ok(BuiltPart {
            entry: PartEntry {
                kind: PartKind::BinaryFuse32,
                shard: self.shard,
                shards: self.shards,
                elements,
                byte_len,
                sha256,
            },
            path: dir.join(name),
            keys_in,
            duplicates,
        })
    }
}

impl Extend<u64> for PartBuilder {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, iter: I) {
        self.keys.extend(iter);
    }
}

/// Reads a part file on disk and returns its header entry (length, SHA-256,
/// and the fields of its prefix). The publish step uses it for parts that
/// were built on other machines and copied in.
pub fn read_part_entry(path: &Path) -> Result<PartEntry, Error> {
    let part = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let map = map_file(path)?;
    let prefix = PartPrefix::decode(&map).map_err(|source| Error::Part { part: part.clone(), source })?;
    let expected = crate::header::part_file_name(prefix.shard, prefix.shards);
    if part != expected {
        return Err(Error::Part {
            part,
            source: PartError::EntryMismatch {
                what: "file name",
                found: expected,
                expected: "the name of its own shard".into(),
            },
        });
    }
    Ok(PartEntry {
        kind: prefix.kind,
        shard: prefix.shard,
        shards: prefix.shards,
        elements: prefix.elements,
        byte_len: map.len() as u64,
        sha256: Sha256::digest(&map[..]).into(),
    })
}

/// Writes `dir/header.bin` for the parts in `entries` (any order), after
/// checking that shards `0..N` are each present exactly once with the same
/// N, and that every part file in `dir` matches its entry (length, SHA-256,
/// prefix). Nothing is written if any check fails.
pub fn publish(dir: &Path, fields: HeaderFields, mut entries: Vec<PartEntry>) -> Result<Header, Error> {
    let header_path = dir.join(HEADER_FILE);
    entries.sort_by_key(|e| e.shard);
    let header = Header::new(fields, entries).map_err(|source| Error::Header { path: header_path.clone(), source })?;
    for entry in header.parts() {
        verify_part_file(dir, entry)?;
    }
    let bytes = header.to_bytes().map_err(|source| Error::Header { path: header_path, source })?;
    write_atomic(dir, HEADER_FILE, |w| w.write_all(&bytes))?;
    Ok(header)
}
