//! Index mode end to end (issue 11): `venn index build`, `venn serve
//! --index` and `venn connect` as real processes on loopback. The brand
//! finds the exact overlap; a second session in the epoch downloads no part
//! byte; a part damaged in the brand's cache is refused by name and fetched
//! again; a platform that hangs mid-download and is replaced leaves the
//! brand to resume from its partial offset; a brand over its sessions per
//! epoch is refused with exit 4 on its side; an expired index or another
//! platform's index is refused by `venn serve` itself (exit 3).
//!
//! Synchronisation is on what the processes print, never on sleeps.

mod cli_support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use cli_support::{generate_pair, keygen, text, venn, Parties, Running, VENN};
use venn_index::{publish, HeaderFields, PartBuilder};
use venn_net::Fingerprint;

const BRAND_ROWS: usize = 2_000;
const PLATFORM_ROWS: usize = 3_000;
const OVERLAP: usize = 700;
/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(180);

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// What this file's tests do with both identities ([`Parties`]).
impl Parties {
    /// Two identities, two generated lists with a known overlap, and the
    /// platform's index.
    fn with_index() -> Self {
        let parties = Parties::new();
        generate_pair(parties.dir.path(), BRAND_ROWS, PLATFORM_ROWS, OVERLAP, 5);
        let out = venn(&[
            "index",
            "build",
            "--identity",
            &parties.p("platform-id"),
            "--input",
            &parties.p("platform.csv"),
            "--id-column",
            "email_sha256",
            "--id-type",
            "email-sha256",
            "--out",
            &parties.p("index"),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        parties
    }

    /// `venn serve --index` on port 0, with these extra flags and
    /// environment.
    fn serve(&self, extra: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = Command::new(VENN);
        command
            .args(["serve", "--quiet", "--index", &self.p("index"), "--identity"])
            .args([self.p("platform-id"), "--listen".into(), "127.0.0.1:0".into()])
            .args(["--peer-fingerprint", &self.brand_fp, "--index-ledger", &self.p("ledger.json")])
            .args(extra)
            .envs(env.iter().copied());
        Running::start_command(&mut command)
    }

    /// A service: up to 2 sessions at once, reports in `reports/`.
    fn service(&self, extra: &[&str]) -> Running {
        let mut args = vec!["--max-sessions", "2"];
        let reports = self.p("reports");
        args.extend(["--report-dir", &reports]);
        args.extend(extra);
        self.serve(&args, &[])
    }

    /// `venn connect` with the brand's list and cache; `report` names the
    /// JSON report.
    fn connect_command(&self, addr: std::net::SocketAddr, report: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(VENN);
        command
            .args(["connect", "--quiet", "--peer", &addr.to_string(), "--identity", &self.p("brand-id")])
            .args(["--peer-fingerprint", &self.platform_fp, "--input", &self.p("brand.csv")])
            .args(["--id-column", "email", "--id-type", "email", "--cache", &self.p("cache")])
            .args(["--report", &self.p(report)])
            .args(extra);
        command
    }

    fn connect(&self, addr: std::net::SocketAddr, report: &str, extra: &[&str]) -> Output {
        self.connect_command(addr, report, extra).output().unwrap()
    }

    fn report(&self, name: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path(name)).unwrap()).unwrap()
    }

    /// The epoch slot of the brand's cache.
    fn cache_slot(&self) -> PathBuf {
        let platform = self.path("cache").join(&self.platform_fp);
        let mut epochs: Vec<PathBuf> = std::fs::read_dir(&platform).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(epochs.len(), 1, "one epoch cached");
        epochs.pop().unwrap()
    }

    fn part_len(&self) -> u64 {
        std::fs::metadata(self.path("index").join("part-0-of-1.vidx")).unwrap().len()
    }
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "stdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
}

#[test]
fn a_brand_matches_against_the_index_downloads_once_and_refetches_a_damaged_part() {
    let setup = Parties::with_index();
    let server = setup.service(&["--max-sessions-per-brand", "3"]);
    let addr = server.bound_addr();

    // First session: the whole index is downloaded; the overlap is shared.
    let out = setup.connect(addr, "r1.json", &["--share-result"]);
    assert_exit(&out, 0);
    let r1 = setup.report("r1.json");
    assert_eq!(r1["mode"], "index");
    assert_eq!(r1["overlap"], OVERLAP as u64, "the filter's false-positive rate is 2^-32: exact here");
    assert_eq!(r1["own_size"], BRAND_ROWS as u64);
    assert_eq!(r1["peer_size"], PLATFORM_ROWS as u64, "the audience size");
    assert_eq!(r1["index"]["downloaded_bytes"], setup.part_len());
    assert!(r1["index"]["epoch"].as_u64().is_some());
    assert!(r1["index"]["expected_false_matches"].as_f64().unwrap() < 1e-5);
    // The platform's report: the brand's size, and the overlap it shared.
    let session = r1["session_id"].as_str().unwrap();
    server.stdout.wait_for_line(&session[..16], LIMIT);
    let p1 = platform_report(&setup, session);
    assert_eq!(p1["mode"], "index");
    assert_eq!(p1["peer_size"], BRAND_ROWS as u64);
    assert_eq!(p1["overlap"], OVERLAP as u64);
    assert_eq!(p1["index"]["overlap_reported_by_brand"], true);

    // Second session in the epoch: the header only; the overlap unshared.
    let out = setup.connect(addr, "r2.json", &[]);
    assert_exit(&out, 0);
    let r2 = setup.report("r2.json");
    assert_eq!(r2["overlap"], OVERLAP as u64);
    assert_eq!(r2["index"]["downloaded_bytes"], 0, "a later session in the epoch downloads no part byte");
    let session = r2["session_id"].as_str().unwrap();
    server.stdout.wait_for_line(&session[..16], LIMIT);
    let p2 = platform_report(&setup, session);
    assert!(p2["overlap"].is_null(), "the platform does not learn an unshared overlap: {p2}");
    assert_eq!(p2["index"]["overlap_reported_by_brand"], false);

    // A part damaged in the brand's cache: refused by name, fetched again.
    let part = setup.cache_slot().join("part-0-of-1.vidx");
    let mut bytes = std::fs::read(&part).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&part, bytes).unwrap();
    let out = setup.connect(addr, "r3.json", &[]);
    assert_exit(&out, 0);
    assert!(text(&out.stderr).contains("index part part-0-of-1.vidx refused"), "{}", text(&out.stderr));
    let r3 = setup.report("r3.json");
    assert_eq!(r3["index"]["downloaded_bytes"], setup.part_len());
    assert_eq!(r3["index"]["refetched_parts"][0], "part-0-of-1.vidx");
    assert_eq!(r3["overlap"], OVERLAP as u64);

    // A fourth session passes the brand's 3 per epoch: refused, exit 4.
    let out = setup.connect(addr, "r4.json", &[]);
    assert_exit(&out, 4);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("sessions or queried identifiers for this index epoch are spent"), "{stderr}");
    assert!(!setup.path("r4.json").exists());
}

/// The platform's report of a session (named `<brand short>-<session>.json`).
fn platform_report(setup: &Parties, session: &str) -> serde_json::Value {
    let dir = setup.path("reports");
    let entry = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(&format!("{session}.json")))
        .expect("the platform wrote the session's report");
    serde_json::from_slice(&std::fs::read(entry).unwrap()).unwrap()
}

#[test]
fn a_brand_resumes_a_download_that_a_hung_platform_left_partial() {
    let setup = Parties::with_index();
    // A platform that stops after 4096 bytes of the part (and hangs).
    let hung = setup.serve(&[], &[("VENN_TEST_FETCH_PAUSE_AFTER_BYTES", "4096")]);
    let addr = hung.bound_addr();
    let mut brand = Running::start_command(setup.connect_command(addr, "r.json", &["-v"]).env("VENN_LOG", "info"));
    brand.stderr.wait_for_line("index part chunk stored part=0 offset=4096", LIMIT);
    brand.kill();
    drop(hung);
    let partial = setup.cache_slot().join("partial").join("part-0-of-1.vidx.partial");
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), 4096, "the chunk received was kept");

    let server = setup.serve(&[], &[]);
    let out = setup.connect(server.bound_addr(), "r.json", &[]);
    assert_exit(&out, 0);
    let r = setup.report("r.json");
    assert_eq!(r["overlap"], OVERLAP as u64);
    let downloaded = r["index"]["downloaded_bytes"].as_u64().unwrap();
    assert_eq!(4096 + downloaded, setup.part_len(), "resumed from the partial offset, not from 0");
    let (platform, _) = server.wait(LIMIT);
    assert!(platform.status.success(), "{}", text(&platform.stderr));
}

/// An index of `platform` in `dir` whose epoch ended at unix time
/// `expires_at`.
fn hand_made_index(dir: &Path, platform: &str, expires_at: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut b = PartBuilder::new(0, 1).unwrap();
    b.extend(0..5000u64);
    let entry = b.write(dir).unwrap().entry;
    let fields = HeaderFields {
        epoch_id: 3,
        epoch_label: "1970-01-01+1d".into(),
        expires_at,
        epoch_key: [0; 32],
        platform_fingerprint: platform.parse::<Fingerprint>().unwrap().0,
    };
    publish(dir, fields, vec![entry]).unwrap();
}

#[test]
fn serve_refuses_an_expired_index_or_another_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let platform = keygen(&dir.path().join("platform-id"));
    let other = keygen(&dir.path().join("other-id"));
    let brand = keygen(&dir.path().join("brand-id"));
    let serve = |index: &str| {
        venn(&[
            "serve",
            "--index",
            &s(&dir.path().join(index)),
            "--identity",
            &s(&dir.path().join("platform-id")),
            "--peer-fingerprint",
            &brand,
            "--listen",
            "127.0.0.1:0",
        ])
    };
    hand_made_index(&dir.path().join("expired"), &platform, 86_400);
    let out = serve("expired");
    assert_exit(&out, 3);
    assert!(text(&out.stderr).contains("which expired at unix time 86400"), "{}", text(&out.stderr));

    hand_made_index(&dir.path().join("theirs"), &other, u64::MAX);
    let out = serve("theirs");
    assert_exit(&out, 3);
    assert!(text(&out.stderr).contains("belongs to platform"), "{}", text(&out.stderr));
}
