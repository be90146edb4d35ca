//! Every exit code of `venn`, end to end, one test each (see
//! `crates/venn-cli/src/exit.rs` and the README). Code 6, a peer that
//! breaks the protocol, needs an adversarial peer: it is tested against the
//! binary in `tests/hostile_peer.rs` (`binary_exits_6_...`); code 5 is also
//! tested for a peer not on a service's list in `tests/service.rs`.

mod cli_support;

use std::{net::SocketAddr, process::Output, time::Duration};

use cli_support::{keygen, silent_port, text, venn, Running};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// Two parties with small generated lists (brand 300, platform 200,
/// overlap 50) and their identities.
struct Pair {
    dir: tempfile::TempDir,
    brand_fp: String,
    platform_fp: String,
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
        Self { dir, brand_fp, platform_fp }
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// `venn serve` on an ephemeral port; returns once it listens, with the
    /// address it bound.
    fn serve(&self, extra: &[&str]) -> (Running, SocketAddr) {
        let mut args = vec!["serve", "--quiet", "--listen", "127.0.0.1:0", "--identity"];
        let (id, input, report) = (self.p("platform-id"), self.p("platform.csv"), self.p("platform.json"));
        args.extend([id.as_str(), "--peer-fingerprint", &self.brand_fp, "--input", &input]);
        args.extend(["--handshake-timeout", "30", "--report", &report]);
        args.extend(extra);
        let server = Running::start(&args);
        let addr = server.bound_addr();
        (server, addr)
    }

    /// `venn connect` to `peer` with `pin`, reading brand.csv.
    fn connect(&self, peer: SocketAddr, pin: &str, extra: &[&str]) -> Output {
        self.connect_reading(peer, "brand.csv", pin, extra)
    }

    fn connect_reading(&self, peer: SocketAddr, input: &str, pin: &str, extra: &[&str]) -> Output {
        let mut args = vec!["connect".to_owned(), "--quiet".into(), "--peer".into(), peer.to_string()];
        args.extend(["--identity".into(), self.p("brand-id"), "--peer-fingerprint".into(), pin.into()]);
        args.extend(["--input".into(), self.p(input), "--report".into(), self.p("brand.json")]);
        args.extend(extra.iter().map(|s| s.to_string()));
        Running::start(&args).wait(LIMIT).0
    }

    fn report(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.p(name)).expect("report written")).unwrap()
    }

    fn no_reports(&self) {
        assert!(!self.dir.path().join("brand.json").exists());
        assert!(!self.dir.path().join("platform.json").exists());
    }
}

#[test]
fn exit_0_success() {
    let pair = Pair::new();
    let (server, addr) = pair.serve(&["--min-set-size", "0"]);
    let client = pair.connect(addr, &pair.platform_fp, &["--min-set-size", "0", "--handshake-timeout", "30"]);
    let (server, _) = server.wait(LIMIT);
    assert_eq!(client.status.code(), Some(0), "{}", text(&client.stderr));
    assert_eq!(server.status.code(), Some(0), "{}", text(&server.stderr));
    // The printed overlap is the generator's 50, and so are both reports'.
    let stdout = text(&client.stdout);
    let printed = stdout.lines().find_map(|l| l.strip_prefix("Overlap")).map(str::trim);
    assert_eq!(printed, Some("50   (exact)"), "{stdout}");
    assert_eq!(pair.report("brand.json")["overlap"], 50);
    assert_eq!(pair.report("platform.json")["overlap"], 50);
}

#[test]
fn exit_1_other_failure() {
    // Not a usage, input, policy, peer or network problem: here, a template
    // that would overwrite a file already there.
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("agreement.toml");
    std::fs::write(&existing, "keep me").unwrap();
    let out = venn(&["agreement", "init", "--out", existing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("exists; choose another path"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
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
    // No such file; a missing column; a peers file with a bad line. The
    // input is read before dialing, so nothing needs to listen.
    let (_socket, nobody) = silent_port();
    let out = pair.connect_reading(nobody, "nope.csv", &pair.platform_fp, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let out = pair.connect(nobody, &pair.platform_fp, &["--id-column", "no_such_column"]);
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
    let (server, addr) = pair.serve(&["--min-set-size", "0"]);
    let client = pair.connect(addr, &pair.platform_fp, &["--min-set-size", "250", "--handshake-timeout", "30"]);
    let (server, _) = server.wait(LIMIT);
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
    let (server, addr) = pair.serve(&["--min-set-size", "0"]);
    let stranger = "cd".repeat(32);
    let client = pair.connect(addr, &stranger, &["--min-set-size", "0", "--handshake-timeout", "30"]);
    let (server, _) = server.wait(LIMIT);
    assert_eq!(client.status.code(), Some(5), "{}", text(&client.stderr));
    assert_eq!(server.status.code(), Some(5), "{}", text(&server.stderr));
    pair.no_reports();
}

#[test]
fn exit_7_network_failure_when_nobody_answers() {
    let pair = Pair::new();
    // A port that is bound but never answers. (The small list passes its
    // own policy check, which happens before dialing.)
    let (_socket, nobody) = silent_port();
    let out = pair.connect(nobody, &pair.platform_fp, &["--min-set-size", "0", "--handshake-timeout", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("did not answer within 1s"), "{stderr}");
    pair.no_reports();
}
