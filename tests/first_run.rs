//! What a newcomer hits on a first run (issue 9), end to end against the
//! built binary: each mistake gets its exit code and a message that says
//! what to do.

mod cli_support;

use std::path::Path;

use cli_support::{keygen, silent_port, text, venn, Parties};

/// What this file's tests do with both identities ([`Parties`]).
impl Parties {
    /// Two identities and a pair of generated files in a temporary directory.
    fn with_lists() -> Self {
        let parties = Parties::new();
        let out = venn(&[
            "gen",
            "--rows-a",
            "1200",
            "--rows-b",
            "1100",
            "--overlap",
            "300",
            "--seed",
            "3",
            "--out-a",
            &parties.p("customers.csv"),
            "--out-b",
            &parties.p("users.csv"),
            "--format-b",
            "sha256",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        parties
    }

    /// `venn connect` as the brand to `peer`, with extra flags.
    fn connect(&self, peer: &str, extra: &[&str]) -> std::process::Output {
        let (identity, input) = (self.p("brand-id"), self.p("customers.csv"));
        let mut args = vec!["connect", "--peer", peer, "--identity", &identity, "--input", &input];
        args.extend_from_slice(extra);
        if !extra.contains(&"--peer-fingerprint") {
            args.extend(["--peer-fingerprint", &self.platform_fp]);
        }
        venn(&args)
    }
}

fn path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_owned()
}

#[test]
fn gen_prints_counts_with_separators_and_refuses_an_impossible_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (path(&dir, "a.csv"), path(&dir, "b.csv"));
    let out =
        venn(&["gen", "--rows-a", "12000", "--rows-b", "1500", "--overlap", "1000", "--out-a", &a, "--out-b", &b]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("Wrote 12,000 rows") && said.contains("true overlap 1,000"), "{said}");

    let out = venn(&["gen", "--rows-a", "100", "--rows-b", "50", "--overlap", "60", "--out-a", &a, "--out-b", &b]);
    assert_eq!(out.status.code(), Some(2), "an overlap above the smaller list is a usage error");
    assert!(
        text(&out.stderr).contains("--overlap 60 is larger than the smaller list (50 rows)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn fingerprint_prints_what_keygen_printed() {
    let dir = tempfile::tempdir().unwrap();
    let fp = keygen(&dir.path().join("me"));
    let out = venn(&["fingerprint", &path(&dir, "me")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("Fingerprint: {fp}")), "{}", text(&out.stdout));
}

#[test]
fn a_missing_identity_suggests_keygen() {
    let s = Parties::with_lists();
    let missing = s.p("nobody");
    let out = venn(&["fingerprint", &missing]);
    assert_eq!(out.status.code(), Some(3));
    let said = text(&out.stderr);
    assert!(said.contains(&format!("create one with `venn keygen --out {missing}`")), "{said}");
    assert!(!Path::new(&missing).exists(), "nothing is created on the user's behalf");
}

#[test]
fn pinning_our_own_fingerprint_is_named_as_such() {
    let s = Parties::with_lists();
    let out = s.connect("127.0.0.1:9", &["--peer-fingerprint", &s.brand_fp]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is this party's own fingerprint"), "{}", text(&out.stderr));
}

#[test]
fn a_column_of_digests_read_as_email_names_the_right_type() {
    let s = Parties::with_lists();
    let (identity, input) = (s.p("platform-id"), s.p("users.csv"));
    let out = venn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--identity",
        &identity,
        "--peer-fingerprint",
        &s.brand_fp,
        "--input",
        &input,
        "--id-column",
        "email_sha256",
    ]);
    assert_eq!(out.status.code(), Some(3), "bad input");
    let said = text(&out.stderr);
    assert!(said.contains("all 1,100 rows of") && said.contains("(1,100 malformed_email)"), "{said}");
    assert!(said.contains("read it with --id-type email-sha256"), "{said}");
}

#[test]
fn a_utf16_file_is_refused_with_what_to_do() {
    let s = Parties::with_lists();
    let utf8 = std::fs::read_to_string(s.p("customers.csv")).unwrap();
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(utf8.encode_utf16().flat_map(u16::to_le_bytes)).collect();
    std::fs::write(s.p("customers.csv"), utf16).unwrap();
    let out = s.connect("127.0.0.1:9", &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("is UTF-16 text: save it as UTF-8"), "{}", text(&out.stderr));
}

#[test]
fn a_peer_that_never_answers_is_named_with_what_to_check() {
    let s = Parties::with_lists();
    let (_socket, nobody) = silent_port();
    let out = s.connect(&nobody.to_string(), &["--connect-timeout", "1"]);
    assert_eq!(out.status.code(), Some(7), "network failure");
    let said = text(&out.stderr);
    assert!(said.contains(&format!("venn: dialing {nobody} for peer")), "says whom it waits for: {said}");
    assert!(said.contains("giving up after 1 s"), "{said}");
    assert!(said.contains("check that `venn serve` is running there"), "{said}");
    assert!(said.contains(&format!("UDP port {} is open", nobody.port())), "{said}");
}

#[test]
fn an_unresolvable_host_is_a_network_failure() {
    let s = Parties::with_lists();
    let out = s.connect("venn-test-host.invalid", &[]);
    assert_eq!(out.status.code(), Some(7));
    let said = text(&out.stderr);
    assert!(said.contains("cannot resolve the peer's address venn-test-host.invalid:7447"), "{said}");
}

#[test]
fn a_malformed_peer_address_is_a_usage_error_with_the_expected_form() {
    let s = Parties::with_lists();
    let out = s.connect("127.0.0.1:port", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected HOST:PORT such as"), "{}", text(&out.stderr));
}

#[test]
fn help_shows_global_options_apart_and_no_colour_codes_into_a_pipe() {
    let out = venn(&["--help"]);
    let said = text(&out.stdout);
    assert!(said.contains("Global options:"), "{said}");
    assert!(!said.contains('\u{1b}'), "no escape codes when stdout is not a terminal");
    let keygen_help = text(&venn(&["keygen", "--help"]).stdout);
    assert!(!keygen_help.contains("--threads"), "--threads only where curve work runs: {keygen_help}");
    let serve_help = text(&venn(&["serve", "--help"]).stdout);
    assert!(serve_help.contains("--threads") && serve_help.contains("--peers-file"), "{serve_help}");
    let s = Parties::with_lists();
    let (_socket, nobody) = silent_port();
    let out = s.connect(&nobody.to_string(), &["-vv", "--connect-timeout", "1"]);
    let logs = text(&out.stderr);
    assert!(logs.contains("DEBUG") || logs.contains("INFO"), "-vv logs: {logs}");
    assert!(!logs.contains('\u{1b}'), "no colour codes in logs into a pipe: {logs}");
}
