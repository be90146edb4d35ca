//! The index header: what the platform publishes, what the brand fetches
//! first, and what binds every part (by SHA-256) to one epoch of one
//! platform.
//!
//! The header may come from the network, so [`Header::from_bytes`] is
//! written for hostile input: a fixed framing (magic, version, body length)
//! checked before anything is decoded, a decode limit equal to
//! [`MAX_HEADER_BYTES`], trailing bytes refused, and a bound on every count
//! and length checked before the value is returned.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, HeaderError, PartError};
use crate::format::{FilterParams, PartKind, PartPrefix, FORMAT_VERSION, MAX_PART_ELEMENTS, PART_PREFIX_LEN};

/// The first eight bytes of `header.bin`.
pub const HEADER_MAGIC: [u8; 8] = *b"VENNHDR\0";

/// Length of the header's fixed framing: magic, version (u16), body length (u32).
pub const HEADER_FRAMING_LEN: usize = 14;

/// The largest header body accepted (1 MiB). A header of [`MAX_PARTS`]
/// parts takes about 240 KiB.
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// The most parts an index may have.
pub const MAX_PARTS: usize = 4096;

/// The longest epoch label, in bytes of UTF-8.
pub const MAX_LABEL_BYTES: usize = 256;

/// The name of the header file inside an index directory.
pub const HEADER_FILE: &str = "header.bin";

/// The header fields a platform chooses; the rest is derived from the parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderFields {
    /// The epoch's number; keys (tags) of different epochs never match.
    pub epoch_id: u64,
    /// A human label for the epoch, e.g. `2026-W48`; at most
    /// [`MAX_LABEL_BYTES`] bytes.
    pub epoch_label: String,
    /// Unix seconds after which the epoch must not be used.
    pub expires_at: u64,
    /// The platform's public epoch key `K = k·G` (compressed ristretto255;
    /// opaque to this crate).
    pub epoch_key: [u8; 32],
    /// The platform's identity fingerprint (opaque to this crate): which
    /// pinned peer this index belongs to.
    pub platform_fingerprint: [u8; 32],
}

/// One part as the header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartEntry {
    /// What the part holds.
    pub kind: PartKind,
    /// Shard index, `0 ≤ shard < shards`.
    pub shard: u32,
    /// Number of parts of the index.
    pub shards: u32,
    /// Distinct keys in the part.
    pub elements: u64,
    /// Exact length of the part file in bytes.
    pub byte_len: u64,
    /// SHA-256 of the whole part file.
    pub sha256: [u8; 32],
}

impl PartEntry {
    /// The part's file name: `part-<shard>-of-<shards>.vidx` (shards count
    /// from 0, as Kubernetes' `JOB_COMPLETION_INDEX` does).
    pub fn file_name(&self) -> String {
        part_file_name(self.shard, self.shards)
    }

    /// Checks a whole part file against this entry: length, SHA-256, then
    /// the part's own prefix (magic, version, kind, shard i/N, element
    /// count, filter parameters). Returns the decoded prefix.
    pub fn verify(&self, bytes: &[u8]) -> Result<PartPrefix, PartError> {
        let len = bytes.len() as u64;
        if len != self.byte_len {
            return Err(PartError::LengthMismatch { len, expected: self.byte_len });
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if digest != self.sha256 {
            return Err(PartError::HashMismatch);
        }
        let prefix = PartPrefix::decode(bytes)?;
        self.matches(&prefix)?;
        Ok(prefix)
    }

    /// Checks that a part's prefix agrees with this entry.
    pub(crate) fn matches(&self, p: &PartPrefix) -> Result<(), PartError> {
        let mismatch = |what, found: String, expected: String| PartError::EntryMismatch { what, found, expected };
        if p.kind != self.kind {
            return Err(mismatch("kind", p.kind.to_string(), self.kind.to_string()));
        }
        if (p.shard, p.shards) != (self.shard, self.shards) {
            return Err(mismatch(
                "shard",
                format!("{}/{}", p.shard, p.shards),
                format!("{}/{}", self.shard, self.shards),
            ));
        }
        if p.elements != self.elements {
            return Err(mismatch("element count", p.elements.to_string(), self.elements.to_string()));
        }
        Ok(())
    }
}

/// The file name of shard `shard` of `shards`.
pub fn part_file_name(shard: u32, shards: u32) -> String {
    format!("part-{shard}-of-{shards}.vidx")
}

/// A validated index header. Construct it with [`Header::new`] or
/// [`Header::from_bytes`]; both enforce the same bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    fields: HeaderFields,
    total_elements: u64,
    parts: Vec<PartEntry>,
}

#[derive(Serialize, Deserialize)]
struct WireHeader {
    epoch_id: u64,
    epoch_label: String,
    expires_at: u64,
    epoch_key: [u8; 32],
    platform_fingerprint: [u8; 32],
    total_elements: u64,
    parts: Vec<WirePart>,
}

#[derive(Serialize, Deserialize)]
struct WirePart {
    kind: u16,
    shard: u32,
    shards: u32,
    elements: u64,
    byte_len: u64,
    sha256: [u8; 32],
}

impl WirePart {
    /// A part entry as the header encodes it.
    fn of(p: &PartEntry) -> Self {
        WirePart {
            kind: p.kind.code(),
            shard: p.shard,
            shards: p.shards,
            elements: p.elements,
            byte_len: p.byte_len,
            sha256: p.sha256,
        }
    }
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_little_endian().with_fixed_int_encoding().with_limit::<MAX_HEADER_BYTES>()
}

impl Header {
    /// The format version this build writes and reads.
    pub const FORMAT_VERSION: u16 = FORMAT_VERSION;

    /// A header over `parts`, which must be listed once each in shard order
    /// (`parts[i].shard == i`) with a common shard count equal to
    /// `parts.len()`. The total element count is their sum.
    pub fn new(fields: HeaderFields, parts: Vec<PartEntry>) -> Result<Header, HeaderError> {
        let total_elements = parts.iter().fold(0u64, |a, p| a.saturating_add(p.elements));
        let wire = WireHeader {
            epoch_id: fields.epoch_id,
            epoch_label: fields.epoch_label,
            expires_at: fields.expires_at,
            epoch_key: fields.epoch_key,
            platform_fingerprint: fields.platform_fingerprint,
            total_elements,
            parts: parts.iter().map(WirePart::of).collect(),
        };
        Header::validate(wire)
    }

    fn validate(w: WireHeader) -> Result<Header, HeaderError> {
        if w.epoch_label.len() > MAX_LABEL_BYTES {
            return Err(HeaderError::CountOverBound {
                what: "epoch label length",
                value: w.epoch_label.len() as u64,
                max: MAX_LABEL_BYTES as u64,
            });
        }
        if w.parts.is_empty() {
            return Err(HeaderError::NoParts);
        }
        if w.parts.len() > MAX_PARTS {
            return Err(HeaderError::CountOverBound {
                what: "part count",
                value: w.parts.len() as u64,
                max: MAX_PARTS as u64,
            });
        }
        let mut parts = Vec::with_capacity(w.parts.len());
        let mut sum = 0u64;
        for (i, p) in w.parts.iter().enumerate() {
            let kind = match PartKind::from_code(p.kind) {
                Ok(PartKind::BinaryFuse32) => PartKind::BinaryFuse32,
                Ok(other) => return Err(HeaderError::UnsupportedPartKind { part: i, kind: other }),
                Err(_) => return Err(HeaderError::UnknownPartKind { part: i, kind: p.kind }),
            };
            if p.shards as usize != w.parts.len() {
                return Err(HeaderError::PartCountMismatch { part: i, shards: p.shards, parts: w.parts.len() });
            }
            if p.shard as usize != i {
                return Err(HeaderError::ShardOutOfPlace { position: i, shard: p.shard });
            }
            if p.elements > MAX_PART_ELEMENTS {
                return Err(HeaderError::CountOverBound {
                    what: "part element count",
                    value: p.elements,
                    max: MAX_PART_ELEMENTS,
                });
            }
            let words = p.byte_len.checked_sub(PART_PREFIX_LEN as u64);
            let plausible = match words {
                Some(w) => w > 0 && w.is_multiple_of(4) && w / 4 <= FilterParams::max_array_len(p.elements),
                None => false,
            };
            if !plausible {
                return Err(HeaderError::PartLengthInvalid { part: i, byte_len: p.byte_len, elements: p.elements });
            }
            sum += p.elements; // at most 4096 × 2^30: no overflow
            parts.push(PartEntry {
                kind,
                shard: p.shard,
                shards: p.shards,
                elements: p.elements,
                byte_len: p.byte_len,
                sha256: p.sha256,
            });
        }
        if w.total_elements != sum {
            return Err(HeaderError::TotalMismatch { total: w.total_elements, sum });
        }
        Ok(Header {
            fields: HeaderFields {
                epoch_id: w.epoch_id,
                epoch_label: w.epoch_label,
                expires_at: w.expires_at,
                epoch_key: w.epoch_key,
                platform_fingerprint: w.platform_fingerprint,
            },
            total_elements: sum,
            parts,
        })
    }

    /// Decodes and validates `header.bin` bytes.
    ///
    /// Layout: `VENNHDR\0`, format version (u16 LE), body length (u32 LE),
    /// then the body: bincode 2 (serde; little-endian, fixed-width
    /// integers, lengths as u64) of the fields in the order of the crate
    /// docs. Refused, each with its own [`HeaderError`]: fewer bytes than
    /// needed, a wrong magic or version, a body over [`MAX_HEADER_BYTES`],
    /// trailing bytes (after the declared body or inside it), a body that
    /// does not decode, and every bound of [`Header::new`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Header, HeaderError> {
        let framing = bytes
            .get(..HEADER_FRAMING_LEN)
            .ok_or(HeaderError::Truncated { len: bytes.len(), needed: HEADER_FRAMING_LEN })?;
        if framing[0..8] != HEADER_MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let version = u16::from_le_bytes([framing[8], framing[9]]);
        if version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let body_len = u32::from_le_bytes([framing[10], framing[11], framing[12], framing[13]]) as usize;
        if body_len > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLarge { len: body_len as u64, max: MAX_HEADER_BYTES as u64 });
        }
        let needed = HEADER_FRAMING_LEN + body_len;
        if bytes.len() < needed {
            return Err(HeaderError::Truncated { len: bytes.len(), needed });
        }
        if bytes.len() > needed {
            return Err(HeaderError::TrailingBytes { extra: bytes.len() - needed });
        }
        let body = &bytes[HEADER_FRAMING_LEN..];
        let (wire, used): (WireHeader, usize) =
            bincode::serde::decode_from_slice(body, config()).map_err(|e| match e {
                bincode::error::DecodeError::UnexpectedEnd { additional } => {
                    HeaderError::Truncated { len: bytes.len(), needed: bytes.len().saturating_add(additional) }
                }
                other => HeaderError::Decode(other),
            })?;
        if used != body.len() {
            return Err(HeaderError::TrailingBytes { extra: body.len() - used });
        }
        Header::validate(wire)
    }

    /// Encodes the header as `header.bin` bytes (see [`Header::from_bytes`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, HeaderError> {
        let wire = WireHeader {
            epoch_id: self.fields.epoch_id,
            epoch_label: self.fields.epoch_label.clone(),
            expires_at: self.fields.expires_at,
            epoch_key: self.fields.epoch_key,
            platform_fingerprint: self.fields.platform_fingerprint,
            total_elements: self.total_elements,
            parts: self.parts.iter().map(WirePart::of).collect(),
        };
        let body = bincode::serde::encode_to_vec(&wire, config()).map_err(HeaderError::Encode)?;
        let mut out = Vec::with_capacity(HEADER_FRAMING_LEN + body.len());
        out.extend_from_slice(&HEADER_MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        // `with_limit` bounds the body to MAX_HEADER_BYTES, which fits in u32.
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The platform-chosen fields.
    pub fn fields(&self) -> &HeaderFields {
        &self.fields
    }

    /// The epoch id.
    pub fn epoch_id(&self) -> u64 {
        self.fields.epoch_id
    }

    /// The platform's public epoch key `K` (opaque bytes here).
    pub fn epoch_key(&self) -> &[u8; 32] {
        &self.fields.epoch_key
    }

    /// The platform's identity fingerprint.
    pub fn platform_fingerprint(&self) -> &[u8; 32] {
        &self.fields.platform_fingerprint
    }

    /// Distinct keys over all parts.
    pub fn total_elements(&self) -> u64 {
        self.total_elements
    }

    /// The parts, in shard order.
    pub fn parts(&self) -> &[PartEntry] {
        &self.parts
    }

    /// Sum of the parts' byte lengths: what a brand downloads.
    pub fn total_part_bytes(&self) -> u64 {
        self.parts.iter().map(|p| p.byte_len).sum()
    }

    /// Refuses the header if `now` (unix seconds, given by the caller: this
    /// crate reads no clock) is at or past the epoch's expiry.
    pub fn check_not_expired(&self, now: u64) -> Result<(), Error> {
        if now >= self.fields.expires_at {
            return Err(Error::Expired { epoch: self.fields.epoch_id, expires_at: self.fields.expires_at, now });
        }
        Ok(())
    }

    /// Refuses the header unless it belongs to the pinned platform `expected`.
    pub fn check_platform(&self, expected: &[u8; 32]) -> Result<(), Error> {
        if &self.fields.platform_fingerprint != expected {
            return Err(Error::WrongPlatform {
                expected: hex(expected),
                found: hex(&self.fields.platform_fingerprint),
            });
        }
        Ok(())
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fields() -> HeaderFields {
        HeaderFields {
            epoch_id: 42,
            epoch_label: "2026-W48".into(),
            expires_at: 1_800_000_000,
            epoch_key: [7; 32],
            platform_fingerprint: [9; 32],
        }
    }

    fn entry(shard: u32, shards: u32) -> PartEntry {
        PartEntry {
            kind: PartKind::BinaryFuse32,
            shard,
            shards,
            elements: 1000,
            byte_len: 64 + 4 * 1536,
            sha256: [shard as u8; 32],
        }
    }

    fn header(n: u32) -> Header {
        Header::new(fields(), (0..n).map(|i| entry(i, n)).collect()).unwrap()
    }

    /// Encodes a wire header with the framing, bypassing validation, so
    /// tests can hand `from_bytes` what a hostile peer would.
    fn raw(w: &WireHeader) -> Vec<u8> {
        let body = bincode::serde::encode_to_vec(w, config()).unwrap();
        let mut out = HEADER_MAGIC.to_vec();
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn wire(n: u32) -> WireHeader {
        WireHeader {
            epoch_id: 42,
            epoch_label: "x".into(),
            expires_at: 1,
            epoch_key: [1; 32],
            platform_fingerprint: [2; 32],
            total_elements: 1000 * u64::from(n),
            parts: (0..n)
                .map(|i| WirePart {
                    kind: 1,
                    shard: i,
                    shards: n,
                    elements: 1000,
                    byte_len: 64 + 4 * 1536,
                    sha256: [0; 32],
                })
                .collect(),
        }
    }

    #[test]
    fn header_round_trip() {
        let h = header(4);
        let bytes = h.to_bytes().unwrap();
        let back = Header::from_bytes(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.total_elements(), 4000);
        assert_eq!(back.parts()[3].file_name(), "part-3-of-4.vidx");
        assert!(Header::from_bytes(&raw(&wire(2))).is_ok());
    }

    #[test]
    fn rejects_truncated_header() {
        let bytes = header(2).to_bytes().unwrap();
        for cut in [0, 5, HEADER_FRAMING_LEN, bytes.len() - 1] {
            assert!(matches!(Header::from_bytes(&bytes[..cut]), Err(HeaderError::Truncated { .. })), "cut at {cut}");
        }
        // A body length that lies short: the decoder runs out inside the body.
        let mut short = bytes.clone();
        let body_len = (bytes.len() - HEADER_FRAMING_LEN - 10) as u32;
        short[10..14].copy_from_slice(&body_len.to_le_bytes());
        short.truncate(HEADER_FRAMING_LEN + body_len as usize);
        assert!(matches!(Header::from_bytes(&short), Err(HeaderError::Truncated { .. })));
    }

    #[test]
    fn rejects_trailing_bytes() {
        let mut bytes = header(2).to_bytes().unwrap();
        bytes.push(0);
        assert!(matches!(Header::from_bytes(&bytes), Err(HeaderError::TrailingBytes { extra: 1 })));
        // Trailing bytes inside the declared body.
        let mut bytes = header(2).to_bytes().unwrap();
        bytes.extend_from_slice(&[0, 0, 0]);
        let body_len = (bytes.len() - HEADER_FRAMING_LEN) as u32;
        bytes[10..14].copy_from_slice(&body_len.to_le_bytes());
        assert!(matches!(Header::from_bytes(&bytes), Err(HeaderError::TrailingBytes { extra: 3 })));
    }

    #[test]
    fn rejects_wrong_magic_and_version() {
        let mut bytes = header(1).to_bytes().unwrap();
        bytes[8] = 2;
        assert!(matches!(Header::from_bytes(&bytes), Err(HeaderError::UnsupportedVersion { found: 2, supported: 1 })));
        let mut bytes = header(1).to_bytes().unwrap();
        bytes[0] = b'X';
        assert!(matches!(Header::from_bytes(&bytes), Err(HeaderError::BadMagic)));
    }

    #[test]
    fn rejects_body_over_limit() {
        let mut bytes = header(1).to_bytes().unwrap();
        bytes[10..14].copy_from_slice(&(MAX_HEADER_BYTES as u32 + 1).to_le_bytes());
        assert!(matches!(Header::from_bytes(&bytes), Err(HeaderError::TooLarge { .. })));
    }

    #[test]
    fn rejects_counts_over_bounds() {
        let mut w = wire(1);
        w.parts[0].elements = MAX_PART_ELEMENTS + 1;
        w.total_elements = MAX_PART_ELEMENTS + 1;
        assert!(matches!(
            Header::from_bytes(&raw(&w)),
            Err(HeaderError::CountOverBound { what: "part element count", .. })
        ));
        let mut w = wire(1);
        w.epoch_label = "l".repeat(MAX_LABEL_BYTES + 1);
        assert!(matches!(
            Header::from_bytes(&raw(&w)),
            Err(HeaderError::CountOverBound { what: "epoch label length", .. })
        ));
        let w = wire(MAX_PARTS as u32 + 1);
        assert!(matches!(Header::from_bytes(&raw(&w)), Err(HeaderError::CountOverBound { what: "part count", .. })));
        // A hostile length prefix for the part list: u64::MAX parts in a
        // short body is refused without allocating for them.
        let w = wire(1);
        let mut bytes = raw(&w);
        let parts_len_at = bytes.len() - 58 - 8; // one part is 58 bytes here
        assert_eq!(bytes[parts_len_at..parts_len_at + 8], 1u64.to_le_bytes());
        bytes[parts_len_at..parts_len_at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Header::from_bytes(&bytes).is_err());
        let mut w = wire(1);
        w.parts[0].byte_len = 64 + 4 * (FilterParams::max_array_len(1000) + 1);
        assert!(matches!(Header::from_bytes(&raw(&w)), Err(HeaderError::PartLengthInvalid { part: 0, .. })));
    }

    #[test]
    fn rejects_unknown_and_reserved_part_kinds() {
        let mut w = wire(2);
        w.parts[1].kind = 9;
        assert!(matches!(Header::from_bytes(&raw(&w)), Err(HeaderError::UnknownPartKind { part: 1, kind: 9 })));
        let mut w = wire(2);
        w.parts[0].kind = 2;
        let err = Header::from_bytes(&raw(&w)).unwrap_err();
        assert!(matches!(err, HeaderError::UnsupportedPartKind { part: 0, kind: PartKind::Labels }));
        assert!(err.to_string().contains("per-element labels"), "{err}");
    }

    #[test]
    fn rejects_part_count_mismatch_and_misplaced_shards() {
        let mut w = wire(3);
        w.parts[2].shards = 4;
        assert!(matches!(
            Header::from_bytes(&raw(&w)),
            Err(HeaderError::PartCountMismatch { part: 2, shards: 4, parts: 3 })
        ));
        let mut w = wire(3);
        w.parts.pop();
        w.total_elements = 2000;
        assert!(matches!(
            Header::from_bytes(&raw(&w)),
            Err(HeaderError::PartCountMismatch { part: 0, shards: 3, parts: 2 })
        ));
        let mut w = wire(3);
        w.parts[1].shard = 2;
        assert!(matches!(Header::from_bytes(&raw(&w)), Err(HeaderError::ShardOutOfPlace { position: 1, shard: 2 })));
        let mut w = wire(3);
        w.parts.clear();
        assert!(matches!(Header::from_bytes(&raw(&w)), Err(HeaderError::NoParts)));
        let mut w = wire(3);
        w.total_elements += 1;
        assert!(matches!(Header::from_bytes(&raw(&w)), Err(HeaderError::TotalMismatch { .. })));
    }

    #[test]
    fn garbage_never_panics() {
        let good = header(3).to_bytes().unwrap();
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = good.clone();
            let at = (x as usize) % b.len();
            b[at] ^= (x >> 32) as u8 | 1;
            let _ = Header::from_bytes(&b);
            let _ = Header::from_bytes(&b[..at]);
        }
    }

    #[test]
    fn expiry_and_platform_checks() {
        let h = header(1);
        assert!(h.check_not_expired(1_799_999_999).is_ok());
        assert!(matches!(h.check_not_expired(1_800_000_000), Err(Error::Expired { .. })));
        assert!(h.check_platform(&[9; 32]).is_ok());
        assert!(matches!(h.check_platform(&[8; 32]), Err(Error::WrongPlatform { .. })));
    }
}
