//! Venn: private audience matching.
//!
//! This facade re-exports the crates that make up Venn, so that an embedding
//! service can depend on one crate:
//! - [`crypto`]: hash-to-group, blinding keys, batched blinding.
//! - [`protocol`]: the sans-I/O protocol state machine.
//! - [`net`]: QUIC transport with pinned identities.
//! - [`ids`]: reading CSV files and normalizing identifiers.

#![forbid(unsafe_code)]

pub use venn_crypto as crypto;
pub use venn_ids as ids;
pub use venn_net as net;
pub use venn_protocol as protocol;
