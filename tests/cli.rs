//! End to end: the built `venn` binary, two OS processes, real QUIC on
//! loopback.

mod cli_support;

use std::{net::SocketAddr, path::Path, time::Duration};

use cli_support::{generate_pair, text, venn, Parties, Running};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// What this file's tests do with both identities ([`Parties`]).
impl Parties {
    /// Writes brand.csv (messy emails) and platform.csv (SHA-256 emails).
    fn generate(&self, rows_a: usize, rows_b: usize, overlap: usize) {
        let printed = generate_pair(self.dir.path(), rows_a, rows_b, overlap, 11);
        let expected = format!("true overlap {}", venn_cli::report::group(overlap as u64));
        assert!(printed.contains(&expected), "{printed}");
    }

    /// `venn serve` on an ephemeral port; returns once it listens, with the
    /// address it bound.
    fn serve(&self, peer_fp: &str, extra: &[&str]) -> (Running, SocketAddr) {
        let server = self.party(
            ["serve", "--listen", "platform", "email_sha256", "email-sha256"],
            "127.0.0.1:0",
            peer_fp,
            extra,
        );
        let addr = server.bound_addr();
        (server, addr)
    }

    fn connect(&self, addr: SocketAddr, peer_fp: &str, extra: &[&str]) -> Running {
        self.party(["connect", "--peer", "brand", "email", "email"], &addr.to_string(), peer_fp, extra)
    }

    /// Starts one party: `[command, address flag, name, id column, id type]`;
    /// its identity, input and report files are named after it.
    fn party(
        &self,
        [command, address_flag, name, column, id_type]: [&str; 5],
        address: &str,
        peer_fp: &str,
        extra: &[&str],
    ) -> Running {
        let (id, input, report) =
            (self.p(&format!("{name}-id")), self.p(&format!("{name}.csv")), self.p(&format!("{name}.json")));
        let mut args = vec![
            command,
            "--quiet",
            address_flag,
            address,
            "--identity",
            &id,
            "--peer-fingerprint",
            peer_fp,
            "--input",
            &input,
            "--id-column",
            column,
            "--id-type",
            id_type,
            "--report",
            &report,
        ];
        args.extend(extra);
        Running::start(&args)
    }
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is JSON")
}

#[test]
fn two_processes_agree_on_the_true_overlap_between_messy_emails_and_sha256() {
    let s = Parties::new();
    s.generate(3_000, 2_500, 1_200);
    let (server, addr) = s.serve(&s.brand_fp, &[]);
    let client = s.connect(addr, &s.platform_fp, &[]);
    let (client, _) = client.wait(LIMIT);
    let (server, _) = server.wait(LIMIT);
    assert!(client.status.success(), "connect failed: {}", text(&client.stderr));
    assert!(server.status.success(), "serve failed: {}", text(&server.stderr));
    assert!(text(&client.stdout).contains("1,200"), "{}", text(&client.stdout));

    let (brand, platform) = (report(&s.path("brand.json")), report(&s.path("platform.json")));
    assert_eq!(brand["schema"], "venn.report/v1");
    assert_eq!(brand["overlap"], 1_200);
    assert_eq!(platform["overlap"], 1_200);
    assert_eq!(brand["own_size"], 3_000);
    assert_eq!(brand["peer_size"], 2_500);
    assert_eq!(brand["session_id"], platform["session_id"]);
    assert_eq!(brand["peer_fingerprint"], s.platform_fp.as_str());
    assert_eq!(platform["peer_fingerprint"], s.brand_fp.as_str());
    assert_eq!(brand["input"]["rows_read"], 3_000);
}

#[test]
fn wrong_peer_fingerprint_is_refused_on_both_sides_without_reports() {
    let s = Parties::new();
    s.generate(1_500, 1_500, 100);
    let stranger = "ab".repeat(32);
    let (server, addr) = s.serve(&s.brand_fp, &["--handshake-timeout", "30"]);
    // The brand pins a fingerprint that is not the platform's.
    let client = s.connect(addr, &stranger, &["--handshake-timeout", "30"]);
    let (client, _) = client.wait(LIMIT);
    let (server, _) = server.wait(LIMIT);
    // Both sides fail authentication: the brand refuses the platform's
    // certificate, and the platform learns it from the brand's TLS alert.
    assert_eq!(client.status.code(), Some(5), "{}", text(&client.stderr));
    assert_eq!(server.status.code(), Some(5), "{}", text(&server.stderr));
    let err = text(&client.stderr);
    assert!(err.contains(&s.platform_fp) && err.contains(&stranger), "both fingerprints named: {err}");
    assert!(!s.path("brand.json").exists());
    assert!(!s.path("platform.json").exists());
}

#[test]
fn survivor_of_a_killed_peer_exits_on_the_idle_timeout_without_a_report() {
    let s = Parties::new();
    s.generate(60_000, 60_000, 1_000);
    // The stall timeout is far beyond the test's guard, so only the QUIC
    // idle timeout (3 s) can end the survivor's session in time.
    let (server, addr) = s.serve(&s.brand_fp, &["--idle-timeout", "3", "--stall-timeout", "600", "-v"]);
    let mut client = s.connect(addr, &s.platform_fp, &["--idle-timeout", "3"]);
    // The session policy is announced once the handshake is complete, just
    // before the points flow: the session is under way, however slow this
    // machine is today.
    server.stderr.wait_for_line("session policy", LIMIT);
    client.kill(); // SIGKILL: no goodbye, the peer must notice by itself
    let (server, _) = server.wait(LIMIT);
    let err = text(&server.stderr);
    assert_eq!(server.status.code(), Some(7), "{err}");
    assert!(err.contains("went away"), "{err}");
    assert!(!s.path("platform.json").exists());
}

fn input_error(csv: Option<&[u8]>, column: &str) -> (Option<i32>, String) {
    let s = Parties::new();
    let path = s.path("input.csv");
    if let Some(bytes) = csv {
        std::fs::write(&path, bytes).unwrap();
    }
    s.input_error(&path, &["--id-column", column])
}

#[test]
fn missing_id_column_names_the_file_and_its_columns() {
    let (code, err) = input_error(Some(b"mail,phone\na@b.co,1\n"), "email");
    assert_eq!(code, Some(3));
    assert!(err.contains("input.csv") && err.contains("mail") && err.contains("phone"), "{err}");
}

#[test]
fn empty_file_is_a_one_line_error() {
    let (code, err) = input_error(Some(b""), "email");
    assert_eq!(code, Some(3));
    assert!(err.contains("input.csv"), "{err}");
}

#[test]
fn unreadable_file_is_a_one_line_error() {
    let (code, err) = input_error(None, "email");
    assert_eq!(code, Some(3));
    assert!(err.contains("input.csv"), "{err}");
}

#[test]
fn every_command_explains_itself_with_an_example() {
    for command in ["demo", "serve", "connect", "gen", "keygen", "bench"] {
        let out = venn(&[command, "--help"]);
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("Example"), "{command} --help has no example");
    }
    let out = venn(&["--help"]);
    assert!(text(&out.stdout).contains("Exit codes"));
}

#[test]
fn bad_flag_is_a_usage_error() {
    let out = venn(&["connect", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn own_list_below_the_minimum_is_refused_before_dialing() {
    // Nothing listens on port 9: dialing would end in a network error (7)
    // after the handshake timeout, so exit 4 means it was refused before.
    let (code, err) = input_error(Some(b"email\na@example.com\nb@example.com\n"), "email");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("our set has 2 identifiers, below the minimum of 1,000"), "{err}");
}
