//! How an ad platform embeds a Venn endpoint in its own tokio service,
//! without the `venn` command line.
//!
//! The platform keeps its audience in memory (here: generated), listens on a
//! port of its choosing, and answers one brand whose fingerprint it pinned.
//! To make the example self-contained, the "brand" runs in the same process;
//! in production it is another company's `venn connect`.
//!
//! ```sh
//! cargo run --release --example embed_server
//! ```

use std::time::Duration;

use venn::{
    ids::{digest, synthetic, IdKind},
    net::{connect, run_session, Identity, NetConfig, PeerPins, Server},
    protocol::{Element, ElementSet, Event, Policy, SessionConfig},
};

/// Turns a platform's stored emails (already normalized) into protocol
/// elements, exactly as `venn-ids` does when it reads a CSV file.
fn elements(emails: impl Iterator<Item = String>) -> ElementSet {
    let digests = emails.map(|e| Element(digest(IdKind::Email, &venn::ids::digest::sha256(e.as_bytes()))));
    ElementSet::new(digests.collect()).0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The platform's audience, and a brand's list that shares 5,000 people.
    let spec = synthetic::SyntheticSpec { rows_a: 20_000, rows_b: 15_000, overlap: 5_000, seed: 3 };
    let (brand_people, platform_people) = synthetic::generate(&spec)?;

    // Long-lived identities: in production, Identity::load_or_generate(dir)
    // on each side and an out-of-band fingerprint exchange.
    let platform_identity = Identity::generate()?;
    let brand_identity = Identity::generate()?;
    let (platform_fp, brand_fp) = (platform_identity.fingerprint(), brand_identity.fingerprint());

    let net = NetConfig { stall_timeout: Duration::from_secs(60), ..NetConfig::default() };
    let server = Server::bind("127.0.0.1:0".parse()?, platform_identity, PeerPins::new([brand_fp]), net)?;
    let addr = server.local_addr()?;
    println!("platform endpoint on {addr}, fingerprint {}", platform_fp.short());

    // The platform's service: accept the pinned brand, run one session, log
    // progress through its own observer, and keep the result.
    let platform = tokio::spawn(async move {
        let conn = server.accept().await?;
        println!("platform: brand {} connected from {}", conn.peer().short(), conn.remote_address());
        let set = elements(platform_people.into_iter().map(|p| p.email));
        let config = SessionConfig::new(Policy::default(), vec![]);
        run_session(conn, config, set, &net, |event| {
            if let Event::HandshakeComplete { peer_size, policy, .. } = event {
                println!("platform: brand announced {peer_size} identifiers; policy {policy:?}");
            }
        })
        .await
    });

    // The brand (another company, in real life).
    let conn = connect(addr, &brand_identity, PeerPins::new([platform_fp]), net).await?;
    let set = elements(brand_people.into_iter().map(|p| p.email));
    let brand = run_session(conn, SessionConfig::new(Policy::default(), vec![]), set, &net, |_| {}).await?;
    let platform = platform.await??;

    println!(
        "platform: overlap {} of its {} users ({} bytes on the wire)",
        platform.outcome.overlap,
        platform.outcome.own_size,
        platform.wire_bytes_sent + platform.wire_bytes_received
    );
    println!("brand:    overlap {} of its {} customers", brand.outcome.overlap, brand.outcome.own_size);
    assert_eq!(platform.outcome.overlap, 5_000);
    assert_eq!(brand.outcome.session_id, platform.outcome.session_id);
    Ok(())
}
