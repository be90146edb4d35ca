//! The platform's epoch key `k` for index mode, stored beside its identity.
//!
//! One key per epoch, in `DIR/epoch-<id>.key` next to `key.pem`: 64 hex
//! digits of `k`'s 32 secret bytes ([`EpochKey::to_secret_bytes`]) and a
//! newline, mode 0600. Every shard of one epoch, and every rebuild, must use
//! the same `k` (otherwise the parts hold tags of different PRFs and the
//! brand's count is wrong), so the key is loaded when the file exists and
//! created only when it does not.
//!
//! **Creation is race-free.** The first shards of an epoch may start
//! together on a shared identity directory: the key is written to a
//! private temporary file, synced, and then hard-linked to its final name,
//! which fails if another process got there first; the loser loads the
//! winner's key. Nobody ever reads a half-written key file.
//!
//! **Refusals** (each an [`EpochKeyError`], exit code 3): a key file that
//! group or others may read (`chmod 600` it, as for `key.pem`), a file that
//! is not 64 hex digits of a canonical non-zero scalar, and a directory
//! where the key cannot be created (a read-only Secret mount: create the key
//! first, see docs/deploy.md). The key is never printed or logged:
//! [`EpochKey`]'s `Debug` shows only `K`, and the hex is held in wiped
//! buffers.

use std::{
    fs,
    io::{Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use venn_crypto::EpochKey;
use zeroize::Zeroizing;

/// Why the epoch key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum EpochKeyError {
    /// The key file does not exist (publish never creates one).
    #[error(
        "no epoch key {} for epoch {epoch}: build the parts with `venn index build --identity {}` first \
         (the build creates it), with this identity directory",
        path.display(),
        dir.display()
    )]
    Missing {
        /// The expected file.
        path: PathBuf,
        /// The identity directory.
        dir: PathBuf,
        /// The epoch id.
        epoch: u64,
    },
    /// Group or others may read the key file.
    #[error("epoch key {} has mode {mode:03o}; run `chmod 600 {}`", path.display(), path.display())]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a valid key.
    #[error(
        "epoch key {} is not 64 hex digits of a valid key; restore it from a copy (every shard and the publish \
         step of an epoch need the same key), or delete it to start the epoch over with a new key and rebuild \
         every part",
        path.display()
    )]
    Invalid {
        /// The key file.
        path: PathBuf,
    },
    /// The key could not be created in the identity directory.
    #[error(
        "cannot create epoch key {}: {source}; make the identity directory writable, or create the key first \
         with one `venn index build` on a writable copy of it and ship the key with the identity \
         (see docs/deploy.md)",
        path.display()
    )]
    Create {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Another file-system call failed.
    #[error("cannot {op} epoch key {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether [`load_or_create`] found the key or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The file existed (an earlier shard or build of this epoch made it).
    Loaded,
    /// This call created it.
    Created,
}

/// `DIR/epoch-<id>.key`.
pub fn key_path(identity_dir: &Path, epoch: u64) -> PathBuf {
    identity_dir.join(format!("epoch-{epoch}.key"))
}

/// Loads epoch `epoch`'s key from the identity directory.
pub fn load(identity_dir: &Path, epoch: u64) -> Result<Box<EpochKey>, EpochKeyError> {
    let path = key_path(identity_dir, epoch);
    let meta = match fs::metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(EpochKeyError::Missing { path, dir: identity_dir.to_path_buf(), epoch })
        }
        Err(source) => return Err(EpochKeyError::Io { op: "inspect", path, source }),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(EpochKeyError::TooOpen { path, mode });
    }
    let mut text = Zeroizing::new(String::with_capacity(80));
    fs::File::open(&path).and_then(|f| f.take(1024).read_to_string(&mut text)).map_err(|source| EpochKeyError::Io {
        op: "read",
        path: path.clone(),
        source,
    })?;
    let mut bytes = Zeroizing::new([0u8; 32]);
    if hex::decode_to_slice(text.trim_end_matches(['\n', '\r']), bytes.as_mut()).is_err() {
        return Err(EpochKeyError::Invalid { path });
    }
    EpochKey::from_secret_bytes(bytes).map_err(|_| EpochKeyError::Invalid { path })
}

/// Loads epoch `epoch`'s key, or creates it (OS CSPRNG, mode 0600) if the
/// identity directory holds none; safe against concurrent callers (see the
/// module docs).
pub fn load_or_create(identity_dir: &Path, epoch: u64) -> Result<(Box<EpochKey>, Origin), EpochKeyError> {
    match load(identity_dir, epoch) {
        Ok(key) => return Ok((key, Origin::Loaded)),
        Err(EpochKeyError::Missing { .. }) => {}
        Err(e) => return Err(e),
    }
    let path = key_path(identity_dir, epoch);
    let key = EpochKey::random();
    let mut text = Zeroizing::new(hex::encode(key.to_secret_bytes().as_ref()));
    text.push('\n');
    let tmp = identity_dir.join(temporary_name(epoch));
    let create = |source| EpochKeyError::Create { path: path.clone(), source };
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .map_err(create)
        .and_then(|()| match fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(create(e)),
        });
    // The temporary name goes in every case; a leftover would only be noise.
    let _ = fs::remove_file(&tmp);
    if written? {
        if let Ok(dir) = fs::File::open(identity_dir) {
            let _ = dir.sync_all();
        }
        Ok((key, Origin::Created))
    } else {
        // Another process created the key between our load and our link.
        Ok((load(identity_dir, epoch)?, Origin::Loaded))
    }
}

/// A name no other caller uses at the same time: this process, a counter
/// within it, and the clock (against a reused process id on a shared
/// volume).
fn temporary_name(epoch: u64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!(".epoch-{epoch}.key.{}-{}-{nanos}.tmp", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o777
    }

    fn identity_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        dir
    }

    #[test]
    fn created_0600_then_loaded_with_the_same_public_key() {
        let dir = identity_dir();
        let (created, origin) = load_or_create(dir.path(), 680).unwrap();
        assert_eq!(origin, Origin::Created);
        let path = key_path(dir.path(), 680);
        assert_eq!(path.file_name().unwrap(), "epoch-680.key");
        assert_eq!(mode_of(&path), 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.len(), 65, "64 hex digits and a newline");
        let (loaded, origin) = load_or_create(dir.path(), 680).unwrap();
        assert_eq!(origin, Origin::Loaded);
        assert_eq!(loaded.public_key(), created.public_key());
        assert_eq!(load(dir.path(), 680).unwrap().public_key(), created.public_key());
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("epoch-680.key")]);
    }

    #[test]
    fn each_epoch_has_its_own_key() {
        let dir = identity_dir();
        let (a, _) = load_or_create(dir.path(), 1).unwrap();
        let (b, _) = load_or_create(dir.path(), 2).unwrap();
        assert_ne!(a.public_key(), b.public_key());
    }

    #[test]
    fn a_key_readable_by_others_is_refused_with_chmod_600() {
        let dir = identity_dir();
        load_or_create(dir.path(), 7).unwrap();
        let path = key_path(dir.path(), 7);
        for mode in [0o644, 0o640, 0o604] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_or_create(dir.path(), 7).unwrap_err();
            assert!(matches!(err, EpochKeyError::TooOpen { mode: m, .. } if m == mode), "{err}");
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        load(dir.path(), 7).unwrap();
    }

    #[test]
    fn a_missing_key_is_not_created_by_load() {
        let dir = identity_dir();
        let err = load(dir.path(), 3).unwrap_err();
        assert!(matches!(err, EpochKeyError::Missing { epoch: 3, .. }), "{err}");
        assert!(!key_path(dir.path(), 3).exists());
    }

    #[test]
    fn invalid_contents_are_refused() {
        let dir = identity_dir();
        let path = key_path(dir.path(), 9);
        let order_bytes_le = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
        for bad in ["", "zz", &"00".repeat(32), &"ab".repeat(31), &"ff".repeat(32), order_bytes_le] {
            let _ = fs::remove_file(&path);
            fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).unwrap();
            fs::write(&path, bad).unwrap();
            let err = load_or_create(dir.path(), 9).unwrap_err();
            assert!(matches!(err, EpochKeyError::Invalid { .. }), "{bad:?}: {err}");
            assert!(!err.to_string().contains(bad) || bad.is_empty(), "the contents are never echoed");
        }
    }

    #[test]
    fn concurrent_first_use_agrees_on_one_key() {
        let dir = identity_dir();
        let keys: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| load_or_create(dir.path(), 11).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(keys.iter().filter(|(_, o)| *o == Origin::Created).count(), 1);
        for (k, _) in &keys {
            assert_eq!(k.public_key(), keys[0].0.public_key());
        }
    }

    #[test]
    fn an_unwritable_directory_says_how_to_ship_the_key() {
        let dir = identity_dir();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
        // Root ignores permission bits; the check is meaningful only for others.
        if fs::File::create(dir.path().join("probe")).is_ok() {
            return;
        }
        let err = load_or_create(dir.path(), 5).unwrap_err();
        assert!(matches!(err, EpochKeyError::Create { .. }), "{err}");
        assert!(err.to_string().contains("docs/deploy.md"), "{err}");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
    }
}
