//! The Venn counting protocol as a sans-I/O state machine.
//!
//! Two parties learn the size of the intersection of their identifier sets
//! and each other's set size, and nothing else. This crate holds the whole
//! protocol (messages, handshake, policy, phases) but no I/O: bytes go in
//! and out of a [`Session`], and a driver (the QUIC transport of `venn-net`,
//! or a test) moves them. See `docs/protocol.md` for the design.
//!
//! ```
//! use venn_protocol::{Element, ElementSet, Machine, Policy, Session, SessionConfig};
//!
//! let set = |range: std::ops::Range<u8>| ElementSet::new(range.map(|b| Element([b; 32])).collect()).0;
//! let config = || SessionConfig::new(Policy::permissive(), b"channel binding".to_vec());
//! let mut alice = Session::new(config(), set(0..60)).unwrap();
//! let mut bob = Session::new(config(), set(40..100)).unwrap();
//!
//! // Move every pending message across until neither side has anything to say.
//! loop {
//!     let mut moved = false;
//!     while let Some(t) = alice.poll_transmit() { bob.handle_message(&t.payload).unwrap(); moved = true; }
//!     while let Some(t) = bob.poll_transmit() { alice.handle_message(&t.payload).unwrap(); moved = true; }
//!     if !moved { break; }
//! }
//! assert_eq!(alice.outcome().unwrap().overlap, 20);
//! assert_eq!(bob.outcome().unwrap().overlap, 20);
//! # let _ = alice.poll_event();
//! ```

#![forbid(unsafe_code)]

pub mod codec;
mod core;
pub mod count;
mod element;
mod error;
pub mod index;
mod machine;
mod message;
mod policy;
pub mod release;
mod segments;
mod session;
mod transcript;

#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod segment_attacks;
#[cfg(test)]
mod segment_tests;
#[cfg(test)]
mod tests;

pub use element::{Element, ElementSet};
pub use error::{DecodeError, Incompatibility, Misbehavior, ProtocolError, Refusal};
pub use index::{index_domain, IndexAdmission, IndexEpoch, IndexLookup, IndexOutcome, IndexParty, IndexSession};
pub use machine::Machine;
pub use message::{
    AbortReason, Hello, IndexHello, IndexRole, Labels, Message, Role, SegmentHello, MAX_FETCH_CHUNK,
    MAX_ITEMS_PER_MESSAGE, NONCE_LEN, PROTOCOL_VERSION,
};
pub use policy::{Policy, PolicyViolation, Side};
pub use segments::{LabeledSet, SegmentConfig, SegmentSession, MAX_SEGMENT_LABELS};
pub use session::{
    Channel, Event, Outcome, Progress, SegmentOutcome, Session, SessionConfig, Transmit, DEFAULT_BATCH_SIZE,
};
pub use transcript::SessionId;
