//! End to end, issue 12's "done when": a platform serves (and builds its
//! index from) `--input s3://bucket/audience/`, Parquet part files in an
//! S3-compatible store, while a brand connects with a local
//! `customers.csv.gz`; both find the exact overlap. A public file is read
//! from a plain URL (`http://`, as `https://` is) without credentials.
//!
//! The store is a `moto` server on loopback that `.ci/run` starts and names
//! in `VENN_TEST_S3_ENDPOINT` (`http://127.0.0.1:PORT`); each test makes a
//! bucket of its own. Without that variable the tests say loudly that they
//! skipped; with `VENN_REQUIRE_S3=1` (as `.ci/run` sets) a missing server is
//! a failure. [`azure`] does the same against Azure Blob Storage's emulator.

#[path = "object_store/azure.rs"]
mod azure;
mod cli_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use cli_support::{text, Parties, Running, VENN};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use venn_ids::synthetic::{generate, write_csv_gz, write_parquet, Person, SideFormat, SyntheticSpec};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// The S3-compatible test server.
const S3: TestServer = TestServer {
    endpoint_var: "VENN_TEST_S3_ENDPOINT",
    require_var: "VENN_REQUIRE_S3",
    how_to_start: "an S3-compatible server on loopback (`.ci/run` starts moto: \
                   `pip install 'moto[server]' && moto_server -H 127.0.0.1 -p 5055`)",
    example: "http://127.0.0.1:5055",
};

const BRAND_ROWS: usize = 3_000;
const PLATFORM_ROWS: usize = 4_500;
const OVERLAP: usize = 1_300;

/// A store's test server, named by an environment variable.
struct TestServer {
    endpoint_var: &'static str,
    require_var: &'static str,
    how_to_start: &'static str,
    example: &'static str,
}

impl TestServer {
    /// The server's address, or `None` after saying loudly that the test is
    /// skipped; with `require_var=1`, no server fails the test.
    fn endpoint_or_skip(&self, test: &str) -> Option<String> {
        let TestServer { endpoint_var, require_var, how_to_start, example } = self;
        if let Some(endpoint) = std::env::var(endpoint_var).ok().filter(|e| !e.is_empty()) {
            return Some(endpoint);
        }
        let advice = format!("{endpoint_var} is not set; start {how_to_start} and set {endpoint_var}={example}");
        assert!(std::env::var_os(require_var).is_none_or(|v| v != "1"), "{require_var}=1 but {advice}");
        let banner = "*".repeat(72);
        let _ = writeln!(
            std::io::stderr().lock(),
            "\n{banner}\nSKIPPED: tests/object_store.rs {test}:\n{advice}.\nSet {require_var}=1 to make this a failure.\n{banner}"
        );
        None
    }
}

/// The environment of a party reading the test store.
fn s3_env(endpoint: &str) -> [(&'static str, String); 6] {
    [
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ALLOW_HTTP", "true".into()),
        // No profile file of the machine's user may leak into the test.
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
    ]
}

/// A bucket of this test's own in the test store.
struct Bucket {
    name: String,
    endpoint: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    /// Creates a bucket (S3's `CreateBucket` is a bare `PUT /name`, which
    /// the test server takes unsigned).
    fn create(endpoint: &str, test: &str) -> Bucket {
        let name = format!("venn-{test}-{}", std::process::id()).replace('_', "-");
        unsigned_put(endpoint, &format!("/{name}"), &[]);
        venn_ids::remote::install_crypto_provider();
        let store = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_bucket_name(&name)
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .with_region("us-east-1")
            .with_allow_http(true)
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Bucket { name, endpoint: endpoint.to_owned(), store: Arc::new(store), runtime }
    }

    fn put(&self, key: &str, bytes: Vec<u8>) {
        self.runtime.block_on(self.store.put(&ObjectPath::from(key), PutPayload::from(bytes))).unwrap();
    }

    fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    /// A `venn` command that reads this store.
    fn venn(&self) -> Command {
        let mut command = Command::new(VENN);
        command.envs(s3_env(&self.endpoint));
        command
    }
}

/// A bare `PUT` of `body` at `target` (a path and query) with `headers`:
/// what a test does that its store's client does not (make a bucket or a
/// container, an anonymous upload). Expects a 2xx answer.
fn http_put(endpoint: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) {
    let authority = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).expect("the test store answers");
    let mut request = format!("PUT {target} HTTP/1.1\r\nHost: {authority}\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 2"), "PUT {target}: {response}");
}

/// An unsigned `PUT` to the S3 test server, with a public-read ACL (it
/// takes it; an `https://`-style reader needs no credentials).
fn unsigned_put(endpoint: &str, path: &str, body: &[u8]) {
    let headers = [("Content-Type", "application/octet-stream"), ("x-amz-acl", "public-read")];
    http_put(endpoint, path, &headers, body);
}

/// The brand's and the platform's people, with exactly `OVERLAP` in both.
fn people() -> (Vec<Person>, Vec<Person>) {
    generate(&SyntheticSpec { rows_a: BRAND_ROWS, rows_b: PLATFORM_ROWS, overlap: OVERLAP, seed: 12 }).unwrap()
}

/// The platform's people as three Parquet part files (row groups of 500
/// rows, SHA-256 columns): `(name, bytes)`.
fn audience_parts(platform: &[Person]) -> Vec<(String, Vec<u8>)> {
    let parts = platform.chunks(PLATFORM_ROWS.div_ceil(3));
    parts
        .enumerate()
        .map(|(i, part)| {
            (format!("part-{i:05}.parquet"), write_parquet(part, SideFormat::Sha256, Vec::new(), 500).unwrap())
        })
        .collect()
}

/// [`audience_parts`] under `audience/`, with a `_SUCCESS` marker, through
/// a store's `put`.
fn upload_audience(put: impl Fn(&str, Vec<u8>), platform: &[Person]) {
    for (name, bytes) in audience_parts(platform) {
        put(&format!("audience/{name}"), bytes);
    }
    put("audience/_SUCCESS", Vec::new());
}

/// `venn index build` of the audience at `url` (through `remote`, its
/// environment) gives the same counts as the same parts on disk, and
/// byte-identical filter parts (builds are deterministic).
fn assert_builds_like_disk(s: &Parties, platform: &[Person], remote: &mut Command, url: &str) {
    let local = s.path("audience");
    std::fs::create_dir(&local).unwrap();
    for (name, bytes) in audience_parts(platform) {
        std::fs::write(local.join(name), bytes).unwrap();
    }
    let sha = ["email_sha256", "email-sha256"];
    let remote_counts = index_build_counts(remote, s, url, sha, "index-remote");
    let local_counts = index_build_counts(&mut Command::new(VENN), s, local.to_str().unwrap(), sha, "index-local");
    assert!(remote_counts.starts_with(&format!("{} distinct", venn_cli::report::group(PLATFORM_ROWS as u64))));
    assert_eq!(remote_counts, local_counts);
    let parts = |dir: &std::path::Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
            .into_iter()
            .filter(|n| n.to_string_lossy().ends_with(".vidx"))
            .map(|n| std::fs::read(dir.join(n)).unwrap())
            .collect::<Vec<_>>()
    };
    let remote_parts = parts(&s.path("index-remote"));
    assert!(!remote_parts.is_empty(), "the build wrote filter parts");
    assert_eq!(remote_parts, parts(&s.path("index-local")));
}

/// `venn index build` of `input` (`column` read as `id_type`) into `out`,
/// through `command` (its environment): the counts of the line it prints
/// about what it read, "N distinct identifiers (...)".
fn index_build_counts(
    command: &mut Command,
    s: &Parties,
    input: &str,
    [column, id_type]: [&str; 2],
    out: &str,
) -> String {
    let output = command
        .args(["index", "build", "--identity", &s.p("platform-id"), "--input", input])
        .args(["--id-column", column, "--id-type", id_type, "--out", &s.p(out)])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let read = stdout.lines().find(|l| l.starts_with("Read ")).unwrap_or_else(|| panic!("no Read line: {stdout}"));
    read.split_once(": ").map(|(_, counts)| counts.to_owned()).unwrap()
}

/// `venn index build` of `input` (plain emails) through `command`: its exit
/// code and what it printed on stderr.
fn index_build_outcome(command: &mut Command, s: &Parties, input: &str) -> (Option<i32>, String) {
    let output = command
        .args(["index", "build", "--identity", &s.p("platform-id"), "--input", input])
        .args(["--id-column", "email", "--id-type", "email", "--out", &s.p("index")])
        .output()
        .unwrap();
    (output.status.code(), text(&output.stderr))
}

fn report(parties: &Parties, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(parties.path(&format!("{name}.json"))).expect("report written");
    serde_json::from_str(&text).expect("report is JSON")
}

#[test]
fn a_platform_serves_parquet_parts_from_s3_and_a_brand_connects_with_csv_gz() {
    let Some(endpoint) = S3.endpoint_or_skip("serve --input s3://") else { return };
    let bucket = Bucket::create(&endpoint, "serve");
    let (brand, platform) = people();
    upload_audience(|key, bytes| bucket.put(key, bytes), &platform);
    let s = Parties::new();
    std::fs::write(s.path("customers.csv.gz"), write_csv_gz(&brand, SideFormat::Messy, Vec::new()).unwrap()).unwrap();

    let audience = bucket.url("audience/");
    let server = Running::start_command(bucket.venn().args([
        "serve",
        "--quiet",
        "--listen",
        "127.0.0.1:0",
        "--identity",
        &s.p("platform-id"),
        "--peer-fingerprint",
        &s.brand_fp,
        "--input",
        &audience,
        "--id-column",
        "email_sha256",
        "--id-type",
        "email-sha256",
        "--report",
        &s.p("platform.json"),
    ]));
    let addr = server.bound_addr();
    // The brand's own machine: no store in its environment at all.
    let client = Running::start(&[
        "connect",
        "--quiet",
        "--peer",
        &addr.to_string(),
        "--identity",
        &s.p("brand-id"),
        "--peer-fingerprint",
        &s.platform_fp,
        "--input",
        &s.p("customers.csv.gz"),
        "--id-column",
        "email",
        "--id-type",
        "email",
        "--report",
        &s.p("brand.json"),
    ]);
    let (client, _) = client.wait(LIMIT);
    let (server, _) = server.wait(LIMIT);
    assert!(client.status.success(), "connect failed: {}", text(&client.stderr));
    assert!(server.status.success(), "serve failed: {}", text(&server.stderr));

    let (brand_report, platform_report) = (report(&s, "brand"), report(&s, "platform"));
    assert_eq!(brand_report["overlap"], OVERLAP as u64);
    assert_eq!(platform_report["overlap"], OVERLAP as u64);
    assert_eq!(platform_report["own_size"], PLATFORM_ROWS as u64);
    let input = &platform_report["input"];
    assert_eq!(input["rows_read"], PLATFORM_ROWS as u64);
    let parts = input["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["path"].as_str().unwrap()).collect();
    let want: Vec<String> = (0..3).map(|i| bucket.url(&format!("audience/part-{i:05}.parquet"))).collect();
    assert_eq!(names, want, "three parts in key order, _SUCCESS left out");
    assert!(parts.iter().all(|p| p["compression"] == "parquet"), "{parts:?}");
    assert_eq!(brand_report["input"]["parts"][0]["compression"], "gzip");
}

#[test]
fn index_build_reads_parquet_parts_from_s3_as_it_reads_them_from_disk() {
    let Some(endpoint) = S3.endpoint_or_skip("index build --input s3://") else { return };
    let bucket = Bucket::create(&endpoint, "index");
    let (_, platform) = people();
    upload_audience(|key, bytes| bucket.put(key, bytes), &platform);
    assert_builds_like_disk(&Parties::new(), &platform, &mut bucket.venn(), &bucket.url("audience/"));
}

#[test]
fn store_failures_are_one_line_errors_naming_the_url() {
    let Some(endpoint) = S3.endpoint_or_skip("store failures") else { return };
    let bucket = Bucket::create(&endpoint, "failures");
    bucket.put("lists/part-0.csv", b"email\nalice@example.com\n".to_vec());
    let s = Parties::new();
    let run = |command: &mut Command, input: &str| index_build_outcome(command, &s, input);
    let (code, err) = run(&mut bucket.venn(), &bucket.url("nothing-here/"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(&format!("{} holds no object", bucket.url("nothing-here/"))), "{err}");

    let (code, err) = run(&mut bucket.venn(), "s3://venn-no-such-bucket-anywhere/lists/");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot read s3://venn-no-such-bucket-anywhere/lists/"), "{err}");
    assert!(err.contains("the store answered 404 Not Found (NoSuchBucket)"), "{err}");
    assert!(err.contains("check the URL and the credentials"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");

    // Plain HTTP to the endpoint only when allowed.
    let (code, err) = run(bucket.venn().env_remove("AWS_ALLOW_HTTP"), &bucket.url("lists/"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("set AWS_ALLOW_HTTP=true"), "{err}");

    let (code, err) = run(&mut bucket.venn(), &bucket.url("lists/part-*.parquet"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("matches no object"), "{err}");
}

#[test]
fn a_plain_url_reads_one_public_file_by_ranges() {
    let Some(endpoint) = S3.endpoint_or_skip("--input http://") else { return };
    let bucket = Bucket::create(&endpoint, "http");
    let (brand, _) = people();
    let gz = write_csv_gz(&brand, SideFormat::Messy, Vec::new()).unwrap();
    unsigned_put(&endpoint, &format!("/{}/exports/customers.csv.gz", bucket.name), &gz);
    let s = Parties::new();
    std::fs::write(s.path("customers.csv.gz"), &gz).unwrap();
    // No credentials at all: a public file.
    let mut anonymous = Command::new(VENN);
    anonymous.env_remove("AWS_ACCESS_KEY_ID");
    let plain = ["email", "email"];
    let url = format!("{}/{}/exports/customers.csv.gz", endpoint.trim_end_matches('/'), bucket.name);
    let remote = index_build_counts(&mut anonymous, &s, &url, plain, "index-http");
    assert!(remote.starts_with(&format!("{} distinct", venn_cli::report::group(BRAND_ROWS as u64))), "{remote}");
    assert_eq!(remote, index_build_counts(&mut Command::new(VENN), &s, &s.p("customers.csv.gz"), plain, "index-local"));
}
