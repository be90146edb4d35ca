//! An adversarial peer over real QUIC: it completes the mutually
//! authenticated handshake with an honest `venn-net` party (or the `venn`
//! binary), then misbehaves at a chosen step. One test per behaviour, named
//! after it. Each asserts that the honest party ends with the exact typed
//! error, without a panic; the binary-level ones also assert the exit code
//! and that no report was written. The last group runs segment mode: a
//! hostile receiver against an honest aggregator.
//!
//! No assertion measures time. Where a failure must be noticed without a
//! timeout, both sides run with [`support::patient`] timeouts, far beyond
//! the guard ([`LIMIT`]) that only keeps a broken build from hanging: an
//! error that arrives at all was caused by the misbehaviour. Where a
//! timeout is the point (a stall, a silent peer), the error names the
//! timeout that fired.
//!
//! The in-memory versions of most of these live in
//! `crates/venn-protocol/src/tests.rs`; these show that the transport keeps
//! the same promises with real streams, real framing and real timeouts.

mod cli_support;
mod support;

use std::{
    ops::Range,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Once,
    },
    time::{Duration, Instant},
};

use cli_support::Running;
use support::{
    dial, elements, forward, honest, listener, patient, run_peer, run_peer_with, Act, Brain, PeerRun, Script, Seen,
};
use venn_crypto::CryptoError;
use venn_net::{run_machine, run_session, Identity, NetConfig, NetError, PeerPins, SessionReport};
use venn_protocol::{
    codec, AbortReason, Channel, DecodeError, Element, Incompatibility, LabeledSet, Labels, Message, Misbehavior,
    Policy, PolicyViolation, ProtocolError, Role, SegmentConfig, SegmentSession, SessionConfig, Side, PROTOCOL_VERSION,
};

/// A guard against a hang, never a measurement: shorter than every
/// [`patient`] timeout.
const LIMIT: Duration = Duration::from_secs(120);

/// Panics in spawned tasks (tokio catches those, so the tests would not
/// see them otherwise). A panic on a test's own thread (a failed assertion)
/// fails that test already and is not counted, so one failing test does not
/// fail every test that checks this counter after it.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name().is_none_or(|name| name.starts_with("tokio-runtime-worker")) {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

/// A match between an honest party (the listener) and the hostile peer.
struct Match {
    /// The honest party's set.
    honest: Range<u32>,
    /// Its policy.
    honest_policy: Policy,
    /// Its batch size.
    honest_batch: usize,
    /// The peer's brain set (`None`: the script alone speaks).
    peer: Option<Range<u32>>,
    /// Both sides' timeouts.
    net: NetConfig,
}

impl Default for Match {
    fn default() -> Self {
        Self {
            honest: 0..300,
            honest_policy: Policy::permissive(),
            honest_batch: 64,
            peer: Some(200..500),
            net: patient(),
        }
    }
}

/// What the honest side ended with, how long it took, and the peer's run.
struct Ended {
    result: Result<SessionReport, NetError>,
    elapsed: Duration,
    peer: PeerRun,
}

impl Ended {
    /// The error, which must be exactly `NetError::Protocol(_)`.
    fn protocol_error(&self) -> &ProtocolError {
        match &self.result {
            Err(NetError::Protocol(e)) => e,
            other => panic!("expected a protocol error, got {other:?}"),
        }
    }

    /// The error inside `NetError::PeerGone`.
    fn gone_error(&self) -> &ProtocolError {
        match &self.result {
            Err(NetError::PeerGone { error, .. }) => error,
            other => panic!("expected the peer to be gone, got {other:?}"),
        }
    }
}

/// Runs the honest party as the listener and the hostile peer as the
/// dialer, with `script`; returns once the honest party has returned.
async fn honest_listener_vs(m: Match, script: Script) -> Ended {
    count_panics();
    let l = listener(m.net);
    let (policy, batch, net) = (m.honest_policy, m.honest_batch, m.net);
    let set = elements(m.honest.clone());
    let started = Instant::now();
    let honest = tokio::spawn(async move {
        let conn = l.server.accept().await?;
        let config = SessionConfig { batch_size: batch, ..SessionConfig::new(policy, vec![]) };
        run_session(conn, config, set, &net, |_| {}).await
    });
    let conn = dial(l.addr, &l.peer, l.fingerprint, net).await;
    let brain = m.peer.map(|range| support::count_brain(elements(range), Policy::permissive()));
    let peer = tokio::spawn(run_peer_with(conn, brain, LIMIT, script));
    let result = tokio::time::timeout(LIMIT, honest)
        .await
        .expect("the honest party returns")
        .expect("the honest party does not panic");
    let elapsed = started.elapsed();
    let peer = tokio::time::timeout(LIMIT, peer)
        .await
        .expect("the peer ends once the honest party is gone")
        .expect("the peer does not panic");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
    Ended { result, elapsed, peer }
}

fn misbehaved(e: &ProtocolError) -> &Misbehavior {
    match e {
        ProtocolError::PeerMisbehaved(m) => m,
        other => panic!("expected misbehaviour, got {other:?}"),
    }
}

/// Rewrites the brain's Hello, forwards everything else.
/// `script`, and a count of the batches of points from the honest party
/// that reached the peer.
fn counting_points(mut script: Script) -> (Script, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let wrapped: Script = Box::new(move |seen| {
        if matches!(seen, Seen::In(_, Message::Points(_))) {
            counted.fetch_add(1, Ordering::SeqCst);
        }
        script(seen)
    });
    (wrapped, count)
}

fn rewrite_hello(f: impl Fn(&mut venn_protocol::Hello) + Send + 'static) -> Script {
    Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Hello(hello)) => {
            let mut hello = hello.clone();
            f(&mut hello);
            vec![Act::Send(channel, Message::Hello(hello))]
        }
        seen => forward(&seen),
    })
}

/// Rewrites the `n`th Points batch (0-based) the brain sends.
fn rewrite_points(n: usize, f: impl Fn(&mut Vec<[u8; 32]>) + Send + 'static) -> Script {
    let mut batch = 0;
    Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Points(points)) => {
            let mut points = points.clone();
            if batch == n {
                f(&mut points);
            }
            batch += 1;
            vec![Act::Send(channel, Message::Points(points))]
        }
        seen => forward(&seen),
    })
}

// ----- malformed or illegal points --------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_point_encoding() {
    // Second batch (of 64), fourth point: index 67 of the peer's stream.
    let ended = honest_listener_vs(Match::default(), rewrite_points(1, |p| p[3] = [0xff; 32])).await;
    assert_eq!(
        misbehaved(ended.protocol_error()),
        &Misbehavior::InvalidPoint { index: 67, source: CryptoError::InvalidEncoding { index: 3 } }
    );
    assert_eq!(ended.peer.abort_received, Some(AbortReason::ProtocolViolation));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_point() {
    let ended = honest_listener_vs(Match::default(), rewrite_points(0, |p| p[0] = [0; 32])).await;
    assert_eq!(
        misbehaved(ended.protocol_error()),
        &Misbehavior::InvalidPoint { index: 0, source: CryptoError::IdentityPoint { index: 0 } }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_points() {
    let ended = honest_listener_vs(Match::default(), rewrite_points(2, |p| p[9] = p[8])).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::DuplicatePoints);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_points_than_announced() {
    // After its last batch, the peer sends its first batch again.
    let (mut first, mut sent) = (None, 0);
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Points(points)) => {
            first.get_or_insert_with(|| points.clone());
            sent += points.len();
            let mut acts = vec![Act::Send(channel, Message::Points(points.clone()))];
            if sent == 300 {
                acts.push(Act::Send(channel, Message::Points(first.clone().unwrap_or_default())));
            }
            acts
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::TooManyPoints { announced: 300 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_points_than_announced_then_finish_streams() {
    // The last batch (300 = 4 × 64 + 44) is never sent; the peer finishes
    // its streams cleanly instead.
    let mut sent = 0;
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Points(points)) => {
            sent += points.len();
            if sent == 300 {
                vec![Act::Sleep(Duration::from_millis(200)), Act::Finish]
            } else {
                vec![Act::Send(channel, Message::Points(points.clone()))]
            }
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    match misbehaved(ended.gone_error()) {
        Misbehavior::TooFewPoints { announced: 300, received } => assert!(*received <= 256, "{received}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_batch() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, Message::Points(_)) => vec![Act::Send(channel, Message::Points(vec![]))],
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::EmptyBatch { message: "Points" });
}

// ----- sizes ------------------------------------------------------------

const TRILLION: u64 = 1_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_size_of_a_trillion_is_a_policy_refusal() {
    let policy = Policy { min_set_size: 0, ..Policy::default() };
    let max = policy.max_set_size;
    let m = Match { honest_policy: policy, ..Match::default() };
    let (script, points_received) = counting_points(rewrite_hello(|h| h.set_size = TRILLION));
    let ended = honest_listener_vs(m, script).await;
    assert_eq!(
        ended.protocol_error(),
        &ProtocolError::PolicyRefused(PolicyViolation::TooLarge { side: Side::Peer, size: TRILLION, max })
    );
    // The refusal is immediate: on the Hello, before any point leaves.
    assert_eq!(points_received.load(Ordering::SeqCst), 0, "the honest party sent points before refusing");
    assert_eq!(ended.peer.abort_received, Some(AbortReason::PolicyRefused));
}

/// Peak resident memory of this process (`VmHWM`), bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_size_of_a_trillion_under_a_permissive_policy_allocates_nothing_up_front() {
    // With no maximum, the honest party accepts the announcement and must
    // still allocate only as points arrive: 16 TB up front would abort.
    let before = peak_rss();
    let mut sent = 0;
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Hello(hello)) => {
            let mut hello = hello.clone();
            hello.set_size = TRILLION;
            vec![Act::Send(channel, Message::Hello(hello))]
        }
        Seen::Out(channel, Message::Points(points)) => {
            sent += points.len();
            let mut acts = vec![Act::Send(channel, Message::Points(points.clone()))];
            if sent == 300 {
                acts.extend([Act::Sleep(Duration::from_millis(200)), Act::Finish]);
            }
            acts
        }
        Seen::Out(..) => vec![],
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    match misbehaved(ended.gone_error()) {
        Misbehavior::TooFewPoints { announced: TRILLION, received } => assert!(*received <= 300),
        other => panic!("{other:?}"),
    }
    let grown = peak_rss().saturating_sub(before);
    assert!(grown < 256 << 20, "peak memory grew by {grown} bytes");
}

// ----- frames -----------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frame() {
    // A length prefix of 4 GiB - 1 in the middle of the data stream.
    let mut batches = 0;
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Points(points)) => {
            batches += 1;
            match batches {
                1 => vec![Act::Send(channel, Message::Points(points.clone()))],
                2 => vec![Act::Raw(Channel::Data, u32::MAX.to_be_bytes().to_vec())],
                _ => vec![],
            }
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(
        ended.protocol_error(),
        &ProtocolError::InvalidMessage(DecodeError::Oversize { len: u32::MAX as usize, max: codec::MAX_MESSAGE_BYTES })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frame() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(Channel::Control, Message::Hello(_)) => {
            vec![Act::Frame(Channel::Control, b"\xfa\x00 not a venn message \xff\xfe".to_vec())]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert!(
        matches!(ended.protocol_error(), ProtocolError::InvalidMessage(DecodeError::Malformed { .. })),
        "{:?}",
        ended.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_instead_of_frames() {
    // "GET " read as a length prefix is 1,195,725,856 bytes: over the limit,
    // refused without reading (or allocating) the body.
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(Channel::Control, Message::Hello(_)) => {
            vec![Act::Raw(Channel::Control, b"GET / HTTP/1.1\r\nHost: venn\r\n\r\n".to_vec())]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(
        ended.protocol_error(),
        &ProtocolError::InvalidMessage(DecodeError::Oversize {
            len: u32::from_be_bytes(*b"GET ") as usize,
            max: codec::MAX_MESSAGE_BYTES
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailing_bytes_after_a_message() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(Channel::Control, hello @ Message::Hello(_)) => {
            let mut bytes = codec::encode(hello);
            bytes.extend_from_slice(b"!!");
            vec![Act::Frame(Channel::Control, bytes)]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(ended.protocol_error(), &ProtocolError::InvalidMessage(DecodeError::TrailingBytes { extra: 2 }));
}

// ----- order --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_out_of_order_points_before_hello() {
    // Points on the control stream ahead of the Hello.
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(Channel::Control, hello @ Message::Hello(_)) => vec![
            Act::Send(Channel::Control, Message::Points(vec![[1; 32]])),
            Act::Send(Channel::Control, hello.clone()),
        ],
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert!(
        matches!(misbehaved(ended.protocol_error()), Misbehavior::UnexpectedMessage { message: "Points", .. }),
        "{:?}",
        ended.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_twice() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(Channel::Control, hello @ Message::Hello(_)) => {
            vec![Act::Send(Channel::Control, hello.clone()), Act::Send(Channel::Control, hello.clone())]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert!(
        matches!(misbehaved(ended.protocol_error()), Misbehavior::UnexpectedMessage { message: "Hello", .. }),
        "{:?}",
        ended.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsorted_tags() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, Message::Tags(tags)) => {
            let mut tags = tags.clone();
            tags.reverse();
            vec![Act::Send(channel, Message::Tags(tags))]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::UnsortedTags);
}

// ----- stalls and disconnects -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_mid_stream() {
    // The stall limit (5 s) is longer than the idle timeout (3 s): the
    // connection stays up only because keep-alives flow, and the honest party
    // still notices that the protocol stopped.
    let net = NetConfig {
        idle_timeout: Duration::from_secs(3),
        keep_alive: Duration::from_millis(300),
        stall_timeout: Duration::from_secs(5),
        ..patient()
    };
    let mut batches = 0;
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Points(points)) => {
            batches += 1;
            if batches == 1 {
                vec![Act::Send(channel, Message::Points(points.clone())), Act::Stall]
            } else {
                vec![]
            }
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match { net, ..Match::default() }, script).await;
    // The stall timer fired (it names its limit), and not early.
    assert!(matches!(ended.result, Err(NetError::Stalled(d)) if d == net.stall_timeout), "{:?}", ended.result);
    assert!(ended.elapsed >= net.stall_timeout, "{:?}", ended.elapsed);
    assert_eq!(ended.peer.abort_received, Some(AbortReason::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_after_the_handshake() {
    // TLS completes, then the peer never opens its control stream. Only the
    // handshake timeout is short: it is the one that must fire.
    let net = NetConfig { handshake_timeout: Duration::from_secs(3), ..patient() };
    let ended = honest_listener_vs(Match { peer: None, net, ..Match::default() }, Box::new(|_| vec![])).await;
    assert!(
        matches!(
            ended.result,
            Err(NetError::Timeout { what: "open its control stream", timeout }) if timeout == net.handshake_timeout
        ),
        "{:?}",
        ended.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_before_hello() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(Channel::Control, Message::Hello(_)) => vec![Act::Close],
        _ => vec![],
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    // The control stream never reached the honest party: it cannot open it.
    // (Reported as a connection failure, or, as the driver is being changed
    // to say, as the peer gone while waiting for the handshake.)
    assert!(
        matches!(
            ended.result,
            Err(NetError::Connect(_))
                | Err(NetError::PeerGone {
                    error: ProtocolError::PeerMisbehaved(Misbehavior::UnexpectedEnd { .. }),
                    ..
                })
        ),
        "{:?}",
        ended.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_after_handshake() {
    // Hellos are exchanged; the peer hangs up once the honest party's first
    // points arrive (its handshake is complete), having sent none of its own.
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, hello @ Message::Hello(_)) => vec![Act::Send(channel, hello.clone())],
        Seen::In(_, Message::Points(_)) => vec![Act::Close],
        _ => vec![],
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(misbehaved(ended.gone_error()), &Misbehavior::TooFewPoints { announced: 300, received: 0 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_points() {
    let mut batches = 0;
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Points(points)) => {
            batches += 1;
            match batches {
                1 | 2 => vec![Act::Send(channel, Message::Points(points.clone()))],
                3 => vec![Act::Sleep(Duration::from_millis(200)), Act::Close],
                _ => vec![],
            }
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    match misbehaved(ended.gone_error()) {
        Misbehavior::TooFewPoints { announced: 300, received } => assert!(*received <= 128, "{received}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_tags() {
    // All points go out, then one batch of tags; the peer hangs up once the
    // honest party has shown (by returning tags) that it has all our points.
    let (mut tag_batches, mut honest_has_our_points) = (0, false);
    let script: Script = Box::new(move |seen| match seen {
        Seen::Out(channel, Message::Tags(tags)) => {
            tag_batches += 1;
            match (tag_batches, honest_has_our_points) {
                (1, true) => vec![Act::Send(channel, Message::Tags(tags.clone())), Act::Close],
                (1, false) => vec![Act::Send(channel, Message::Tags(tags.clone()))],
                _ => vec![],
            }
        }
        Seen::In(_, Message::Tags(_)) => {
            honest_has_our_points = true;
            if tag_batches >= 1 {
                vec![Act::Close]
            } else {
                vec![]
            }
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert!(matches!(misbehaved(ended.gone_error()), Misbehavior::UnexpectedEnd { .. }), "{:?}", ended.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_before_confirm() {
    // Everything but the Confirm; the peer hangs up once the honest party's
    // Confirm shows it is waiting for ours.
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(_, Message::Confirm(_)) => vec![],
        Seen::In(_, Message::Confirm(_)) => vec![Act::Close],
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert!(
        matches!(
            misbehaved(ended.gone_error()),
            Misbehavior::UnexpectedEnd { phase } if phase.contains("confirmation")
        ),
        "{:?}",
        ended.result
    );
}

// ----- handshake --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_mismatch() {
    let ended = honest_listener_vs(Match::default(), rewrite_hello(|h| h.version = PROTOCOL_VERSION + 1)).await;
    assert_eq!(
        ended.protocol_error(),
        &ProtocolError::Incompatible(Incompatibility::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: PROTOCOL_VERSION + 1
        })
    );
    assert_eq!(ended.peer.abort_received, Some(AbortReason::VersionMismatch));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_nonce_against_an_honest_dialer() {
    // Roles swapped: the honest party dials, the peer listens and answers
    // the honest Hello with that very Hello.
    count_panics();
    let l = listener(patient());
    let honest_identity = l.peer;
    let server_fp = l.fingerprint;
    let peer = tokio::spawn(async move {
        let conn = l.server.accept().await.expect("accept");
        let script: Script = Box::new(|seen| match seen {
            Seen::In(Channel::Control, hello @ Message::Hello(_)) => vec![Act::Send(Channel::Control, hello.clone())],
            _ => vec![],
        });
        run_peer(conn, None, Policy::permissive(), script).await
    });
    let conn = dial(l.addr, &honest_identity, server_fp, patient()).await;
    let config = SessionConfig::new(Policy::permissive(), vec![]);
    let result = tokio::time::timeout(LIMIT, run_session(conn, config, elements(0..100), &patient(), |_| {}))
        .await
        .expect("the honest party returns");
    match result {
        Err(NetError::Protocol(ProtocolError::PeerMisbehaved(Misbehavior::ReflectedNonce))) => {}
        other => panic!("{other:?}"),
    }
    let _ = tokio::time::timeout(LIMIT, peer).await;
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

// ----- confirmation and replay -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_confirmation() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, Message::Confirm(c)) => {
            let mut c = *c;
            c[0] ^= 1;
            vec![Act::Send(channel, Message::Confirm(c))]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::ConfirmationMismatch);
    assert_eq!(ended.peer.abort_received, Some(AbortReason::ConfirmationMismatch));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_an_earlier_session() {
    // Session 1 is honest and recorded. Session 2, with the same honest
    // party and the same identities, replays the recording verbatim (its
    // tags once the honest party has sent all its points, so that only the
    // replay itself can be the problem).
    count_panics();
    let l = listener(patient());
    let (server_fp, addr) = (l.fingerprint, l.addr);
    let honest_party = tokio::spawn(async move {
        let mut results = Vec::new();
        for _ in 0..2 {
            let conn = l.server.accept().await?;
            let config = SessionConfig { batch_size: 64, ..SessionConfig::new(Policy::permissive(), vec![]) };
            results.push(run_session(conn, config, elements(0..300), &patient(), |_| {}).await);
        }
        Ok::<_, NetError>(results)
    });

    let conn = dial(addr, &l.peer, server_fp, patient()).await;
    let first = run_peer(conn, Some(elements(200..500)), Policy::permissive(), honest()).await;
    assert_eq!(first.outcome.as_ref().map(|o| o.overlap), Some(100), "{:?}", first.error);

    let recording = first.sent;
    let (hello_and_points, tags_and_confirm): (Vec<_>, Vec<_>) = recording
        .into_iter()
        .partition(|(_, bytes)| matches!(codec::decode(bytes), Ok(Message::Hello(_) | Message::Points(_))));
    let mut honest_points = 0;
    let mut later = Some(tags_and_confirm);
    let script: Script = Box::new(move |seen| match seen {
        Seen::Start => hello_and_points.iter().map(|(c, b)| Act::Frame(*c, b.clone())).collect(),
        Seen::In(_, Message::Points(p)) => {
            honest_points += p.len();
            if honest_points == 300 {
                later.take().unwrap_or_default().into_iter().map(|(c, b)| Act::Frame(c, b)).collect()
            } else {
                vec![]
            }
        }
        _ => vec![],
    });
    let conn = dial(addr, &l.peer, server_fp, patient()).await;
    let second = tokio::spawn(run_peer(conn, None, Policy::permissive(), script));
    let results = tokio::time::timeout(LIMIT, honest_party).await.expect("bounded").unwrap().unwrap();
    assert_eq!(results[0].as_ref().map(|r| r.outcome.overlap).ok(), Some(100));
    match &results[1] {
        Err(NetError::Protocol(ProtocolError::PeerMisbehaved(Misbehavior::ConfirmationMismatch))) => {}
        other => panic!("{other:?}"),
    }
    let second = second.await.unwrap();
    assert_eq!(second.abort_received, Some(AbortReason::ConfirmationMismatch));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_from_the_peer_is_reported_with_its_reason() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(_, Message::Points(_)) => {
            vec![Act::Send(Channel::Control, Message::Abort(AbortReason::Cancelled)), Act::Stall]
        }
        seen => forward(&seen),
    });
    let ended = honest_listener_vs(Match::default(), script).await;
    assert_eq!(ended.protocol_error(), &ProtocolError::PeerAborted(AbortReason::Cancelled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_run_through_the_scripted_peer_agrees() {
    // The control case: the scripted peer, left honest, matches correctly,
    // so every failure above is caused by the misbehaviour alone.
    let ended = honest_listener_vs(Match::default(), honest()).await;
    let report = ended.result.as_ref().expect("an honest run succeeds");
    assert_eq!(report.outcome.overlap, 100);
    assert_eq!(ended.peer.outcome.as_ref().map(|o| o.overlap), Some(100));
    assert_eq!(ended.peer.outcome.as_ref().map(|o| o.session_id), Some(report.outcome.session_id));
}

// ----- against the binary -------------------------------------------------

/// `venn serve` with a small email list, pinning a fresh peer identity that
/// the test then uses; the process, its address, its directory (for the
/// report) and the identities.
struct Binary {
    dir: tempfile::TempDir,
    running: Running,
    addr: std::net::SocketAddr,
    server_fp: venn_net::Fingerprint,
    peer: Identity,
}

impl Binary {
    /// Starts it on an ephemeral port with `stall_timeout` seconds, every
    /// other timeout beyond the guard; returns once it listens.
    fn serve(stall_timeout: u64) -> Self {
        count_panics();
        let dir = tempfile::tempdir().unwrap();
        let server = Identity::generate().unwrap();
        server.save(&dir.path().join("id")).unwrap();
        let peer = Identity::generate().unwrap();
        let csv: String =
            std::iter::once("email\n".to_owned()).chain((0..300).map(|i| format!("user{i}@example.com\n"))).collect();
        std::fs::write(dir.path().join("list.csv"), csv).unwrap();
        let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        let stall = stall_timeout.to_string();
        let running = Running::start(&[
            "serve",
            "--quiet",
            "--listen",
            "127.0.0.1:0",
            "--identity",
            &p("id"),
            "--peer-fingerprint",
            &peer.fingerprint().to_hex(),
            "--input",
            &p("list.csv"),
            "--min-set-size",
            "0",
            "--report",
            &p("report.json"),
            "--stall-timeout",
            &stall,
            "--idle-timeout",
            "600",
            "--handshake-timeout",
            "600",
        ]);
        let addr = running.bound_addr();
        Self { dir, running, addr, server_fp: server.fingerprint(), peer }
    }

    /// Dials the binary (it listens already) and runs the script.
    async fn run(&self, script: Script) -> PeerRun {
        let conn = venn_net::connect(self.addr, &self.peer, PeerPins::new([self.server_fp]), patient())
            .await
            .unwrap_or_else(|e| panic!("cannot reach venn serve: {e}\n{}", self.running.stderr.text()));
        let brain = support::count_brain(elements(0..250), Policy::permissive());
        run_peer_with(conn, Some(brain), LIMIT, script).await
    }

    /// Waits for the binary to exit; returns its exit code and stderr.
    fn exit(self) -> (Option<i32>, String) {
        let (out, _) = self.running.wait(LIMIT);
        assert!(!self.dir.path().join("report.json").exists(), "a failed session wrote a report");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (out.status.code(), stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exits_6_on_an_identity_point_and_writes_no_report() {
    let serve = Binary::serve(600);
    let run = serve.run(rewrite_points(0, |p| p[0] = [0; 32])).await;
    assert_eq!(run.abort_received, Some(AbortReason::ProtocolViolation));
    let (code, stderr) = serve.exit();
    assert_eq!(code, Some(6), "{stderr}");
    assert!(stderr.contains("identity"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exits_4_on_an_announced_trillion_and_writes_no_report() {
    let serve = Binary::serve(600);
    let run = serve.run(rewrite_hello(|h| h.set_size = TRILLION)).await;
    assert_eq!(run.abort_received, Some(AbortReason::PolicyRefused));
    let (code, stderr) = serve.exit();
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("1,000,000,000,000"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exits_7_on_a_stall_and_writes_no_report() {
    // Only the stall timeout is short: it is the one that must fire.
    let serve = Binary::serve(3);
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(_, Message::Points(_)) => vec![Act::Stall],
        seen => forward(&seen),
    });
    let run = serve.run(script).await;
    assert_eq!(run.abort_received, Some(AbortReason::Cancelled));
    let (code, stderr) = serve.exit();
    assert_eq!(code, Some(7), "{stderr}");
    assert!(stderr.contains("stalled: no protocol progress for 3s"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exits_6_on_a_wrong_confirmation_and_writes_no_report() {
    let serve = Binary::serve(600);
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, Message::Confirm(c)) => vec![Act::Send(channel, Message::Confirm(c.map(|b| !b)))],
        seen => forward(&seen),
    });
    serve.run(script).await;
    let (code, stderr) = serve.exit();
    assert_eq!(code, Some(6), "{stderr}");
    assert!(stderr.contains("confirmation"), "{stderr}");
}

// ----- segment mode -------------------------------------------------------

const AGREEMENT: [u8; 32] = [0xa6; 32];

/// Records `range` with labels `0..labels`, on the elements of [`elements`].
fn labeled(range: Range<u32>, labels: u16) -> LabeledSet {
    use sha2::Digest;
    let records = range
        .map(|i| {
            (Element(sha2::Sha256::digest(format!("venn-test-element-{i}")).into()), (i % u32::from(labels)) as u16)
        })
        .collect();
    LabeledSet::new(records).0
}

fn segment_config(binding: Vec<u8>, role: Role, labels: u16, agreement: [u8; 32]) -> SegmentConfig {
    SegmentConfig {
        session: SessionConfig { batch_size: 64, ..SessionConfig::new(Policy::permissive(), binding) },
        role,
        labels,
        agreement,
        reveal_segment_sizes: false,
    }
}

/// An honest aggregator (records 0..300, 2 labels) listens; the hostile
/// peer is a receiver (records 200..500, 3 labels) whose agreement hash is
/// `agreement`, speaking through `script`.
async fn honest_aggregator_vs(agreement: [u8; 32], script: Script) -> Ended {
    count_panics();
    let l = listener(patient());
    let started = Instant::now();
    let honest = tokio::spawn(async move {
        let conn = l.server.accept().await?;
        let start =
            |binding| SegmentSession::new(segment_config(binding, Role::Aggregator, 2, AGREEMENT), labeled(0..300, 2));
        run_machine(conn, start, &patient(), |_| {}).await
    });
    let conn = dial(l.addr, &l.peer, l.fingerprint, patient()).await;
    let brain: Brain = Box::new(move |binding| {
        let session = SegmentSession::new(segment_config(binding, Role::Receiver, 3, agreement), labeled(200..500, 3));
        Box::new(session.expect("a valid receiver"))
    });
    let peer = tokio::spawn(run_peer_with(conn, Some(brain), LIMIT, script));
    let result = tokio::time::timeout(LIMIT, honest)
        .await
        .expect("the honest party returns")
        .expect("the honest party does not panic");
    let elapsed = started.elapsed();
    let peer = tokio::time::timeout(LIMIT, peer).await.expect("bounded").expect("no panic");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "something panicked");
    Ended { result, elapsed, peer }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_honest_run_through_the_scripted_peer_agrees() {
    let ended = honest_aggregator_vs(AGREEMENT, honest()).await;
    let report = ended.result.as_ref().expect("an honest segment run succeeds");
    assert_eq!(report.outcome.overlap, 100);
    assert_eq!(ended.peer.outcome.as_ref().map(|o| o.overlap), Some(100), "{:?}", ended.peer.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_agreement_mismatch() {
    let ended = honest_aggregator_vs([0x5e; 32], honest()).await;
    assert!(
        matches!(ended.protocol_error(), ProtocolError::Incompatible(Incompatibility::AgreementMismatch { .. })),
        "{:?}",
        ended.result
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_identity_point_as_an_elgamal_key() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, Message::Hello(hello)) => {
            let mut hello = hello.clone();
            if let Some(segments) = hello.segments.as_mut() {
                segments.keys[0] = [0; 32];
            }
            vec![Act::Send(channel, Message::Hello(hello))]
        }
        seen => forward(&seen),
    });
    let ended = honest_aggregator_vs(AGREEMENT, script).await;
    assert!(matches!(misbehaved(ended.protocol_error()), Misbehavior::BadKeys(_)), "{:?}", ended.result);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_labels_that_do_not_fit_the_points() {
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(channel, Message::LabeledPoints { points, labels: Labels::OneHot { ciphertexts, proofs } }) => {
            let mut ciphertexts = ciphertexts.clone();
            ciphertexts.pop();
            let labels = Labels::OneHot { ciphertexts, proofs: proofs.clone() };
            vec![Act::Send(channel, Message::LabeledPoints { points: points.clone(), labels })]
        }
        seen => forward(&seen),
    });
    let ended = honest_aggregator_vs(AGREEMENT, script).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::BadLabels);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_receiver_points_before_the_returned_tags() {
    // The receiver holds back the aggregator's tags and sends its own
    // labeled points first.
    let script: Script = Box::new(|seen| match seen {
        Seen::Out(_, Message::LabeledTags { .. }) => vec![],
        seen => forward(&seen),
    });
    let ended = honest_aggregator_vs(AGREEMENT, script).await;
    assert_eq!(misbehaved(ended.protocol_error()), &Misbehavior::PointsBeforeTags);
}
