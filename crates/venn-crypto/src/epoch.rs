//! The platform's long-lived epoch key of index mode, and its public key.
//!
//! For one epoch the platform holds a secret scalar `k ∈ [1, ℓ)` and
//! publishes `K = k·G` in the index header. The index holds a PRF image
//! `k·H_e(p)` of every platform identifier ([`crate::epoch_tags`]); during a
//! session the platform evaluates `k·X` on the brand's blinded points
//! ([`crate::evaluate_batch`]) and proves with [`crate::prove_sum`] that it
//! used the same `k` as `K` ([`crate::verify_sum`]).
//!
//! Unlike a [`crate::BlindingKey`], an epoch key outlives a process: the
//! CLI stores [`EpochKey::to_secret_bytes`] (mode 0600, beside the identity)
//! and reads it back with [`EpochKey::from_secret_bytes`]. File handling is
//! not this crate's business.

use curve25519_dalek::{
    constants::RISTRETTO_BASEPOINT_TABLE,
    ristretto::{CompressedRistretto, RistrettoPoint},
    scalar::Scalar,
    traits::{Identity, IsIdentity},
};
use rand_core::{OsRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{CryptoError, PointBytes};

/// A platform's epoch key `k ∈ [1, ℓ)` with its public key `K = k·G`.
///
/// Wiped from memory when dropped. It has no `Debug` that prints it, no
/// `Clone` and no serialization: the only way out of the process is
/// [`EpochKey::to_secret_bytes`], into a zeroizing buffer. Like a
/// [`crate::BlindingKey`] it also keeps `k/2 mod ℓ`, for the batched
/// compression of [`crate::BATCH_CHUNK`] points at a time
/// (`compress(2·(k/2)·P) = compress(k·P)`, one field inversion per chunk).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EpochKey {
    full: Scalar,
    half: Scalar,
    #[zeroize(skip)]
    public: EpochPublicKey,
}

impl EpochKey {
    /// Draws a fresh non-zero key from the OS CSPRNG, directly into a heap
    /// allocation that is its only home (as [`crate::BlindingKey::random`]
    /// does): 64 random bytes in a zeroizing buffer, reduced mod `ℓ`
    /// (bias below `2⁻²⁵⁹`). The scalar returned by
    /// `from_bytes_mod_order_wide` and the product `k·½` pass through
    /// registers or the stack on their way in, which Rust gives no way to
    /// wipe.
    pub fn random() -> Box<Self> {
        let mut key = Self::empty();
        let mut wide = Zeroizing::new([0u8; 64]);
        // The chance of zero is 2^-252; the loop is for correctness.
        while key.full == Scalar::ZERO {
            OsRng.fill_bytes(wide.as_mut());
            key.full = Scalar::from_bytes_mod_order_wide(&wide);
        }
        key.finish();
        key
    }

    /// Reads a key written by [`EpochKey::to_secret_bytes`]: the 32-byte
    /// little-endian encoding of `k`, which must be canonical (`k < ℓ`) and
    /// non-zero; anything else is [`CryptoError::InvalidSecretKey`]. The
    /// buffer is wiped when it drops, at the end of this call.
    pub fn from_secret_bytes(bytes: Zeroizing<[u8; 32]>) -> Result<Box<Self>, CryptoError> {
        let mut key = Self::empty();
        if let Some(k) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*bytes)) {
            key.full = k;
        }
        if key.full == Scalar::ZERO {
            return Err(CryptoError::InvalidSecretKey);
        }
        key.finish();
        Ok(key)
    }

    /// `k` as 32 little-endian bytes (canonical, non-zero), in a buffer that
    /// is wiped when dropped: what the CLI stores.
    pub fn to_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.full.to_bytes())
    }

    /// `K = k·G`.
    pub fn public_key(&self) -> &EpochPublicKey {
        &self.public
    }

    /// `k`.
    pub(crate) fn scalar(&self) -> &Scalar {
        &self.full
    }

    /// `k/2 mod ℓ`, for [`RistrettoPoint::double_and_compress_batch`].
    pub(crate) fn half(&self) -> &Scalar {
        &self.half
    }

    /// A zero key in its `Box`, to be filled in place.
    fn empty() -> Box<Self> {
        Box::new(Self {
            full: Scalar::ZERO,
            half: Scalar::ZERO,
            public: EpochPublicKey { point: RistrettoPoint::identity(), bytes: [0u8; 32] },
        })
    }

    /// Derives `k/2` and `K = k·G` (fixed-base table, constant time) from `k`.
    fn finish(&mut self) {
        self.half = self.full * Scalar::from(2u8).invert();
        let point = &self.full * RISTRETTO_BASEPOINT_TABLE;
        self.public = EpochPublicKey { point, bytes: point.compress().to_bytes() };
    }
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EpochKey(<secret>, public: {:?})", self.public)
    }
}

/// An epoch's public key `K = k·G`: a canonical ristretto255 point other
/// than the identity, as it is written in the index header.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EpochPublicKey {
    point: RistrettoPoint,
    bytes: PointBytes,
}

impl EpochPublicKey {
    /// Parses the 32 bytes of the index header. Refuses, as
    /// [`CryptoError::InvalidPublicKey`], an encoding that is not a canonical
    /// ristretto255 point and the identity (whose discrete log is 0: a
    /// "key" that maps everything to one point).
    pub fn from_bytes(bytes: &PointBytes) -> Result<Self, CryptoError> {
        let point = CompressedRistretto(*bytes).decompress().ok_or(CryptoError::InvalidPublicKey)?;
        if point.is_identity() {
            return Err(CryptoError::InvalidPublicKey);
        }
        Ok(Self { point, bytes: *bytes })
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> PointBytes {
        self.bytes
    }

    /// The canonical encoding, borrowed.
    pub fn as_bytes(&self) -> &PointBytes {
        &self.bytes
    }

    /// The point `K`.
    pub(crate) fn point(&self) -> &RistrettoPoint {
        &self.point
    }
}

impl std::fmt::Debug for EpochPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochPublicKey(")?;
        for b in &self.bytes {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;

    fn secret(bytes: [u8; 32]) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(bytes)
    }

    #[test]
    fn round_trips_through_secret_bytes() {
        let k = EpochKey::random();
        let again = EpochKey::from_secret_bytes(k.to_secret_bytes()).unwrap();
        assert_eq!(again.scalar(), k.scalar());
        assert_eq!(again.public_key(), k.public_key());
        assert_eq!(again.half() + again.half(), *again.scalar());
    }

    #[test]
    fn public_key_is_k_times_g_and_round_trips() {
        let k = EpochKey::random();
        assert_eq!(*k.public_key().point(), k.scalar() * G);
        let parsed = EpochPublicKey::from_bytes(&k.public_key().to_bytes()).unwrap();
        assert_eq!(&parsed, k.public_key());
    }

    #[test]
    fn rejects_zero_secret() {
        assert_eq!(EpochKey::from_secret_bytes(secret([0u8; 32])).unwrap_err(), CryptoError::InvalidSecretKey);
    }

    #[test]
    fn rejects_non_canonical_secret() {
        // ℓ itself (RFC 8032 §5.1: ℓ = 2^252 + 27742317777372353535851937790883648493),
        // little-endian: reduces to zero, but is not canonical.
        let ell: [u8; 32] = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(EpochKey::from_secret_bytes(secret(ell)).unwrap_err(), CryptoError::InvalidSecretKey);
        assert_eq!(EpochKey::from_secret_bytes(secret([0xff; 32])).unwrap_err(), CryptoError::InvalidSecretKey);
        // ℓ − 1 is the largest canonical scalar.
        let mut ell_minus_one = ell;
        ell_minus_one[0] -= 1;
        assert!(EpochKey::from_secret_bytes(secret(ell_minus_one)).is_ok());
    }

    #[test]
    fn rejects_identity_public_key() {
        assert_eq!(EpochPublicKey::from_bytes(&[0u8; 32]), Err(CryptoError::InvalidPublicKey));
    }

    #[test]
    fn rejects_non_canonical_public_key() {
        let mut bytes = G.compress().to_bytes();
        bytes[0] |= 1; // a negative field element: not a canonical encoding
        assert_eq!(EpochPublicKey::from_bytes(&bytes), Err(CryptoError::InvalidPublicKey));
        assert_eq!(EpochPublicKey::from_bytes(&[0xff; 32]), Err(CryptoError::InvalidPublicKey));
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let k = EpochKey::random();
        let shown = format!("{k:?}");
        assert!(shown.starts_with("EpochKey(<secret>, public: EpochPublicKey("), "{shown}");
        assert!(!shown.contains(&hex::encode(k.to_secret_bytes().as_slice())));
    }

    #[test]
    fn zeroize_wipes_both_scalars() {
        let mut k = EpochKey::random();
        k.zeroize();
        assert_eq!(*k.scalar(), Scalar::ZERO);
        assert_eq!(*k.half(), Scalar::ZERO);
    }

    #[test]
    fn keys_are_fresh() {
        assert_ne!(EpochKey::random().public_key(), EpochKey::random().public_key());
    }
}
