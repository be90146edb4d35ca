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
//!
//! A directory or pattern of part files is guarded part by part: each part
//! is checked from its open to the end of its read, and a change to any
//! one refuses the whole read, naming that part. (Parts added to or
//! removed from the directory after it was listed are not seen: write a
//! new directory and rename it into place, as for one file.)
//!
//! Parts in an object store (`--input s3://…`) are guarded by the store
//! instead: every request carries the ETag the listing gave, so a part
//! rewritten during the read fails it ([`venn_ids::IdsError::RemoteChanged`]).
//!
//! Standard input (`--input -`) has no such guard: a pipe has no size or
//! modification time to compare, and what was read is what the writer
//! sent. It can be read once per process; `venn serve --max-sessions`,
//! which reads its input afresh for every session, is refused at its
//! second session (exit code 3): give it a file.

use std::{
    fs::File,
    os::unix::fs::MetadataExt,
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::SystemTime,
};

use venn_ids::{IdsError, InputSource, Intake, ReadOptions, ReadOutcome};

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

/// Whether this process has started reading standard input.
static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// [`venn_ids::read_identifiers`] on `--input`-style `spec` (a file, a
/// directory or glob of part files, or `-`), refused with [`InputChanged`]
/// if a file or part changes while it is read. Standard input is read
/// without that guard, and once per process: a second read is refused as
/// [`IdsError::Open`] of `-`.
pub fn read_identifiers_stable(spec: &Path, options: &ReadOptions) -> anyhow::Result<ReadOutcome> {
    let source = InputSource::resolve(spec)?;
    let mut intake = Intake::new(options);
    if source.is_stdin() {
        if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
            let source = std::io::Error::other(
                "standard input was already read by this process and cannot be read again; give --input a file \
                 or a directory of part files",
            );
            return Err(IdsError::Open { path: venn_ids::STDIN.into(), source }.into());
        }
        intake.read_part(std::io::stdin(), Path::new(venn_ids::STDIN))?;
        return Ok(intake.finish());
    }
    if let InputSource::Remote(url) = &source {
        // Guarded by the store: every request is pinned to the listed version.
        venn_ids::read_remote(url, &mut intake)?;
        return Ok(intake.finish());
    }
    for path in source.paths() {
        read_part_stable(&mut intake, &path)?;
    }
    Ok(intake.finish())
}

/// Reads one file into `intake`, looking at it through the open handle
/// before and after.
fn read_part_stable(intake: &mut Intake<'_>, path: &Path) -> anyhow::Result<()> {
    read_part_guarded(intake, path, || {})
}

/// [`read_part_stable`], with `after_read` run between the read and the
/// second look (tests change the file there).
fn read_part_guarded(intake: &mut Intake<'_>, path: &Path, after_read: impl FnOnce()) -> anyhow::Result<()> {
    let file = File::open(path).map_err(|source| IdsError::Open { path: path.to_owned(), source })?;
    let before = Stamp::of(&file, path)?;
    // A second handle to the same open file (a Parquet part is read in
    // place through it, not into memory); `file` looks again afterwards.
    let reading = file.try_clone().map_err(|source| IdsError::Open { path: path.to_owned(), source })?;
    intake.read_file_part(reading, path)?;
    after_read();
    let after = Stamp::of(&file, path)?;
    if before != after {
        return Err(InputChanged { path: path.to_owned(), before, after }.into());
    }
    Ok(())
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
    fn every_part_of_a_directory_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("part-0.csv"), "email\na@b.co\n").unwrap();
        std::fs::write(dir.path().join("part-1.csv"), "email\nc@d.co\ne@f.co\n").unwrap();
        let outcome = read_identifiers_stable(dir.path(), &ReadOptions::new("email", IdType::Email)).unwrap();
        assert_eq!(outcome.parts.iter().map(|p| p.rows_read).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn a_part_that_grows_while_read_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-1.csv.gz");
        std::fs::write(&path, "email\na@b.co\n").unwrap();
        let options = ReadOptions::new("email", IdType::Email);
        let mut intake = Intake::new(&options);
        let append = || {
            std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"c@d.co\n").unwrap();
        };
        let err = read_part_guarded(&mut intake, &path, append).unwrap_err();
        assert!(err.downcast_ref::<InputChanged>().is_some(), "{err}");
        assert!(err.to_string().contains("part-1.csv.gz changed while it was being read"), "{err}");
    }

    #[test]
    fn a_parquet_part_is_read_in_place_behind_the_guard() {
        use venn_ids::synthetic::{generate, write_parquet, SideFormat, SyntheticSpec};
        let (people, _) = generate(&SyntheticSpec { rows_a: 1_000, rows_b: 0, overlap: 0, seed: 3 }).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.parquet");
        std::fs::write(&path, write_parquet(&people, SideFormat::Sha256, Vec::new(), 300).unwrap()).unwrap();
        let options = ReadOptions::new("email_sha256", IdType::EmailSha256);
        let outcome = read_identifiers_stable(&path, &options).unwrap();
        assert_eq!((outcome.rows_read, outcome.distinct()), (1_000, 1_000));
        assert_eq!(outcome.parts[0].compression, venn_ids::Compression::Parquet);
        let mut intake = Intake::new(&options);
        let append = || std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"PAR1").unwrap();
        let err = read_part_guarded(&mut intake, &path, append).unwrap_err();
        assert!(err.downcast_ref::<InputChanged>().is_some(), "{err}");
    }

    #[test]
    fn an_untouched_part_passes_the_guard() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.csv");
        std::fs::write(&path, "email\na@b.co\n").unwrap();
        let options = ReadOptions::new("email", IdType::Email);
        let mut intake = Intake::new(&options);
        read_part_guarded(&mut intake, &path, || {}).unwrap();
        assert_eq!(intake.finish().rows_read, 1);
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
