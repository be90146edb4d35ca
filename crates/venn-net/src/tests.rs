//! Loopback tests: real QUIC endpoints on 127.0.0.1.

use std::{net::SocketAddr, time::Duration};

use venn_protocol::{
    codec, Element, ElementSet, Hello, Message, Policy, ProtocolError, SessionConfig, PROTOCOL_VERSION,
};

use crate::{connect, run_session, Fingerprint, Identity, NetConfig, NetError, PeerPins, Server};

fn set(range: std::ops::Range<u32>) -> ElementSet {
    ElementSet::new(range.map(|i| Element(std::array::from_fn(|b| (i >> (8 * (b % 4))) as u8 ^ b as u8))).collect()).0
}

fn config() -> SessionConfig {
    SessionConfig::new(Policy::permissive(), vec![])
}

pub(crate) fn quick() -> NetConfig {
    NetConfig {
        idle_timeout: Duration::from_secs(3),
        keep_alive: Duration::from_millis(500),
        stall_timeout: Duration::from_secs(3),
        handshake_timeout: Duration::from_secs(3),
    }
}

struct Parties {
    server: Server,
    addr: SocketAddr,
    client: Identity,
    server_fp: Fingerprint,
}

fn parties(server_pins_client: bool) -> Parties {
    let (server_id, client) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let server_fp = server_id.fingerprint();
    let pin = if server_pins_client { client.fingerprint() } else { Identity::generate().unwrap().fingerprint() };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), server_id, PeerPins::new([pin]), quick()).unwrap();
    let addr = server.local_addr().unwrap();
    Parties { server, addr, client, server_fp }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_session_counts_the_overlap() {
    let p = parties(true);
    let client_fp = p.client.fingerprint();
    let server = tokio::spawn(async move {
        let conn = p.server.accept().await.unwrap();
        assert_eq!(conn.peer(), client_fp);
        run_session(conn, config(), set(0..20_000), &quick(), |_| {}).await
    });
    let conn = connect(p.addr, &p.client, PeerPins::new([p.server_fp]), quick()).await.unwrap();
    assert_eq!(conn.peer(), p.server_fp);
    let mut events = 0;
    let client = run_session(conn, config(), set(15_000..40_000), &quick(), |_| events += 1).await.unwrap();
    let server = server.await.unwrap().unwrap();
    assert_eq!(client.outcome.overlap, 5_000);
    assert_eq!(server.outcome.overlap, 5_000);
    assert_eq!(client.outcome.session_id, server.outcome.session_id);
    assert_eq!((client.outcome.own_size, client.outcome.peer_size), (25_000, 20_000));
    assert!(events > 2);
    // 48 bytes per record of payload, plus framing and QUIC overhead.
    let records = 45_000;
    assert!(client.wire_bytes_sent + server.wire_bytes_sent > 48 * records);
    assert!(client.wire_bytes_sent + server.wire_bytes_sent < 56 * records, "{client:?} {server:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_a_server_with_another_fingerprint() {
    let p = parties(true);
    let wrong = Identity::generate().unwrap().fingerprint();
    let server = tokio::spawn(async move { p.server.accept().await.map(|_| ()) });
    let err = connect(p.addr, &p.client, PeerPins::new([wrong]), quick()).await.err().unwrap();
    match err {
        NetError::PeerNotPinned { presented, expected } => {
            assert_eq!(presented, p.server_fp);
            assert_eq!(expected, vec![wrong]);
        }
        other => panic!("unexpected {other}"),
    }
    let server_err = server.await.unwrap().unwrap_err();
    assert!(server_err.is_authentication(), "{server_err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_refuses_an_unpinned_client() {
    let p = parties(false);
    let client_fp = p.client.fingerprint();
    let server = tokio::spawn(async move { p.server.accept().await.map(|_| ()) });
    let client = connect(p.addr, &p.client, PeerPins::new([p.server_fp]), quick()).await;
    let server_err = server.await.unwrap().unwrap_err();
    match &server_err {
        NetError::PeerNotPinned { presented, .. } => assert_eq!(*presented, client_fp),
        other => panic!("unexpected {other}"),
    }
    // In TLS 1.3 the client's handshake can complete before the server has
    // checked the client's certificate: then the client learns of the
    // refusal when it first reads. Either way it is told that the peer
    // refused its identity.
    let err = match client {
        Err(e) => e,
        Ok(conn) => run_session(conn, config(), set(0..10), &quick(), |_| {}).await.unwrap_err(),
    };
    assert!(matches!(err, NetError::PeerRefusedUs { .. }), "{err:?}");
    assert!(err.is_authentication(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_disconnects_mid_run_is_reported_as_gone() {
    let p = parties(true);
    let server = tokio::spawn(async move {
        let conn = p.server.accept().await.unwrap();
        run_session(conn, config(), set(0..30_000), &quick(), |_| {}).await
    });
    let conn = connect(p.addr, &p.client, PeerPins::new([p.server_fp]), quick()).await.unwrap();
    // The client is cut off once points flow (its first progress event),
    // not after a guessed delay.
    let (flowing, points_flow) = tokio::sync::oneshot::channel();
    let mut flowing = Some(flowing);
    let client = tokio::spawn(async move {
        run_session(conn, config(), set(0..30_000), &quick(), move |event| {
            if matches!(event, venn_protocol::Event::Progress(p) if p.points_sent > 0) {
                if let Some(flowing) = flowing.take() {
                    let _ = flowing.send(());
                }
            }
        })
        .await
    });
    tokio::time::timeout(Duration::from_secs(60), points_flow).await.expect("points flow").expect("client alive");
    client.abort();
    // Bounded by the idle and stall timeouts plus one batch of curve work,
    // generously so on a loaded two-core machine.
    let err = tokio::time::timeout(Duration::from_secs(30), server).await.expect("bounded").unwrap().unwrap_err();
    assert!(matches!(err, NetError::PeerGone { .. } | NetError::Stalled(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_that_stalls_after_hello_times_out() {
    let p = parties(true);
    let server = tokio::spawn(async move {
        let conn = p.server.accept().await.unwrap();
        run_session(conn, config(), set(0..100), &quick(), |_| {}).await
    });
    let conn = connect(p.addr, &p.client, PeerPins::new([p.server_fp]), quick()).await.unwrap();
    // A hand-driven peer: Hello, then silence (keep-alives continue).
    let (mut send, _recv) = conn.connection.open_bi().await.unwrap();
    let hello = codec::encode(&Message::Hello(Hello {
        version: PROTOCOL_VERSION,
        nonce: [3; 32],
        set_size: 100,
        policy: Policy::permissive(),
        segments: None,
        index: None,
    }));
    crate::framing::write_frame(&mut send, &hello).await.unwrap();
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), server).await.expect("bounded").unwrap().unwrap_err();
    assert!(matches!(err, NetError::Stalled(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frame_ends_the_session_with_an_invalid_message_error() {
    let p = parties(true);
    let server = tokio::spawn(async move {
        let conn = p.server.accept().await.unwrap();
        run_session(conn, config(), set(0..100), &quick(), |_| {}).await
    });
    let conn = connect(p.addr, &p.client, PeerPins::new([p.server_fp]), quick()).await.unwrap();
    let (mut send, _recv) = conn.connection.open_bi().await.unwrap();
    send.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), server).await.expect("bounded").unwrap().unwrap_err();
    assert!(
        matches!(err, NetError::Protocol(ProtocolError::InvalidMessage(venn_protocol::DecodeError::Oversize { .. }))),
        "{err}"
    );
}
