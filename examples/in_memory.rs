//! Two parties count the overlap of their lists in one process, with no
//! network: a tour of the public API of `venn::protocol` and `venn::crypto`.
//!
//! ```text
//! cargo run --example in_memory
//! ```
//!
//! A [`Session`] is a sans-I/O state machine: it never touches a socket, a
//! clock or a thread of its own. The driver (here, the loop in `main`; in
//! production, the QUIC transport) hands it the peer's messages with
//! `handle_message`, takes what it wants to send with `poll_transmit`, and
//! reads what happened with `poll_event`. Moving bytes between two sessions
//! in memory is therefore all it takes to run the whole protocol.

use std::collections::{BTreeSet, VecDeque};
use std::error::Error;

use venn::crypto::{expand_message_xmd_sha512, DomainTag};
use venn::protocol::{
    Channel, Element, ElementSet, Event, Machine, Outcome, Policy, Progress, ProtocolError, Session, SessionConfig,
    Transmit,
};

/// Domain of the example's identifier digests.
const ID_DOMAIN: &[u8] = b"venn-example/v1/identifier";

/// Turns an identifier into a protocol [`Element`]: 32 bytes that both
/// parties must derive the same way.
///
/// Real inputs come from the `venn-ids` crate, which normalizes each
/// identifier and hashes it with its kind label (see `docs/identifiers.md`).
/// This example has no such dependency, so it uses the RFC 9380 expander that
/// `venn::crypto` exports as a plain hash function. Any fixed hash works, as
/// long as both sides use the same one: the protocol only ever compares
/// elements for equality.
fn element(domain: &DomainTag, identifier: &str) -> Element {
    Element(expand_message_xmd_sha512::<32>(identifier.as_bytes(), domain))
}

/// The example's customer lists: `user{i}@example.com` for a range of `i`.
fn identifiers(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("user{i}@example.com")).collect()
}

/// One side of the run: its session and a summary of its events.
struct Party {
    name: &'static str,
    session: Session,
    progress_events: u64,
    last_progress: Progress,
    outcome: Option<Outcome>,
}

impl Party {
    fn new(name: &'static str, session: Session) -> Self {
        Self { name, session, progress_events: 0, last_progress: Progress::default(), outcome: None }
    }

    /// Reads every pending event. Events come in order: one
    /// `HandshakeComplete`, `Progress` for each batch sent or received, then
    /// exactly one terminal event, `Finished` or `Failed`.
    fn drain_events(&mut self) -> Result<(), ProtocolError> {
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::HandshakeComplete { session_id, peer_size, policy } => println!(
                    "{}: handshake complete, session {}…, peer has {} identifiers, \
                     merged policy {}..={}",
                    self.name,
                    &session_id.to_hex()[..16],
                    peer_size,
                    policy.min_set_size,
                    policy.max_set_size
                ),
                // One per batch; printing each would drown the output, so
                // keep the latest and summarize at the end.
                Event::Progress(p) => {
                    self.progress_events += 1;
                    self.last_progress = p;
                }
                Event::Finished(outcome) => {
                    println!(
                        "{}: finished, {} of our {} identifiers are among the peer's {}",
                        self.name, outcome.overlap, outcome.own_size, outcome.peer_size
                    );
                    self.outcome = Some(outcome);
                }
                Event::Failed(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// Stands in for the network: one ordered queue per direction.
///
/// Each [`Transmit`] names a logical [`Channel`] (`Control` for Hello,
/// Confirm and Abort; `Data` for point and tag batches). This link carries
/// both in one ordered queue, which is always safe. A transport that carries
/// them separately must still deliver the peer's Hello before its first data
/// message; a Confirm that overtakes the last data is held by the session
/// until the data arrives.
#[derive(Default)]
struct Link {
    queue: VecDeque<Transmit>,
    messages: [u64; 2],
}

impl Link {
    /// Takes everything `from` has to send. `poll_transmit` does the work
    /// lazily: blinding our next batch of identifiers happens inside the
    /// call, so a transport that polls only when it can send gets
    /// backpressure for free.
    fn collect(&mut self, from: &mut Session) {
        while let Some(transmit) = from.poll_transmit() {
            self.messages[match transmit.channel {
                Channel::Control => 0,
                Channel::Data => 1,
            }] += 1;
            self.queue.push_back(transmit);
        }
    }

    /// Delivers one message, if any, and says whether it did. Re-blinding a
    /// batch of the peer's points happens inside `handle_message`.
    fn deliver_one(&mut self, to: &mut Session) -> Result<bool, ProtocolError> {
        match self.queue.pop_front() {
            Some(transmit) => to.handle_message(&transmit.payload).map(|()| true),
            None => Ok(false),
        }
    }
}

/// Moves messages both ways until neither side has anything left to say.
fn drive(alice: &mut Party, bob: &mut Party) -> Result<(Link, Link), ProtocolError> {
    let (mut to_bob, mut to_alice) = (Link::default(), Link::default());
    loop {
        to_bob.collect(&mut alice.session);
        to_alice.collect(&mut bob.session);
        let moved_to_bob = to_bob.deliver_one(&mut bob.session);
        let moved_to_alice = to_alice.deliver_one(&mut alice.session);
        // An error is final for the session that raised it, and its next
        // `poll_transmit` yields an Abort for the peer. A real driver would
        // send that Abort before closing; here an honest run never fails, so
        // stop at the first error.
        let (moved_to_bob, moved_to_alice) = (moved_to_bob?, moved_to_alice?);
        alice.drain_events()?;
        bob.drain_events()?;
        if !moved_to_bob && !moved_to_alice {
            return Ok((to_bob, to_alice));
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    // ----- inputs -------------------------------------------------------
    // Alice holds users 0..6000 (with a few rows repeated, as exports do);
    // Bob holds users 4000..10000. They share users 4000..6000.
    let alice_ids: Vec<String> = identifiers(0..6_000).into_iter().chain(identifiers(0..25)).collect();
    let bob_ids = identifiers(4_000..10_000);

    let domain = DomainTag::new(ID_DOMAIN)?;
    let to_elements = |ids: &[String]| -> Vec<Element> { ids.iter().map(|id| element(&domain, id)).collect() };

    // `ElementSet::new` removes duplicates (and says how many), then shuffles
    // with a permutation from the OS CSPRNG: the peer sees our points in the
    // order we send them, so that order must carry no information.
    let (alice_set, alice_duplicates) = ElementSet::new(to_elements(&alice_ids));
    let (bob_set, bob_duplicates) = ElementSet::new(to_elements(&bob_ids));
    println!("alice: {} rows, {} distinct ({} duplicates removed)", alice_ids.len(), alice_set.len(), alice_duplicates);
    println!("bob:   {} rows, {} distinct ({} duplicates removed)", bob_ids.len(), bob_set.len(), bob_duplicates);

    // ----- configuration ------------------------------------------------
    // The default policy refuses sets under 1,000 or over 100,000,000
    // identifiers. Each side announces its own; the session runs under the
    // stricter of the two and checks both set sizes before anything is
    // blinded.
    let policy = Policy::default();

    // Our own set is checked against our own policy right away.
    let tiny: Vec<Element> = (0..10).map(|i| element(&domain, &format!("x{i}"))).collect();
    match Session::new(SessionConfig::new(policy, Vec::new()), ElementSet::new(tiny).0) {
        Err(refused) => println!("a set of 10 is refused at the start: {refused}"),
        Ok(_) => return Err("a set of 10 should be below the default minimum".into()),
    }

    // The channel binding ties a session to one authenticated connection:
    // over QUIC it is the TLS exporter, the same value at both ends of the
    // connection and different on any other. It goes into the session id,
    // hence into the hash-to-group domain. In memory there is no channel, so
    // both sides simply agree on fixed bytes; if they differed, nothing would
    // match and the confirmation would fail.
    let binding = b"in-memory example".to_vec();
    let config = SessionConfig {
        // Points or tags per message: by default 8,192 (`DEFAULT_BATCH_SIZE`),
        // clamped to 1..=65,536 (`MAX_ITEMS_PER_MESSAGE`). Smaller here so
        // that these small sets still travel in several batches.
        batch_size: 1_024,
        ..SessionConfig::new(policy, binding)
    };

    // `Session::new` draws the ephemeral blinding key and the handshake nonce
    // from the OS CSPRNG and queues the Hello. The key is wiped from memory
    // when the session no longer needs it.
    let mut alice = Party::new("alice", Session::new(config.clone(), alice_set)?);
    let mut bob = Party::new("bob", Session::new(config, bob_set)?);

    // ----- the run ------------------------------------------------------
    let started = std::time::Instant::now();
    let (to_bob, to_alice) = drive(&mut alice, &mut bob)?;
    let elapsed = started.elapsed();

    for (party, link) in [(&alice, &to_bob), (&bob, &to_alice)] {
        let p = party.last_progress;
        println!(
            "{}: {} progress events; sent {} points and {} tags, received {} points and \
             {} tags; {} control and {} data messages, {} bytes out, {} bytes in",
            party.name,
            party.progress_events,
            p.points_sent,
            p.tags_sent,
            p.points_received,
            p.tags_received,
            link.messages[0],
            link.messages[1],
            party.session.bytes_sent(),
            party.session.bytes_received(),
        );
    }

    // ----- the result ---------------------------------------------------
    let (a, b) = match (&alice.outcome, &bob.outcome) {
        (Some(a), Some(b)) => (a, b),
        _ => return Err("the run ended without a result".into()),
    };
    // `outcome()` returns the same value as the `Finished` event.
    assert_eq!(alice.session.outcome(), Some(a));
    assert_eq!(bob.session.outcome(), Some(b));

    // Both sides agree on everything, mirrored.
    assert_eq!(a.session_id, b.session_id);
    assert_eq!((a.own_size, a.peer_size), (b.peer_size, b.own_size));
    assert_eq!(a.overlap, b.overlap);

    // And the count is the size of the plain intersection, which neither
    // party could compute alone.
    let alice_plain: BTreeSet<&String> = alice_ids.iter().collect();
    let bob_plain: BTreeSet<&String> = bob_ids.iter().collect();
    let expected = alice_plain.intersection(&bob_plain).count() as u64;
    assert_eq!(a.overlap, expected);

    let records = a.own_size + a.peer_size;
    let bytes = alice.session.bytes_sent() + bob.session.bytes_sent();
    println!(
        "overlap: {} (plain intersection: {expected}); {} bytes on the wire for {records} \
         records, {:.1} per record; {:.2} s",
        a.overlap,
        bytes,
        bytes as f64 / records as f64,
        elapsed.as_secs_f64()
    );
    Ok(())
}
