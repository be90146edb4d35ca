//! Parquet parts: each test compares against the CSV reading of the same
//! values, so a column read wrongly (or a digest taken from the wrong
//! bytes) fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BinaryArray, DictionaryArray, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;
use crate::digest::sha256;
use crate::synthetic::{generate, write_csv, write_parquet, SideFormat, SyntheticSpec};

/// One batch of named columns as a Parquet file, in row groups of `group` rows.
fn parquet_of(columns: Vec<(&str, ArrayRef)>, group: usize) -> Vec<u8> {
    let fields: Vec<Field> =
        columns.iter().map(|(name, array)| Field::new(*name, array.data_type().clone(), true)).collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let props = WriterProperties::builder().set_max_row_group_row_count(Some(group)).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    writer.into_inner().unwrap()
}

fn hashes(range: std::ops::Range<usize>) -> Vec<[u8; 32]> {
    range.map(|i| sha256(format!("user{i}@example.com").as_bytes())).collect()
}

/// The hex digests as CSV text under `email_sha256`.
fn hex_csv(digests: &[[u8; 32]]) -> Vec<u8> {
    let mut out = b"email_sha256\n".to_vec();
    for d in digests {
        out.extend_from_slice(hex::encode(d).as_bytes());
        out.push(b'\n');
    }
    out
}

fn sha_options() -> ReadOptions {
    ReadOptions::new("email_sha256", IdType::EmailSha256)
}

fn read(data: &[u8], options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    read_identifiers_from(data, Path::new("list.parquet"), options)
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn reads_utf8_parquet_as_its_csv_in_several_row_groups() {
    let spec = SyntheticSpec { rows_a: 3_000, rows_b: 0, overlap: 0, seed: 5 };
    let (people, _) = generate(&spec).unwrap();
    let mut csv = Vec::new();
    write_csv(&people, SideFormat::Sha256, &mut csv).unwrap();
    let parquet = write_parquet(&people, SideFormat::Sha256, Vec::new(), 1_000).unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    let want = read_identifiers_from(csv.as_slice(), Path::new("a.csv"), &sha_options()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "a.parquet", &parquet);
    let got = read_identifiers(&path, &sha_options()).unwrap();
    assert_eq!(got.digests, want.digests);
    assert_eq!((got.rows_read, got.distinct()), (3_000, 3_000));
    assert_eq!(got.parts[0].compression, Compression::Parquet);
    // From a stream (standard input) too.
    assert_eq!(read(&parquet, &sha_options()).unwrap().digests, want.digests);
}

#[test]
fn a_binary_32_digest_equals_the_csv_hex_digest() {
    let raw = hashes(0..500);
    let want = read_identifiers_from(hex_csv(&raw).as_slice(), Path::new("a.csv"), &sha_options()).unwrap();
    assert_eq!(want.distinct(), 500);
    let fixed: ArrayRef = Arc::new(FixedSizeBinaryArray::try_from_iter(raw.iter()).unwrap());
    let binary: ArrayRef = Arc::new(BinaryArray::from_iter_values(raw.iter()));
    for array in [fixed, binary] {
        let got = read(&parquet_of(vec![("email_sha256", array)], 200), &sha_options()).unwrap();
        assert_eq!(got.digests, want.digests);
        assert_eq!(got.skipped(), 0);
    }
}

#[test]
fn reads_a_dictionary_encoded_column() {
    let emails: Vec<String> = (0..300).map(|i| format!("User{}@Example.com", i % 100)).collect();
    let dict: DictionaryArray<Int32Type> = emails.iter().map(String::as_str).collect();
    let data = parquet_of(vec![("email", Arc::new(dict) as ArrayRef)], 128);
    let got = read(&data, &ReadOptions::new("email", IdType::Email)).unwrap();
    let mut csv = b"email\n".to_vec();
    for e in &emails {
        csv.extend_from_slice(format!("{e}\n").as_bytes());
    }
    let want =
        read_identifiers_from(csv.as_slice(), Path::new("a.csv"), &ReadOptions::new("email", IdType::Email)).unwrap();
    assert_eq!(got.digests, want.digests);
    assert_eq!((got.rows_read, got.distinct(), got.duplicates), (300, 100, 200));
}

#[test]
fn nulls_are_counted_as_empty_skips() {
    let values: Vec<Option<&str>> = (0..100).map(|i| (i % 4 != 0).then_some("a@b.co")).collect();
    let data = parquet_of(vec![("email", Arc::new(StringArray::from(values)) as ArrayRef)], 1_000);
    let got = read(&data, &ReadOptions::new("email", IdType::Email)).unwrap();
    assert_eq!((got.rows_read, got.valid, got.distinct()), (100, 75, 1));
    assert_eq!(got.skipped_by_reason.get(SkipReason::Empty), 25);
}

#[test]
fn a_missing_column_names_the_file_and_its_columns_not_data() {
    let data = parquet_of(
        vec![
            ("mail", Arc::new(StringArray::from(vec!["secret@example.com"])) as ArrayRef),
            ("tier", Arc::new(StringArray::from(vec!["gold"])) as ArrayRef),
        ],
        10,
    );
    let err = read(&data, &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::MissingColumn { .. }), "{err:?}");
    let msg = err.to_string();
    assert_eq!(msg, r#"list.parquet has no column "email"; its columns are: "mail", "tier""#);
    assert!(!msg.contains("secret"));
}

#[test]
fn a_column_of_another_type_is_refused_by_name() {
    let ints: ArrayRef = Arc::new(arrow_array::Int64Array::from(vec![1, 2, 3]));
    let err = read(&parquet_of(vec![("email", ints)], 10), &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::UnsupportedColumn { .. }), "{err:?}");
    assert!(err.to_string().starts_with(r#"list.parquet column "email" is of type Int64"#), "{err}");
}

#[test]
fn a_truncated_or_damaged_file_is_named_corrupt() {
    let spec = SyntheticSpec { rows_a: 2_000, rows_b: 0, overlap: 0, seed: 9 };
    let (people, _) = generate(&spec).unwrap();
    let whole = write_parquet(&people, SideFormat::Sha256, Vec::new(), 500).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut damaged = whole.clone();
    let middle = damaged.len() / 2;
    damaged[middle..middle + 64].fill(0xAB);
    for (name, data) in
        [("cut.parquet", &whole[..whole.len() / 2]), ("tiny.parquet", &b"PAR1"[..]), ("bad.parquet", &damaged[..])]
    {
        let path = write(dir.path(), name, data);
        let err = read_identifiers(&path, &sha_options()).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(&err, IdsError::Corrupt { compression: Compression::Parquet, path: p, .. } if *p == path),
            "{name}: {err:?}"
        );
        assert!(msg.contains(name) && !msg.contains('\n'), "{msg}");
    }
}

#[test]
fn reads_a_directory_of_parquet_parts_in_order_and_names_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let raw = hashes(0..900);
    for (k, chunk) in raw.chunks(300).enumerate() {
        let array: ArrayRef = Arc::new(StringArray::from_iter_values(chunk.iter().map(hex::encode)));
        write(dir.path(), &format!("part-{k}.parquet"), &parquet_of(vec![("email_sha256", array)], 100));
    }
    write(dir.path(), "_SUCCESS", b"");
    let got = read_identifiers(dir.path(), &sha_options()).unwrap();
    let want = read_identifiers_from(hex_csv(&raw).as_slice(), Path::new("a.csv"), &sha_options()).unwrap();
    assert_eq!(got.digests, want.digests);
    let names: Vec<_> = got.parts.iter().map(|p| p.path.file_name().unwrap().to_owned()).collect();
    assert_eq!(names, ["part-0.parquet", "part-1.parquet", "part-2.parquet"]);
    assert!(got.parts.iter().all(|p| p.rows_read == 300 && p.compression == Compression::Parquet));

    let part1 = std::fs::read(dir.path().join("part-1.parquet")).unwrap();
    write(dir.path(), "part-1.parquet", &part1[..part1.len() - 10]);
    let err = read_identifiers(dir.path(), &sha_options()).unwrap_err();
    assert!(err.to_string().contains("part-1.parquet"), "{err}");
}
