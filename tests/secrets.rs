//! What a run leaves behind. Two `venn` processes match at the most verbose
//! log level (`-vvv` and `VENN_LOG=trace`, which includes QUIC and TLS
//! traces), writing JSON and HTML reports; then every byte they printed and
//! every file they wrote is searched for every identifier of both inputs, in
//! every form it could leak in: the field as written, trimmed, normalized,
//! the SHA-256 of the normalized form in hex (either case) and base64, and
//! the 32-byte identifier digest in hex (either case) and base64 (standard
//! and URL-safe, padded or not). None may appear anywhere but in the inputs.
//!
//! Also here: key files are created readable by their owner alone and
//! refused when group or others can read them.

mod cli_support;

use std::{
    collections::HashMap,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use cli_support::{generate_lists, keygen, text, venn, Running, VENN};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);
use venn_ids::{digest::sha256, normalize_email, EmailProfile, IdType, Normalizer, Region};

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> [u8; 32] {
    std::array::from_fn(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
}

/// Base64 (RFC 4648), standard or URL-safe alphabet, padded.
fn base64(bytes: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
    }
    out
}

/// Every form of 32 secret bytes: hex (matched in any case) and base64.
fn forms_of_bytes(bytes: &[u8; 32], case_free: &mut Vec<String>, exact: &mut Vec<String>) {
    case_free.push(hex(bytes));
    for url_safe in [false, true] {
        let b64 = base64(bytes, url_safe);
        // Unpadded is a prefix of padded: searching for it covers both.
        exact.push(b64.trim_end_matches('=').to_owned());
    }
}

/// Needles searched in lowercased text (`case_free`) and as they are
/// (`exact`), found with one hash lookup per position: an index of every
/// needle's first 12 bytes.
struct Needles {
    case_free: Vec<String>,
    exact: Vec<String>,
}

const PREFIX: usize = 12;

impl Needles {
    /// Every needle found in `haystack`.
    fn find_in(&self, haystack: &[u8]) -> Vec<String> {
        let lower = haystack.to_ascii_lowercase();
        let mut found = find(&self.case_free, &lower);
        found.extend(find(&self.exact, haystack));
        found
    }
}

fn find(needles: &[String], haystack: &[u8]) -> Vec<String> {
    let mut index: HashMap<&[u8], Vec<&str>> = HashMap::new();
    for n in needles {
        assert!(n.len() >= PREFIX, "needle too short to index: {n:?}");
        index.entry(&n.as_bytes()[..PREFIX]).or_default().push(n);
    }
    let mut found = Vec::new();
    for (i, window) in haystack.windows(PREFIX).enumerate() {
        if let Some(candidates) = index.get(window) {
            for n in candidates {
                if haystack[i..].starts_with(n.as_bytes()) {
                    found.push((*n).to_owned());
                }
            }
        }
    }
    found
}

/// The first field of every data row of a generated CSV.
fn first_column(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).collect()
}

/// Every form in which the identifiers of both inputs could leak.
fn needles(brand_csv: &Path, platform_csv: &Path) -> Needles {
    let (mut case_free, mut exact) = (Vec::new(), Vec::new());
    let mut emails = Normalizer::new(IdType::Email, EmailProfile::Standard, Region::US);
    for raw in first_column(brand_csv) {
        exact.push(raw.clone());
        let normalized = normalize_email(&raw, EmailProfile::Standard).expect("generated emails are valid");
        case_free.push(raw.trim().to_ascii_lowercase());
        case_free.push(normalized.clone());
        forms_of_bytes(&sha256(normalized.as_bytes()), &mut case_free, &mut exact);
        forms_of_bytes(&emails.digest(raw.as_bytes()).unwrap(), &mut case_free, &mut exact);
    }
    let mut hashes = Normalizer::new(IdType::EmailSha256, EmailProfile::Standard, Region::US);
    for raw in first_column(platform_csv) {
        let bytes = unhex(&raw);
        forms_of_bytes(&bytes, &mut case_free, &mut exact);
        forms_of_bytes(&hashes.digest(raw.as_bytes()).unwrap(), &mut case_free, &mut exact);
    }
    Needles { case_free, exact }
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_trace_level_run_leaves_no_identifier_in_any_output_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let brand_fp = keygen(&dir.path().join("brand-id"));
    let platform_fp = keygen(&dir.path().join("platform-id"));
    generate_lists([&p("brand.csv"), &p("platform.csv")], [400, 300, 120], 5, &[]);

    let common = ["-vvv", "--batch-size", "64", "--min-set-size", "0", "--handshake-timeout", "30"];
    let run = |args: Vec<String>| {
        Running::start_command(Command::new(VENN).args(args).args(common).env("VENN_LOG", "trace").env("TMPDIR", &tmp))
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let server = run(strings(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--identity",
        &p("platform-id"),
        "--peer-fingerprint",
        &brand_fp,
        "--input",
        &p("platform.csv"),
        "--id-column",
        "email_sha256",
        "--id-type",
        "email-sha256",
        "--report",
        &p("platform.json"),
        "--report-html",
        &p("platform.html"),
    ]));
    let listen = server.bound_addr().to_string();
    let client = run(strings(&[
        "connect",
        "--peer",
        &listen,
        "--identity",
        &p("brand-id"),
        "--peer-fingerprint",
        &platform_fp,
        "--input",
        &p("brand.csv"),
        "--id-column",
        "email",
        "--report",
        &p("brand.json"),
        "--report-html",
        &p("brand.html"),
    ]));
    // Both parties' pipes are drained as they write (`Running`): a party
    // blocked on a full stderr pipe would stall the other.
    let (client, _) = client.wait(LIMIT);
    let (server, _) = server.wait(LIMIT);
    assert!(client.status.success(), "{}", text(&client.stderr));
    assert!(server.status.success(), "{}", text(&server.stderr));
    // The logs are at trace level indeed: QUIC packets are in them.
    let logs = [&client.stdout, &client.stderr, &server.stdout, &server.stderr];
    assert!(text(&client.stderr).contains("TRACE"), "no trace output");
    let logged: usize = logs.iter().map(|l| l.len()).sum();
    // About 70 KB without colour codes (none go into a pipe).
    assert!(logged > 50_000, "only {logged} bytes of output");

    let needles = needles(&dir.path().join("brand.csv"), &dir.path().join("platform.csv"));
    // The search works: it finds the identifiers where they are, in the inputs.
    for input in ["brand.csv", "platform.csv"] {
        let found = needles.find_in(&std::fs::read(dir.path().join(input)).unwrap());
        assert!(found.len() >= 300, "the search found only {} identifiers in {input}", found.len());
    }
    for (name, bytes) in ["client stdout", "client stderr", "server stdout", "server stderr"].iter().zip(logs) {
        let found = needles.find_in(bytes);
        assert!(found.is_empty(), "{name} holds identifiers: {:?}", &found[..found.len().min(5)]);
    }
    let mut searched = 0;
    for file in files(dir.path()) {
        if file.ends_with("brand.csv") || file.ends_with("platform.csv") {
            continue;
        }
        let found = needles.find_in(&std::fs::read(&file).unwrap());
        assert!(found.is_empty(), "{} holds identifiers: {:?}", file.display(), &found[..found.len().min(5)]);
        searched += 1;
    }
    // Two reports of each kind and two identities (key and certificate), at least.
    assert!(searched >= 8, "searched {searched} files");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("brand.json")).unwrap()).unwrap();
    assert_eq!(report["overlap"], 120);
}

#[test]
fn the_search_finds_an_identifier_planted_in_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let brand = dir.path().join("brand.csv");
    let platform = dir.path().join("platform.csv");
    std::fs::write(&brand, "email\n Alice.Smith@Example.COM \n").unwrap();
    std::fs::write(&platform, format!("email_sha256\n{}\n", hex(&sha256(b"bob@example.com")))).unwrap();
    let needles = needles(&brand, &platform);
    let digest =
        Normalizer::new(IdType::Email, EmailProfile::Standard, Region::US).digest(b"alice.smith@example.com").unwrap();
    for planted in [
        "2026-01-01 TRACE peer: alice.smith@example.com".to_owned(),
        format!("DEBUG x={}", hex(&sha256(b"alice.smith@example.com")).to_uppercase()),
        format!("digest {}", base64(&digest, true)),
        format!("hash {}", hex(&sha256(b"bob@example.com"))),
    ] {
        assert!(!needles.find_in(planted.as_bytes()).is_empty(), "missed {planted}");
    }
    assert!(needles.find_in(b"nothing to see here, just a long enough line").is_empty());
}

#[test]
fn keygen_writes_a_key_only_its_owner_can_read_and_venn_refuses_one_others_can() {
    let dir = tempfile::tempdir().unwrap();
    let id = dir.path().join("id");
    keygen(&id);
    let key = id.join("key.pem");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&id).unwrap().permissions().mode() & 0o777, 0o700);
    for mode in [0o640, 0o604, 0o644] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = venn(&[
            "connect",
            "--peer",
            "127.0.0.1:9",
            "--identity",
            id.to_str().unwrap(),
            "--peer-fingerprint",
            &"ab".repeat(32),
            "--input",
            "/dev/null",
        ]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "mode {mode:o}: {stderr}");
        assert!(stderr.contains("chmod 600") && stderr.contains("key.pem"), "{stderr}");
    }
}
