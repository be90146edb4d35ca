//! `venn serve --max-sessions N` as a long-lived service: concurrent
//! sessions with several allowed peers, one report each, clean refusals of
//! a peer over the limit and of a peer not on the list, and a clean
//! shutdown on SIGTERM or Ctrl-C (SIGINT).
//!
//! The server is the `venn` binary. Its clients are in-process scripted
//! peers (`tests/support`) that behave honestly but hold their points until
//! the test opens a gate, so that "four sessions in flight" is a state the
//! test controls rather than a race; the refused clients are `venn connect`
//! processes, so their exit codes and messages are checked too.

mod cli_support;
mod support;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::PathBuf,
    process::{Command, Output},
    time::{Duration, Instant},
};

use cli_support::{Running, VENN};
use support::{count_brain, forward, run_peer_with, Act, PeerRun, Script, Seen};
use tokio::sync::watch;
use venn_ids::{EmailProfile, IdType, Normalizer, Region};
use venn_net::{connect, Fingerprint, Identity, NetConfig, NetError, PeerPins};
use venn_protocol::{AbortReason, Element, ElementSet, Message, Policy, ProtocolError, SessionConfig};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// The service's list: user0 … user399.
const SERVER_ROWS: std::ops::Range<u32> = 0..400;

fn email(i: u32) -> String {
    format!("user{i}@example.com")
}

/// The elements `venn` makes of these emails.
fn email_set(range: std::ops::Range<u32>) -> ElementSet {
    let mut normalizer = Normalizer::new(IdType::Email, EmailProfile::Standard, Region::US);
    let digests = range.map(|i| Element(normalizer.digest(email(i).as_bytes()).expect("a valid email")));
    ElementSet::new(digests.collect()).0
}

/// The brands' transport: no timeout fires while a test holds a session
/// open on purpose.
fn net() -> NetConfig {
    NetConfig {
        idle_timeout: Duration::from_secs(30),
        keep_alive: Duration::from_millis(500),
        stall_timeout: Duration::from_secs(300),
        handshake_timeout: Duration::from_secs(30),
    }
}

struct Service {
    dir: tempfile::TempDir,
    running: Option<Running>,
    addr: SocketAddr,
    fingerprint: Fingerprint,
}

impl Service {
    /// Starts `venn serve --max-sessions` with these allowed peers: the
    /// first two as flags, the rest in a peers file with comments.
    fn start(max_sessions: u32, allowed: &[Fingerprint], extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::generate().unwrap();
        identity.save(&dir.path().join("id")).unwrap();
        let csv: String = std::iter::once("email\n".to_owned()).chain(SERVER_ROWS.map(|i| email(i) + "\n")).collect();
        std::fs::write(dir.path().join("list.csv"), csv).unwrap();
        let mut peers = String::from("# brands allowed to match with us\n\n");
        for fp in allowed.iter().skip(2) {
            peers += &format!("{fp}   # a brand\n");
        }
        std::fs::write(dir.path().join("peers.txt"), peers).unwrap();
        let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        let mut command = Command::new(VENN);
        command
            .args(["serve", "--quiet", "--listen", "127.0.0.1:0", "--identity", &p("id")])
            .args(["--input", &p("list.csv"), "--min-set-size", "0", "--max-sessions", &max_sessions.to_string()])
            .args(["--peers", &p("peers.txt"), "--report-dir", &p("reports")])
            .args(["--stall-timeout", "300", "--idle-timeout", "30", "--handshake-timeout", "30"]);
        for fp in allowed.iter().take(2) {
            command.args(["--peer-fingerprint", &fp.to_hex()]);
        }
        let running = Running::start_command(command.args(extra));
        // Printed once the port is bound (and the signal handlers are in place).
        let addr = running.bound_addr();
        Self { dir, running: Some(running), addr, fingerprint: identity.fingerprint() }
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("the service runs")
    }

    /// Waits for a line on the service's stderr that contains `needle`.
    fn wait_for_line(&self, needle: &str) -> String {
        self.running().stderr.wait_for_line(needle, LIMIT)
    }

    /// Waits until the service has started the session with `brand`.
    fn wait_for_session_with(&self, brand: &Identity) {
        self.wait_for_line(&format!("session with {} from", brand.fingerprint().short()));
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends a signal (`TERM`, `INT`) to the service.
    fn signal(&self, name: &str) {
        self.running().signal(name);
    }

    /// Waits for the service to exit.
    fn exit(&mut self) -> (Option<i32>, String, String) {
        let (Output { status, stdout, stderr }, _) = self.running.take().expect("the service runs").wait(LIMIT);
        let (stdout, stderr) =
            (String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned());
        assert!(!stderr.contains("panicked"), "{stderr}");
        (status.code(), stdout, stderr)
    }

    /// The reports written so far, by file name.
    fn reports(&self) -> BTreeMap<String, serde_json::Value> {
        let Ok(entries) = std::fs::read_dir(self.path("reports")) else { return BTreeMap::new() };
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let json = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                (p.file_name().unwrap().to_string_lossy().into_owned(), json)
            })
            .collect()
    }

    /// Dials as `identity` (the service listens already).
    async fn dial(&self, identity: &Identity) -> venn_net::PeerConnection {
        match connect(self.addr, identity, PeerPins::new([self.fingerprint]), net()).await {
            Ok(conn) => conn,
            Err(e) => panic!("cannot reach venn serve: {e}\n{}", self.running().stderr.text()),
        }
    }

    /// `venn connect` as a brand with its own identity directory.
    fn connect_process(&self, name: &str, identity: &Identity) -> Output {
        let id_dir = self.path(name);
        identity.save(&id_dir).unwrap();
        let csv: String = std::iter::once("email\n".to_owned()).chain((0..50).map(|i| email(i) + "\n")).collect();
        let input = self.path(&format!("{name}.csv"));
        std::fs::write(&input, csv).unwrap();
        Command::new(VENN)
            .args(["connect", "--quiet", "--peer", &self.addr.to_string(), "--identity"])
            .arg(&id_dir)
            .args(["--peer-fingerprint", &self.fingerprint.to_hex(), "--input"])
            .arg(&input)
            .args(["--min-set-size", "0", "--handshake-timeout", "30", "--report"])
            .arg(self.path(&format!("{name}.json")))
            .output()
            .unwrap()
    }
}

/// An honest brand that sends its Hello, then holds everything else until
/// the gate opens: its session is in flight on the server meanwhile.
fn gated(gate: watch::Receiver<bool>) -> Script {
    let mut gate = Some(gate);
    Box::new(move |seen| match seen {
        Seen::Out(channel, hello @ Message::Hello(_)) => {
            let mut acts = vec![Act::Send(channel, hello.clone())];
            acts.extend(gate.take().map(Act::WaitFor));
            acts
        }
        seen => forward(&seen),
    })
}

async fn gated_brand(
    service: &Service,
    identity: &Identity,
    range: std::ops::Range<u32>,
    gate: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<PeerRun> {
    let conn = service.dial(identity).await;
    let brain = count_brain(email_set(range), Policy::permissive());
    tokio::spawn(run_peer_with(conn, Some(brain), LIMIT, gated(gate)))
}

fn overlap(a: &std::ops::Range<u32>, b: &std::ops::Range<u32>) -> u64 {
    u64::from(a.end.min(b.end).saturating_sub(a.start.max(b.start)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_concurrent_sessions_each_get_a_correct_report_while_a_fifth_and_a_stranger_are_refused() {
    let brands: Vec<Identity> = (0..5).map(|_| Identity::generate().unwrap()).collect();
    let allowed: Vec<Fingerprint> = brands.iter().map(Identity::fingerprint).collect();
    let mut service = Service::start(4, &allowed, &[]);

    // Four brands with different lists, so each report has its own overlap.
    let ranges: Vec<_> = (0..4u32).map(|i| 100 * i..100 * i + 150 + 20 * i).collect();
    let (open, gate) = watch::channel(false);
    let mut runs = Vec::new();
    for (brand, range) in brands.iter().zip(&ranges) {
        runs.push(gated_brand(&service, brand, range.clone(), gate.clone()).await);
    }
    // The service counts them as in flight once it says so.
    for brand in &brands[..4] {
        service.wait_for_session_with(brand);
    }

    // A fifth allowed brand while four sessions are in flight: turned away.
    let out = service.connect_process("fifth", &brands[4]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("refused the session") && stderr.contains("busy"), "{stderr}");
    assert!(!service.path("fifth.json").exists());

    // A brand that is not on the list: refused in the TLS handshake.
    let out = service.connect_process("stranger", &Identity::generate().unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("refused our identity"), "{stderr}");
    assert!(!service.path("stranger.json").exists());

    // Nothing has finished yet; now the four go ahead.
    assert!(service.reports().is_empty());
    open.send(true).unwrap();
    let mut outcomes = Vec::new();
    for run in runs {
        let run = tokio::time::timeout(LIMIT, run).await.expect("bounded").unwrap();
        outcomes.push(run.outcome.unwrap_or_else(|| panic!("a gated brand failed: {:?}", run.error)));
    }
    // The service writes each report once its session ends.
    let started = Instant::now();
    while service.reports().len() < 4 {
        assert!(started.elapsed() < LIMIT, "reports: {:?}", service.reports().keys());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let reports = service.reports();
    assert_eq!(reports.len(), 4, "{:?}", reports.keys());
    for ((brand, range), outcome) in brands.iter().zip(&ranges).zip(&outcomes) {
        let fp = brand.fingerprint();
        let name = format!("{}-{}.json", fp.short(), outcome.session_id.to_hex());
        let report = reports.get(&name).unwrap_or_else(|| panic!("no {name} in {:?}", reports.keys()));
        assert_eq!(report["peer_fingerprint"], fp.to_hex().as_str());
        assert_eq!(report["session_id"], outcome.session_id.to_hex().as_str());
        assert_eq!(report["overlap"], overlap(range, &SERVER_ROWS));
        assert_eq!(report["own_size"], 400);
        assert_eq!(report["peer_size"], range.len());
        assert_eq!(outcome.overlap, overlap(range, &SERVER_ROWS));
    }

    // Ctrl-C with nothing in flight: a clean exit.
    service.signal("INT");
    let (code, stdout, stderr) = service.exit();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("session ")).count(), 4, "{stdout}");
    assert!(stderr.contains("4 sessions finished, 0 failed, 0 cancelled"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_session_in_flight_finish_then_exits_0() {
    let brands: Vec<Identity> = (0..2).map(|_| Identity::generate().unwrap()).collect();
    let allowed: Vec<Fingerprint> = brands.iter().map(Identity::fingerprint).collect();
    let mut service = Service::start(2, &allowed, &["--grace-period", "20"]);
    let (open, gate) = watch::channel(false);
    let run = gated_brand(&service, &brands[0], 300..500, gate).await;
    service.wait_for_session_with(&brands[0]);

    service.signal("TERM");
    service.wait_for_line("no new sessions");
    // No new sessions once the service is shutting down: the next brand is
    // turned away, and told why.
    let conn = service.dial(&brands[1]).await;
    let config = SessionConfig::new(Policy::permissive(), vec![]);
    match venn_net::run_session(conn, config, email_set(0..10), &net(), |_| {}).await {
        Err(NetError::SessionRefused { reason }) => assert!(reason.contains("shutting down"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    open.send(true).unwrap();
    let run = tokio::time::timeout(LIMIT, run).await.expect("bounded").unwrap();
    assert_eq!(run.outcome.map(|o| o.overlap), Some(100), "{:?}", run.error);
    let (code, _, stderr) = service.exit();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert_eq!(service.reports().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cancels_sessions_still_running_after_the_grace_period() {
    let brand = Identity::generate().unwrap();
    let mut service = Service::start(2, &[brand.fingerprint()], &["--grace-period", "1"]);
    let (_never_opened, gate) = watch::channel(false);
    let run = gated_brand(&service, &brand, 0..100, gate).await;
    service.wait_for_session_with(&brand);
    service.signal("TERM");
    // The gate never opens and no timeout of either side comes close to the
    // guard: only the end of the grace period can end the session.
    let (code, _, stderr) = service.exit();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("grace period over: cancelling 1 sessions"), "{stderr}");
    assert!(stderr.contains("1 sessions were cancelled at shutdown"), "{stderr}");
    assert!(service.reports().is_empty());
    // The brand was told why: an Abort(Cancelled), not a silent hang-up.
    let run = tokio::time::timeout(LIMIT, run).await.expect("bounded").unwrap();
    assert_eq!(run.abort_received, Some(AbortReason::Cancelled));
    assert_eq!(run.error, Some(ProtocolError::PeerAborted(AbortReason::Cancelled)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_service_exits_0_on_sigterm() {
    let mut service = Service::start(3, &[Identity::generate().unwrap().fingerprint()], &[]);
    service.signal("TERM");
    let (code, _, stderr) = service.exit();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("0 sessions finished, 0 failed, 0 cancelled"), "{stderr}");
}
