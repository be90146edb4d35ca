//! RFC 9380 `hash_to_ristretto255`: `expand_message_xmd` with SHA-512 to 64
//! uniform bytes, then the ristretto255 one-way map of RFC 9496 §4.3.4
//! (two Elligator evaluations, summed), which is curve25519-dalek's
//! [`RistrettoPoint::from_uniform_bytes`].
//!
//! The output is indistinguishable from a random group element and nobody
//! knows its discrete log, which is what makes `k·H(x)` a pseudorandom
//! function of `x` keyed by `k`.

use curve25519_dalek::ristretto::RistrettoPoint;
use sha2::{Digest, Sha512};

use crate::CryptoError;

/// The longest domain-separation tag RFC 9380 §5.3.1 accepts as is.
pub const MAX_DST_LEN: usize = 255;

/// SHA-512 block size in bytes (`s_in_bytes` of RFC 9380 §5.3.1).
const SHA512_BLOCK: usize = 128;
/// SHA-512 output size in bytes (`b_in_bytes`).
const SHA512_OUT: usize = 64;

/// A checked domain-separation tag (1 to 255 bytes).
///
/// Venn puts the session id into the tag so that points hashed in one
/// session are unrelated to points hashed in any other.
#[derive(Clone, PartialEq, Eq)]
pub struct DomainTag(Vec<u8>);

impl DomainTag {
    /// Checks the length bounds of RFC 9380 §5.3.1.
    pub fn new(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.is_empty() || bytes.len() > MAX_DST_LEN {
            return Err(CryptoError::InvalidDomainTag { len: bytes.len() });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The raw tag.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for DomainTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DomainTag({})", self.0.escape_ascii())
    }
}

/// `expand_message_xmd(msg, DST, N)` of RFC 9380 §5.3.1 with SHA-512, for a
/// compile-time output length `N ≤ 255·64`.
///
/// ```text
/// b_0 = H(Z_pad ‖ msg ‖ I2OSP(N, 2) ‖ 0x00 ‖ DST_prime)
/// b_1 = H(b_0 ‖ 0x01 ‖ DST_prime)
/// b_i = H((b_0 ⊕ b_{i-1}) ‖ I2OSP(i, 1) ‖ DST_prime)
/// ```
/// where `DST_prime = DST ‖ I2OSP(len(DST), 1)` and `Z_pad` is one zero block.
pub fn expand_message_xmd_sha512<const N: usize>(msg: &[u8], dst: &DomainTag) -> [u8; N] {
    const { assert!(N > 0 && N <= 255 * SHA512_OUT && N <= u16::MAX as usize) };
    let dst = dst.as_bytes();
    // `DomainTag` guarantees 1..=255 bytes, so the length fits in one octet.
    let dst_len = [dst.len() as u8];
    let ell = N.div_ceil(SHA512_OUT);

    let b0 = Sha512::new()
        .chain_update([0u8; SHA512_BLOCK])
        .chain_update(msg)
        .chain_update((N as u16).to_be_bytes())
        .chain_update([0u8])
        .chain_update(dst)
        .chain_update(dst_len)
        .finalize();

    let mut out = [0u8; N];
    let mut prev = [0u8; SHA512_OUT];
    for i in 1..=ell {
        let mut chained = [0u8; SHA512_OUT];
        for (c, (x, y)) in chained.iter_mut().zip(b0.iter().zip(prev.iter())) {
            // For i = 1, prev is all zero, so this is b_0 itself.
            *c = x ^ y;
        }
        let bi = Sha512::new()
            .chain_update(chained)
            .chain_update([i as u8])
            .chain_update(dst)
            .chain_update(dst_len)
            .finalize();
        prev.copy_from_slice(&bi);
        let start = (i - 1) * SHA512_OUT;
        let end = N.min(start + SHA512_OUT);
        out[start..end].copy_from_slice(&bi[..end - start]);
    }
    out
}

/// `hash_to_ristretto255(msg)` of RFC 9380 Appendix B with the given DST.
pub fn hash_to_group(msg: &[u8], dst: &DomainTag) -> RistrettoPoint {
    RistrettoPoint::from_uniform_bytes(&expand_message_xmd_sha512::<64>(msg, dst))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use curve25519_dalek::scalar::Scalar;

    fn dst(s: &[u8]) -> DomainTag {
        DomainTag::new(s).unwrap()
    }

    /// RFC 9380 Appendix K.3, expand_message_xmd(SHA-512).
    #[test]
    fn expand_message_xmd_matches_rfc9380_k3() {
        let d = dst(b"QUUX-V01-CS02-with-expander-SHA512-256");
        assert_eq!(
            hex::encode(expand_message_xmd_sha512::<32>(b"", &d)),
            "6b9a7312411d92f921c6f68ca0b6380730a1a4d982c507211a90964c394179ba"
        );
        assert_eq!(
            hex::encode(expand_message_xmd_sha512::<32>(b"abc", &d)),
            "0da749f12fbe5483eb066a5f595055679b976e93abe9be6f0f6318bce7aca8dc"
        );
        assert_eq!(
            hex::encode(expand_message_xmd_sha512::<0x80>(b"abc", &d)),
            "7f1dddd13c08b543f2e2037b14cefb255b44c83cc397c1786d975653e36a6b11\
             bdd7732d8b38adb4a0edc26a0cef4bb45217135456e58fbca1703cd6032cb134\
             7ee720b87972d63fbf232587043ed2901bce7f22610c0419751c065922b48843\
             1851041310ad659e4b23520e1772ab29dcdeb2002222a363f0c2b1c972b3efe1"
        );
    }

    /// RFC 9497 Appendix A.1.1 (ristretto255-SHA512, OPRF mode): the
    /// BlindedElement is `Blind · HashToGroup(Input)` with the OPRF DST.
    #[test]
    fn hash_to_group_matches_rfc9497_blinded_elements() {
        let d = dst(b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512");
        let blind = scalar("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706");
        for (input, blinded) in [
            ("00", "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c"),
            ("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418"),
        ] {
            let p = blind * hash_to_group(&hex::decode(input).unwrap(), &d);
            assert_eq!(hex::encode(p.compress().as_bytes()), blinded);
        }
    }

    #[test]
    fn rejects_empty_and_oversize_domain_tags() {
        assert_eq!(DomainTag::new(b""), Err(CryptoError::InvalidDomainTag { len: 0 }));
        assert_eq!(DomainTag::new(&[b'x'; 256]), Err(CryptoError::InvalidDomainTag { len: 256 }));
        assert!(DomainTag::new(&[b'x'; 255]).is_ok());
    }

    #[test]
    fn different_domains_give_unrelated_points() {
        assert_ne!(hash_to_group(b"x", &dst(b"session-1")), hash_to_group(b"x", &dst(b"session-2")));
    }

    pub(crate) fn scalar(hex_le: &str) -> Scalar {
        let bytes: [u8; 32] = hex::decode(hex_le).unwrap().try_into().unwrap();
        Scalar::from_canonical_bytes(bytes).unwrap()
    }
}
