//! Compressed parts, directories and patterns of part files: each test
//! names what it pins, and each compares against the plain reading of the
//! same rows so that a decompression that drops or mangles bytes fails.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;

use super::*;
use crate::digest::sha256;

/// `rows` email rows `user{i}@example.com` under a header `id,email`.
fn csv_rows(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut out = b"id,email\n".to_vec();
    for i in range {
        out.extend_from_slice(format!("{i},user{i}@example.com\n").as_bytes());
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

fn options() -> ReadOptions {
    ReadOptions::new("email", IdType::Email)
}

fn read_bytes(data: &[u8], name: &str) -> Result<ReadOutcome, IdsError> {
    read_identifiers_from(data, Path::new(name), &options())
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn reads_gzip_as_its_plain_text() {
    let plain = csv_rows(0..5_000);
    let want = read_bytes(&plain, "list.csv").unwrap();
    let got = read_bytes(&gzip(&plain), "list.csv.gz").unwrap();
    assert_eq!(got.digests, want.digests);
    assert_eq!(got.rows_read, 5_000);
    assert_eq!(got.parts[0].compression, Compression::Gzip);
    assert_eq!(want.parts[0].compression, Compression::Plain);
}

#[test]
fn reads_zstd_as_its_plain_text() {
    let plain = csv_rows(0..5_000);
    let want = read_bytes(&plain, "list.csv").unwrap();
    let got = read_bytes(&zstd(&plain), "list.csv.zst").unwrap();
    assert_eq!(got.digests, want.digests);
    assert_eq!(got.parts[0].compression, Compression::Zstd);
}

#[test]
fn reads_every_member_of_a_multi_member_gzip() {
    // `cat a.gz b.gz > ab.gz`: the second member holds rows without a header.
    let first = csv_rows(0..100);
    let mut second = Vec::new();
    for i in 100..250 {
        second.extend_from_slice(format!("{i},user{i}@example.com\n").as_bytes());
    }
    let mut joined = gzip(&first);
    joined.extend_from_slice(&gzip(&second));
    let got = read_bytes(&joined, "ab.csv.gz").unwrap();
    assert_eq!((got.rows_read, got.distinct()), (250, 250));
    assert_eq!(got.digests, read_bytes(&csv_rows(0..250), "all.csv").unwrap().digests);
}

#[test]
fn reads_every_frame_of_a_multi_frame_zstd() {
    let mut joined = zstd(&csv_rows(0..10));
    joined.extend_from_slice(&zstd(b"10,user10@example.com\n"));
    assert_eq!(read_bytes(&joined, "ab.zst").unwrap().rows_read, 11);
}

#[test]
fn tells_compression_by_magic_bytes_not_by_name() {
    let plain = csv_rows(0..50);
    let want = read_bytes(&plain, "x").unwrap().digests;
    for (data, name, compression) in [
        (gzip(&plain), "customers.csv", Compression::Gzip),
        (zstd(&plain), "customers.csv.gz", Compression::Zstd),
        (plain.clone(), "customers.csv.gz", Compression::Plain),
        (gzip(&plain), "no-extension", Compression::Gzip),
    ] {
        let got = read_bytes(&data, name).unwrap();
        assert_eq!(got.digests, want, "{name}");
        assert_eq!(got.parts[0].compression, compression, "{name}");
    }
}

#[test]
fn rejects_a_truncated_gzip_naming_the_file() {
    let whole = gzip(&csv_rows(0..20_000));
    let cut = &whole[..whole.len() / 2];
    let err = read_bytes(cut, "customers.csv.gz").unwrap_err();
    assert!(matches!(err, IdsError::Corrupt { compression: Compression::Gzip, .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("customers.csv.gz is not a readable gzip file"), "{msg}");
    assert!(msg.contains("(the stream ends early): it is truncated or damaged; export or copy it again"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
}

#[test]
fn rejects_a_gzip_missing_only_its_trailer() {
    let whole = gzip(&csv_rows(0..10));
    let err = read_bytes(&whole[..whole.len() - 4], "t.gz").unwrap_err();
    assert!(matches!(err, IdsError::Corrupt { compression: Compression::Gzip, .. }), "{err:?}");
}

#[test]
fn rejects_a_gzip_with_damaged_bytes() {
    let mut damaged = gzip(&csv_rows(0..2_000));
    let middle = damaged.len() / 2;
    for b in &mut damaged[middle..middle + 64] {
        *b ^= 0x5a;
    }
    let err = read_bytes(&damaged, "d.csv.gz").unwrap_err();
    assert!(matches!(err, IdsError::Corrupt { .. }), "{err:?}");
}

#[test]
fn rejects_a_truncated_zstd_naming_the_file() {
    let whole = zstd(&csv_rows(0..20_000));
    let err = read_bytes(&whole[..whole.len() / 2], "users.csv.zst").unwrap_err();
    assert!(matches!(err, IdsError::Corrupt { compression: Compression::Zstd, .. }), "{err:?}");
    assert!(err.to_string().starts_with("users.csv.zst is not a readable zstd file"), "{err}");
}

#[test]
fn rejects_a_bare_gzip_magic() {
    let err = read_bytes(&[0x1f, 0x8b], "two-bytes.gz").unwrap_err();
    assert!(matches!(err, IdsError::Corrupt { .. }), "{err:?}");
}

#[test]
fn reads_a_directory_in_path_order_counting_each_part() {
    let dir = tempfile::tempdir().unwrap();
    // Written out of order, and compressed differently: order comes from the names.
    write(dir.path(), "part-002.csv", &csv_rows(300..310));
    write(dir.path(), "part-000.csv.gz", &gzip(&csv_rows(0..100)));
    write(dir.path(), "part-001.csv.zst", &zstd(&csv_rows(100..300)));
    write(dir.path(), "_SUCCESS", b"");
    write(dir.path(), ".part-000.csv.gz.crc", b"\x00\x01");
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    let outcome = read_identifiers(dir.path(), &options()).unwrap();
    let parts: Vec<(String, Compression, u64)> = outcome
        .parts
        .iter()
        .map(|p| (p.path.file_name().unwrap().to_string_lossy().into_owned(), p.compression, p.rows_read))
        .collect();
    assert_eq!(
        parts,
        vec![
            ("part-000.csv.gz".into(), Compression::Gzip, 100),
            ("part-001.csv.zst".into(), Compression::Zstd, 200),
            ("part-002.csv".into(), Compression::Plain, 10),
        ]
    );
    assert_eq!((outcome.rows_read, outcome.distinct()), (310, 310));
    assert_eq!(outcome.digests, read_bytes(&csv_rows(0..310), "all.csv").unwrap().digests);
}

#[test]
fn counts_duplicates_across_parts() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", &csv_rows(0..10));
    write(dir.path(), "b.csv.gz", &gzip(&csv_rows(5..15)));
    let outcome = read_identifiers(dir.path(), &options()).unwrap();
    assert_eq!((outcome.rows_read, outcome.valid, outcome.duplicates, outcome.distinct()), (20, 20, 5, 15));
}

#[test]
fn reads_the_files_a_glob_matches_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part-1.csv.gz", &gzip(&csv_rows(10..30)));
    write(dir.path(), "part-0.csv.gz", &gzip(&csv_rows(0..10)));
    write(dir.path(), "other.csv.gz", &gzip(&csv_rows(1_000..1_500)));
    let pattern = dir.path().join("part-*.csv.gz");
    let source = InputSource::resolve(&pattern).unwrap();
    let InputSource::Parts { parts, .. } = &source else { panic!("{source:?}") };
    assert_eq!(parts, &[dir.path().join("part-0.csv.gz"), dir.path().join("part-1.csv.gz")]);
    let outcome = read_input(&source, &options()).unwrap();
    assert_eq!(outcome.parts.iter().map(|p| p.rows_read).collect::<Vec<_>>(), vec![10, 20]);
    assert_eq!(outcome.distinct(), 30, "other.csv.gz is not matched");
}

#[test]
fn a_glob_matching_nothing_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("part-*.csv.gz");
    let err = read_identifiers(&pattern, &options()).unwrap_err();
    assert!(matches!(err, IdsError::NoParts { .. }), "{err:?}");
    assert!(err.to_string().contains("part-*.csv.gz matches no file"), "{err}");
}

#[test]
fn a_bad_glob_is_refused() {
    let err = InputSource::resolve(Path::new("data/part-[.csv")).unwrap_err();
    assert!(matches!(err, IdsError::BadPattern { .. }), "{err:?}");
    assert!(err.to_string().starts_with("data/part-[.csv is not a valid pattern"), "{err}");
}

#[test]
fn a_file_whose_name_looks_like_a_pattern_is_read_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "list[1].csv", &csv_rows(0..3));
    assert_eq!(InputSource::resolve(&path).unwrap(), InputSource::File(path.clone()));
    assert_eq!(read_identifiers(&path, &options()).unwrap().rows_read, 3);
}

#[test]
fn dash_is_standard_input() {
    assert_eq!(InputSource::resolve(Path::new("-")).unwrap(), InputSource::Stdin);
    assert_eq!(InputSource::Stdin.paths(), vec![PathBuf::from("-")]);
}

#[test]
fn a_damaged_part_in_a_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part-0.csv.gz", &gzip(&csv_rows(0..10)));
    let whole = gzip(&csv_rows(10..5_000));
    let bad = write(dir.path(), "part-1.csv.gz", &whole[..whole.len() / 3]);
    write(dir.path(), "part-2.csv.gz", &gzip(&csv_rows(5_000..5_010)));
    let err = read_identifiers(dir.path(), &options()).unwrap_err();
    match &err {
        IdsError::Corrupt { path, .. } => assert_eq!(path, &bad),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("part-1.csv.gz"), "{err}");
}

#[test]
fn a_part_without_the_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part-0.csv", &csv_rows(0..10));
    write(dir.path(), "part-1.csv", b"id,mail\n1,a@b.co\n");
    let err = read_identifiers(dir.path(), &options()).unwrap_err();
    assert!(matches!(err, IdsError::MissingColumn { ref path, .. } if path.ends_with("part-1.csv")), "{err:?}");
}

#[test]
fn an_empty_part_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part-0.csv", &csv_rows(0..10));
    write(dir.path(), "part-1.csv.gz", &gzip(b""));
    let err = read_identifiers(dir.path(), &options()).unwrap_err();
    assert!(matches!(err, IdsError::NoHeader { ref path } if path.ends_with("part-1.csv.gz")), "{err:?}");
}

#[test]
fn a_missing_file_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_identifiers(&dir.path().join("absent.csv.gz"), &options()).unwrap_err();
    assert!(matches!(err, IdsError::Open { .. }), "{err:?}");
}

#[test]
fn strict_mode_names_the_part_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "part-0.csv", &csv_rows(0..10));
    write(dir.path(), "part-1.csv.gz", &gzip(b"id,email\n1,a@b.co\n2,bad\n"));
    let strict = ReadOptions { strict: true, ..options() };
    let err = read_identifiers(dir.path(), &strict).unwrap_err();
    assert!(
        matches!(err, IdsError::InvalidRow { ref path, line: 3, .. } if path.ends_with("part-1.csv.gz")),
        "{err:?}"
    );
}

#[test]
fn compaction_keeps_counts_and_the_first_rows_label() {
    let scheme = crate::LabelScheme::new(vec![crate::SegmentColumn {
        name: "tier".into(),
        values: vec!["gold".into(), "silver".into()],
    }]);
    let options = ReadOptions { segments: scheme, ..options() };
    let mut data = b"email,tier\n".to_vec();
    // 40 distinct people, each three times: first gold, then silver twice.
    for round in 0..3 {
        for i in 0..40 {
            let tier = if round == 0 { "gold" } else { "silver" };
            data.extend_from_slice(format!("user{i}@example.com,{tier}\n").as_bytes());
        }
    }
    let mut intake = Intake::new(&options);
    intake.first_compaction = 8;
    intake.read_part(gzip(&data).as_slice(), Path::new("p.csv.gz")).unwrap();
    assert!(intake.compacted > 0, "compacted while reading");
    let outcome = intake.finish();
    assert_eq!((outcome.rows_read, outcome.valid, outcome.duplicates, outcome.distinct()), (120, 120, 80, 40));
    assert!(outcome.labels.iter().all(|&l| l == 0), "gold, the first row's, wins: {:?}", outcome.labels);
    assert!(outcome.digests.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn compaction_bounds_what_is_held() {
    // 10,000 rows of 10 people: what is held never passes twice the floor
    // plus one part's worth of new rows beyond the last compaction.
    let mut data = b"email\n".to_vec();
    for i in 0..10_000 {
        data.extend_from_slice(format!("user{}@example.com\n", i % 10).as_bytes());
    }
    let options = options();
    let mut intake = Intake::new(&options);
    intake.first_compaction = 64;
    intake.read_part(data.as_slice(), Path::new("p.csv")).unwrap();
    assert!(intake.digests.len() < 64, "held {}", intake.digests.len());
    let outcome = intake.finish();
    assert_eq!((outcome.distinct(), outcome.duplicates), (10, 9_990));
}

#[test]
fn hashed_identifiers_read_the_same_compressed() {
    let mut data = b"email_sha256\n".to_vec();
    for i in 0..1_000 {
        data.extend_from_slice(hex::encode(sha256(format!("p{i}@x.com").as_bytes())).as_bytes());
        data.push(b'\n');
    }
    let hashed = ReadOptions::new("email_sha256", IdType::EmailSha256);
    let plain = read_identifiers_from(data.as_slice(), Path::new("a"), &hashed).unwrap();
    let gz = read_identifiers_from(gzip(&data).as_slice(), Path::new("a.gz"), &hashed).unwrap();
    assert_eq!((plain.distinct(), &plain.digests), (1_000, &gz.digests));
}

#[test]
fn one_thread_reads_what_two_do() {
    let data = gzip(&csv_rows(0..3_000));
    let options = options();
    let mut one = Intake::new(&options);
    one.read_ahead(false);
    one.read_part(data.as_slice(), Path::new("a.gz")).unwrap();
    let one = one.finish();
    assert_eq!(one.digests, read_bytes(&data, "a.gz").unwrap().digests);
    assert_eq!(one.rows_read, 3_000);

    let mut cut = Intake::new(&options);
    cut.read_ahead(false);
    let err = cut.read_part(&data[..data.len() / 2], Path::new("cut.gz")).unwrap_err();
    assert!(matches!(err, IdsError::Corrupt { .. }), "{err:?}");
}
