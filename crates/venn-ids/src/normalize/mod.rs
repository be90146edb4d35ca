//! From one CSV field to one [`IdDigest`]: the per-type normalizers and the
//! [`Normalizer`] that applies the digest contract of [`mod@crate::digest`].

mod email;
mod hashed;
mod maid;
mod phone;

pub use email::{normalize_email, normalize_email_into, MAX_EMAIL_LEN};
pub use hashed::{parse_sha256_hex, SHA256_HEX_LEN};
pub use maid::{canonical_maid, normalize_maid, MAID_LEN};
pub use phone::{normalize_phone, normalize_phone_into, MAX_PHONE_INPUT_LEN};

use phonenumber::country::Id as Region;

use crate::digest::{digest, sha256, IdDigest};
use crate::id_type::{EmailProfile, IdType};
use crate::skip::SkipReason;

/// Turns raw CSV fields of one [`IdType`] into digests.
///
/// It owns a scratch buffer reused across fields, so normalizing a column
/// allocates once rather than once per row.
///
/// ```
/// use venn_ids::{EmailProfile, IdType, Normalizer, Region};
///
/// let mut plain = Normalizer::new(IdType::Email, EmailProfile::Standard, Region::US);
/// let mut hashed = Normalizer::new(IdType::EmailSha256, EmailProfile::Standard, Region::US);
/// // SHA-256("alice@example.com"), as an ad platform would export it.
/// let hex = b"ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976";
/// assert_eq!(plain.digest(b" Alice@Example.com"), hashed.digest(hex));
/// ```
#[derive(Debug, Clone)]
pub struct Normalizer {
    id_type: IdType,
    email_profile: EmailProfile,
    default_region: Region,
    scratch: String,
}

impl Normalizer {
    /// A normalizer for fields of `id_type`. `email_profile` only matters for
    /// [`IdType::Email`] and `default_region` only for [`IdType::Phone`].
    pub fn new(id_type: IdType, email_profile: EmailProfile, default_region: Region) -> Self {
        Normalizer { id_type, email_profile, default_region, scratch: String::new() }
    }

    /// The type this normalizer reads.
    pub fn id_type(&self) -> IdType {
        self.id_type
    }

    /// Normalizes `field` and returns its digest,
    /// `digest(id_type.kind(), canonical)`, with the canonical bytes of
    /// [`mod@crate::digest`]'s table.
    ///
    /// Every type but [`IdType::Raw`] is text and rejects invalid UTF-8 with
    /// [`SkipReason::InvalidUtf8`]; `Raw` takes the bytes as they are and
    /// only rejects an empty field. Other errors are those of the type's
    /// normalizer function.
    pub fn digest(&mut self, field: &[u8]) -> Result<IdDigest, SkipReason> {
        let kind = self.id_type.kind();
        if self.id_type == IdType::Raw {
            return if field.is_empty() { Err(SkipReason::Empty) } else { Ok(digest(kind, field)) };
        }
        let text = std::str::from_utf8(field).map_err(|_| SkipReason::InvalidUtf8)?;
        let canonical_hash = match self.id_type {
            IdType::Email => {
                normalize_email_into(text, self.email_profile, &mut self.scratch)?;
                sha256(self.scratch.as_bytes())
            }
            IdType::Phone => {
                normalize_phone_into(text, self.default_region, &mut self.scratch)?;
                sha256(self.scratch.as_bytes())
            }
            IdType::EmailSha256 | IdType::PhoneSha256 => parse_sha256_hex(text)?,
            IdType::Maid => return Ok(digest(kind, &canonical_maid(text)?)),
            IdType::Raw => return Ok(digest(kind, field)),
        };
        Ok(digest(kind, &canonical_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_type::IdKind;

    fn digest_of(id_type: IdType, field: &[u8]) -> Result<IdDigest, SkipReason> {
        Normalizer::new(id_type, EmailProfile::Standard, Region::US).digest(field)
    }

    /// The vectors of docs/identifiers.md, computed independently with
    /// Python's `hashlib`:
    /// `sha256(b"venn/v1/identifier/" + label + b"\0" + canonical).hexdigest()`.
    #[test]
    fn digest_vectors_match_docs() {
        let us = |t: IdType, f: &[u8]| hex::encode(digest_of(t, f).unwrap());
        assert_eq!(
            us(IdType::Email, b"  Alice.Smith@Example.COM "),
            "b7bbc9b796e19d8c821c0c6f9b33df7ed3d5784494c8d0911bf3c9515d901809"
        );
        assert_eq!(
            us(IdType::Phone, b"(212) 555-0134"),
            "ba34a2d8c0d6d83d7105f5a7f8d4362c4a99bcd73fa1c8eb28b13003f46fa714"
        );
        assert_eq!(
            us(IdType::Maid, b"6D92078A-8246-4BA4-AE5B-76104861E7DC"),
            "c8e1badc27091a5a053d8917c3628fbc31c83ff9d0ec714d3b65fd0b2586ecb5"
        );
        assert_eq!(us(IdType::Raw, b"CUST-0042"), "2415d05832b915e693cc88fcd3b7136dcf0efc023615fda46a37a3511e848560");
    }

    #[test]
    fn plain_email_matches_its_sha256_in_either_case() {
        let hex = hex::encode(sha256(b"alice.smith@example.com"));
        let plain = digest_of(IdType::Email, b"  Alice.Smith@Example.COM ").unwrap();
        assert_eq!(digest_of(IdType::EmailSha256, hex.as_bytes()), Ok(plain));
        assert_eq!(digest_of(IdType::EmailSha256, hex.to_uppercase().as_bytes()), Ok(plain));
        assert_eq!(plain, digest(IdKind::Email, &sha256(b"alice.smith@example.com")));
    }

    #[test]
    fn plain_phone_matches_its_sha256() {
        let hex = hex::encode(sha256(b"+12125550134"));
        let plain = digest_of(IdType::Phone, b"(212) 555-0134").unwrap();
        assert_eq!(digest_of(IdType::PhoneSha256, hex.as_bytes()), Ok(plain));
    }

    #[test]
    fn email_and_phone_never_match_on_same_bytes() {
        let hex = hex::encode(sha256(b"+12125550134"));
        assert_ne!(digest_of(IdType::EmailSha256, hex.as_bytes()), digest_of(IdType::PhoneSha256, hex.as_bytes()));
        assert_ne!(digest_of(IdType::EmailSha256, hex.as_bytes()), digest_of(IdType::Phone, b"+12125550134"));
    }

    #[test]
    fn gmail_profile_applies_to_digest() {
        let mut gmail = Normalizer::new(IdType::Email, EmailProfile::Gmail, Region::US);
        assert_eq!(gmail.digest(b"a.l.i.c.e+promo@googlemail.com"), digest_of(IdType::Email, b"alice@gmail.com"));
        assert_ne!(
            digest_of(IdType::Email, b"a.l.i.c.e+promo@googlemail.com"),
            digest_of(IdType::Email, b"alice@gmail.com")
        );
    }

    #[test]
    fn maid_canonical_is_lowercase_hyphenated_text() {
        let d = digest_of(IdType::Maid, b"6D92078A82464BA4AE5B76104861E7DC").unwrap();
        assert_eq!(d, digest(IdKind::Maid, b"6d92078a-8246-4ba4-ae5b-76104861e7dc"));
    }

    #[test]
    fn raw_keeps_bytes_exactly() {
        assert_eq!(digest_of(IdType::Raw, b" x "), Ok(digest(IdKind::Raw, b" x ")));
        assert_ne!(digest_of(IdType::Raw, b" x "), digest_of(IdType::Raw, b"x"));
        assert_eq!(digest_of(IdType::Raw, b"\xff\xfe"), Ok(digest(IdKind::Raw, b"\xff\xfe")));
    }

    #[test]
    fn rejects_empty_raw() {
        assert_eq!(digest_of(IdType::Raw, b""), Err(SkipReason::Empty));
    }

    #[test]
    fn rejects_invalid_utf8_for_text_types() {
        for t in IdType::ALL.into_iter().filter(|&t| t != IdType::Raw) {
            assert_eq!(digest_of(t, b"al\xffce@example.com"), Err(SkipReason::InvalidUtf8), "{t}");
        }
    }
}
