//! Identity fingerprints: SHA-256 of a certificate's SubjectPublicKeyInfo.
//!
//! Hashing the public key rather than the whole certificate means a party
//! can re-issue its certificate (new validity dates) without its peers
//! having to re-pin it.

use sha2::{Digest, Sha256};

use crate::NetError;

/// SHA-256 of a SubjectPublicKeyInfo.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Fingerprint of a DER certificate. Fails if the certificate does not
    /// parse far enough to find its public key.
    pub fn of_certificate(cert_der: &[u8]) -> Result<Self, NetError> {
        let spki = spki_of_certificate(cert_der).ok_or(NetError::BadCertificate)?;
        Ok(Self::of_spki(spki))
    }

    /// Fingerprint of a DER SubjectPublicKeyInfo.
    pub fn of_spki(spki_der: &[u8]) -> Self {
        Self(Sha256::digest(spki_der).into())
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 64 bits in four groups of four hex digits, to read aloud
    /// when two people compare fingerprints (`3f2a-91c0-7be4-0d11`). Pinning
    /// always uses the full value.
    pub fn short(&self) -> String {
        let hex = self.to_hex();
        [&hex[0..4], &hex[4..8], &hex[8..12], &hex[12..16]].join("-")
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", self.short())
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = NetError;

    /// Accepts 64 hex digits in either case, with optional `:`, `-` or
    /// space separators (as people paste them).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s.chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect();
        let bytes = hex::decode(&digits).map_err(|_| NetError::BadFingerprint(s.to_owned()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| NetError::BadFingerprint(s.to_owned()))?;
        Ok(Self(bytes))
    }
}

/// Finds the SubjectPublicKeyInfo inside a DER X.509 certificate:
///
/// ```text
/// Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
/// TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
///                               issuer, validity, subject, subjectPublicKeyInfo, ... }
/// ```
/// Returns the SPKI's full TLV. Every length is checked against the bytes
/// actually present, so a hostile certificate cannot make it read out of
/// bounds; it only returns `None`.
fn spki_of_certificate(cert: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = read_tlv(cert, 0x30)?;
    let (tbs, _) = read_tlv(certificate.value, 0x30)?;
    let mut rest = tbs.value;
    // Optional explicit version tag [0].
    if rest.first() == Some(&0xa0) {
        rest = read_tlv(rest, 0xa0)?.1;
    }
    // serialNumber, signature, issuer, validity, subject.
    for tag in [0x02, 0x30, 0x30, 0x30, 0x30] {
        rest = read_tlv(rest, tag)?.1;
    }
    let (spki, _) = read_tlv(rest, 0x30)?;
    Some(spki.whole)
}

struct Tlv<'a> {
    whole: &'a [u8],
    value: &'a [u8],
}

/// Reads one DER TLV with the expected tag; returns it and what follows.
fn read_tlv(input: &[u8], tag: u8) -> Option<(Tlv<'_>, &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some((Tlv { whole, value: &whole[header..] }, &input[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_matches_rcgen_public_key_der() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["venn-peer".into()]).unwrap().self_signed(&key).unwrap();
        assert_eq!(spki_of_certificate(cert.der()).unwrap(), key.public_key_der().as_slice());
        let ecdsa = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".into()]).unwrap().self_signed(&ecdsa).unwrap();
        assert_eq!(Fingerprint::of_certificate(cert.der()).unwrap(), Fingerprint::of_spki(&ecdsa.public_key_der()));
    }

    #[test]
    fn parses_hex_with_separators_in_either_case() {
        let f = Fingerprint([0xab; 32]);
        let with_colons = f.0.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
        assert_eq!(with_colons.parse::<Fingerprint>().unwrap(), f);
        assert_eq!(f.to_hex().parse::<Fingerprint>().unwrap(), f);
        assert_eq!(f.short(), "abab-abab-abab-abab");
    }

    #[test]
    fn rejects_short_or_non_hex_fingerprints() {
        assert!("abcd".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
        assert!("ab".repeat(33).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn truncated_or_garbage_certificates_are_refused() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["venn-peer".into()]).unwrap().self_signed(&key).unwrap();
        let der = cert.der().to_vec();
        for cut in [0, 1, 2, 10, der.len() / 2] {
            assert!(Fingerprint::of_certificate(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Fingerprint::of_certificate(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
