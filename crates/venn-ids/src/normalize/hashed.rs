//! Pre-hashed identifiers: 64 hex digits of a SHA-256 an ad platform or a
//! brand already computed.

use crate::skip::SkipReason;

/// Hex digits in a SHA-256.
pub const SHA256_HEX_LEN: usize = 64;

/// SHA-256 of the empty string (FIPS 180-2), compared against every row
/// rather than hashed for each.
const SHA256_OF_NOTHING: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41,
    0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Decodes a hex SHA-256 from an `email-sha256` or `phone-sha256` column.
///
/// Accepts exactly 64 hex digits in either case, after trimming surrounding
/// whitespace. The SHA-256 of the empty string is reported as
/// [`SkipReason::Empty`]: it is what an export tool writes for a person with
/// no email, and keeping it would make every such person on both sides
/// "match".
///
/// Errors: [`SkipReason::Empty`] for a blank field or the hash of nothing,
/// otherwise [`SkipReason::BadHex`].
///
/// ```
/// use venn_ids::{parse_sha256_hex, SkipReason};
/// let hex = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
/// assert_eq!(parse_sha256_hex(hex).map(|b| b[0]), Ok(0xba));
/// assert_eq!(parse_sha256_hex("abc"), Err(SkipReason::BadHex));
/// ```
pub fn parse_sha256_hex(input: &str) -> Result<[u8; 32], SkipReason> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(SkipReason::Empty);
    }
    if trimmed.len() != SHA256_HEX_LEN {
        return Err(SkipReason::BadHex);
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(trimmed, &mut out).map_err(|_| SkipReason::BadHex)?;
    if out == SHA256_OF_NOTHING {
        return Err(SkipReason::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::sha256;

    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn decodes_either_case() {
        let lower = parse_sha256_hex(ABC).unwrap();
        assert_eq!(parse_sha256_hex(&ABC.to_uppercase()), Ok(lower));
        assert_eq!(parse_sha256_hex(&format!("  {ABC}\r")), Ok(lower));
        assert_eq!(lower, sha256(b"abc"));
    }

    #[test]
    fn the_hash_of_nothing_is_what_sha256_says() {
        assert_eq!(SHA256_OF_NOTHING, sha256(b""));
    }

    #[test]
    fn rejects_blank_as_empty() {
        assert_eq!(parse_sha256_hex(" "), Err(SkipReason::Empty));
    }

    #[test]
    fn rejects_hash_of_empty_string_as_empty() {
        let empty = hex::encode(sha256(b""));
        assert_eq!(parse_sha256_hex(&empty), Err(SkipReason::Empty));
    }

    #[test]
    fn rejects_wrong_length() {
        assert_eq!(parse_sha256_hex(&ABC[..63]), Err(SkipReason::BadHex));
        assert_eq!(parse_sha256_hex(&format!("{ABC}0")), Err(SkipReason::BadHex));
    }

    #[test]
    fn rejects_non_hex_digit() {
        let bad = format!("{}g", &ABC[..63]);
        assert_eq!(parse_sha256_hex(&bad), Err(SkipReason::BadHex));
    }

    #[test]
    fn rejects_inner_space() {
        let bad = format!("{} {}", &ABC[..31], &ABC[32..]);
        assert_eq!(bad.len(), 64);
        assert_eq!(parse_sha256_hex(&bad), Err(SkipReason::BadHex));
    }

    /// Multi-byte characters could make a 64-byte string that is not 64 chars.
    #[test]
    fn rejects_non_ascii_of_right_byte_length() {
        let bad = format!("{}é", &ABC[..62]);
        assert_eq!(bad.len(), 64);
        assert_eq!(parse_sha256_hex(&bad), Err(SkipReason::BadHex));
    }
}
