//! Dirty input at the level of the `venn` binary: what a user sees when the
//! file they exported by hand is malformed. `crates/venn-ids` tests each
//! rule on its own; these check that the binary turns them into counted
//! skips in the report, or into a one-line error naming the file with exit
//! code 3, as `docs/identifiers.md` says.
//!
//! The peer is an honest in-process party whose list is the clean version
//! of the dirty one, so the overlap also shows that the dirty rows that
//! survived were read right (no byte-order mark, no stray `\r`).

mod cli_support;

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use cli_support::{text, VENN};
use venn_ids::{EmailProfile, IdType, Normalizer, Region};
use venn_net::{run_session, Identity, NetConfig, PeerPins, Server};
use venn_protocol::{Element, ElementSet, Policy, SessionConfig};

fn email_set(emails: &[&str]) -> ElementSet {
    let mut normalizer = Normalizer::new(IdType::Email, EmailProfile::Standard, Region::US);
    ElementSet::new(emails.iter().map(|e| Element(normalizer.digest(e.as_bytes()).unwrap())).collect()).0
}

/// Runs `venn connect` on `csv` against an honest in-process party holding
/// `peer`; returns the binary's output and the JSON report, if written.
async fn connect_with(csv: &[u8], peer: &[&str], extra: &[&str]) -> (Output, Option<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let brand = Identity::generate().unwrap();
    brand.save(&dir.path().join("id")).unwrap();
    std::fs::write(dir.path().join("input.csv"), csv).unwrap();
    let net = NetConfig { handshake_timeout: Duration::from_secs(5), ..NetConfig::default() };
    let platform = Identity::generate().unwrap();
    let platform_fp = platform.fingerprint();
    let server =
        Server::bind("127.0.0.1:0".parse().unwrap(), platform, PeerPins::new([brand.fingerprint()]), net).unwrap();
    let addr = server.local_addr().unwrap();
    let set = email_set(peer);
    let honest = tokio::spawn(async move {
        let conn = server.accept().await?;
        run_session(conn, SessionConfig::new(Policy::permissive(), vec![]), set, &net, |_| {}).await
    });
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let mut command = Command::new(VENN);
    command
        .args(["connect", "--quiet", "--peer", &addr.to_string(), "--identity", &p("id")])
        .args(["--peer-fingerprint", &platform_fp.to_hex(), "--input", &p("input.csv"), "--id-column", "email"])
        .args(["--handshake-timeout", "5", "--report", &p("report.json")])
        .args(extra);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    honest.abort();
    let report =
        std::fs::read_to_string(dir.path().join("report.json")).ok().map(|s| serde_json::from_str(&s).unwrap());
    (out, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_dirty_row_is_a_counted_skip_and_the_clean_rows_match() {
    // A BOM, CRLF line ends, and one row of each kind of dirt.
    let mut csv: Vec<u8> = "\u{feff}id,email,note\r\n".into();
    csv.extend_from_slice(b"1,  Alice@Example.COM ,x\r\n"); // valid after trimming and lowercasing
    csv.extend_from_slice(b"2,bob@example.com\r\n"); // valid: short but reaches the column
    csv.extend_from_slice(b"3\r\n"); // ragged_row
    csv.extend_from_slice(b"4,\"carol@example.com\",x\r\n"); // valid, quoted
    csv.extend_from_slice(b"5,\xff\xfe@example.com,x\r\n"); // invalid_utf8
    csv.extend_from_slice(b"6,   ,x\r\n"); // empty: normalizes to nothing
    csv.extend_from_slice(b"7,n/a,x\r\n"); // malformed_email
    csv.extend_from_slice(b"8,@,x\r\n"); // malformed_email
    csv.extend_from_slice(b"9,ALICE@example.com,x\r\n"); // valid, a duplicate of row 1
    csv.extend_from_slice(b"10,"); // a 10 MB line: malformed_email (too long)
    csv.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    csv.extend_from_slice(b"@example.com,x\r\n");
    csv.extend_from_slice(b"\r\n"); // a blank line: not a row
    csv.extend_from_slice(b"12,dave@example.com,\"a note\r\non two lines\"\r\n"); // valid
    csv.extend_from_slice(b"13,\"erin@example.com,x\r\n"); // malformed_csv: the quote is never closed

    let peer = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com", "frank@example.com"];
    let (out, report) = connect_with(&csv, &peer, &["--min-set-size", "0"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = report.expect("a report");
    let input = &report["input"];
    assert_eq!(input["rows_read"], 12, "{input}");
    assert_eq!(input["valid"], 5, "{input}");
    assert_eq!(input["duplicates"], 1, "{input}");
    assert_eq!(input["distinct"], 4, "{input}");
    let skipped = &input["skipped"];
    assert_eq!(skipped["ragged_row"], 1, "{skipped}");
    assert_eq!(skipped["invalid_utf8"], 1, "{skipped}");
    assert_eq!(skipped["empty"], 1, "{skipped}");
    assert_eq!(skipped["malformed_email"], 3, "{skipped}");
    assert_eq!(skipped["malformed_csv"], 1, "{skipped}");
    // Alice, Bob, Carol and Dave: every clean row matched.
    assert_eq!(report["overlap"], 4);
    // The human summary counts the skips by reason too.
    let stdout = text(&out.stdout);
    assert!(stdout.contains("malformed_email") && stdout.contains("ragged_row"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifiers_that_all_normalize_to_nothing_are_bad_input_with_the_skip_reasons() {
    let csv = b"email\n   \nn/a\n-\n\"\"\n@\n";
    let (out, report) = connect_with(csv, &["alice@example.com"], &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("all 5 rows of"), "{stderr}");
    assert!(stderr.contains("(2 empty, 3 malformed_email)"), "{stderr}");
    assert!(stderr.contains("check that --id-column \"email\" and --id-type email describe the file"), "{stderr}");
    assert!(report.is_none());
}

/// Runs `venn connect` on a file that fails before any peer is contacted.
fn input_error(csv: &[u8]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    Identity::generate().unwrap().save(&dir.path().join("id")).unwrap();
    let path = dir.path().join("input.csv");
    std::fs::write(&path, csv).unwrap();
    input_error_at(&path, dir.path())
}

fn input_error_at(input: &Path, dir: &Path) -> (Option<i32>, String) {
    let out = Command::new(VENN)
        .args(["connect", "--quiet", "--peer", "127.0.0.1:9", "--identity"])
        .arg(dir.join("id"))
        .args(["--peer-fingerprint", &"ab".repeat(32), "--id-column", "email", "--input"])
        .arg(input)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    (out.status.code(), stderr)
}

#[test]
fn header_without_the_id_column_lists_the_columns_cleanly() {
    // The BOM and the CR must not leak into the names shown.
    let (code, err) = input_error(b"\xef\xbb\xbfid,mail\r\n1,a@b.co\r\n");
    assert_eq!(code, Some(3));
    assert!(err.contains(r#"its columns are: "id", "mail""#), "{err}");
}

#[test]
fn a_file_without_its_header_row_does_not_print_its_first_row() {
    // The first row is data; listing it as "columns" would print identifiers.
    let (code, err) = input_error(b"alice@example.com,+1 212 555 0134\nbob@example.com,+1 415 555 0199\n");
    assert_eq!(code, Some(3));
    assert!(err.contains("is the header row missing?"), "{err}");
    assert!(!err.contains("alice") && !err.contains("555"), "{err}");
}

#[test]
fn a_file_of_only_a_bom_and_blank_lines_is_empty() {
    let (code, err) = input_error(b"\xef\xbb\xbf\r\n\r\n\n");
    assert_eq!(code, Some(3));
    assert!(err.contains("input.csv is empty"), "{err}");
}

#[test]
fn a_directory_as_input_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    Identity::generate().unwrap().save(&dir.path().join("id")).unwrap();
    let (code, err) = input_error_at(dir.path(), dir.path());
    assert_eq!(code, Some(3), "{err}");
}

#[test]
fn a_file_that_grows_while_it_is_read_is_refused() {
    // An export still being written: rows keep arriving while venn reads.
    let dir = tempfile::tempdir().unwrap();
    Identity::generate().unwrap().save(&dir.path().join("id")).unwrap();
    let path = dir.path().join("input.csv");
    let mut csv = String::from("email\n");
    for i in 0..100_000 {
        csv += &format!("user{i}@example.com\n");
    }
    std::fs::write(&path, csv).unwrap();
    let mut writer = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    let mut child = Command::new(VENN)
        .args(["connect", "--quiet", "--peer", "127.0.0.1:9", "--handshake-timeout", "1", "--identity"])
        .arg(dir.path().join("id"))
        .args(["--peer-fingerprint", &"ab".repeat(32), "--id-column", "email", "--input"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut row = 0u64;
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "venn did not finish");
        writeln!(writer, "late{row}@example.com").unwrap();
        row += 1;
        std::thread::sleep(Duration::from_millis(1));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("input.csv changed while it was being read (its size went from"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
