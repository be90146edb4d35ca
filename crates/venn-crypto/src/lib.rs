//! The curve work of Venn: everything that touches ristretto255, and nothing
//! that touches a socket or a file.
//!
//! Two parties with sets `X` and `Y` each draw an ephemeral scalar (`a`, `b`).
//! Party A sends `a·H(x)` for every `x ∈ X`; B raises them to `b·a·H(x)` and
//! keeps a 16-byte [`Tag`] of each. Because scalar multiplication commutes,
//! `a·b·H(z) = b·a·H(z)`, so an identifier held by both sides yields the same
//! tag on both sides, while a point blinded by one unknown scalar is
//! pseudorandom to the other party (DDH in the random-oracle model).
//!
//! ```
//! use venn_crypto::{blind_batch, reblind_to_tags, BlindingKey, DomainTag};
//!
//! let dst = DomainTag::new(b"example-session").unwrap();
//! let (a, b) = (BlindingKey::random(), BlindingKey::random());
//! let alice = [b"alice@example.com".as_slice(), b"bob@example.com"];
//! let bob = [b"bob@example.com".as_slice(), b"carol@example.com"];
//!
//! // Each side blinds its own set and sends the encodings.
//! let from_a = blind_batch(&a, &dst, &alice);
//! let from_b = blind_batch(&b, &dst, &bob);
//! // Each side re-blinds what it received into tags.
//! let tags_of_a = reblind_to_tags(&b, &from_a).unwrap();
//! let tags_of_b = reblind_to_tags(&a, &from_b).unwrap();
//! assert_eq!(tags_of_a[1], tags_of_b[0]); // bob@example.com is common
//! assert_ne!(tags_of_a[0], tags_of_b[1]);
//! ```
//!
//! # Constant time
//! Every operation that involves a secret scalar uses curve25519-dalek's
//! constant-time variable-base multiplication. Nothing in this crate calls a
//! `vartime_*` function on a secret. Validation of peer input stops at the
//! first invalid point, so its timing reveals where that point is: only what
//! the peer, who sent it, already knows. The one-hot proof verifier
//! ([`verify_one_hot_batch`]) is variable time by design and sees only public
//! data: the peer's ciphertexts and proofs, the keys, and its own weights.

#![forbid(unsafe_code)]

mod batch;
mod dleq;
mod epoch;
mod error;
mod hash_to_group;
mod key;
mod labels;
mod noise;
mod one_hot_proof;
mod oprf;
mod tag;

pub use batch::{blind_batch, reblind_to_tags, BATCH_CHUNK};
pub use dleq::{prove_sum, verify_sum, DleqProof, DLEQ_DST, DLEQ_PROOF_LEN};
pub use epoch::{EpochKey, EpochPublicKey};
pub use error::CryptoError;
pub use hash_to_group::{expand_message_xmd_sha512, hash_to_group, DomainTag, MAX_DST_LEN};
pub use key::BlindingKey;
pub use labels::{
    decrypt_accumulators, encrypt_one_hot, Accumulator, DiscreteLog, LabelKeys, PublicLabelKeys, MAX_LABELS,
};
pub use noise::{discrete_laplace, epsilon_to_rational, NoiseError, EPSILON_DENOMINATOR, MAX_EPSILON};
pub use one_hot_proof::{
    encrypt_one_hot_proven, proof_len, verify_one_hot_batch, verify_one_hot_batch_points, OneHotProof,
};
pub use oprf::{
    blind_batch_summed, epoch_tags, evaluate_batch, evaluate_batch_summed, filter_key, unblind_to_filter_keys,
    unblind_to_filter_keys_summed, SumAccumulator, FILTER_KEY_DST,
};
pub use tag::{Tag, TAG_LEN};

/// Length of a compressed ristretto255 point on the wire.
pub const POINT_LEN: usize = 32;

/// A compressed ristretto255 point, as it travels on the wire.
pub type PointBytes = [u8; POINT_LEN];
