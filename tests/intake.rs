//! End to end, issue 12's first half: `--input` reads lists where they
//! live. A brand runs `venn connect --input customers.csv.gz` against a
//! platform's plain CSV and both find the exact overlap; a directory of
//! gzip part files reads as the one file they were split from; `--input -`
//! reads a pipe; a damaged file or part is a one-line error naming it.
//! Second half: a platform serves `users.parquet` against the brand's
//! `customers.csv.gz`, with the same exact overlap.

mod cli_support;

use std::{
    io::Write,
    net::SocketAddr,
    process::{Command, Stdio},
    time::Duration,
};

use cli_support::{generate_lists, text, venn, Parties, Running, VENN};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// Rows of the brand's list.
const BRAND_ROWS: usize = 3_000;
/// Rows of the platform's list.
const PLATFORM_ROWS: usize = 2_400;
/// People in both.
const OVERLAP: usize = 1_100;

/// What this file's tests do with both identities ([`Parties`]).
impl Parties {
    /// `venn gen` of the walkthrough's two lists (messy emails for the
    /// brand, SHA-256 for the platform) as `customers.EXT` and `users.EXT`.
    fn generate(&self, format: &str) {
        self.generate_with(format, &[]);
    }

    /// [`Parties::generate`] with more `venn gen` arguments.
    fn generate_with(&self, format: &str, extra: &[&str]) {
        let (customers, users) = (self.p(&format!("customers.{format}")), self.p(&format!("users.{format}")));
        let args: Vec<&str> = ["--format", format].into_iter().chain(extra.iter().copied()).collect();
        generate_lists([&customers, &users], [BRAND_ROWS, PLATFORM_ROWS, OVERLAP], 12, &args);
    }

    /// `venn serve` of the platform's `input`, on an ephemeral port.
    fn serve(&self, input: &str) -> (Running, SocketAddr) {
        let args = self.args(
            ["serve", "--listen", "127.0.0.1:0", "platform", "email_sha256", "email-sha256"],
            &self.brand_fp,
            input,
        );
        let server = Running::start(&args);
        let addr = server.bound_addr();
        (server, addr)
    }

    /// The arguments of one party: `[command, address flag, address, name,
    /// id column, id type]`; its identity and report are named after it.
    fn args(&self, [command, flag, address, name, column, id_type]: [&str; 6], peer: &str, input: &str) -> Vec<String> {
        [
            command,
            "--quiet",
            flag,
            address,
            "--identity",
            &self.p(&format!("{name}-id")),
            "--peer-fingerprint",
            peer,
            "--input",
            input,
            "--id-column",
            column,
            "--id-type",
            id_type,
            "--report",
            &self.p(&format!("{name}.json")),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn connect_args(&self, addr: SocketAddr, input: &str) -> Vec<String> {
        self.args(["connect", "--peer", &addr.to_string(), "brand", "email", "email"], &self.platform_fp, input)
    }

    fn report(&self, name: &str) -> serde_json::Value {
        let path = self.path(&format!("{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is JSON")
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(data), &mut out).unwrap();
    out
}

/// The platform serves `users`, the brand connects with `customers`; both
/// succeed and report the generator's overlap.
fn match_lists(s: &Parties, users: &str, customers: &str) {
    let (server, addr) = s.serve(&s.p(users));
    let client = Running::start(&s.connect_args(addr, &s.p(customers)));
    let (client, _) = client.wait(LIMIT);
    let (server, _) = server.wait(LIMIT);
    assert!(client.status.success(), "connect failed: {}", text(&client.stderr));
    assert!(server.status.success(), "serve failed: {}", text(&server.stderr));
    assert_exact_overlap(s);
}

/// Both reports give the generator's overlap and both sides' sizes.
fn assert_exact_overlap(s: &Parties) {
    let (brand, platform) = (s.report("brand"), s.report("platform"));
    assert_eq!(brand["overlap"], OVERLAP as u64);
    assert_eq!(platform["overlap"], OVERLAP as u64);
    assert_eq!(brand["own_size"], BRAND_ROWS as u64);
    assert_eq!(brand["peer_size"], PLATFORM_ROWS as u64);
}

#[test]
fn a_brand_connects_with_customers_csv_gz_and_both_find_the_exact_overlap() {
    let s = Parties::new();
    s.generate("csv.gz");
    s.generate("csv");
    let gz = std::fs::read(s.path("customers.csv.gz")).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "venn gen --format csv.gz writes gzip");
    assert_eq!(gunzip(&gz), std::fs::read(s.path("customers.csv")).unwrap(), "the same rows as --format csv");

    match_lists(&s, "users.csv", "customers.csv.gz");

    let input = &s.report("brand")["input"];
    assert_eq!(input["rows_read"], BRAND_ROWS as u64);
    assert_eq!(input["parts"].as_array().unwrap().len(), 1);
    assert_eq!(input["parts"][0]["compression"], "gzip");
    assert_eq!(input["parts"][0]["rows_read"], BRAND_ROWS as u64);
    assert_eq!(s.report("platform")["input"]["parts"][0]["compression"], "plain");
}

#[test]
fn a_platform_serves_users_parquet_and_both_find_the_exact_overlap() {
    let s = Parties::new();
    // Row groups of 1,000 rows: the platform's 2,400 rows span three.
    s.generate_with("parquet", &["--row-group-rows", "1000"]);
    s.generate("csv.gz");
    assert_eq!(&std::fs::read(s.path("users.parquet")).unwrap()[..4], b"PAR1");

    match_lists(&s, "users.parquet", "customers.csv.gz");

    let input = &s.report("platform")["input"];
    assert_eq!(input["rows_read"], PLATFORM_ROWS as u64);
    assert_eq!(input["parts"][0]["compression"], "parquet");
    assert_eq!(input["parts"][0]["rows_read"], PLATFORM_ROWS as u64);
    assert_eq!(s.report("brand")["input"]["parts"][0]["compression"], "gzip");
}

/// `venn index build` of `input`: the line it prints about what it read.
fn index_build_read_line(s: &Parties, input: &str, out: &str) -> String {
    let output = venn(&[
        "index",
        "build",
        "--identity",
        &s.p("platform-id"),
        "--input",
        input,
        "--id-column",
        "email_sha256",
        "--id-type",
        "email-sha256",
        "--out",
        &s.p(out),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    stdout.lines().find(|l| l.starts_with("Read ")).unwrap_or_else(|| panic!("no Read line: {stdout}")).to_owned()
}

/// Splits a CSV's data rows into `n` parts, each with the header.
fn split(csv: &[u8], n: usize) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let per = rows.len().div_ceil(n);
    rows.chunks(per).map(|chunk| format!("{header}\n{}\n", chunk.join("\n")).into_bytes()).collect()
}

#[test]
fn a_directory_of_three_gzip_parts_reads_as_the_one_file() {
    let s = Parties::new();
    s.generate("csv");
    let whole = std::fs::read(s.path("users.csv")).unwrap();
    let parts = split(&whole, 3);
    assert_eq!(parts.len(), 3);
    let dir = s.path("users");
    std::fs::create_dir(&dir).unwrap();
    for (i, part) in parts.iter().enumerate() {
        std::fs::write(dir.join(format!("part-{i:05}.csv.gz")), gzip(part)).unwrap();
    }
    std::fs::write(dir.join("_SUCCESS"), b"").unwrap();

    let one = index_build_read_line(&s, &s.p("users.csv"), "index-one");
    let three = index_build_read_line(&s, dir.to_str().unwrap(), "index-parts");
    let counts = |line: &str| line.split_once(": ").map(|(_, rest)| rest.to_owned()).unwrap();
    let want = format!("{} distinct identifiers", venn_cli::report::group(PLATFORM_ROWS as u64));
    assert!(counts(&one).starts_with(&want), "{one}");
    assert_eq!(counts(&three), counts(&one), "{three} vs {one}");

    // A glob of the same parts reads the same.
    let pattern = format!("{}/part-*.csv.gz", dir.display());
    let globbed = index_build_read_line(&s, &pattern, "index-glob");
    assert_eq!(counts(&globbed), counts(&one));
}

#[test]
fn input_dash_reads_a_gzip_list_from_a_pipe() {
    let s = Parties::new();
    s.generate("csv.gz");
    s.generate("csv");
    let (server, addr) = s.serve(&s.p("users.csv"));
    let mut client = Command::new(VENN)
        .args(s.connect_args(addr, "-"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("venn starts");
    let gz = std::fs::read(s.path("customers.csv.gz")).unwrap();
    let mut stdin = client.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&gz));
    let client = client.wait_with_output().unwrap();
    feeder.join().unwrap().expect("the pipe takes the whole file");
    let (server, _) = server.wait(LIMIT);
    assert!(client.status.success(), "connect failed: {}", text(&client.stderr));
    assert!(server.status.success(), "serve failed: {}", text(&server.stderr));
    assert_exact_overlap(&s);
    let input = &s.report("brand")["input"];
    assert_eq!(input["path"], "-");
    assert_eq!(input["parts"][0]["compression"], "gzip");
}

#[test]
fn a_truncated_gzip_is_a_one_line_error_naming_the_file() {
    let s = Parties::new();
    s.generate("csv.gz");
    let whole = std::fs::read(s.path("customers.csv.gz")).unwrap();
    let cut = s.path("cut.csv.gz");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    let (code, err) = s.input_error(&cut, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cut.csv.gz is not a readable gzip file"), "{err}");
}

#[test]
fn a_bad_part_in_a_directory_is_named() {
    let s = Parties::new();
    s.generate("csv");
    let parts = split(&std::fs::read(s.path("customers.csv")).unwrap(), 3);
    let dir = s.path("customers");
    std::fs::create_dir(&dir).unwrap();
    for (i, part) in parts.iter().enumerate() {
        let gz = gzip(part);
        let bytes = if i == 1 { gz[..gz.len() - 10].to_vec() } else { gz };
        std::fs::write(dir.join(format!("part-{i}.csv.gz")), bytes).unwrap();
    }
    let (code, err) = s.input_error(&dir, &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("part-1.csv.gz is not a readable gzip file"), "{err}");
}
