//! Every exit code of `venn`, end to end, one test each (see
//! `crates/venn-cli/src/exit.rs` and the README). Code 6, a peer that
//! breaks the protocol, needs an adversarial peer: it is tested against the
//! binary in `tests/hostile_peer.rs` (`binary_exits_6_...`); code 5 is also
//! tested for a peer not on a service's list in `tests/service.rs`.

mod cli_support;

use std::{
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

use cli_support::{free_port, keygen, text, venn, VENN};

/// Two parties with small generated lists (brand 300, platform 200,
/// overlap 50) and their identities.
struct Pair {
    dir: tempfile::TempDir,
    brand_fp: String,
    platform_fp: String,
    port: u16,
}

impl Pair {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let brand_fp = keygen(&dir.path().join("brand-id"));
        let platform_fp = keygen(&dir.path().join("platform-id"));
        let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        let out = venn(&[
            "gen",
            "--rows-a",
            "300",
            "--rows-b",
            "200",
            "--overlap",
            "50",
            "--out-a",
            &p("brand.csv"),
            "--out-b",
            &p("platform.csv"),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let port = free_port();
        Self { dir, brand_fp, platform_fp, port }
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn serve(&self, extra: &[&str]) -> Child {
        Command::new(VENN)
            .args(["serve", "--quiet", "--listen", &format!("127.0.0.1:{}", self.port), "--identity"])
            .args([&self.p("platform-id"), "--peer-fingerprint", &self.brand_fp, "--input", &self.p("platform.csv")])
            .args(["--handshake-timeout", "5", "--report", &self.p("platform.json")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// `venn connect` with `pin`, reading `input` (by default brand.csv).
    fn connect(&self, pin: &str, extra: &[&str]) -> Output {
        self.connect_reading("brand.csv", pin, extra)
    }

    fn connect_reading(&self, input: &str, pin: &str, extra: &[&str]) -> Output {
        std::thread::sleep(Duration::from_millis(200));
        Command::new(VENN)
            .args(["connect", "--quiet", "--peer", &format!("127.0.0.1:{}", self.port), "--identity"])
            .args([&self.p("brand-id"), "--peer-fingerprint", pin, "--input", &self.p(input)])
            .args(["--report", &self.p("brand.json")])
            .args(extra)
            .output()
            .unwrap()
    }

    fn no_reports(&self) {
        assert!(!self.dir.path().join("brand.json").exists());
        assert!(!self.dir.path().join("platform.json").exists());
    }
}

#[test]
fn exit_0_success() {
    let pair = Pair::new();
    let server = pair.serve(&["--min-set-size", "0"]);
    let client = pair.connect(&pair.platform_fp, &["--min-set-size", "0", "--handshake-timeout", "5"]);
    let server = server.wait_with_output().unwrap();
    assert_eq!(client.status.code(), Some(0), "{}", text(&client.stderr));
    assert_eq!(server.status.code(), Some(0), "{}", text(&server.stderr));
    assert!(text(&client.stdout).contains("Overlap"), "{}", text(&client.stdout));
}

#[test]
fn exit_1_other_failure() {
    // Not a usage, input, policy, peer or network problem: here, a request
    // the generator cannot meet.
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let out =
        venn(&["gen", "--rows-a", "10", "--rows-b", "10", "--overlap", "20", "--out-a", &p("a"), "--out-b", &p("b")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("overlap 20 is larger than a list"), "{}", text(&out.stderr));
}

#[test]
fn exit_2_usage_error() {
    for args in [
        &["connect", "--no-such-flag"][..],
        &["serve", "--identity", "x", "--input", "y", "--max-sessions", "0", "--report-dir", "r"],
        &["serve", "--identity", "x", "--input", "y", "--peers", "p.txt"],
        &["connect", "--peer", "h:1", "--identity", "x", "--input", "y", "--peer-fingerprint", "not-hex"],
    ] {
        let out = venn(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn exit_3_bad_input() {
    let pair = Pair::new();
    // No such file; a missing column; a peers file with a bad line.
    let out = pair.connect_reading("nope.csv", &pair.platform_fp, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = pair.connect(&pair.platform_fp, &["--id-column", "no_such_column"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    std::fs::write(pair.p("peers.txt"), "# brands\nnot-a-fingerprint\n").unwrap();
    let out = venn(&[
        "serve",
        "--identity",
        &pair.p("platform-id"),
        "--input",
        &pair.p("platform.csv"),
        "--max-sessions",
        "2",
        "--report-dir",
        &pair.p("reports"),
        "--peers",
        &pair.p("peers.txt"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("peers.txt line 2"), "{stderr}");
    pair.no_reports();
}

#[test]
fn exit_4_policy_refusal_when_the_peer_list_is_below_our_minimum() {
    // The platform has 200 identifiers; the brand requires at least 250.
    // Both parties apply the stricter policy, so both refuse.
    let pair = Pair::new();
    let server = pair.serve(&["--min-set-size", "0"]);
    let client = pair.connect(&pair.platform_fp, &["--min-set-size", "250", "--handshake-timeout", "5"]);
    let server = server.wait_with_output().unwrap();
    let (client_err, server_err) = (text(&client.stderr), text(&server.stderr));
    assert_eq!(client.status.code(), Some(4), "{client_err}");
    assert_eq!(server.status.code(), Some(4), "{server_err}");
    // Each side's Hello leaves before it reads the other's, so each sees the
    // sizes that explain the refusal.
    assert!(client_err.contains("the peer's set has 200 identifiers, below the minimum of 250"), "{client_err}");
    assert!(server_err.contains("our set has 200 identifiers, below the minimum of 250"), "{server_err}");
    pair.no_reports();
}

#[test]
fn exit_5_peer_authentication_failure() {
    let pair = Pair::new();
    let server = pair.serve(&["--min-set-size", "0"]);
    let stranger = "cd".repeat(32);
    let client = pair.connect(&stranger, &["--min-set-size", "0", "--handshake-timeout", "5"]);
    let server = server.wait_with_output().unwrap();
    assert_eq!(client.status.code(), Some(5), "{}", text(&client.stderr));
    assert_eq!(server.status.code(), Some(5), "{}", text(&server.stderr));
    pair.no_reports();
}

#[test]
fn exit_7_network_failure_when_nobody_answers() {
    let pair = Pair::new();
    // Nobody listens on the pair's port. (The small list passes its own
    // policy check, which happens before dialing.)
    let out = pair.connect(&pair.platform_fp, &["--min-set-size", "0", "--handshake-timeout", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("did not answer within 1s"), "{stderr}");
    pair.no_reports();
}
