//! Phone numbers: whatever format `libphonenumber` reads, to E.164.

use std::fmt::Write as _;

use phonenumber::country::Id as Region;
use phonenumber::Mode;

use crate::skip::SkipReason;

/// Longest field handed to the phone parser, in bytes. The longest E.164
/// number is 16 characters; 64 leaves room for formatting, a `tel:` prefix
/// and an extension, and keeps a 10 MB cell away from the parser's regexes.
pub const MAX_PHONE_INPUT_LEN: usize = 64;

/// Normalizes one phone number; see [`normalize_phone_into`].
///
/// ```
/// use venn_ids::{normalize_phone, Region};
/// assert_eq!(normalize_phone("(212) 555-0134", Region::US).as_deref(), Ok("+12125550134"));
/// assert_eq!(normalize_phone("+44 20 7946 0958", Region::US).as_deref(), Ok("+442079460958"));
/// ```
pub fn normalize_phone(input: &str, default_region: Region) -> Result<String, SkipReason> {
    let mut out = String::new();
    normalize_phone_into(input, default_region, &mut out)?;
    Ok(out)
}

/// Writes the E.164 form of `input` (with its leading `+`, no extension)
/// into `out` (cleared first).
///
/// A number without a `+` country prefix is read as a number of
/// `default_region`. The number must be valid, not merely plausible, per
/// `libphonenumber`'s metadata, so a row of digits in the wrong column is
/// rejected rather than turned into a phone number nobody has.
///
/// Errors: [`SkipReason::Empty`] for a blank field, otherwise
/// [`SkipReason::UnparsablePhone`].
pub fn normalize_phone_into(input: &str, default_region: Region, out: &mut String) -> Result<(), SkipReason> {
    out.clear();
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(SkipReason::Empty);
    }
    if trimmed.len() > MAX_PHONE_INPUT_LEN {
        return Err(SkipReason::UnparsablePhone);
    }
    let number = phonenumber::parse(Some(default_region), trimmed).map_err(|_| SkipReason::UnparsablePhone)?;
    if !phonenumber::is_valid(&number) {
        return Err(SkipReason::UnparsablePhone);
    }
    write!(out, "{}", phonenumber::format(&number).mode(Mode::E164)).map_err(|_| SkipReason::UnparsablePhone)?;
    if !out.starts_with('+') {
        return Err(SkipReason::UnparsablePhone);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(s: &str) -> Result<String, SkipReason> {
        normalize_phone(s, Region::US)
    }

    #[test]
    fn formats_us_numbers_as_e164() {
        for input in [
            "(212) 555-0134",
            "212-555-0134",
            "212.555.0134",
            "2125550134",
            "1 212 555 0134",
            "+1 212 555 0134",
            "  +12125550134 ",
        ] {
            assert_eq!(us(input).as_deref(), Ok("+12125550134"), "{input}");
        }
    }

    #[test]
    fn honours_explicit_country_prefix() {
        assert_eq!(us("+44 20 7946 0958").as_deref(), Ok("+442079460958"));
    }

    #[test]
    fn uses_default_region_without_prefix() {
        assert_eq!(normalize_phone("020 7946 0958", Region::GB).as_deref(), Ok("+442079460958"));
    }

    #[test]
    fn drops_extension() {
        assert_eq!(us("212-555-0134 ext. 12").as_deref(), Ok("+12125550134"));
    }

    #[test]
    fn rejects_blank_as_empty() {
        assert_eq!(us(" "), Err(SkipReason::Empty));
    }

    #[test]
    fn rejects_text() {
        assert_eq!(us("alice@example.com"), Err(SkipReason::UnparsablePhone));
        assert_eq!(us("n/a"), Err(SkipReason::UnparsablePhone));
    }

    #[test]
    fn rejects_invalid_number() {
        // Area codes never start with 0 or 1 in the NANP.
        assert_eq!(us("(012) 555-0134"), Err(SkipReason::UnparsablePhone));
        assert_eq!(us("555-0134"), Err(SkipReason::UnparsablePhone));
    }

    #[test]
    fn rejects_overlong_input() {
        let long = "2".repeat(MAX_PHONE_INPUT_LEN + 1);
        assert_eq!(us(&long), Err(SkipReason::UnparsablePhone));
    }
}
