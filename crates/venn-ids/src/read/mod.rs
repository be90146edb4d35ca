//! Reading one column of a hand-exported CSV file (or of every part of a
//! directory of them, compressed or not) into sorted, distinct digests.
//!
//! Files come from spreadsheet exports and ad-platform downloads: BOMs, CRLF
//! line ends, stray quotes, ragged rows and the odd non-UTF-8 byte are
//! normal. A row-level problem skips the row and is counted (or, in strict
//! mode, stops the read at that line); only problems with the file as a whole
//! are errors.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use csv::{ByteRecord, ReaderBuilder};
use phonenumber::country::Id as Region;

use crate::digest::IdDigest;
use crate::error::IdsError;
use crate::id_type::{EmailProfile, IdType};
use crate::lines::LineTracker;
use crate::normalize::Normalizer;
use crate::segments::LabelScheme;
use crate::shape::{Shape, ShapeCounts};
use crate::skip::{SkipCounts, SkipReason};
use crate::source::{decode, with_read_ahead, Compression, CorruptStream, InputSource};

/// The UTF-8 byte-order mark some spreadsheet exports put before the header.
const UTF8_BOM: &str = "\u{feff}";

/// How to read a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOptions {
    /// Field separator. By default, `b','`.
    pub delimiter: u8,
    /// Header name of the identifier column, matched exactly after trimming
    /// surrounding whitespace from both.
    pub id_column: String,
    /// What the identifier column holds.
    pub id_type: IdType,
    /// Email folding for [`IdType::Email`]. By default,
    /// [`EmailProfile::Standard`].
    pub email_profile: EmailProfile,
    /// Country assumed for phone numbers without a `+` prefix. By default,
    /// [`Region::US`].
    pub default_region: Region,
    /// Stop at the first invalid row with [`IdsError::InvalidRow`] instead of
    /// skipping it. By default, `false`.
    pub strict: bool,
    /// Segment columns: each row also gets a label from its values in
    /// these columns ([`LabelScheme`]). By default, none.
    pub segments: LabelScheme,
}

impl ReadOptions {
    /// Options for reading `id_column` as `id_type`, with every other field
    /// at its default.
    pub fn new(id_column: impl Into<String>, id_type: IdType) -> Self {
        ReadOptions {
            delimiter: b',',
            id_column: id_column.into(),
            id_type,
            email_profile: EmailProfile::default(),
            default_region: Region::US,
            strict: false,
            segments: LabelScheme::default(),
        }
    }
}

/// What a read produced.
///
/// Invariants: `rows_read == valid + skipped_by_reason.total()` and
/// `distinct() == valid - duplicates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Distinct digests, sorted ascending.
    pub digests: Vec<IdDigest>,
    /// With segments, the label of each digest (of its first row); empty
    /// without segments.
    pub labels: Vec<u64>,
    /// Data rows read (the header and blank lines not included).
    pub rows_read: u64,
    /// Rows that produced a digest, duplicates included.
    pub valid: u64,
    /// Valid rows whose digest an earlier row already produced.
    pub duplicates: u64,
    /// Rows that produced no digest, by reason.
    pub skipped_by_reason: SkipCounts,
    /// The shapes of the skipped fields (counts only), to tell a wrong
    /// `--id-type` from dirty data.
    pub skipped_shapes: ShapeCounts,
    /// Each part read, in order, with its rows (one entry for a single file
    /// or standard input).
    pub parts: Vec<PartCount>,
}

impl ReadOutcome {
    /// Number of distinct identifiers, `digests.len()`.
    pub fn distinct(&self) -> usize {
        self.digests.len()
    }

    /// Rows skipped for any reason.
    pub fn skipped(&self) -> u64 {
        self.skipped_by_reason.total()
    }

    /// The shape most skipped fields share, when `id_type` does not read it:
    /// the column probably holds that shape, and another `--id-type` would
    /// read it.
    pub fn likely_type_mismatch(&self, id_type: IdType) -> Option<Shape> {
        self.skipped_shapes.likely_mismatch(self.skipped(), id_type)
    }

    /// Refuses a file whose rows were all skipped, saying why and, when the
    /// skipped fields share a shape, which `--id-type` reads them.
    pub fn ensure_usable(&self, source: &Path, options: &ReadOptions) -> Result<(), IdsError> {
        if self.valid > 0 || self.rows_read == 0 {
            return Ok(());
        }
        Err(IdsError::NothingUsable {
            path: source.to_path_buf(),
            rows: self.rows_read,
            reasons: Box::new(self.skipped_by_reason),
            column: options.id_column.clone(),
            id_type: options.id_type,
            shape: self.likely_type_mismatch(options.id_type),
        })
    }
}

/// Rows read from one part of the input (the only part, for a single file
/// or standard input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartCount {
    /// The part's path (`-` for standard input).
    pub path: PathBuf,
    /// How its bytes were compressed.
    pub compression: Compression,
    /// Its data rows (its header and blank lines not included).
    pub rows_read: u64,
}

/// Reads the identifiers of `--input`-style `path`: a file, a directory or
/// glob of part files, or `-` for standard input ([`InputSource::resolve`]).
///
/// See [`Intake`] for the rules. Each file is opened when its turn comes;
/// one that cannot be is reported as [`IdsError::Open`], naming it.
pub fn read_identifiers(path: &Path, options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    read_input(&InputSource::resolve(path)?, options)
}

/// Reads every part of `source` in order into one outcome.
pub fn read_input(source: &InputSource, options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    let mut intake = Intake::new(options);
    match source {
        InputSource::Stdin => {
            intake.read_part(std::io::stdin(), Path::new(crate::source::STDIN))?;
        }
        InputSource::Remote(url) => crate::remote::read_remote(url, &mut intake)?,
        InputSource::File(_) | InputSource::Parts { .. } => {
            for path in source.paths() {
                let file = File::open(&path).map_err(|source| IdsError::Open { path: path.clone(), source })?;
                intake.read_file_part(file, &path)?;
            }
        }
    }
    Ok(intake.finish())
}

/// Reads the identifier column of CSV data from `input`; `source` names it
/// in errors. The input may be gzip or zstd compressed (told by its first
/// bytes). This is [`Intake`] with one part.
pub fn read_identifiers_from<R: Read + Send>(
    input: R,
    source: &Path,
    options: &ReadOptions,
) -> Result<ReadOutcome, IdsError> {
    let mut intake = Intake::new(options);
    intake.read_part(input, source)?;
    Ok(intake.finish())
}

/// Entries a list of digests may reach before its first sort and
/// deduplication: 1 Mi entries, 32 MiB of digests (40 MiB with labels).
const FIRST_COMPACTION: usize = 1 << 20;

/// Reads the parts of one input, one after the other, into one set.
///
/// Each part is CSV with a header row; a UTF-8 BOM before it is ignored, and
/// names are compared after trimming whitespace. Rows may end in LF, CRLF
/// or CR, and may have any number of fields. A part may be gzip (one member
/// or several) or zstd compressed, which its first bytes tell; it is then
/// decompressed on a thread of its own while this one parses. Each data
/// row's identifier field goes through a [`Normalizer`]; a row that fails is
/// counted under its [`SkipReason`] (or ends the read if `options.strict`).
/// Duplicates are removed as the digests grow (each time their list has
/// doubled since the last time, and at the end), so memory stays within a
/// small multiple of the distinct set (under four times its 32 bytes per
/// identifier, with the vector's spare capacity) plus a constant, however
/// many rows the parts hold.
///
/// Errors of [`Intake::read_part`]: [`IdsError::NoHeader`] if a part has no
/// record at all; [`IdsError::Utf16`] for UTF-16 text;
/// [`IdsError::MissingColumn`] / [`IdsError::DuplicateColumn`] if the
/// identifier column or a segment column is absent or ambiguous;
/// [`IdsError::Corrupt`] for a truncated or damaged compressed stream;
/// [`IdsError::Read`] if reading fails; [`IdsError::InvalidRow`] in strict
/// mode. Each names the part. After an error the intake is incomplete and
/// should be dropped.
///
/// ```
/// use std::path::Path;
/// use venn_ids::{IdType, Intake, ReadOptions};
///
/// let options = ReadOptions::new("email", IdType::Email);
/// let mut intake = Intake::new(&options);
/// intake.read_part("email\na@b.co\n".as_bytes(), Path::new("part-0.csv")).unwrap();
/// intake.read_part("email\nA@b.co\nc@d.co\n".as_bytes(), Path::new("part-1.csv")).unwrap();
/// let outcome = intake.finish();
/// assert_eq!((outcome.rows_read, outcome.distinct(), outcome.duplicates), (3, 2, 1));
/// assert_eq!(outcome.parts[1].rows_read, 2);
/// ```
#[derive(Debug)]
pub struct Intake<'o> {
    options: &'o ReadOptions,
    normalizer: Normalizer,
    /// Digests without segments, sorted and distinct up to `compacted`.
    digests: Vec<IdDigest>,
    /// Digests with their labels, with segments; sorted, distinct and each
    /// with its first row's label up to `compacted`.
    labeled: Vec<(IdDigest, u64)>,
    compacted: usize,
    /// Entries before the first compaction ([`FIRST_COMPACTION`]; smaller in tests).
    first_compaction: usize,
    read_ahead: bool,
    valid: u64,
    rows_read: u64,
    skipped: SkipCounts,
    shapes: ShapeCounts,
    parts: Vec<PartCount>,
}

impl<'o> Intake<'o> {
    /// An empty intake reading with `options`.
    pub fn new(options: &'o ReadOptions) -> Self {
        Intake {
            options,
            normalizer: Normalizer::new(options.id_type, options.email_profile, options.default_region),
            digests: Vec::new(),
            labeled: Vec::new(),
            compacted: 0,
            first_compaction: FIRST_COMPACTION,
            read_ahead: true,
            valid: 0,
            rows_read: 0,
            skipped: SkipCounts::default(),
            shapes: ShapeCounts::default(),
            parts: Vec::new(),
        }
    }

    /// Whether a compressed part is decompressed on a thread of its own,
    /// beside parsing. By default, `true`; `false` does all the work on the
    /// calling thread (`venn bench --intake` compares the two).
    pub fn read_ahead(&mut self, on: bool) -> &mut Self {
        self.read_ahead = on;
        self
    }

    /// Reads one part from `input`, which `source` names in errors and in
    /// [`ReadOutcome::parts`], and returns its count.
    pub fn read_part<R: Read + Send>(&mut self, input: R, source: &Path) -> Result<&PartCount, IdsError> {
        let (compression, mut decoded) = decode(input).map_err(|e| io_error(source, 1, e))?;
        let rows = if compression == Compression::Parquet {
            // Parquet's footer is at the end: a stream is held in memory
            // whole (a file is read in place by `read_file_part`).
            let mut bytes = Vec::new();
            decoded.read_to_end(&mut bytes).map_err(|e| io_error(source, 1, e))?;
            self.parse_parquet(bytes::Bytes::from(bytes), source)?
        } else if compression == Compression::Plain || !self.read_ahead {
            self.parse(decoded, source)?
        } else {
            with_read_ahead(decoded, |reader| self.parse(reader, source)).map_err(|e| io_error(source, 1, e))??
        };
        self.parts.push(PartCount { path: source.to_path_buf(), compression, rows_read: rows });
        Ok(&self.parts[self.parts.len() - 1])
    }

    /// Reads one part from the file `file`, which `path` names: as
    /// [`Intake::read_part`], except that a Parquet file is read in place
    /// (only its footer and the projected columns' pages), not into memory.
    pub fn read_file_part(&mut self, mut file: File, path: &Path) -> Result<&PartCount, IdsError> {
        let mut prefix = [0u8; 4];
        let n = crate::source::read_prefix(&mut file, &mut prefix).map_err(|e| io_error(path, 1, e))?;
        file.rewind().map_err(|e| io_error(path, 1, e))?;
        if Compression::detect(&prefix[..n]) != Compression::Parquet {
            return self.read_part(file, path);
        }
        self.read_parquet_part(file, path)
    }

    /// Reads one Parquet part from `input`, which `path` names, where the
    /// Parquet reader asks (a file, or an object in a store, by ranges).
    pub(crate) fn read_parquet_part<C: parquet::file::reader::ChunkReader + 'static>(
        &mut self,
        input: C,
        path: &Path,
    ) -> Result<&PartCount, IdsError> {
        let rows = self.parse_parquet(input, path)?;
        self.parts.push(PartCount { path: path.to_path_buf(), compression: Compression::Parquet, rows_read: rows });
        Ok(&self.parts[self.parts.len() - 1])
    }

    /// Keeps a valid row's digest (with its label, with segments),
    /// compacting when the list reaches `next_compaction`.
    fn accept(&mut self, d: IdDigest, label: Option<u64>, next_compaction: &mut usize) {
        let held = match label {
            Some(label) => {
                self.labeled.push((d, label));
                self.labeled.len()
            }
            None => {
                self.digests.push(d);
                self.digests.len()
            }
        };
        self.valid += 1;
        if held >= *next_compaction {
            self.compact();
            *next_compaction = self.next_compaction();
        }
    }

    /// The outcome of every part read: distinct digests, sorted.
    pub fn finish(mut self) -> ReadOutcome {
        self.compact();
        let valid = self.valid;
        let (digests, labels) =
            if self.with_labels() { self.labeled.into_iter().unzip() } else { (self.digests, Vec::new()) };
        ReadOutcome {
            duplicates: valid - digests.len() as u64,
            digests,
            labels,
            rows_read: self.rows_read,
            valid,
            skipped_by_reason: self.skipped,
            skipped_shapes: self.shapes,
            parts: self.parts,
        }
    }

    fn with_labels(&self) -> bool {
        !self.options.segments.columns().is_empty()
    }

    /// Sorts and deduplicates the digests gathered so far. With labels the
    /// sort is stable and the earlier entry of a digest is kept: the
    /// compacted prefix holds first rows, and every later entry came from a
    /// later row.
    fn compact(&mut self) {
        if self.with_labels() {
            self.labeled.sort_by_key(|p| p.0);
            self.labeled.dedup_by(|later, earlier| later.0 == earlier.0);
            self.compacted = self.labeled.len();
        } else {
            self.digests.sort_unstable();
            self.digests.dedup();
            self.compacted = self.digests.len();
        }
    }

    fn next_compaction(&self) -> usize {
        (2 * self.compacted).max(self.first_compaction)
    }

    /// Parses one part's (decompressed) CSV; returns its data rows.
    fn parse<R: Read>(&mut self, input: R, source: &Path) -> Result<u64, IdsError> {
        let options = self.options;
        let mut reader = ReaderBuilder::new()
            .delimiter(options.delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_reader(LineTracker::new(input));
        let mut record = ByteRecord::new();
        let path = || source.to_path_buf();

        let header = next_record(&mut reader, &mut record, source)?;
        if !header {
            return Err(IdsError::NoHeader { path: path() });
        }
        if is_utf16(&record) {
            return Err(IdsError::Utf16 { path: path() });
        }
        let names = header_names(&record);
        let (id_index, segment_indices) = wanted_columns(&names, options, source)?;
        let with_labels = !segment_indices.is_empty();
        let mut next_compaction = self.next_compaction();
        let mut rows = 0u64;

        while next_record(&mut reader, &mut record, source)? {
            rows += 1;
            match row_digest(&mut self.normalizer, &record, id_index, &reader) {
                Ok(d) => {
                    let label = with_labels.then(|| {
                        let fields: Vec<Option<&[u8]>> = segment_indices.iter().map(|&i| record.get(i)).collect();
                        options.segments.label_of(&fields)
                    });
                    self.accept(d, label, &mut next_compaction);
                }
                Err(reason) => {
                    if options.strict {
                        return Err(IdsError::InvalidRow {
                            path: path(),
                            line: record_line(&mut reader, &record),
                            reason,
                        });
                    }
                    self.skipped.add(reason);
                    self.shapes.add(record.get(id_index).unwrap_or_default());
                }
            }
        }
        self.rows_read += rows;
        Ok(rows)
    }
}

/// An I/O error met at `line` of `source`: a damaged compressed stream is
/// [`IdsError::Corrupt`], anything else [`IdsError::Read`].
fn io_error(source: &Path, line: u64, err: std::io::Error) -> IdsError {
    if err.get_ref().is_some_and(|inner| inner.is::<CorruptStream>()) {
        if let Some(Ok(corrupt)) = err.into_inner().map(|inner| inner.downcast::<CorruptStream>()) {
            return IdsError::Corrupt {
                path: source.to_path_buf(),
                compression: corrupt.compression,
                detail: corrupt.detail,
            };
        }
        return IdsError::Read { path: source.to_path_buf(), line, source: std::io::Error::other("unreadable") };
    }
    IdsError::Read { path: source.to_path_buf(), line, source: err }
}

type CsvReader<R> = csv::Reader<LineTracker<R>>;

/// Reads the next record; `Ok(false)` at end of input. With byte records and
/// flexible rows the `csv` crate only fails on I/O, which is fatal.
fn next_record<R: Read>(reader: &mut CsvReader<R>, record: &mut ByteRecord, source: &Path) -> Result<bool, IdsError> {
    reader.read_byte_record(record).map_err(|err| {
        let byte = reader.position().byte();
        let line = reader.get_mut().line_at(byte);
        let source_err = match err.into_kind() {
            csv::ErrorKind::Io(io) => io,
            other => std::io::Error::other(format!("{other:?}")),
        };
        io_error(source, line, source_err)
    })
}

/// The 1-based physical line where `record` starts.
fn record_line<R: Read>(reader: &mut CsvReader<R>, record: &ByteRecord) -> u64 {
    let byte = record.position().map_or(0, |p| p.byte());
    reader.get_mut().line_at(byte)
}

/// Whether the header row is UTF-16 text read as bytes: a UTF-16 byte-order
/// mark, or the NUL bytes that UTF-16 puts beside every ASCII character
/// (no CSV header of a UTF-8 file holds a NUL).
fn is_utf16(header: &ByteRecord) -> bool {
    let bytes = header.as_slice();
    bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) || bytes.contains(&0)
}

/// Header names as text: lossy UTF-8, BOM removed, whitespace trimmed.
fn header_names(record: &ByteRecord) -> Vec<String> {
    record
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            let name = String::from_utf8_lossy(raw);
            let name = if i == 0 { name.strip_prefix(UTF8_BOM).unwrap_or(&name) } else { &name };
            name.trim().to_owned()
        })
        .collect()
}

/// Where the id column and each segment column are among `names`, in the
/// options' order; a missing or ambiguous one is an error naming the file.
fn wanted_columns(names: &[String], options: &ReadOptions, source: &Path) -> Result<(usize, Vec<usize>), IdsError> {
    let id_index = column_index(names, &options.id_column, source)?;
    let segments =
        options.segments.columns().iter().map(|c| column_index(names, &c.name, source)).collect::<Result<_, _>>()?;
    Ok((id_index, segments))
}

/// Index of the single header named `wanted` (trimmed).
fn column_index(names: &[String], wanted: &str, source: &Path) -> Result<usize, IdsError> {
    let wanted = wanted.trim();
    let mut matches = names.iter().enumerate().filter(|(_, n)| *n == wanted);
    match (matches.next(), matches.next()) {
        (Some((i, _)), None) => Ok(i),
        (Some(_), Some(_)) => Err(IdsError::DuplicateColumn { path: source.to_path_buf(), column: wanted.to_owned() }),
        (None, _) => Err(IdsError::MissingColumn {
            path: source.to_path_buf(),
            column: wanted.to_owned(),
            available: names.to_vec(),
        }),
    }
}

/// The digest of one data row, or why it has none.
fn row_digest<R: Read>(
    normalizer: &mut Normalizer,
    record: &ByteRecord,
    id_index: usize,
    reader: &CsvReader<R>,
) -> Result<IdDigest, SkipReason> {
    let field = record.get(id_index).ok_or(SkipReason::RaggedRow)?;
    if swallowed_rest_of_file(record, reader) {
        return Err(SkipReason::MalformedCsv);
    }
    // A line break inside a text identifier means a stray quote merged rows.
    // Raw identifiers are opaque, so a properly quoted one may hold anything.
    if normalizer.id_type() != IdType::Raw && field.iter().any(|&b| b == b'\n' || b == b'\r') {
        return Err(SkipReason::MalformedCsv);
    }
    normalizer.digest(field)
}

/// Whether `record` looks like the victim of a quote opened and never
/// closed: it ends exactly at end of input, and its last field ends in a
/// line break, which only a quoted field can contain. A well-formed file
/// whose last field is a quoted value ending in a newline is the (rare)
/// false positive.
fn swallowed_rest_of_file<R: Read>(record: &ByteRecord, reader: &CsvReader<R>) -> bool {
    let tracker = reader.get_ref();
    let ends_input = tracker.at_eof() && reader.position().byte() == tracker.bytes_read();
    ends_input && record.iter().next_back().and_then(|f| f.last()).is_some_and(|&b| b == b'\n' || b == b'\r')
}

mod parquet_part;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod intake_tests;

#[cfg(test)]
mod parquet_tests;
