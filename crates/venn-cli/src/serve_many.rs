//! `venn serve --max-sessions N`: a long-lived service that matches with
//! several peers.
//!
//! A platform that matches with many brands runs `venn serve` as a service
//! instead of a job. It accepts up to N concurrent sessions, each from any
//! peer on its list of allowed fingerprints (`--peer-fingerprint`, repeated,
//! and `--peers FILE`), writes one report per session into `--report-dir`,
//! and keeps serving until SIGTERM or Ctrl-C.
//!
//! - A peer not on the list is refused during the TLS handshake (it never
//!   reaches a session) and the service keeps serving.
//! - A listed peer that arrives while N sessions are in flight is turned
//!   away at once with a reason ([`PeerConnection::refuse`]); its `venn
//!   connect` fails with "the peer refused the session (busy ...); try again
//!   later" and exit code 7.
//! - On SIGTERM or Ctrl-C the service stops taking sessions (a peer that
//!   arrives is refused with "shutting down"), gives the sessions in flight
//!   `--grace-period` seconds to finish, then cancels the rest: each such
//!   peer receives `Abort(Cancelled)`. A second signal cancels at once. The
//!   exit code is 0 when every session in flight at the signal finished, 1
//!   when some had to be cancelled.
//!
//! A session that fails (the peer misbehaved, a policy refused it, the
//! network broke) is logged and leaves no report; the service carries on.
//! The service runs plain counts only: a segment match is agreed between
//! two named parties (`--agreement`) and runs as a one-session `venn serve`.
//!
//! Every session reads the input file afresh, so each gets its own shuffle,
//! and a list replaced between sessions (atomically, by renaming a new file
//! over the old) is picked up by the next session.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::{
    signal::unix::{signal, Signal, SignalKind},
    sync::{mpsc, watch},
    task::JoinSet,
};
use venn_net::{run_machine_until, Fingerprint, Mode, NetError, PeerConnection, PeerPins, Server};
use venn_protocol::{Policy, Session, SessionConfig};

use crate::{
    flags::ServeArgs,
    index_build::unix_now,
    index_session::{default_ledger, platform_session, BrandLimits, PlatformIndex},
    input::{load, Input, InputSpec},
    party::{input_spec, SessionParams},
    policy_file::PolicySettings,
    report::{group, Report},
};

/// Reads a peers file: one fingerprint per line (64 hex digits, separators
/// `:`, `-` and spaces allowed), `#` starts a comment, blank lines are
/// ignored.
pub fn read_peers(path: &Path) -> anyhow::Result<Vec<Fingerprint>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read peers file {}", path.display()))?;
    let mut peers = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fingerprint =
            line.parse::<Fingerprint>().with_context(|| format!("{} line {}", path.display(), number + 1))?;
        peers.push(fingerprint);
    }
    Ok(peers)
}

/// The allowed peers: the flags, then the file, without repeats.
fn allowed_peers(args: &ServeArgs) -> anyhow::Result<Vec<Fingerprint>> {
    let mut peers = args.session.peer_fingerprint.clone();
    if let Some(path) = &args.peers_file {
        peers.extend(read_peers(path)?);
    }
    let mut seen = std::collections::HashSet::new();
    peers.retain(|p| seen.insert(*p));
    anyhow::ensure!(!peers.is_empty(), "no allowed peer: give --peer-fingerprint or --peers-file");
    Ok(peers)
}

/// Where a session's report goes: `<peer short form>-<session id>.json`.
pub fn report_path(dir: &Path, peer: &Fingerprint, session_id: &str) -> PathBuf {
    dir.join(format!("{}-{session_id}.json", peer.short()))
}

/// What the service needs for every session.
#[derive(Clone)]
struct Shared {
    own: Fingerprint,
    serves: Serves,
    params: SessionParams,
    report_dir: PathBuf,
}

/// What each session matches against.
#[derive(Clone)]
enum Serves {
    /// A list, read afresh for each session.
    List(InputSpec),
    /// An index (index mode).
    Index(Arc<PlatformIndex>),
}

/// Loads the index of `venn serve --index` for this identity, now.
fn platform_index(args: &ServeArgs, own: Fingerprint) -> anyhow::Result<PlatformIndex> {
    let dir = args.index.as_deref().context("internal error: no --index")?;
    let limits = BrandLimits { max_sessions: args.max_sessions_per_brand, max_queries: args.max_queries_per_brand };
    let ledger = args.index_ledger.clone().unwrap_or_else(default_ledger);
    PlatformIndex::load(dir, &args.session.identity, own, limits, ledger, unix_now()?)
}

fn policy_of(args: &ServeArgs) -> anyhow::Result<Policy> {
    // As for a one-session match without an agreement: our policy file,
    // then our flags.
    let local = match &args.session.policy_file {
        Some(path) => PolicySettings::load(path)?,
        None => PolicySettings::default(),
    };
    args.session.size_settings().overlay(local.overlay(Policy::default())?)
}

/// `venn serve --index` without --max-sessions: one brand, one session.
pub async fn serve_index_once(args: &ServeArgs) -> anyhow::Result<Report> {
    let identity = crate::keygen::load(&args.session.identity)?;
    let own = identity.fingerprint();
    let peer = args.session.single_peer()?.context("--peer-fingerprint is required (the brand's fingerprint)")?;
    crate::party::refuse_own_fingerprint(&[peer], own)?;
    let index = platform_index(args, own)?;
    let params = SessionParams {
        policy: policy_of(args)?,
        batch_size: args.session.batch_size,
        net: args.session.net(),
        index: None,
    };
    let server = Server::bind_mode(args.listen, identity, PeerPins::new([peer]), params.net, Mode::Index)?;
    let h = index.header();
    eprintln!(
        "venn: listening on {} as {own} (short {}); serving index epoch {} ({} elements) to {}",
        server.local_addr()?,
        own.short(),
        h.epoch_id(),
        group(h.total_elements()),
        peer.short()
    );
    let conn = server.accept().await?;
    platform_session(conn, own, &index, &params, std::future::pending()).await
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(args: &ServeArgs, max_sessions: usize) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.session.agreement.is_none(),
        "--max-sessions serves plain counts; a segment match (--agreement) runs as a one-session `venn serve`"
    );
    let report_dir = args.report_dir.clone().context("--max-sessions needs --report-dir")?;
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("cannot create the report directory {}", report_dir.display()))?;
    let peers = allowed_peers(args)?;
    let identity = crate::keygen::load(&args.session.identity)?;
    let own = identity.fingerprint();
    crate::party::refuse_own_fingerprint(&peers, own)?;
    let params = SessionParams {
        policy: policy_of(args)?,
        batch_size: args.session.batch_size,
        net: args.session.net(),
        index: None,
    };

    // A bad input file or index fails now, before any peer is accepted.
    let (serves, mode, what) = if args.index.is_some() {
        let index = platform_index(args, own)?;
        let h = index.header();
        let what = format!("index epoch {} of {} elements", h.epoch_id(), group(h.total_elements()));
        (Serves::Index(Arc::new(index)), Mode::Index, what)
    } else {
        let spec = input_spec(&args.input)?;
        let check = spec.clone();
        let (_, stats) =
            tokio::task::spawn_blocking(move || load(&check)).await.context("reading the input failed")??;
        (Serves::List(spec), Mode::Match, format!("{} distinct identifiers", group(stats.distinct)))
    };
    let mut signals = Signals::new()?;
    let pins = PeerPins::new(peers.iter().copied());
    let server = Arc::new(Server::bind_mode(args.listen, identity, pins, params.net, mode)?);
    eprintln!(
        "venn: listening on {} as {own} (short {}); serving up to {max_sessions} sessions at once to {} allowed \
         peers; {what}; reports in {}",
        server.local_addr()?,
        own.short(),
        peers.len(),
        report_dir.display()
    );

    // Handshakes run in their own task: a session ending must not cut short
    // a handshake in progress.
    let (accepted_tx, mut accepted) = mpsc::channel::<Result<PeerConnection, NetError>>(1);
    let acceptor = {
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                let result = server.accept().await;
                if accepted_tx.send(result).await.is_err() {
                    return;
                }
            }
        })
    };

    let shared = Shared { own, serves, params, report_dir };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut sessions = JoinSet::new();
    let mut tally = Tally::default();
    let signal_name = loop {
        tokio::select! {
            name = signals.next() => break name,
            Some(done) = sessions.join_next(), if !sessions.is_empty() => tally.record(done),
            Some(result) = accepted.recv() => match result {
                Ok(conn) if sessions.len() >= max_sessions => {
                    eprintln!("venn: refused {}: busy ({max_sessions} sessions in flight)", conn.peer().short());
                    conn.refuse(&format!("busy: {max_sessions} sessions in flight"));
                }
                Ok(conn) => {
                    eprintln!("venn: session with {} from {} started", conn.peer().short(), conn.remote_address());
                    sessions.spawn(serve_one(conn, shared.clone(), stop_rx.clone()));
                }
                Err(e) => eprintln!("venn: refused a connection: {e}"),
            },
        }
    };

    let in_flight = sessions.len();
    let grace = Duration::from_secs(args.grace_period);
    eprintln!("venn: {signal_name}: no new sessions; {in_flight} in flight, {}s to finish", args.grace_period);
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    let mut cancelled = false;
    loop {
        tokio::select! {
            done = sessions.join_next() => match done {
                None => break,
                Some(done) => tally.record(done),
            },
            () = &mut deadline, if !cancelled => {
                eprintln!("venn: grace period over: cancelling {} sessions", sessions.len());
                cancelled = true;
                let _ = stop_tx.send(true);
            }
            name = signals.next(), if !cancelled => {
                eprintln!("venn: {name} again: cancelling {} sessions now", sessions.len());
                cancelled = true;
                let _ = stop_tx.send(true);
            }
            Some(Ok(conn)) = accepted.recv() => {
                eprintln!("venn: refused {}: shutting down", conn.peer().short());
                conn.refuse("shutting down");
            }
        }
    }
    acceptor.abort();
    server.close();
    eprintln!(
        "venn: stopped: {} sessions finished, {} failed, {} cancelled at shutdown",
        tally.finished, tally.failed, tally.cancelled
    );
    anyhow::ensure!(tally.cancelled == 0, "{} sessions were cancelled at shutdown", tally.cancelled);
    Ok(())
}

/// How the sessions ended.
#[derive(Default)]
struct Tally {
    finished: u64,
    failed: u64,
    cancelled: u64,
}

/// A session's end, as its task reports it.
enum Ended {
    Finished { peer: Fingerprint, report: Box<Report>, path: PathBuf },
    Failed { peer: Fingerprint, error: anyhow::Error, cancelled: bool },
}

impl Tally {
    fn record(&mut self, done: Result<Ended, tokio::task::JoinError>) {
        match done {
            Ok(Ended::Finished { peer, report, path }) => {
                self.finished += 1;
                let overlap = if report.overlap_withheld() { "not shared".to_owned() } else { group(report.overlap) };
                println!(
                    "session {} with {}: overlap {} (ours {}, theirs {}); report {}",
                    &report.session_id[..16],
                    peer.short(),
                    overlap,
                    group(report.own_size),
                    group(report.peer_size),
                    path.display()
                );
            }
            Ok(Ended::Failed { peer, error, cancelled }) => {
                if cancelled {
                    self.cancelled += 1;
                } else {
                    self.failed += 1;
                }
                eprintln!("venn: session with {} failed: {error:#}", peer.short());
            }
            Err(e) => {
                self.failed += 1;
                eprintln!("venn: a session task ended abnormally: {e}");
            }
        }
    }
}

/// Runs one session on an accepted connection and writes its report.
async fn serve_one(conn: PeerConnection, shared: Shared, stop: watch::Receiver<bool>) -> Ended {
    let peer = conn.peer();
    let mut stop_signal = stop.clone();
    let stop_future = async move {
        // A dropped sender means the service is gone: never a reason to cancel.
        if stop_signal.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match session(conn, &shared, stop_future).await {
        Ok((report, path)) => Ended::Finished { peer, report: Box::new(report), path },
        // A session that fails once the stop is given counts as cancelled.
        Err(error) => Ended::Failed { peer, error, cancelled: *stop.borrow() },
    }
}

async fn session(
    conn: PeerConnection,
    shared: &Shared,
    stop: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<(Report, PathBuf)> {
    let started = Instant::now();
    let peer = conn.peer();
    let params = &shared.params;
    let report = match &shared.serves {
        Serves::Index(index) => platform_session(conn, shared.own, index, params, stop).await?,
        Serves::List(spec) => {
            let spec = spec.clone();
            let (input, stats) =
                tokio::task::spawn_blocking(move || load(&spec)).await.context("reading the input failed")??;
            let Input::Count(set) = input else { anyhow::bail!("internal error: a service session read segments") };
            let config = SessionConfig { batch_size: params.batch_size, ..SessionConfig::new(params.policy, vec![]) };
            let start = |binding| Session::new(SessionConfig { channel_binding: binding, ..config }, set);
            let session = run_machine_until(conn, start, &params.net, stop, |_| {}).await?;
            Report::new("serve", shared.own.to_hex(), stats, &session, started.elapsed())
        }
    };
    let path = report_path(&shared.report_dir, &peer, &report.session_id);
    report.write_json(&path)?;
    Ok((report, path))
}

/// SIGTERM and Ctrl-C (SIGINT).
struct Signals {
    term: Signal,
    interrupt: Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
        })
    }

    /// Waits for the next signal and names it.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "interrupted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_file_takes_comments_blank_lines_and_separators() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.txt");
        let (a, b) = (Fingerprint([0xab; 32]), Fingerprint([0x01; 32]));
        let colons = b.0.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(":");
        std::fs::write(&path, format!("# brands\n{a}  # the first\n\n   \n{colons}\n")).unwrap();
        assert_eq!(read_peers(&path).unwrap(), vec![a, b]);
    }

    #[test]
    fn peers_file_names_the_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("peers.txt");
        std::fs::write(&path, format!("{}\nnot-a-fingerprint\n", Fingerprint([1; 32]))).unwrap();
        let err = format!("{:#}", read_peers(&path).unwrap_err());
        assert!(err.contains("peers.txt line 2"), "{err}");
        assert!(err.contains("not-a-fingerprint"), "{err}");
    }

    #[test]
    fn report_names_carry_the_peer_and_the_session() {
        let path = report_path(Path::new("out"), &Fingerprint([0x3f; 32]), "00ff");
        assert_eq!(path, Path::new("out/3f3f-3f3f-3f3f-3f3f-00ff.json"));
    }
}
