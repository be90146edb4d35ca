//! Object-store inputs against an in-memory store: each read is compared
//! with reading the same bytes from local files, so a part skipped, read
//! twice, out of order or from the wrong bytes fails.

use std::path::Path;
use std::sync::Arc;

use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::reader::{Object, ObjectChunks, CHUNK, READ_AHEAD};
use super::store::{keys_in, region_in, ProfileKeys};
use super::*;
use crate::read::{read_identifiers_from, ReadOptions, ReadOutcome};
use crate::synthetic::{generate, write_csv, write_csv_gz, write_parquet, SideFormat, SyntheticSpec};
use crate::IdType;

fn url(text: &str) -> RemoteUrl {
    RemoteUrl::parse(text).expect("a URL").expect("a readable URL")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A store holding `objects` (key, bytes).
fn store_with(objects: &[(&str, Vec<u8>)]) -> Arc<dyn ObjectStore> {
    let store = Arc::new(InMemory::new());
    let rt = runtime();
    for (key, bytes) in objects {
        rt.block_on(store.put(&ObjectPath::parse(*key).unwrap(), PutPayload::from(bytes.clone()))).unwrap();
    }
    store
}

fn sha_options() -> ReadOptions {
    ReadOptions::new("email_sha256", IdType::EmailSha256)
}

fn people(rows: usize, seed: u64) -> Vec<crate::synthetic::Person> {
    generate(&SyntheticSpec { rows_a: rows, rows_b: 1, overlap: 0, seed }).unwrap().0
}

fn csv_of(people: &[crate::synthetic::Person]) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv(people, SideFormat::Sha256, &mut out).unwrap();
    out
}

fn read_remote_from(text: &str, store: Arc<dyn ObjectStore>, options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    let mut intake = Intake::new(options);
    read_from(&url(text), store, &mut intake)?;
    Ok(intake.finish())
}

#[test]
fn local_paths_are_not_urls_and_unknown_schemes_are_refused() {
    assert!(RemoteUrl::parse("data/part-0.csv").is_none());
    assert!(RemoteUrl::parse("/tmp/a:b.csv").is_none());
    assert!(RemoteUrl::parse("-").is_none());
    let err = RemoteUrl::parse("ftp://host/list.csv").unwrap().unwrap_err();
    assert!(err.to_string().contains("ftp:// is not a store venn reads"), "{err}");
    let err = RemoteUrl::parse("https://example.com/lists/").unwrap().unwrap_err();
    assert!(err.to_string().contains("name one file"), "{err}");
}

#[test]
fn urls_with_secrets_are_refused_without_printing_them() {
    for text in [
        "https://files.example.com/f.csv?X-Amz-Signature=deadbeef",
        "https://acct.blob.core.windows.net/c/k.csv?sv=1&sig=deadbeef",
        "s3://user:deadbeef@bucket/k.csv",
        "https://example.com/f.csv#deadbeef",
    ] {
        let err = RemoteUrl::parse(text).unwrap().unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, IdsError::BadUrl { .. }), "{text}: {err:?}");
        assert!(!message.contains("deadbeef"), "the secret is printed: {message}");
    }
}

#[test]
fn the_bucket_in_an_https_path_is_not_a_key() {
    // Path style: the bucket is the first segment.
    let u = url("https://s3.eu-west-1.amazonaws.com/acme/audience/");
    assert_eq!((u.key.as_str(), u.prefix_only), ("audience", true));
    assert_eq!(
        u.object_url(&ObjectPath::from("audience/p.csv")),
        "https://s3.eu-west-1.amazonaws.com/acme/audience/p.csv"
    );
    // Virtual-hosted style: the bucket is in the host name.
    let u = url("https://acme.s3.eu-west-1.amazonaws.com/audience/");
    assert_eq!((u.key.as_str(), u.prefix_only), ("audience", true));
    assert_eq!(
        u.object_url(&ObjectPath::from("audience/p.csv")),
        "https://acme.s3.eu-west-1.amazonaws.com/audience/p.csv"
    );
    let u = url("https://acme.s3.eu-west-1.amazonaws.com/audience/x.csv");
    assert_eq!((u.key.as_str(), u.prefix_only), ("audience/x.csv", false));
    // A plain server with a port.
    let u = url("http://127.0.0.1:8080/exports/a.csv");
    assert_eq!(u.object_url(&ObjectPath::from("exports/a.csv")), "http://127.0.0.1:8080/exports/a.csv");
}

#[test]
fn a_pattern_stays_in_its_folder_and_folder_objects_are_no_parts() {
    let store = store_with(&[
        ("audience/", Vec::new()),
        ("audience/date=1/", Vec::new()),
        ("audience/date=1/part-0.csv", csv_of(&people(40, 12))),
        ("audience/part-0.csv", csv_of(&people(30, 13))),
        ("audience/archive/part-9.csv", b"garbage".to_vec()),
        ("team~a/x.csv", csv_of(&people(20, 14))),
    ]);
    let outcome = read_remote_from("s3://bucket/audience/*.csv", store.clone(), &sha_options()).unwrap();
    assert_eq!(outcome.parts.len(), 1, "{:?}", outcome.parts);
    assert_eq!(outcome.rows_read, 30);
    let err = read_remote_from("s3://bucket/audience/", store.clone(), &sha_options()).unwrap_err();
    // Folder objects are skipped; the archive's garbage is a part.
    assert!(err.to_string().contains("s3://bucket/audience/archive/part-9.csv has no column"), "{err}");
    let outcome = read_remote_from("s3://bucket/team~a/x.csv", store, &sha_options()).unwrap();
    assert_eq!(outcome.rows_read, 20);
}

#[test]
fn a_trailing_slash_makes_a_prefix_and_keys_are_decoded() {
    let u = url("s3://bucket/audience/");
    assert!(u.prefix_only);
    assert_eq!(u.key, "audience");
    let u = url("gs://bucket/audience%20v2/part-0.parquet");
    assert!(!u.prefix_only);
    assert_eq!(u.key, "audience v2/part-0.parquet");
    assert_eq!(u.object_url(&ObjectPath::from("a/b.csv")), "gs://bucket/a/b.csv");
    let u = url("https://acct.blob.core.windows.net/container/dir/x.csv");
    assert_eq!(u.key, "dir/x.csv");
    assert_eq!(u.object_url(&ObjectPath::from("dir/x.csv")), "https://acct.blob.core.windows.net/container/dir/x.csv");
}

#[test]
fn a_prefix_is_read_in_key_order_leaving_out_hidden_keys() {
    let (a, b, c) = (people(300, 1), people(200, 2), people(100, 3));
    let store = store_with(&[
        ("audience/part-1.csv", csv_of(&b)),
        ("audience/part-0.csv", csv_of(&a)),
        ("audience/date=2026-11-01/part-2.csv", csv_of(&c)),
        ("audience/_SUCCESS", Vec::new()),
        ("audience/_temporary/0/part-9.csv", b"garbage".to_vec()),
        ("audience/.part-0.csv.crc", b"garbage".to_vec()),
        ("other/part-0.csv", csv_of(&people(50, 4))),
    ]);
    let outcome = read_remote_from("s3://bucket/audience/", store, &sha_options()).unwrap();
    let names: Vec<String> = outcome.parts.iter().map(|p| p.path.display().to_string()).collect();
    assert_eq!(
        names,
        [
            "s3://bucket/audience/date=2026-11-01/part-2.csv",
            "s3://bucket/audience/part-0.csv",
            "s3://bucket/audience/part-1.csv"
        ]
    );
    let rows: Vec<u64> = outcome.parts.iter().map(|p| p.rows_read).collect();
    assert_eq!(rows, [100, 300, 200]);
    let expected =
        read_identifiers_from(csv_of(&[c, a, b].concat()).as_slice(), Path::new("x"), &sha_options()).unwrap();
    assert_eq!(outcome.digests, expected.digests);
    assert_eq!(outcome.rows_read, 600);
}

#[test]
fn a_key_that_is_no_object_is_read_as_a_prefix_and_a_pattern_filters() {
    let store = store_with(&[
        ("audience/part-0.csv.gz", write_csv_gz(&people(120, 5), SideFormat::Sha256, Vec::new()).unwrap()),
        ("audience/part-1.csv", csv_of(&people(80, 6))),
        ("audience/readme.txt", b"not a list".to_vec()),
    ]);
    let outcome = read_remote_from("s3://bucket/audience", store.clone(), &sha_options()).unwrap_err();
    // Without the pattern the readme is a part, and has no such column.
    assert!(outcome.to_string().contains("s3://bucket/audience/readme.txt has no column"), "{outcome}");
    let outcome = read_remote_from("s3://bucket/audience/part-*", store.clone(), &sha_options()).unwrap();
    assert_eq!(outcome.parts.len(), 2);
    assert_eq!(outcome.parts[0].compression, Compression::Gzip);
    assert_eq!(outcome.rows_read, 200);
    let one = read_remote_from("s3://bucket/audience/part-1.csv", store, &sha_options()).unwrap();
    assert_eq!(one.parts.len(), 1);
    assert_eq!(one.rows_read, 80);
}

#[test]
fn nothing_under_a_prefix_is_named() {
    let store = store_with(&[("elsewhere/a.csv", csv_of(&people(10, 7)))]);
    let err = read_remote_from("s3://bucket/audience/", store.clone(), &sha_options()).unwrap_err();
    assert!(matches!(err, IdsError::NoParts { .. }), "{err:?}");
    assert!(err.to_string().starts_with("s3://bucket/audience/ holds no object"), "{err}");
    let err = read_remote_from("s3://bucket/audience/*.parquet", store, &sha_options()).unwrap_err();
    assert!(err.to_string().contains("matches no object"), "{err}");
}

#[test]
fn parquet_parts_read_by_range_equal_the_csv_of_the_same_rows() {
    let (a, b) = (people(5_000, 8), people(3_000, 9));
    let parquet = |p: &[crate::synthetic::Person]| write_parquet(p, SideFormat::Sha256, Vec::new(), 700).unwrap();
    let store = store_with(&[("t/part-0.parquet", parquet(&a)), ("t/part-1.parquet", parquet(&b))]);
    let tier = crate::SegmentColumn {
        name: "loyalty_tier".into(),
        values: crate::synthetic::LOYALTY_TIERS.iter().map(|t| t.to_string()).collect(),
    };
    let options = ReadOptions { segments: crate::LabelScheme::new(vec![tier]), ..sha_options() };
    let outcome = read_remote_from("gs://bucket/t/", store, &options).unwrap();
    assert!(outcome.parts.iter().all(|p| p.compression == Compression::Parquet));
    let expected = read_identifiers_from(csv_of(&[a, b].concat()).as_slice(), Path::new("x"), &options).unwrap();
    assert_eq!(outcome.digests, expected.digests);
    assert_eq!(outcome.labels, expected.labels);
    assert_eq!((outcome.rows_read, outcome.duplicates), (expected.rows_read, expected.duplicates));
}

/// The listed object for `key`, as `read_from` sees it.
fn object(store: &Arc<dyn ObjectStore>, key: &str, rt: &tokio::runtime::Runtime) -> Object {
    Object::new(store.clone(), rt.block_on(store.head(&ObjectPath::from(key))).unwrap(), rt.handle().clone())
}

#[test]
fn a_part_rewritten_after_it_was_listed_fails_the_read() {
    for (key, bytes) in [
        ("a.csv", csv_of(&people(100, 10))),
        ("a.parquet", write_parquet(&people(100, 10), SideFormat::Sha256, Vec::new(), 0).unwrap()),
    ] {
        let store = store_with(&[(key, bytes.clone())]);
        let rt = runtime();
        let listed = object(&store, key, &rt);
        rt.block_on(store.put(&ObjectPath::from(key), PutPayload::from(bytes))).unwrap();
        let options = sha_options();
        let mut intake = Intake::new(&options);
        let err =
            std::thread::scope(|s| s.spawn(|| read_object(&url("s3://b/"), &listed, &mut intake)).join().unwrap())
                .unwrap_err();
        assert!(matches!(&err, IdsError::RemoteChanged { url } if url == &format!("s3://b/{key}")), "{err:?}");
        assert!(err.to_string().contains("changed while it was being read"), "{err}");
    }
}

#[test]
fn ranges_of_a_parquet_part_are_its_bytes_whatever_the_blocks() {
    let bytes: Vec<u8> = (0..3 * READ_AHEAD as usize + 1234).map(|i| (i * 7 % 251) as u8).collect();
    let store = store_with(&[("x", bytes.clone())]);
    let rt = runtime();
    let listed = object(&store, "x", &rt);
    let len = bytes.len() as u64;
    std::thread::scope(|s| {
        s.spawn(|| {
            use parquet::file::reader::ChunkReader;
            use std::io::Read;
            let chunks = ObjectChunks::new(listed.clone());
            chunks.set_chunk_ends(vec![READ_AHEAD + 5, 1000, len]);
            for (start, n) in [
                (0u64, 10usize),
                (995, 10),
                (1000, 1),
                (READ_AHEAD, 9),
                (5, READ_AHEAD as usize + 100),
                (len - 3, 3),
                (len, 0),
            ] {
                let got = chunks.get_bytes(start, n).unwrap();
                assert_eq!(&got[..], &bytes[start as usize..start as usize + n], "{start}+{n}");
            }
            assert!(chunks.get_bytes(len - 1, 2).is_err(), "past the end");
            let mut rest = Vec::new();
            chunks.get_read(len - 2000).unwrap().read_to_end(&mut rest).unwrap();
            assert_eq!(rest, &bytes[bytes.len() - 2000..]);
        })
        .join()
        .unwrap()
    });
}

#[test]
fn a_text_part_longer_than_a_chunk_streams_whole() {
    let rows = (CHUNK as usize / 120) + 5_000;
    let list = people(rows, 11);
    let store = store_with(&[("big.csv", csv_of(&list))]);
    assert!(csv_of(&list).len() as u64 > CHUNK);
    let outcome = read_remote_from("az://container/big.csv", store, &sha_options()).unwrap();
    assert_eq!(outcome.rows_read, rows as u64);
    assert_eq!(outcome.distinct(), rows);
}

#[test]
fn profile_files_give_keys_and_region() {
    let credentials = "[default]\naws_access_key_id = AKIA1\naws_secret_access_key = s1\n\n[work]\naws_access_key_id=AKIA2\naws_secret_access_key=s2\naws_session_token=t2\n";
    assert_eq!(
        keys_in(credentials, "work"),
        Some(ProfileKeys {
            access_key_id: "AKIA2".into(),
            secret_access_key: "s2".into(),
            session_token: Some("t2".into())
        })
    );
    assert_eq!(keys_in(credentials, "default").unwrap().session_token, None);
    assert_eq!(keys_in(credentials, "missing"), None);
    let config = "[default]\nregion = eu-west-1\n[profile work]\nregion = us-east-2\n";
    assert_eq!(region_in(config, "work").as_deref(), Some("us-east-2"));
    assert_eq!(region_in(config, "default").as_deref(), Some("eu-west-1"));
    assert_eq!(region_in(config, "other"), None);
}

#[test]
fn an_empty_object_is_an_empty_part() {
    let store = store_with(&[("lists/empty.csv", Vec::new())]);
    let err = read_remote_from("s3://bucket/lists/empty.csv", store, &sha_options()).unwrap_err();
    assert!(
        matches!(&err, IdsError::NoHeader { path } if path.to_str() == Some("s3://bucket/lists/empty.csv")),
        "{err:?}"
    );
}

#[test]
fn a_wide_parquet_part_costs_the_bytes_of_its_wanted_column_only() {
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    // An id column beside a wide column of incompressible filler.
    let rows = 20_000;
    let ids: Vec<String> =
        (0..rows).map(|i| hex::encode(crate::digest::sha256(format!("u{i}@example.com").as_bytes()))).collect();
    let filler: Vec<String> = (0..rows)
        .map(|i| (0..8).map(|k| hex::encode(crate::digest::sha256(&[i as u8, (i >> 8) as u8, k]))).collect())
        .collect();
    let columns: Vec<(&str, ArrayRef)> =
        vec![("email_sha256", Arc::new(StringArray::from(ids))), ("notes", Arc::new(StringArray::from(filler)))];
    let schema = Arc::new(Schema::new(
        columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|(_, a)| a).collect()).unwrap();
    let props =
        WriterProperties::builder().set_max_row_group_row_count(Some(5_000)).set_dictionary_enabled(false).build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).unwrap();
    writer.write(&batch).unwrap();
    let bytes = writer.into_inner().unwrap();

    let store = store_with(&[("wide.parquet", bytes.clone())]);
    let rt = runtime();
    let listed = object(&store, "wide.parquet", &rt);
    let options = sha_options();
    let mut intake = Intake::new(&options);
    std::thread::scope(|s| s.spawn(|| read_object(&url("s3://b/"), &listed, &mut intake)).join().unwrap()).unwrap();
    let outcome = intake.finish();
    assert_eq!(outcome.distinct(), rows);
    // The id column is about 1/9 of the file (1.36 of 11.7 MB are fetched);
    // reading past column-chunk ends would fetch about 70 % of it.
    let (fetched, size) = (listed.fetched(), bytes.len() as u64);
    assert!(fetched < size / 4, "fetched {fetched} of {size} bytes");
}
