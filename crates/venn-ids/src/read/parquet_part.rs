//! Parquet parts: the identifier column (and segment columns) of a Parquet
//! file, read through the `parquet` crate's Arrow reader.
//!
//! Only the named columns are decoded (a projection). Row groups are decoded
//! and normalized in parallel on rayon's threads: the footer is read once,
//! consecutive row groups are joined into runs of about [`RUN_ROWS`] rows
//! (a larger row group is a run alone), and each run is decoded into a
//! buffer of its own (digests, labels, skip and shape counts). The runs are
//! taken a window of at most two per thread at a time, and each window's
//! buffers are merged into the [`Intake`] in row order before the next
//! starts, so the outcome is exactly that of a sequential read (the first
//! row of a duplicate gives its label; strict mode names the first invalid
//! row) and memory stays a constant (the window's buffers, at most
//! `2 × threads × max(RUN_ROWS, largest row group)` rows of 40 bytes) plus
//! the distinct set, however many row groups the file holds. A file of one
//! row group is read on one thread.
//!
//! A column may be UTF-8 (`Utf8`, `LargeUtf8`, `Utf8View`), binary
//! (`Binary`, `LargeBinary`, `BinaryView`) or fixed-size binary, plain or
//! dictionary-encoded. A null is an empty field (skipped as `empty`). For
//! the SHA-256 types a 32-byte binary value is the digest itself: it is read
//! as its lowercase hex, so it produces exactly what the hex text does in a
//! CSV file.

use std::any::Any;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use bytes::{Buf, Bytes};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;

use super::{wanted_columns, Intake, ReadOptions};
use crate::digest::IdDigest;
use crate::error::IdsError;
use crate::id_type::IdType;
use crate::normalize::Normalizer;
use crate::shape::ShapeCounts;
use crate::skip::{SkipCounts, SkipReason};
use crate::source::Compression;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8 * 1024;

/// Rows one task decodes, at most, unless a single row group holds more:
/// consecutive row groups are joined up to this many rows.
const RUN_ROWS: u64 = 128 * 1024;

/// Bytes a page-header read of a file fetches first; each further fetch of
/// the same read doubles, up to [`MAX_FETCH`].
const FIRST_FETCH: usize = 512;

/// The largest single fetch of a page-header read.
const MAX_FETCH: usize = 64 * 1024;

/// One decoded column, typed once per batch.
enum Column<'a> {
    Utf8(&'a arrow_array::StringArray),
    LargeUtf8(&'a arrow_array::LargeStringArray),
    Utf8View(&'a arrow_array::StringViewArray),
    Binary(&'a arrow_array::BinaryArray),
    LargeBinary(&'a arrow_array::LargeBinaryArray),
    BinaryView(&'a arrow_array::BinaryViewArray),
    Fixed(&'a arrow_array::FixedSizeBinaryArray),
    /// A dictionary: each row's key into `values` (`None` for a null row).
    Dictionary {
        keys: Vec<Option<usize>>,
        values: Box<Column<'a>>,
    },
}

impl<'a> Column<'a> {
    /// Types `array`, or returns its data type if it is not one read here.
    fn of(array: &'a dyn Array) -> Result<Column<'a>, DataType> {
        Ok(match array.data_type() {
            DataType::Utf8 => Column::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => Column::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => Column::Utf8View(array.as_string_view()),
            DataType::Binary => Column::Binary(array.as_binary::<i32>()),
            DataType::LargeBinary => Column::LargeBinary(array.as_binary::<i64>()),
            DataType::BinaryView => Column::BinaryView(array.as_binary_view()),
            DataType::FixedSizeBinary(_) => Column::Fixed(array.as_fixed_size_binary()),
            DataType::Dictionary(key, _) => {
                macro_rules! keys {
                    ($t:ty) => {{
                        let dict = array.as_dictionary::<$t>();
                        let keys = dict.keys().iter().map(|k| k.and_then(|k| usize::try_from(k).ok())).collect();
                        (keys, dict.values())
                    }};
                }
                let (keys, values): (Vec<Option<usize>>, &ArrayRef) = match key.as_ref() {
                    DataType::Int8 => keys!(Int8Type),
                    DataType::Int16 => keys!(Int16Type),
                    DataType::Int32 => keys!(Int32Type),
                    DataType::Int64 => keys!(Int64Type),
                    DataType::UInt8 => keys!(UInt8Type),
                    DataType::UInt16 => keys!(UInt16Type),
                    DataType::UInt32 => keys!(UInt32Type),
                    DataType::UInt64 => keys!(UInt64Type),
                    _ => return Err(array.data_type().clone()),
                };
                let values = Column::of(values.as_ref()).map_err(|_| array.data_type().clone())?;
                Column::Dictionary { keys, values: Box::new(values) }
            }
            other => return Err(other.clone()),
        })
    }

    /// Row `i`'s bytes; `None` for a null (or a dictionary key out of range).
    fn get(&self, i: usize) -> Option<&'a [u8]> {
        fn valid<A: Array>(a: &A, i: usize) -> bool {
            i < a.len() && a.is_valid(i)
        }
        match self {
            Column::Utf8(a) => valid(*a, i).then(|| a.value(i).as_bytes()),
            Column::LargeUtf8(a) => valid(*a, i).then(|| a.value(i).as_bytes()),
            Column::Utf8View(a) => valid(*a, i).then(|| a.value(i).as_bytes()),
            Column::Binary(a) => valid(*a, i).then(|| a.value(i)),
            Column::LargeBinary(a) => valid(*a, i).then(|| a.value(i)),
            Column::BinaryView(a) => valid(*a, i).then(|| a.value(i)),
            Column::Fixed(a) => valid(*a, i).then(|| a.value(i)),
            Column::Dictionary { keys, values } => keys.get(i).copied().flatten().and_then(|k| values.get(k)),
        }
    }

    /// Whether the column holds bytes rather than text (a 32-byte value of
    /// it is a raw SHA-256 digest for the hashed types).
    fn is_binary(&self) -> bool {
        match self {
            Column::Binary(_) | Column::LargeBinary(_) | Column::BinaryView(_) | Column::Fixed(_) => true,
            Column::Utf8(_) | Column::LargeUtf8(_) | Column::Utf8View(_) => false,
            Column::Dictionary { values, .. } => values.is_binary(),
        }
    }
}

/// A damaged or unreadable Parquet file, named.
fn corrupt(source: &Path, err: impl std::fmt::Display) -> IdsError {
    IdsError::Corrupt {
        path: source.to_path_buf(),
        compression: Compression::Parquet,
        detail: one_line(&err.to_string()),
    }
}

/// The first line of a message, at most 200 characters.
fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(200).collect()
}

/// The input as the row-group tasks share it: cheap to clone, and safe to
/// read from several threads at once.
///
/// A [`File`]'s own [`ChunkReader`] seeks a descriptor whose offset every
/// clone shares, so two tasks reading at once could read each other's
/// bytes: a file is read with positioned reads (`pread`) instead. Any other
/// reader (bytes in memory, an object store) is used as it is, and must
/// read each range independently of other calls.
enum Source<C> {
    File { file: File, len: u64 },
    Other(C),
}

struct Shared<C>(Arc<Source<C>>);

impl<C> Clone for Shared<C> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<C: ChunkReader + 'static> Shared<C> {
    fn new(input: C) -> std::io::Result<Self> {
        let mut slot = Some(input);
        let file = (&mut slot as &mut dyn Any).downcast_mut::<Option<File>>().and_then(Option::take);
        let source = match (file, slot) {
            (Some(file), _) => Source::File { len: file.metadata()?.len(), file },
            (None, Some(other)) => Source::Other(other),
            (None, None) => unreachable!("the input is taken only when it is a file"),
        };
        Ok(Shared(Arc::new(source)))
    }
}

impl<C: ChunkReader> Length for Shared<C> {
    fn len(&self) -> u64 {
        match &*self.0 {
            Source::File { len, .. } => *len,
            Source::Other(other) => other.len(),
        }
    }
}

impl<C: ChunkReader> ChunkReader for Shared<C> {
    type T = SharedRead<C>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match &*self.0 {
            Source::File { .. } => {
                SharedRead::File { input: self.clone(), at: start, next_fetch: FIRST_FETCH, buffer: Bytes::new() }
            }
            Source::Other(other) => SharedRead::Other(other.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match &*self.0 {
            Source::File { file, len } => {
                if start.checked_add(length as u64).is_none_or(|end| end > *len) {
                    return Err(parquet::errors::ParquetError::EOF(format!(
                        "expected {length} bytes at offset {start} of a file of {len} bytes"
                    )));
                }
                let mut buffer = vec![0u8; length];
                file.read_exact_at(&mut buffer, start)?;
                Ok(buffer.into())
            }
            Source::Other(other) => other.get_bytes(start, length),
        }
    }
}

/// A reader from an offset of a [`Shared`] input: a file's bytes are
/// fetched by positioned reads, a few at first (a page header is short),
/// then more as the read goes on.
enum SharedRead<C: ChunkReader> {
    File { input: Shared<C>, at: u64, next_fetch: usize, buffer: Bytes },
    Other(C::T),
}

impl<C: ChunkReader> Read for SharedRead<C> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self {
            SharedRead::Other(inner) => inner.read(out),
            SharedRead::File { input, at, next_fetch, buffer } => {
                if !buffer.has_remaining() {
                    let left = input.len().saturating_sub(*at);
                    let fetch = (*next_fetch as u64).min(left) as usize;
                    if fetch == 0 {
                        return Ok(0);
                    }
                    *buffer = input.get_bytes(*at, fetch).map_err(std::io::Error::other)?;
                    *at += fetch as u64;
                    *next_fetch = (*next_fetch * 2).min(MAX_FETCH);
                }
                let n = out.len().min(buffer.remaining());
                buffer.copy_to_slice(&mut out[..n]);
                Ok(n)
            }
        }
    }
}

/// What one run of row groups produced, to be merged in row order.
#[derive(Default)]
struct Decoded {
    /// Rows read (up to and including an invalid row in strict mode).
    rows: u64,
    /// Valid rows' digests, in row order, duplicates included.
    digests: Vec<IdDigest>,
    /// With segments, each digest's label; empty without.
    labels: Vec<u64>,
    skipped: SkipCounts,
    shapes: ShapeCounts,
    /// In strict mode, the first invalid row (its index within the run) and
    /// why; the run stops there.
    invalid: Option<(u64, SkipReason)>,
}

/// What every task reads: the input, its footer and the columns wanted.
struct Plan<'a, C> {
    input: Shared<C>,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    /// The id column's position within the projected batch.
    id_at: usize,
    /// Each segment column's position within the projected batch.
    segment_at: Vec<usize>,
    options: &'a ReadOptions,
    normalizer: &'a Normalizer,
    source: &'a Path,
}

impl<C: ChunkReader + 'static> Plan<'_, C> {
    /// Decodes and normalizes the row groups `groups`, on this thread.
    fn decode(&self, groups: Range<usize>) -> Result<Decoded, IdsError> {
        let (options, source) = (self.options, self.source);
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(self.input.clone(), self.meta.clone())
            .with_row_groups(groups.collect())
            .with_projection(self.mask.clone())
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| corrupt(source, e))?;
        let hashed = matches!(options.id_type, IdType::EmailSha256 | IdType::PhoneSha256);
        let mut normalizer = self.normalizer.clone();
        let mut out = Decoded::default();
        let mut hex = [0u8; 64];
        for batch in reader {
            let batch = batch.map_err(|e| corrupt(source, e))?;
            let typed = |i: usize, name: &str| {
                Column::of(batch.column(i).as_ref()).map_err(|data_type| IdsError::UnsupportedColumn {
                    path: source.to_path_buf(),
                    column: name.to_owned(),
                    data_type: data_type.to_string(),
                })
            };
            let ids = typed(self.id_at, &options.id_column)?;
            let segments = self
                .segment_at
                .iter()
                .zip(options.segments.columns())
                .map(|(&i, c)| typed(i, &c.name))
                .collect::<Result<Vec<_>, _>>()?;
            let digest_as_hex = hashed && ids.is_binary();
            out.digests.reserve(batch.num_rows());
            for row in 0..batch.num_rows() {
                out.rows += 1;
                let field = ids.get(row).unwrap_or_default();
                let field = if digest_as_hex && field.len() == 32 {
                    // Infallible: 64 bytes for 32.
                    let _ = hex::encode_to_slice(field, &mut hex);
                    &hex[..]
                } else {
                    field
                };
                match normalizer.digest(field) {
                    Ok(d) => {
                        out.digests.push(d);
                        if !segments.is_empty() {
                            let fields: Vec<Option<&[u8]>> =
                                segments.iter().map(|c| Some(c.get(row).unwrap_or_default())).collect();
                            out.labels.push(options.segments.label_of(&fields));
                        }
                    }
                    Err(reason) if options.strict => {
                        out.invalid = Some((out.rows - 1, reason));
                        return Ok(out);
                    }
                    Err(reason) => {
                        out.skipped.add(reason);
                        out.shapes.add(field);
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Consecutive row groups joined into runs of up to `run_rows` rows (a
/// larger row group alone), in order.
fn runs(groups: &[RowGroupMetaData], run_rows: u64) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let (mut start, mut rows) = (0, 0u64);
    for (i, group) in groups.iter().enumerate() {
        let group_rows = u64::try_from(group.num_rows()).unwrap_or_default();
        if i > start && rows + group_rows > run_rows {
            runs.push(start..i);
            (start, rows) = (i, 0);
        }
        rows += group_rows;
    }
    if start < groups.len() {
        runs.push(start..groups.len());
    }
    runs
}

impl Intake<'_> {
    /// Reads one Parquet part from `input` (a file, or bytes in memory),
    /// which `source` names in errors; returns its rows. Errors:
    /// [`IdsError::MissingColumn`] / [`IdsError::DuplicateColumn`] naming the
    /// file and its columns, [`IdsError::UnsupportedColumn`] for a column of
    /// another type, [`IdsError::Corrupt`] for a file the reader rejects
    /// (truncated, damaged), [`IdsError::InvalidRow`] in strict mode (the
    /// first invalid row's line in a CSV export of the part: its row number
    /// plus one for the header).
    ///
    /// A panic inside the `parquet` crate on a malformed file (on any of the
    /// threads decoding it) is caught and reported as [`IdsError::Corrupt`]
    /// too: no file may crash the reader.
    pub(super) fn parse_parquet<C: ChunkReader + 'static>(&mut self, input: C, source: &Path) -> Result<u64, IdsError> {
        self.parse_parquet_in_runs(input, source, RUN_ROWS)
    }

    /// [`Intake::parse_parquet`] with runs of up to `run_rows` rows (tests
    /// take small ones, to read a small file in many runs).
    pub(super) fn parse_parquet_in_runs<C: ChunkReader + 'static>(
        &mut self,
        input: C,
        source: &Path,
        run_rows: u64,
    ) -> Result<u64, IdsError> {
        // The intake is dropped after any error (see `Intake`), so its
        // half-updated state after a panic is never used.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.decode_parquet(input, source, run_rows)))
            .unwrap_or_else(|_| Err(corrupt(source, "the Parquet reader failed on malformed data")))
    }

    fn decode_parquet<C: ChunkReader + 'static>(
        &mut self,
        input: C,
        source: &Path,
        run_rows: u64,
    ) -> Result<u64, IdsError> {
        let options = self.options;
        let input = Shared::new(input).map_err(|e| corrupt(source, e))?;
        let meta = ArrowReaderMetadata::load(&input, ArrowReaderOptions::default()).map_err(|e| corrupt(source, e))?;
        let names: Vec<String> = meta.schema().fields().iter().map(|f| f.name().trim().to_owned()).collect();
        let (id_index, segment_indices) = wanted_columns(&names, options, source)?;
        let mut wanted: Vec<usize> = segment_indices.iter().copied().chain([id_index]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        // Positions of the columns within the projected batch.
        let at = |i: usize| wanted.binary_search(&i).unwrap_or_default();
        let mask = ProjectionMask::roots(meta.parquet_schema(), wanted.iter().copied());
        let runs = runs(meta.metadata().row_groups(), run_rows);
        let normalizer = self.normalizer.clone();
        let plan = Plan {
            input,
            meta,
            mask,
            id_at: at(id_index),
            segment_at: segment_indices.iter().map(|&i| at(i)).collect(),
            options,
            normalizer: &normalizer,
            source,
        };

        let window = 2 * rayon::current_num_threads().max(1);
        let mut next_compaction = self.next_compaction();
        let mut rows = 0u64;
        for runs in runs.chunks(window) {
            let decoded: Vec<Result<Decoded, IdsError>> = runs.par_iter().map(|r| plan.decode(r.clone())).collect();
            for run in decoded {
                let run = run?;
                for (i, d) in run.digests.into_iter().enumerate() {
                    self.accept(d, run.labels.get(i).copied(), &mut next_compaction);
                }
                self.skipped.merge(&run.skipped);
                self.shapes.merge(&run.shapes);
                if let Some((index, reason)) = run.invalid {
                    // The row's line in a CSV export of the part (the header is line 1).
                    let line = rows + index + 2;
                    return Err(IdsError::InvalidRow { path: source.to_path_buf(), line, reason });
                }
                rows += run.rows;
            }
        }
        self.rows_read += rows;
        Ok(rows)
    }
}
