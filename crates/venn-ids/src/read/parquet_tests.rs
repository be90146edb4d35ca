//! Parquet parts: each test compares against the CSV reading of the same
//! values, so a column read wrongly (or a digest taken from the wrong
//! bytes) fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BinaryArray, DictionaryArray, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{Field, Schema};
use bytes::Bytes;
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

/// Reads one Parquet part from `input` in runs of up to `run_rows` rows, on
/// a pool of `threads` threads (so that runs overlap even on one CPU).
fn read_in_runs<C: parquet::file::reader::ChunkReader + 'static>(
    input: C,
    options: &ReadOptions,
    run_rows: u64,
    threads: usize,
) -> Result<ReadOutcome, IdsError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| {
        let mut intake = Intake::new(options);
        let rows = intake.parse_parquet_in_runs(input, Path::new("list.parquet"), run_rows)?;
        intake.parts.push(PartCount {
            path: "list.parquet".into(),
            compression: Compression::Parquet,
            rows_read: rows,
        });
        Ok(intake.finish())
    })
}

/// `outcome` without its parts (a CSV and a Parquet part differ in name and
/// compression only).
fn without_parts(mut outcome: ReadOutcome) -> ReadOutcome {
    outcome.parts.clear();
    outcome
}

/// `email` and `tier` columns as a Parquet file in row groups of `group`
/// rows, and as CSV text (a null is an empty field).
fn email_tier_files(rows: &[(Option<String>, &str)], group: usize) -> (Vec<u8>, Vec<u8>) {
    let emails: ArrayRef = Arc::new(StringArray::from_iter(rows.iter().map(|(e, _)| e.as_deref())));
    let tiers: ArrayRef = Arc::new(StringArray::from_iter_values(rows.iter().map(|(_, t)| *t)));
    let parquet = parquet_of(vec![("email", emails), ("tier", tiers)], group);
    let mut csv = b"email,tier\n".to_vec();
    for (email, tier) in rows {
        csv.extend_from_slice(format!("{},{tier}\n", email.as_deref().unwrap_or_default()).as_bytes());
    }
    (parquet, csv)
}

fn tier_options() -> ReadOptions {
    let tier = crate::SegmentColumn { name: "tier".into(), values: vec!["gold".into(), "silver".into()] };
    ReadOptions { segments: crate::LabelScheme::new(vec![tier]), ..ReadOptions::new("email", IdType::Email) }
}

/// 3,000 rows: invalid emails, nulls, and duplicates of earlier rows (most
/// in an earlier row group) under another tier.
fn mixed_rows() -> Vec<(Option<String>, &'static str)> {
    let tiers = ["gold", "silver", "bronze"];
    (0..3_000)
        .map(|i| {
            let email = match i % 10 {
                3 => Some(format!("not-an-email-{i}")),
                5 => None,
                7 => Some(format!("User{}@Example.com", i / 4)),
                _ => Some(format!("user{i}@example.com")),
            };
            (email, tiers[i % 3])
        })
        .collect()
}

#[test]
fn parallel_runs_read_exactly_as_the_csv_and_as_one_sequential_run() {
    let rows = mixed_rows();
    let (parquet, csv) = email_tier_files(&rows, 100);
    let options = tier_options();
    let want = without_parts(read_identifiers_from(csv.as_slice(), Path::new("a.csv"), &options).unwrap());
    assert!(want.skipped() > 0 && want.duplicates > 0 && !want.labels.is_empty(), "{want:?}");
    let sequential = read_in_runs(Bytes::from(parquet.clone()), &options, u64::MAX, 1).unwrap();
    assert_eq!(sequential.parts[0].rows_read, 3_000);
    assert_eq!(without_parts(sequential), want);
    // One row group a run (30 runs, windows of 2 × threads), and runs of
    // two and a half row groups (joined to two).
    for (run_rows, threads) in [(0, 1), (0, 3), (0, 4), (250, 2)] {
        let got = read_in_runs(Bytes::from(parquet.clone()), &options, run_rows, threads).unwrap();
        assert_eq!(without_parts(got), want, "runs of {run_rows} rows on {threads} threads");
    }
}

#[test]
fn a_file_read_by_parallel_runs_reads_each_runs_own_bytes() {
    // A `File`'s own ChunkReader seeks an offset shared by every clone of
    // the descriptor; tasks reading at once must not read each other's
    // pages.
    let (parquet, csv) = email_tier_files(&mixed_rows(), 50);
    let options = tier_options();
    let want = without_parts(read_identifiers_from(csv.as_slice(), Path::new("a.csv"), &options).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "list.parquet", &parquet);
    for _ in 0..5 {
        let got = read_in_runs(File::open(&path).unwrap(), &options, 0, 4).unwrap();
        assert_eq!(without_parts(got), want);
    }
    assert_eq!(without_parts(read_identifiers(&path, &options).unwrap()), want);
}

#[test]
fn a_duplicate_in_a_later_row_group_keeps_the_first_rows_label() {
    let mut rows: Vec<(Option<String>, &str)> = (0..2_000).map(|i| (Some(format!("u{i}@x.co")), "gold")).collect();
    // Rows 5 and 250 are in one window of runs, 1,250 and 1,990 in later ones.
    rows[5] = (Some("dup@x.co".into()), "gold");
    rows[250] = (Some("Dup@x.co".into()), "silver");
    rows[1_250] = (Some("DUP@x.co".into()), "silver");
    rows[1_990] = (Some("dup@x.co".into()), "bronze");
    let (parquet, _) = email_tier_files(&rows, 100);
    let options = tier_options();
    let dup = Normalizer::new(IdType::Email, EmailProfile::Standard, Region::US).digest(b"dup@x.co").unwrap();
    for (run_rows, threads) in [(u64::MAX, 1), (0, 3)] {
        let got = read_in_runs(Bytes::from(parquet.clone()), &options, run_rows, threads).unwrap();
        assert_eq!((got.valid, got.duplicates), (2_000, 3));
        let at = got.digests.binary_search(&dup).unwrap();
        assert_eq!(got.labels[at], 0, "gold, the first row's tier, not silver (1) or other (2)");
    }
}

#[test]
fn strict_mode_names_the_first_invalid_row_of_a_later_row_group() {
    let mut rows: Vec<(Option<String>, &str)> = (0..3_000).map(|i| (Some(format!("u{i}@x.co")), "gold")).collect();
    rows[1_750] = (Some("no-at-sign".into()), "gold");
    rows[2_930] = (Some(String::new()), "gold");
    let (parquet, csv) = email_tier_files(&rows, 100);
    let options = ReadOptions { strict: true, ..tier_options() };
    let csv_err = read_identifiers_from(csv.as_slice(), Path::new("a.csv"), &options).unwrap_err();
    assert!(matches!(csv_err, IdsError::InvalidRow { line: 1_752, .. }), "{csv_err:?}");
    for (run_rows, threads) in [(u64::MAX, 1), (0, 1), (0, 3), (700, 2)] {
        let err = read_in_runs(Bytes::from(parquet.clone()), &options, run_rows, threads).unwrap_err();
        match err {
            IdsError::InvalidRow { line, reason, path } => {
                assert_eq!((line, path.as_path()), (1_752, Path::new("list.parquet")), "runs of {run_rows} rows");
                assert!(matches!(&csv_err, IdsError::InvalidRow { reason: r, .. } if *r == reason));
            }
            other => panic!("runs of {run_rows} rows: {other:?}"),
        }
    }
}
