//! The part file: its fixed 64-byte prefix, the filter parameters, and the
//! lookup over a borrowed (memory-mapped) fingerprint array.
//!
//! This module is the byte-level half of the specification in the crate
//! docs. It never allocates in proportion to its input and never panics:
//! every offset it reads is checked, and every parameter is validated before
//! a lookup may use it, so that a hostile or corrupt file is refused with a
//! [`PartError`] instead of indexing out of bounds.

use crate::error::PartError;

/// The first eight bytes of every part file.
pub const PART_MAGIC: [u8; 8] = *b"VENNIDX\0";

/// The format version this crate writes and the only one it reads.
///
/// Bump it for any change in the meaning of a byte of a part file or of the
/// header, including the lookup function: an old reader must refuse a new
/// index instead of answering wrongly.
pub const FORMAT_VERSION: u16 = 1;

/// Length of a part file's fixed prefix; the fingerprint array starts here.
///
/// 64 bytes keeps the array 4-byte (indeed cache-line) aligned inside a
/// page-aligned memory map, which matters to any future reader that wants to
/// view it as `&[u32]`.
pub const PART_PREFIX_LEN: usize = 64;

/// The largest number of distinct keys one part may hold (2^30).
///
/// xorf computes array positions in `u32`: 2^30 keys need about
/// 1.2 × 2^30 fingerprints, well inside that range. A larger audience is
/// split into more parts (`--shard i/N`); 3 billion users fit in 3 parts.
pub const MAX_PART_ELEMENTS: u64 = 1 << 30;

/// The largest segment length xorf's binary fuse construction uses.
pub const MAX_SEGMENT_LENGTH: u32 = 1 << 18;

/// What a part holds. Stored as a `u16` in the part file and in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartKind {
    /// Kind 1: a binary fuse filter with 32-bit fingerprints over the
    /// part's keys (xorf's `BinaryFuse32`).
    BinaryFuse32,
    /// Kind 2, reserved: per-element labels, for segment counts in index
    /// mode. No version of this crate writes or reads it yet; it is named so
    /// that a reader refuses it by name rather than as an unknown number.
    Labels,
}

impl PartKind {
    /// The kind's number in the file formats.
    pub const fn code(self) -> u16 {
        match self {
            PartKind::BinaryFuse32 => 1,
            PartKind::Labels => 2,
        }
    }

    /// The kind's name, as error messages print it.
    pub const fn name(self) -> &'static str {
        match self {
            PartKind::BinaryFuse32 => "binary-fuse-32 filter",
            PartKind::Labels => "per-element labels (reserved)",
        }
    }

    /// The kind for `code`, or [`PartError::UnknownKind`].
    pub fn from_code(code: u16) -> Result<PartKind, PartError> {
        match code {
            1 => Ok(PartKind::BinaryFuse32),
            2 => Ok(PartKind::Labels),
            other => Err(PartError::UnknownKind(other)),
        }
    }

    /// Like [`PartKind::from_code`], and also refuses kinds this version
    /// cannot read ([`PartError::UnsupportedKind`]).
    pub fn readable(code: u16) -> Result<PartKind, PartError> {
        match PartKind::from_code(code)? {
            PartKind::BinaryFuse32 => Ok(PartKind::BinaryFuse32),
            other => Err(PartError::UnsupportedKind(other.name())),
        }
    }
}

impl std::fmt::Display for PartKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (kind {})", self.name(), self.code())
    }
}

/// The parameters of one binary fuse filter, exactly as xorf's `Descriptor`
/// plus the array length (which xorf keeps implicitly as the length of its
/// boxed array).
///
/// `seed` is the *effective* seed: the part's deterministic seed offset plus
/// xorf's own seed (see "Determinism" in the crate docs), so that a lookup
/// needs nothing but these fields and the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterParams {
    /// Added (wrapping) to a key before the MurmurHash3 finalizer.
    pub seed: u64,
    /// Length of one segment, a power of two, at most [`MAX_SEGMENT_LENGTH`].
    pub segment_length: u32,
    /// `segment_length - 1`.
    pub segment_length_mask: u32,
    /// `segment_count × segment_length`: the range of the first position.
    pub segment_count_length: u32,
    /// Number of 32-bit fingerprints: `segment_count_length + 2 × segment_length`.
    pub array_len: u32,
}

impl FilterParams {
    /// The most fingerprints a filter over `elements` keys may have. xorf
    /// uses about 1.125 × n for large n and more for small n, plus at most a
    /// few segments of slack; anything larger is not a file xorf wrote.
    pub fn max_array_len(elements: u64) -> u64 {
        elements.saturating_mul(2).saturating_add(4 * u64::from(MAX_SEGMENT_LENGTH))
    }

    /// Checks that a lookup with these parameters stays inside the array.
    ///
    /// The positions are `h0 < segment_count_length`, and `h1`, `h2` are
    /// `h0 + segment_length` and `h0 + 2 × segment_length` with their low
    /// bits (below `segment_length`) replaced. With `segment_length` a power
    /// of two dividing `segment_count_length`, the largest is at most
    /// `segment_count_length + 2 × segment_length - 1`, so requiring
    /// `array_len == segment_count_length + 2 × segment_length` (which is
    /// what xorf builds) keeps every read in bounds and every sum in `u32`.
    pub fn validate(&self, elements: u64) -> Result<(), PartError> {
        let sl = self.segment_length;
        if sl == 0 || !sl.is_power_of_two() || sl > MAX_SEGMENT_LENGTH {
            return Err(PartError::BadParams("segment length is not a power of two up to 2^18"));
        }
        if self.segment_length_mask != sl - 1 {
            return Err(PartError::BadParams("segment length mask is not segment length - 1"));
        }
        if self.segment_count_length == 0 || !self.segment_count_length.is_multiple_of(sl) {
            return Err(PartError::BadParams("segment count length is not a positive multiple of the segment length"));
        }
        let expected = u64::from(self.segment_count_length) + 2 * u64::from(sl);
        if u64::from(self.array_len) != expected {
            return Err(PartError::BadParams("array length is not segment count length + 2 x segment length"));
        }
        if elements > MAX_PART_ELEMENTS {
            return Err(PartError::TooManyElements { elements, max: MAX_PART_ELEMENTS });
        }
        if expected > FilterParams::max_array_len(elements) {
            return Err(PartError::BadParams("array is too large for the element count"));
        }
        Ok(())
    }

    /// The byte length of a part file with these parameters.
    pub fn file_len(&self) -> u64 {
        PART_PREFIX_LEN as u64 + 4 * u64::from(self.array_len)
    }
}

/// The fixed prefix of a part file, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPrefix {
    /// What the part holds.
    pub kind: PartKind,
    /// This part's shard index, `0 ≤ shard < shards`.
    pub shard: u32,
    /// How many parts the index has.
    pub shards: u32,
    /// Distinct keys in the part.
    pub elements: u64,
    /// The filter's parameters.
    pub params: FilterParams,
}

impl PartPrefix {
    /// Encodes the prefix (see the crate docs for the table).
    pub fn encode(&self) -> [u8; PART_PREFIX_LEN] {
        let mut out = [0u8; PART_PREFIX_LEN];
        out[0..8].copy_from_slice(&PART_MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&self.kind.code().to_le_bytes());
        out[12..16].copy_from_slice(&self.shard.to_le_bytes());
        out[16..20].copy_from_slice(&self.shards.to_le_bytes());
        // 20..24 reserved, zero.
        out[24..32].copy_from_slice(&self.elements.to_le_bytes());
        out[32..40].copy_from_slice(&self.params.seed.to_le_bytes());
        out[40..44].copy_from_slice(&self.params.segment_length.to_le_bytes());
        out[44..48].copy_from_slice(&self.params.segment_length_mask.to_le_bytes());
        out[48..52].copy_from_slice(&self.params.segment_count_length.to_le_bytes());
        out[52..56].copy_from_slice(&self.params.array_len.to_le_bytes());
        // 56..64 reserved, zero.
        out
    }

    /// Decodes and validates the prefix of a whole part file `bytes`:
    /// magic, version, kind, shard bounds, reserved zeros, filter
    /// parameters, and that the file is exactly as long as they say.
    pub fn decode(bytes: &[u8]) -> Result<PartPrefix, PartError> {
        let p = bytes
            .get(..PART_PREFIX_LEN)
            .ok_or(PartError::Truncated { len: bytes.len() as u64, expected: PART_PREFIX_LEN as u64 })?;
        if p[0..8] != PART_MAGIC {
            return Err(PartError::BadMagic);
        }
        let version = le_u16(p, 8);
        if version != FORMAT_VERSION {
            return Err(PartError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let kind = PartKind::readable(le_u16(p, 10))?;
        let shard = le_u32(p, 12);
        let shards = le_u32(p, 16);
        if shards == 0 || shard >= shards {
            return Err(PartError::BadShard { shard, shards });
        }
        if p[20..24] != [0; 4] || p[56..64] != [0; 8] {
            return Err(PartError::ReservedNotZero);
        }
        let elements = le_u64(p, 24);
        let params = FilterParams {
            seed: le_u64(p, 32),
            segment_length: le_u32(p, 40),
            segment_length_mask: le_u32(p, 44),
            segment_count_length: le_u32(p, 48),
            array_len: le_u32(p, 52),
        };
        params.validate(elements)?;
        let expected = params.file_len();
        let len = bytes.len() as u64;
        if len < expected {
            return Err(PartError::Truncated { len, expected });
        }
        if len > expected {
            return Err(PartError::TrailingBytes { len, expected });
        }
        Ok(PartPrefix { kind, shard, shards, elements, params })
    }
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// MurmurHash3's 64-bit finalizer, as xorf's `murmur3::mix64`.
#[inline]
const fn mix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// A binary fuse filter over a borrowed little-endian fingerprint array.
///
/// The lookup is xorf 0.13's `BinaryFuse32::contains`, written out so that
/// it runs on a memory-mapped byte slice: endian-independent, with no
/// alignment requirement and no possible out-of-bounds read (the parameters
/// were validated). xorf's own `BinaryFuse32Ref::from_dma` would also borrow
/// the array, but it reads native-endian words and panics on a misaligned
/// slice; the tests check this function against both of xorf's types.
#[derive(Debug, Clone, Copy)]
pub struct FuseView<'a> {
    params: FilterParams,
    fingerprints: &'a [u8],
}

impl<'a> FuseView<'a> {
    /// A view of a whole, already validated part file.
    pub fn new(prefix: &PartPrefix, file: &'a [u8]) -> FuseView<'a> {
        FuseView { params: prefix.params, fingerprints: file.get(PART_PREFIX_LEN..).unwrap_or(&[]) }
    }

    #[inline]
    fn word(&self, index: u32) -> u32 {
        let at = index as usize * 4;
        match self.fingerprints.get(at..at + 4) {
            Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
            // Unreachable for validated parameters (see
            // `FilterParams::validate`); a word of all ones keeps the answer
            // defined without a panic.
            None => u32::MAX,
        }
    }

    /// Whether `key` may be in the filter: always true for a member, true
    /// for a non-member with probability about 2^-32.
    ///
    /// ```text
    /// hash = mix64(key + seed)                  (wrapping add)
    /// f    = low 32 bits of (hash ^ (hash >> 32))
    /// h0   = (hash × segment_count_length) >> 64 (128-bit product)
    /// h1   = (h0 + segment_length)     ^ ((hash >> 18) & mask)
    /// h2   = (h0 + 2 × segment_length) ^ (hash & mask)
    /// member iff f ^ F[h0] ^ F[h1] ^ F[h2] == 0
    /// ```
    #[inline]
    pub fn contains(&self, key: u64) -> bool {
        let p = &self.params;
        let hash = mix64(key.wrapping_add(p.seed));
        let f = (hash ^ (hash >> 32)) as u32;
        let h0 = ((u128::from(hash) * u128::from(p.segment_count_length)) >> 64) as u32;
        let h1 = h0.wrapping_add(p.segment_length) ^ ((hash >> 18) as u32 & p.segment_length_mask);
        let h2 = h0.wrapping_add(p.segment_length.wrapping_mul(2)) ^ (hash as u32 & p.segment_length_mask);
        f ^ self.word(h0) ^ self.word(h1) ^ self.word(h2) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix() -> PartPrefix {
        PartPrefix {
            kind: PartKind::BinaryFuse32,
            shard: 1,
            shards: 4,
            elements: 3,
            params: FilterParams {
                seed: 7,
                segment_length: 4,
                segment_length_mask: 3,
                segment_count_length: 4,
                array_len: 12,
            },
        }
    }

    fn file(p: &PartPrefix) -> Vec<u8> {
        let mut v = p.encode().to_vec();
        v.resize(p.params.file_len() as usize, 0);
        v
    }

    #[test]
    fn prefix_round_trip() {
        let p = prefix();
        assert_eq!(PartPrefix::decode(&file(&p)).unwrap(), p);
    }

    #[test]
    fn refuses_bad_magic_version_kind_shard_reserved() {
        let p = prefix();
        let mut f = file(&p);
        f[0] ^= 1;
        assert_eq!(PartPrefix::decode(&f), Err(PartError::BadMagic));
        let mut f = file(&p);
        f[8] = 9;
        assert!(matches!(PartPrefix::decode(&f), Err(PartError::UnsupportedVersion { found: 9, .. })));
        let mut f = file(&p);
        f[10] = 2;
        assert_eq!(PartPrefix::decode(&f), Err(PartError::UnsupportedKind("per-element labels (reserved)")));
        let mut f = file(&p);
        f[10] = 77;
        assert_eq!(PartPrefix::decode(&f), Err(PartError::UnknownKind(77)));
        let mut f = file(&p);
        f[12] = 4;
        assert!(matches!(PartPrefix::decode(&f), Err(PartError::BadShard { shard: 4, shards: 4 })));
        let mut f = file(&p);
        f[60] = 1;
        assert_eq!(PartPrefix::decode(&f), Err(PartError::ReservedNotZero));
    }

    #[test]
    fn refuses_inconsistent_params_and_lengths() {
        let mut p = prefix();
        p.params.array_len = 13;
        assert!(matches!(PartPrefix::decode(&file(&p)), Err(PartError::BadParams(_))));
        let mut p = prefix();
        p.params.segment_length = 3;
        assert!(matches!(PartPrefix::decode(&file(&p)), Err(PartError::BadParams(_))));
        let mut p = prefix();
        p.elements = MAX_PART_ELEMENTS + 1;
        assert!(matches!(PartPrefix::decode(&file(&p)), Err(PartError::TooManyElements { .. })));
        let p = prefix();
        let mut f = file(&p);
        f.pop();
        assert!(matches!(PartPrefix::decode(&f), Err(PartError::Truncated { .. })));
        let mut f = file(&p);
        f.push(0);
        assert!(matches!(PartPrefix::decode(&f), Err(PartError::TrailingBytes { .. })));
        assert!(matches!(PartPrefix::decode(&[0u8; 10]), Err(PartError::Truncated { .. })));
    }

    #[test]
    fn lookup_never_panics_on_extreme_keys() {
        let p = prefix();
        let f = file(&p);
        let view = FuseView::new(&p, &f);
        for k in [0, 1, u64::MAX, u64::MAX - 7, 1 << 63] {
            let _ = view.contains(k);
        }
    }
}
