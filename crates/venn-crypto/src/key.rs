//! Ephemeral blinding keys.

use curve25519_dalek::scalar::Scalar;
use rand_core::{OsRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// An ephemeral blinding scalar `k ∈ [1, ℓ)`, drawn from the operating
/// system's CSPRNG for one session and wiped from memory when dropped.
///
/// It has no `Debug` that prints it, no `Clone`, and no serialization: it can
/// only be used, never moved out of the process. Alongside `k` it keeps
/// `k/2 mod ℓ`, because the batched compression of curve25519-dalek
/// compresses `2·P`: multiplying by `k/2` and then doubling gives `k·P` for
/// the price of one field inversion per batch instead of one per point.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct BlindingKey {
    full: Scalar,
    half: Scalar,
}

impl BlindingKey {
    /// Draws a fresh non-zero key from the OS CSPRNG, directly into a heap
    /// allocation that is its only home: the session moves the `Box`
    /// (a pointer), never the scalars, so the bytes wiped on drop are the
    /// only copy the key's owner keeps. (The 64 random bytes live in a
    /// zeroizing buffer; the scalar that `from_bytes_mod_order_wide` returns
    /// and the product `k·½` pass through registers or the stack on their
    /// way in, which Rust gives no way to wipe.)
    pub fn random() -> Box<Self> {
        let mut key = Box::new(Self { full: Scalar::ZERO, half: Scalar::ZERO });
        let mut wide = Zeroizing::new([0u8; 64]);
        // The chance of zero is 2^-252; the loop is for correctness, not
        // for probability.
        while key.full == Scalar::ZERO {
            OsRng.fill_bytes(wide.as_mut());
            key.full = Scalar::from_bytes_mod_order_wide(&wide);
        }
        key.half = key.full * Scalar::from(2u8).invert();
        key
    }

    /// Wraps a known scalar. Test-only: the conformance tests need a fixed
    /// key.
    #[cfg(test)]
    pub(crate) fn from_scalar(full: Scalar) -> Self {
        let half = full * Scalar::from(2u8).invert();
        Self { full, half }
    }

    /// `k`.
    #[cfg(test)]
    pub(crate) fn scalar(&self) -> &Scalar {
        &self.full
    }

    /// `k/2 mod ℓ`, for use with [`RistrettoPoint::double_and_compress_batch`].
    ///
    /// [`RistrettoPoint::double_and_compress_batch`]: curve25519_dalek::ristretto::RistrettoPoint::double_and_compress_batch
    pub(crate) fn half(&self) -> &Scalar {
        &self.half
    }
}

impl std::fmt::Debug for BlindingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindingKey(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_print_the_scalar() {
        let k = BlindingKey::random();
        let shown = format!("{k:?}");
        assert_eq!(shown, "BlindingKey(<secret>)");
    }

    #[test]
    fn half_doubles_back_to_full() {
        let k = BlindingKey::random();
        assert_eq!(k.half() + k.half(), *k.scalar());
        assert_ne!(*k.scalar(), Scalar::ZERO);
    }

    #[test]
    fn zeroize_wipes_both_scalars() {
        let mut k = BlindingKey::random();
        k.zeroize();
        assert_eq!(*k.scalar(), Scalar::ZERO);
        assert_eq!(*k.half(), Scalar::ZERO);
    }

    #[test]
    fn keys_are_fresh() {
        assert_ne!(BlindingKey::random().scalar(), BlindingKey::random().scalar());
    }
}
