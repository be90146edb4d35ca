//! The canonical identifier digest: the one contract every other Venn crate
//! relies on. Two parties match an identifier exactly when they compute the
//! same digest for it, so nothing here may change without a new version
//! label.
//!
//! # Formula
//!
//! ```text
//! digest = SHA-256("venn/v1/identifier/" || kind_label || 0x00 || canonical)
//! ```
//!
//! where `kind_label` is [`IdKind::label`] and `canonical` depends on the
//! [`IdType`](crate::IdType) of the column:
//!
//! | type            | kind    | canonical bytes                                   |
//! |-----------------|---------|---------------------------------------------------|
//! | `email`         | `email` | SHA-256(normalized email, UTF-8)                  |
//! | `email-sha256`  | `email` | the 32 bytes the hex decodes to                   |
//! | `phone`         | `phone` | SHA-256(E.164 string, with its `+`)               |
//! | `phone-sha256`  | `phone` | the 32 bytes the hex decodes to                   |
//! | `maid`          | `maid`  | the lowercase hyphenated UUID, 36 ASCII bytes     |
//! | `raw`           | `raw`   | the field's bytes, unchanged                      |
//!
//! # Why
//!
//! * Hashing emails and phones with plain SHA-256 first is exactly what
//!   Google's and Meta's upload tools do, so a party holding only a hashed
//!   export (`email-sha256`) matches a party holding plain addresses.
//! * The kind label and its `0x00` terminator separate the domains: the same
//!   bytes read as an email and as a phone number give unrelated digests, so
//!   a wrong `--id-type` on one side yields no matches rather than false ones.
//! * The `v1` in the prefix lets a future normalization change coexist with
//!   this one instead of silently matching less.

use sha2::{Digest as _, Sha256};

use crate::id_type::IdKind;

/// A canonical identifier digest: what [`digest`] returns and what the
/// protocol blinds. It never leaves the machine unblinded.
pub type IdDigest = [u8; 32];

/// Prefix hashed before the kind label. Part of the contract.
pub const DIGEST_PREFIX: &[u8] = b"venn/v1/identifier/";

/// Computes `SHA-256("venn/v1/identifier/" || kind.label() || 0x00 || canonical)`.
///
/// `canonical` must already be the canonical bytes of the identifier (see
/// the [module documentation](self) for each type); this function only adds
/// the domain separation. [`Normalizer`](crate::Normalizer) does both steps
/// from a raw CSV field.
pub fn digest(kind: IdKind, canonical: &[u8]) -> IdDigest {
    Sha256::new()
        .chain_update(DIGEST_PREFIX)
        .chain_update(kind.label().as_bytes())
        .chain_update([0u8])
        .chain_update(canonical)
        .finalize()
        .into()
}

/// Plain SHA-256, the first step for `email` and `phone` (and what the ad
/// platforms publish in hashed exports).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the formula: a change here breaks matching against every party
    /// still running the old code.
    #[test]
    fn digest_matches_the_written_formula() {
        let mut preimage = b"venn/v1/identifier/email\x00".to_vec();
        preimage.extend_from_slice(b"abc");
        assert_eq!(digest(IdKind::Email, b"abc"), sha256(&preimage));
    }

    #[test]
    fn digest_separates_kinds() {
        let kinds = [IdKind::Email, IdKind::Phone, IdKind::Maid, IdKind::Raw];
        for a in kinds {
            for b in kinds {
                if a != b {
                    assert_ne!(digest(a, b"same bytes"), digest(b, b"same bytes"));
                }
            }
        }
    }

    #[test]
    fn sha256_of_abc_matches_fips_180_2_vector() {
        // FIPS 180-2, appendix B.1.
        assert_eq!(hex::encode(sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
