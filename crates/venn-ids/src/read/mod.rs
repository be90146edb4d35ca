//! Reading one column of a hand-exported CSV file into sorted, distinct
//! digests.
//!
//! Files come from spreadsheet exports and ad-platform downloads: BOMs, CRLF
//! line ends, stray quotes, ragged rows and the odd non-UTF-8 byte are
//! normal. A row-level problem skips the row and is counted (or, in strict
//! mode, stops the read at that line); only problems with the file as a whole
//! are errors.

use std::fs::File;
use std::io::Read;
use std::path::Path;

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

/// Reads the identifier column of the CSV file at `path`.
///
/// See [`read_identifiers_from`] for the rules; this only adds opening the
/// file, reported as [`IdsError::Open`].
pub fn read_identifiers(path: &Path, options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    let file = File::open(path).map_err(|source| IdsError::Open { path: path.to_owned(), source })?;
    read_identifiers_from(file, path, options)
}

/// Reads the identifier column of CSV data from `input`; `source` names it
/// in errors.
///
/// The first record is the header; a UTF-8 BOM before it is ignored, and
/// names are compared after trimming whitespace. Rows may end in LF, CRLF or
/// CR, and may have any number of fields. Each data row's identifier field
/// goes through a [`Normalizer`]; a row that fails is counted under its
/// [`SkipReason`] (or ends the read if `options.strict`). At the end the
/// digests are sorted and deduplicated, so memory is 32 bytes per valid row.
///
/// Errors: [`IdsError::NoHeader`] if there is no record at all;
/// [`IdsError::MissingColumn`] / [`IdsError::DuplicateColumn`] if the
/// identifier column or a segment column is absent or ambiguous;
/// [`IdsError::Read`] if `input` fails; [`IdsError::InvalidRow`] in strict
/// mode.
pub fn read_identifiers_from<R: Read>(input: R, source: &Path, options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    let mut reader = ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(false)
        .flexible(true)
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
    let id_index = column_index(&names, &options.id_column, source)?;
    let segment_indices = options
        .segments
        .columns()
        .iter()
        .map(|c| column_index(&names, &c.name, source))
        .collect::<Result<Vec<_>, _>>()?;
    let with_labels = !segment_indices.is_empty();

    let mut normalizer = Normalizer::new(options.id_type, options.email_profile, options.default_region);
    let mut digests: Vec<IdDigest> = Vec::new();
    let mut labels: Vec<u64> = Vec::new();
    let mut rows_read = 0u64;
    let mut skipped = SkipCounts::default();
    let mut shapes = ShapeCounts::default();

    while next_record(&mut reader, &mut record, source)? {
        rows_read += 1;
        match row_digest(&mut normalizer, &record, id_index, &reader) {
            Ok(d) => {
                digests.push(d);
                if with_labels {
                    let fields: Vec<Option<&[u8]>> = segment_indices.iter().map(|&i| record.get(i)).collect();
                    labels.push(options.segments.label_of(&fields));
                }
            }
            Err(reason) => {
                if options.strict {
                    return Err(IdsError::InvalidRow { path: path(), line: record_line(&mut reader, &record), reason });
                }
                skipped.add(reason);
                shapes.add(record.get(id_index).unwrap_or_default());
            }
        }
    }

    let valid = digests.len() as u64;
    if with_labels {
        // Stable sort, then keep the first row of each identifier.
        let mut pairs: Vec<(IdDigest, u64)> = digests.into_iter().zip(labels).collect();
        pairs.sort_by_key(|p| p.0);
        pairs.dedup_by(|later, earlier| later.0 == earlier.0);
        (digests, labels) = pairs.into_iter().unzip();
    } else {
        digests.sort_unstable();
        digests.dedup();
    }
    let duplicates = valid - digests.len() as u64;
    Ok(ReadOutcome {
        duplicates,
        digests,
        labels,
        rows_read,
        valid,
        skipped_by_reason: skipped,
        skipped_shapes: shapes,
    })
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
        IdsError::Read { path: source.to_path_buf(), line, source: source_err }
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

#[cfg(test)]
mod tests;
