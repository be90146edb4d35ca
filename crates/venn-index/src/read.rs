//! Reading an index: [`Index::open`] maps every part read-only, checks it
//! against the header, and answers membership without copying the
//! fingerprint arrays into memory.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, PartError};
use crate::format::{FilterParams, FuseView, PartPrefix};
use crate::header::{Header, PartEntry, HEADER_FILE, HEADER_FRAMING_LEN, MAX_HEADER_BYTES};

/// Maps `path` read-only.
///
/// The one `unsafe` call of this crate. Users: a mapped index must not be
/// modified in place while it is open; replace it by writing new files and
/// renaming them over the old ones, as every writer in this crate does.
#[allow(unsafe_code)]
pub(crate) fn map_file(path: &Path) -> Result<Mmap, Error> {
    let file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    // SAFETY: `Mmap::map` is unsafe because the returned `&[u8]` would
    // change under us (undefined behaviour for a Rust slice) if another
    // process or thread wrote to or truncated the file while it is mapped.
    // We assume nobody modifies an index file in place: Venn only ever
    // writes index files through `write_atomic` (temporary file, fsync,
    // rename), and the download cache writes to `*.partial` files that are
    // renamed into place only when complete. A rename replaces the
    // directory entry; an existing map keeps the old, unchanged inode.
    // Anyone else editing these files in place breaks this assumption.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io("memory-map", path, e))?;
    Ok(map)
}

/// Checks `dir/<entry's file name>` against `entry`: present, the exact
/// length, SHA-256, and the part's own prefix. The error names the part and
/// the reason.
pub fn verify_part_file(dir: &Path, entry: &PartEntry) -> Result<PartPrefix, Error> {
    let (_, prefix) = open_part(dir, entry)?;
    Ok(prefix)
}

fn open_part(dir: &Path, entry: &PartEntry) -> Result<(Mmap, PartPrefix), Error> {
    let name = entry.file_name();
    let path = dir.join(&name);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::MissingPart { part: name, missing: 1, parts: entry.shards as usize })
        }
        Err(e) => return Err(Error::io("stat", path, e)),
    };
    // Cheap length check before mapping and hashing a possibly huge file.
    if meta.len() != entry.byte_len {
        return Err(Error::Part {
            part: name,
            source: PartError::LengthMismatch { len: meta.len(), expected: entry.byte_len },
        });
    }
    let map = map_file(&path)?;
    let prefix = entry.verify(&map).map_err(|source| Error::Part { part: name, source })?;
    Ok((map, prefix))
}

/// One mapped, verified part.
#[derive(Debug)]
pub struct Part {
    entry: PartEntry,
    prefix: PartPrefix,
    map: Mmap,
}

impl Part {
    /// The part's header entry.
    pub fn entry(&self) -> &PartEntry {
        &self.entry
    }

    /// The filter's parameters, as stored in the part.
    pub fn params(&self) -> &FilterParams {
        &self.prefix.params
    }

    /// Distinct keys in the part.
    pub fn len(&self) -> u64 {
        self.prefix.elements
    }

    /// Whether the part holds no keys.
    pub fn is_empty(&self) -> bool {
        self.prefix.elements == 0
    }

    /// Membership in this part alone (false-positive rate about 2^-32).
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        FuseView::new(&self.prefix, &self.map).contains(key)
    }
}

/// A verified, memory-mapped index: the header and every part.
///
/// Mapping assumes the files are not modified in place while open (see the
/// crate docs); Venn's writers replace files by atomic rename only.
#[derive(Debug)]
pub struct Index {
    dir: PathBuf,
    header: Header,
    parts: Vec<Part>,
}

/// Reads and parses `dir/header.bin`, reading at most the largest valid
/// header plus one byte (so an oversized file is refused without reading
/// it whole).
pub fn read_header(dir: &Path) -> Result<Header, Error> {
    let path = dir.join(HEADER_FILE);
    let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
    let mut bytes = Vec::new();
    file.take((HEADER_FRAMING_LEN + MAX_HEADER_BYTES + 1) as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", &path, e))?;
    Header::from_bytes(&bytes).map_err(|source| Error::Header { path, source })
}

impl Index {
    /// Opens the index in `dir`: reads `header.bin`, then maps each part and
    /// checks its length, SHA-256, magic, version, kind, shard i/N, element
    /// count and filter parameters against the header. Reads every byte of
    /// every part once (for SHA-256); lookups then touch three words per
    /// part.
    ///
    /// Refused: a missing part ([`Error::MissingPart`], counting all missing
    /// parts) and any part that fails a check ([`Error::Part`], naming it).
    /// The caller checks expiry and the platform's identity
    /// ([`Header::check_not_expired`], [`Header::check_platform`]).
    pub fn open(dir: &Path) -> Result<Index, Error> {
        let header = read_header(dir)?;
        let missing: Vec<String> =
            header.parts().iter().map(PartEntry::file_name).filter(|n| !dir.join(n).exists()).collect();
        if let Some(first) = missing.first() {
            return Err(Error::MissingPart {
                part: first.clone(),
                missing: missing.len(),
                parts: header.parts().len(),
            });
        }
        let mut parts = Vec::with_capacity(header.parts().len());
        for entry in header.parts() {
            let (map, prefix) = open_part(dir, entry)?;
            parts.push(Part { entry: entry.clone(), prefix, map });
        }
        Ok(Index { dir: dir.to_path_buf(), header, parts })
    }

    /// Whether `key` may be in the index: true for every key a part was
    /// built from; true for another key with probability at most
    /// [`Index::false_positive_rate`]. Looks in every part, since a key may
    /// have gone to any shard.
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        self.parts.iter().any(|p| p.contains(key))
    }

    /// How many of `keys` the index contains (duplicates count each time).
    pub fn count_members(&self, keys: impl IntoIterator<Item = u64>) -> u64 {
        keys.into_iter().filter(|k| self.contains(*k)).count() as u64
    }

    /// The chance that one non-member key is reported present: the union
    /// bound `parts × 2^-32` (each part is a binary fuse filter with 32-bit
    /// fingerprints, false-positive rate 2^-32 per lookup).
    pub fn false_positive_rate(&self) -> f64 {
        self.parts.len() as f64 * 2f64.powi(-32)
    }

    /// Expected false matches among `queries` distinct non-member keys:
    /// `queries × false_positive_rate()`; the brand's report states it
    /// beside the overlap.
    pub fn expected_false_matches(&self, queries: u64) -> f64 {
        queries as f64 * self.false_positive_rate()
    }

    /// Distinct keys over all parts.
    pub fn len(&self) -> u64 {
        self.header.total_elements()
    }

    /// Whether the index holds no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of all part files (prefixes included), what a brand downloads
    /// besides the header.
    pub fn byte_len(&self) -> u64 {
        self.header.total_part_bytes()
    }

    /// Bytes per element over all parts; 0 for an empty index.
    pub fn bytes_per_element(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.byte_len() as f64 / self.len() as f64
    }

    /// The parts, in shard order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The directory the index was opened from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
