//! The brand's download cache: one directory per (platform fingerprint,
//! epoch), filled by resumable, verified part downloads, so that a later
//! session in the same epoch downloads nothing and a platform restarted
//! mid-download costs only the bytes not yet held.
//!
//! No network here: the protocol layer asks [`Cache::part_state`] where to
//! resume, feeds chunks to [`Cache::put_part`], and calls
//! [`Cache::complete`] when every part is in.
//!
//! Layout under the root:
//!
//! ```text
//! <platform fingerprint, 64 lower-case hex>/<epoch id, decimal>/
//!     header.bin
//!     part-<i>-of-<N>.vidx          verified parts only
//!     partial/part-<i>-of-<N>.vidx.partial   downloads in progress
//! ```

use std::fs::{self, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, PartError};
use crate::header::{hex, Header, PartEntry, HEADER_FILE};
use crate::read::{map_file, read_header, Index};
use crate::write::{sync_dir, write_atomic};

/// Where a part's download stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartState {
    /// The part is in place (verified when it was renamed in).
    Complete,
    /// Ask the platform for the part from this byte on.
    Resume {
        /// Bytes already held.
        offset: u64,
    },
}

/// A download cache rooted at a directory (created on first write).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// A cache under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Cache {
        Cache { root: root.into() }
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of one platform's epoch: an index directory that
    /// [`Index::open`] reads once complete.
    pub fn path_for(&self, platform: &[u8; 32], epoch: u64) -> PathBuf {
        self.root.join(hex(platform)).join(epoch.to_string())
    }

    /// The download area of one platform's epoch.
    pub fn partial_dir(&self, platform: &[u8; 32], epoch: u64) -> PathBuf {
        self.path_for(platform, epoch).join("partial")
    }

    fn partial_path(&self, platform: &[u8; 32], epoch: u64, entry: &PartEntry) -> PathBuf {
        self.partial_dir(platform, epoch).join(format!("{}.partial", entry.file_name()))
    }

    /// Parses header bytes received from the platform, checks that they are
    /// for this platform and epoch, and stores them atomically as the slot's
    /// `header.bin`. A header different from one already stored replaces it
    /// and discards the parts (they would not verify against it anyway).
    pub fn put_header(&self, platform: &[u8; 32], epoch: u64, bytes: &[u8]) -> Result<Header, Error> {
        let dir = self.path_for(platform, epoch);
        let header =
            Header::from_bytes(bytes).map_err(|source| Error::Header { path: dir.join(HEADER_FILE), source })?;
        header.check_platform(platform)?;
        if header.epoch_id() != epoch {
            return Err(Error::WrongEpoch { expected: epoch, found: header.epoch_id() });
        }
        if let Ok(Some(old)) = self.header(platform, epoch) {
            if old == header {
                return Ok(header);
            }
            let _ = fs::remove_dir_all(&dir);
        }
        fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
        write_atomic(&dir, HEADER_FILE, |w| w.write_all(bytes))?;
        Ok(header)
    }

    /// The stored header of a slot, if any.
    pub fn header(&self, platform: &[u8; 32], epoch: u64) -> Result<Option<Header>, Error> {
        let dir = self.path_for(platform, epoch);
        if !dir.join(HEADER_FILE).exists() {
            return Ok(None);
        }
        read_header(&dir).map(Some)
    }

    fn stored_header(&self, platform: &[u8; 32], epoch: u64) -> Result<Header, Error> {
        self.header(platform, epoch)?.ok_or_else(|| Error::NoHeader { platform: hex(platform), epoch })
    }

    /// Refuses `entry` unless the stored header lists exactly it.
    fn check_entry(&self, platform: &[u8; 32], epoch: u64, entry: &PartEntry) -> Result<(), Error> {
        let header = self.stored_header(platform, epoch)?;
        match header.parts().get(entry.shard as usize) {
            Some(e) if e == entry => Ok(()),
            _ => Err(Error::Part {
                part: entry.file_name(),
                source: PartError::EntryMismatch {
                    what: "header entry",
                    found: "a different entry".into(),
                    expected: "the entry of the stored header".into(),
                },
            }),
        }
    }

    /// Where the download of `entry` stands: complete if the verified part
    /// is in place, otherwise the offset to resume from (0 if nothing is
    /// held; a partial file longer than the part is deleted).
    pub fn part_state(&self, platform: &[u8; 32], epoch: u64, entry: &PartEntry) -> Result<PartState, Error> {
        let done = self.path_for(platform, epoch).join(entry.file_name());
        if let Ok(m) = fs::metadata(&done) {
            if m.len() == entry.byte_len {
                return Ok(PartState::Complete);
            }
        }
        let partial = self.partial_path(platform, epoch, entry);
        match fs::metadata(&partial) {
            Ok(m) if m.len() <= entry.byte_len => Ok(PartState::Resume { offset: m.len() }),
            Ok(_) => {
                fs::remove_file(&partial).map_err(|e| Error::io("remove", &partial, e))?;
                Ok(PartState::Resume { offset: 0 })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PartState::Resume { offset: 0 }),
            Err(e) => Err(Error::io("stat", partial, e)),
        }
    }

    /// Stores `bytes`, which are the part's bytes from `offset` on.
    ///
    /// `offset` may not be past the bytes held ([`Error::OffsetGap`]); an
    /// offset before their end overwrites from there (a chunk sent again).
    /// Bytes past the part's length, or a finished file whose length or
    /// SHA-256 (or prefix) disagrees with the header entry, are refused by
    /// name with [`Error::PartDeleted`] and the partial file is deleted, so
    /// the part is fetched again from 0. A verified part is renamed into
    /// place and reported [`PartState::Complete`].
    pub fn put_part(
        &self,
        platform: &[u8; 32],
        epoch: u64,
        entry: &PartEntry,
        offset: u64,
        bytes: &[u8],
    ) -> Result<PartState, Error> {
        self.check_entry(platform, epoch, entry)?;
        if self.part_state(platform, epoch, entry)? == PartState::Complete {
            return Ok(PartState::Complete);
        }
        let name = entry.file_name();
        let pdir = self.partial_dir(platform, epoch);
        fs::create_dir_all(&pdir).map_err(|e| Error::io("create directory", &pdir, e))?;
        let partial = self.partial_path(platform, epoch, entry);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&partial)
            .map_err(|e| Error::io("open", &partial, e))?;
        let have = file.metadata().map_err(|e| Error::io("stat", &partial, e))?.len();
        if offset > have {
            return Err(Error::OffsetGap { part: name, offset, have });
        }
        let end = offset.saturating_add(bytes.len() as u64);
        if end > entry.byte_len {
            drop(file);
            let _ = fs::remove_file(&partial);
            return Err(Error::PartDeleted {
                part: name,
                source: PartError::TrailingBytes { len: end, expected: entry.byte_len },
            });
        }
        if offset < have {
            file.set_len(offset).map_err(|e| Error::io("truncate", &partial, e))?;
        }
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.write_all(bytes))
            .map_err(|e| Error::io("write", &partial, e))?;
        if end < entry.byte_len {
            return Ok(PartState::Resume { offset: end });
        }
        file.sync_all().map_err(|e| Error::io("fsync", &partial, e))?;
        drop(file);
        let verified = map_file(&partial)
            .and_then(|map| entry.verify(&map).map_err(|source| Error::PartDeleted { part: name.clone(), source }));
        if let Err(e) = verified {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
        let dir = self.path_for(platform, epoch);
        let done = dir.join(&name);
        fs::rename(&partial, &done).map_err(|e| Error::io("rename into", &done, e))?;
        sync_dir(&dir)?;
        Ok(PartState::Complete)
    }

    /// Opens the slot's index once every part is in and verifies (length,
    /// SHA-256, prefix) against the stored header, which must belong to
    /// `platform` and `epoch`. A part that fails is deleted and refused by
    /// name ([`Error::PartDeleted`]) so that it is fetched again; missing
    /// parts give [`Error::MissingPart`]. On success the download area is
    /// removed. The caller checks expiry ([`Header::check_not_expired`]).
    pub fn complete(&self, platform: &[u8; 32], epoch: u64) -> Result<Index, Error> {
        let header = self.stored_header(platform, epoch)?;
        header.check_platform(platform)?;
        if header.epoch_id() != epoch {
            return Err(Error::WrongEpoch { expected: epoch, found: header.epoch_id() });
        }
        let dir = self.path_for(platform, epoch);
        match Index::open(&dir) {
            Ok(index) => {
                let _ = fs::remove_dir_all(self.partial_dir(platform, epoch));
                Ok(index)
            }
            Err(Error::Part { part, source }) => {
                let _ = fs::remove_file(dir.join(&part));
                Err(Error::PartDeleted { part, source })
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes every cached epoch whose header says it expired at or before
    /// `now` (unix seconds, from the caller), and every slot whose
    /// `header.bin` no longer parses. Slots without a header are left alone
    /// (a download may be starting), as is anything whose name is not a
    /// cache slot's. Returns the directories removed.
    pub fn remove_expired(&self, now: u64) -> Result<Vec<PathBuf>, Error> {
        let mut removed = Vec::new();
        let platforms = match fs::read_dir(&self.root) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(Error::io("read directory", &self.root, e)),
        };
        for p in platforms {
            let p = p.map_err(|e| Error::io("read directory", &self.root, e))?;
            let name = p.file_name();
            let name = name.to_string_lossy();
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                continue;
            }
            let pdir = p.path();
            let epochs = fs::read_dir(&pdir).map_err(|e| Error::io("read directory", &pdir, e))?;
            for e in epochs {
                let e = e.map_err(|err| Error::io("read directory", &pdir, err))?;
                let ename = e.file_name();
                if ename.to_string_lossy().parse::<u64>().is_err() {
                    continue;
                }
                let edir = e.path();
                if !edir.join(HEADER_FILE).exists() {
                    continue;
                }
                let expired = match read_header(&edir) {
                    Ok(h) => h.fields().expires_at <= now,
                    Err(Error::Header { .. }) => true,
                    Err(other) => return Err(other),
                };
                if expired {
                    fs::remove_dir_all(&edir).map_err(|err| Error::io("remove", &edir, err))?;
                    removed.push(edir);
                }
            }
        }
        Ok(removed)
    }
}
