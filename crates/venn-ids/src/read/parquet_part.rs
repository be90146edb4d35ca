//! Parquet parts: the identifier column (and segment columns) of a Parquet
//! file, read through the `parquet` crate's Arrow reader.
//!
//! Only the named columns are decoded (a projection), one row group after
//! another on the calling thread (row groups are not decoded in parallel:
//! the normalizer, not decoding, is the cost per row). A column may be
//! UTF-8 (`Utf8`, `LargeUtf8`, `Utf8View`), binary (`Binary`, `LargeBinary`,
//! `BinaryView`) or fixed-size binary, plain or dictionary-encoded. A null
//! is an empty field (skipped as `empty`). For the SHA-256 types a 32-byte
//! binary value is the digest itself: it is read as its lowercase hex, so it
//! produces exactly what the hex text does in a CSV file.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use parquet::file::reader::ChunkReader;

use super::{wanted_columns, Intake};
use crate::error::IdsError;
use crate::id_type::IdType;
use crate::source::Compression;

/// Rows per decoded batch.
const BATCH_ROWS: usize = 8 * 1024;

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

impl Intake<'_> {
    /// Reads one Parquet part from `input` (a file, or bytes in memory),
    /// which `source` names in errors; returns its rows. Errors:
    /// [`IdsError::MissingColumn`] / [`IdsError::DuplicateColumn`] naming the
    /// file and its columns, [`IdsError::UnsupportedColumn`] for a column of
    /// another type, [`IdsError::Corrupt`] for a file the reader rejects
    /// (truncated, damaged), [`IdsError::InvalidRow`] in strict mode.
    ///
    /// A panic inside the `parquet` crate on a malformed file is caught and
    /// reported as [`IdsError::Corrupt`] too: no file may crash the reader.
    pub(super) fn parse_parquet<C: ChunkReader + 'static>(&mut self, input: C, source: &Path) -> Result<u64, IdsError> {
        // The intake is dropped after any error (see `Intake`), so its
        // half-updated state after a panic is never used.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.decode_parquet(input, source)))
            .unwrap_or_else(|_| Err(corrupt(source, "the Parquet reader failed on malformed data")))
    }

    fn decode_parquet<C: ChunkReader + 'static>(&mut self, input: C, source: &Path) -> Result<u64, IdsError> {
        let options = self.options;
        let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| corrupt(source, e))?;
        let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().trim().to_owned()).collect();
        let (id_index, segment_indices) = wanted_columns(&names, options, source)?;
        let mut wanted: Vec<usize> = segment_indices.iter().copied().chain([id_index]).collect();
        wanted.sort_unstable();
        wanted.dedup();
        // Positions of the columns within the projected batch.
        let at = |i: usize| wanted.binary_search(&i).unwrap_or_default();
        let (id_at, segment_at): (usize, Vec<usize>) = (at(id_index), segment_indices.iter().map(|&i| at(i)).collect());
        let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
        let reader =
            builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| corrupt(source, e))?;

        let hashed = matches!(options.id_type, IdType::EmailSha256 | IdType::PhoneSha256);
        let mut next_compaction = self.next_compaction();
        let mut rows = 0u64;
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
            let ids = typed(id_at, &options.id_column)?;
            let segments = segment_at
                .iter()
                .zip(options.segments.columns())
                .map(|(&i, c)| typed(i, &c.name))
                .collect::<Result<Vec<_>, _>>()?;
            let digest_as_hex = hashed && ids.is_binary();
            for row in 0..batch.num_rows() {
                rows += 1;
                let field = ids.get(row).unwrap_or_default();
                let field = if digest_as_hex && field.len() == 32 {
                    // Infallible: 64 bytes for 32.
                    let _ = hex::encode_to_slice(field, &mut hex);
                    &hex[..]
                } else {
                    field
                };
                match self.normalizer.digest(field) {
                    Ok(d) => {
                        let label = (!segments.is_empty()).then(|| {
                            let fields: Vec<Option<&[u8]>> =
                                segments.iter().map(|c| Some(c.get(row).unwrap_or_default())).collect();
                            options.segments.label_of(&fields)
                        });
                        self.accept(d, label, &mut next_compaction);
                    }
                    Err(reason) => {
                        if options.strict {
                            // The row's line in a CSV export of the part (the header is line 1).
                            let line = rows + 1;
                            return Err(IdsError::InvalidRow { path: source.to_path_buf(), line, reason });
                        }
                        self.skipped.add(reason);
                        self.shapes.add(field);
                    }
                }
            }
        }
        self.rows_read += rows;
        Ok(rows)
    }
}
