//! Venn over QUIC.
//!
//! Each party has a long-lived [`Identity`] (a key pair and a self-signed
//! certificate) and pins its peer's [`Fingerprint`]. Connections are QUIC
//! with TLS 1.3 in both directions, ALPN `venn/1` (count and segment mode)
//! or `venn-index/1` (index mode, see [`Mode`] and [`fetch`]), and verifiers
//! that accept exactly the pinned key. The protocol's session id is bound to the TLS
//! exporter of the connection, so a session cannot be relayed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), venn_net::NetError> {
//! use venn_net::{connect, run_session, Identity, NetConfig, PeerPins};
//! use venn_protocol::{Element, ElementSet, Policy, SessionConfig};
//!
//! let me = Identity::load("me".as_ref())?;
//! let peer = "3f2a91c07be40d11…".parse()?;
//! let conn = connect("203.0.113.7:7447".parse().unwrap(), &me, PeerPins::new([peer]), NetConfig::default()).await?;
//! let (set, _duplicates) = ElementSet::new(vec![Element([7; 32])]);
//! let report = run_session(conn, SessionConfig::new(Policy::default(), vec![]), set, &NetConfig::default(), |_| {}).await?;
//! println!("overlap: {}", report.outcome.overlap);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod config;
mod connection;
mod driver;
mod error;
pub mod fetch;
mod fingerprint;
pub mod framing;
mod identity;
mod tls;

#[cfg(test)]
mod fetch_tests;
#[cfg(test)]
mod tests;

pub use config::NetConfig;
pub use connection::{connect, PeerConnection, Server};
pub use driver::{run_machine, run_machine_until, run_session, SessionReport};
pub use error::NetError;
pub use fingerprint::Fingerprint;
pub use identity::{Identity, CERT_FILE, KEY_FILE};
pub use tls::{Mode, PeerPins, ALPN, ALPN_INDEX};
