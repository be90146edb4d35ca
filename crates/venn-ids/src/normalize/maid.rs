//! Mobile advertising ids (IDFA, GAID): UUIDs in canonical lowercase form.

use crate::skip::SkipReason;

/// Length of the canonical form: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub const MAID_LEN: usize = 36;

/// Byte positions of the hyphens in the canonical form.
const HYPHENS: [usize; 4] = [8, 13, 18, 23];

/// Normalizes one advertising id to its 36-character lowercase hyphenated form.
///
/// ```
/// use venn_ids::normalize_maid;
/// assert_eq!(
///     normalize_maid("6D92078A82464BA4AE5B76104861E7DC").as_deref(),
///     Ok("6d92078a-8246-4ba4-ae5b-76104861e7dc")
/// );
/// ```
pub fn normalize_maid(input: &str) -> Result<String, SkipReason> {
    let bytes = canonical_maid(input)?;
    // Only ASCII hex digits and hyphens are ever written.
    Ok(bytes.iter().map(|&b| char::from(b)).collect())
}

/// The canonical bytes of an advertising id, without allocating.
///
/// Accepts, after trimming surrounding whitespace, either the hyphenated
/// 8-4-4-4-12 form or 32 hex digits, in any case. Braces, URNs and other
/// layouts are rejected: ad platforms export one of these two forms, and
/// anything else more likely comes from a wrong column. The all-zero UUID is
/// what iOS and Android report when the user limits ad tracking; thousands of
/// people share it, so it is rejected too.
///
/// Errors: [`SkipReason::Empty`] for a blank field, otherwise
/// [`SkipReason::BadMaid`].
pub fn canonical_maid(input: &str) -> Result<[u8; MAID_LEN], SkipReason> {
    let trimmed = input.trim().as_bytes();
    if trimmed.is_empty() {
        return Err(SkipReason::Empty);
    }
    let mut digits = [0u8; 32];
    match trimmed.len() {
        MAID_LEN => {
            let mut next = digits.iter_mut();
            for (i, &b) in trimmed.iter().enumerate() {
                if HYPHENS.contains(&i) {
                    if b != b'-' {
                        return Err(SkipReason::BadMaid);
                    }
                } else if let Some(slot) = next.next() {
                    *slot = b;
                }
            }
        }
        32 => digits.copy_from_slice(trimmed),
        _ => return Err(SkipReason::BadMaid),
    }

    let mut out = [b'-'; MAID_LEN];
    let mut all_zero = true;
    let slots = (0..MAID_LEN).filter(|i| !HYPHENS.contains(i));
    for (slot, b) in slots.zip(digits) {
        if !b.is_ascii_hexdigit() {
            return Err(SkipReason::BadMaid);
        }
        all_zero &= b == b'0';
        out[slot] = b.to_ascii_lowercase();
    }
    if all_zero {
        return Err(SkipReason::BadMaid);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANON: &str = "6d92078a-8246-4ba4-ae5b-76104861e7dc";

    #[test]
    fn accepts_hyphenated_any_case() {
        assert_eq!(normalize_maid(CANON).as_deref(), Ok(CANON));
        assert_eq!(normalize_maid("6D92078A-8246-4BA4-AE5B-76104861E7DC").as_deref(), Ok(CANON));
        assert_eq!(normalize_maid(" 6d92078a-8246-4ba4-AE5B-76104861e7dc\t").as_deref(), Ok(CANON));
    }

    #[test]
    fn accepts_32_hex_digits() {
        assert_eq!(normalize_maid("6D92078A82464BA4AE5B76104861E7DC").as_deref(), Ok(CANON));
    }

    #[test]
    fn rejects_blank_as_empty() {
        assert_eq!(normalize_maid("  "), Err(SkipReason::Empty));
    }

    #[test]
    fn rejects_all_zero_uuid() {
        assert_eq!(normalize_maid("00000000-0000-0000-0000-000000000000"), Err(SkipReason::BadMaid));
        assert_eq!(normalize_maid(&"0".repeat(32)), Err(SkipReason::BadMaid));
    }

    #[test]
    fn rejects_misplaced_hyphens() {
        assert_eq!(normalize_maid("6d92078a8-246-4ba4-ae5b-76104861e7dc"), Err(SkipReason::BadMaid));
        assert_eq!(normalize_maid("6d92078a-8246-4ba4-ae5b76104861e7dc-"), Err(SkipReason::BadMaid));
    }

    #[test]
    fn rejects_non_hex_digit() {
        assert_eq!(normalize_maid("6d92078a-8246-4ba4-ae5b-76104861e7dg"), Err(SkipReason::BadMaid));
        assert_eq!(normalize_maid("6d92078a82464ba4ae5b76104861e7dz"), Err(SkipReason::BadMaid));
    }

    #[test]
    fn rejects_braces() {
        assert_eq!(normalize_maid(&format!("{{{CANON}}}")), Err(SkipReason::BadMaid));
    }

    #[test]
    fn rejects_wrong_length() {
        assert_eq!(normalize_maid(&CANON[..35]), Err(SkipReason::BadMaid));
        assert_eq!(normalize_maid("6d92078a"), Err(SkipReason::BadMaid));
    }
}
