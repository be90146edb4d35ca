//! Refusing an input file that changes while it is being read.
//!
//! Lists are exported by hand or by a nightly job. A match started while
//! the export is still being written, or while a job rewrites the file in
//! place, would count a list that never existed: a prefix of the new one,
//! or a mix of two versions. So `venn` opens the file once, notes its size
//! and modification time (and identity) through that open handle, reads it,
//! and checks them again through the same handle. If anything changed
//! (rows appended, the file truncated or rewritten in place) the read is
//! refused with [`InputChanged`] and exit code 3; run again once the export
//! is complete.
//!
//! A file *replaced* by renaming a new one over it is not a change to the
//! file being read: the open handle keeps the old, complete version, and
//! the next read sees the new one. Exporting to a temporary name and
//! renaming it into place is therefore the safe way to update a list that
//! `venn serve --max-sessions` keeps reading.

use std::{fs::File, os::unix::fs::MetadataExt, path::Path, time::SystemTime};

use venn_ids::{read_identifiers_from, IdsError, ReadOptions, ReadOutcome};

use crate::report::group;

/// The input file changed between the start and the end of its read.
#[derive(Debug)]
pub struct InputChanged {
    path: std::path::PathBuf,
    before: Stamp,
    after: Stamp,
}

impl std::fmt::Display for InputChanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.before.len != self.after.len {
            format!("its size went from {} to {} bytes", group(self.before.len), group(self.after.len))
        } else {
            "it was rewritten".to_owned()
        };
        write!(
            f,
            "{} changed while it was being read ({what}); wait until the export is complete, or export to \
             another name and rename it into place, then run again",
            self.path.display()
        )
    }
}

impl std::error::Error for InputChanged {}

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(file: &File, path: &Path) -> Result<Self, IdsError> {
        let meta = file.metadata().map_err(|source| IdsError::Open { path: path.to_owned(), source })?;
        Ok(Self { device: meta.dev(), inode: meta.ino(), len: meta.len(), modified: meta.modified().ok() })
    }
}

/// [`venn_ids::read_identifiers`], refused with [`InputChanged`] if the file
/// changes while it is read.
pub fn read_identifiers_stable(path: &Path, options: &ReadOptions) -> anyhow::Result<ReadOutcome> {
    let file = File::open(path).map_err(|source| IdsError::Open { path: path.to_owned(), source })?;
    let before = Stamp::of(&file, path)?;
    let outcome = read_identifiers_from(&file, path, options)?;
    let after = Stamp::of(&file, path)?;
    if before != after {
        return Err(InputChanged { path: path.to_owned(), before, after }.into());
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use venn_ids::IdType;

    use super::*;

    #[test]
    fn an_unchanged_file_reads_as_usual() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "email\na@b.co\nc@d.co\n").unwrap();
        let outcome = read_identifiers_stable(&path, &ReadOptions::new("email", IdType::Email)).unwrap();
        assert_eq!(outcome.distinct(), 2);
    }

    #[test]
    fn a_missing_file_is_the_usual_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_identifiers_stable(&dir.path().join("nope.csv"), &ReadOptions::new("email", IdType::Email))
            .unwrap_err();
        assert!(matches!(err.downcast_ref::<IdsError>(), Some(IdsError::Open { .. })), "{err}");
    }

    #[test]
    fn the_message_names_the_file_and_the_sizes() {
        let stamp = Stamp { device: 1, inode: 2, len: 1_000, modified: None };
        let err = InputChanged { path: "brand.csv".into(), before: stamp, after: Stamp { len: 2_500, ..stamp } };
        let msg = err.to_string();
        assert!(msg.starts_with("brand.csv changed while it was being read (its size went from 1,000 to 2,500"));
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn appending_between_the_two_looks_is_caught() {
        // The read itself cannot be paused here, so the two looks are taken
        // around an append, as the read would.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "email\na@b.co\n").unwrap();
        let file = File::open(&path).unwrap();
        let before = Stamp::of(&file, &path).unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"c@d.co\n").unwrap();
        assert_ne!(Stamp::of(&file, &path).unwrap(), before);
    }

    #[test]
    fn a_rename_over_the_file_is_not_a_change_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "email\na@b.co\n").unwrap();
        let file = File::open(&path).unwrap();
        let before = Stamp::of(&file, &path).unwrap();
        let next = dir.path().join("next.csv");
        std::fs::write(&next, "email\nsomething@else.co\nmore@rows.co\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert_eq!(Stamp::of(&file, &path).unwrap(), before);
    }
}
