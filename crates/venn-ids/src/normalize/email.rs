//! Email addresses: trim, lowercase, check the shape, optionally fold Gmail
//! aliases.
//!
//! The shape check is deliberately loose about what a mailbox may contain
//! and strict about what a spreadsheet typically breaks (spaces, a missing
//! dot, two addresses in one cell): a rejected row is counted, a wrongly
//! accepted one only costs a digest that matches nothing.

use crate::id_type::EmailProfile;
use crate::skip::SkipReason;

/// Longest address accepted, in bytes (RFC 5321's path limit minus the
/// angle brackets).
pub const MAX_EMAIL_LEN: usize = 254;

/// Characters that never appear unquoted in a real local part but do appear
/// when a cell holds `Name <addr>` or a list of addresses.
const LOCAL_SPECIALS: &[char] = &['"', '(', ')', ',', ':', ';', '<', '>', '[', ']', '\\'];

/// Normalizes one email address; see [`normalize_email_into`].
///
/// ```
/// use venn_ids::{normalize_email, EmailProfile};
/// assert_eq!(
///     normalize_email("  Alice.Smith@Example.COM ", EmailProfile::Standard).as_deref(),
///     Ok("alice.smith@example.com")
/// );
/// assert_eq!(
///     normalize_email("a.l.i.c.e+promo@googlemail.com", EmailProfile::Gmail).as_deref(),
///     Ok("alice@gmail.com")
/// );
/// ```
pub fn normalize_email(input: &str, profile: EmailProfile) -> Result<String, SkipReason> {
    let mut out = String::new();
    normalize_email_into(input, profile, &mut out)?;
    Ok(out)
}

/// Writes the normalized form of `input` into `out` (cleared first), reusing
/// its allocation across rows.
///
/// Steps: trim surrounding whitespace (Unicode, so a non-breaking space from
/// a spreadsheet goes too); lowercase; require exactly one `@`, a non-empty
/// local part without whitespace, control characters or any of
/// `"(),:;<>[]\`, a domain of at least two non-empty dot-separated labels made
/// of letters, digits and `-`, and at most [`MAX_EMAIL_LEN`] bytes in all.
/// With [`EmailProfile::Gmail`], for `gmail.com` and `googlemail.com` drop
/// everything from the first `+` in the local part, drop its dots, and use
/// the domain `gmail.com`.
///
/// Errors: [`SkipReason::Empty`] for a blank field, otherwise
/// [`SkipReason::MalformedEmail`].
pub fn normalize_email_into(input: &str, profile: EmailProfile, out: &mut String) -> Result<(), SkipReason> {
    out.clear();
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(SkipReason::Empty);
    }
    // Checked before lowercasing so a 10 MB cell costs nothing.
    if trimmed.len() > MAX_EMAIL_LEN {
        return Err(SkipReason::MalformedEmail);
    }
    if trimmed.is_ascii() {
        out.push_str(trimmed);
        out.make_ascii_lowercase();
    } else {
        out.extend(trimmed.chars().flat_map(char::to_lowercase));
    }
    // Unicode lowercasing can lengthen a string.
    if out.len() > MAX_EMAIL_LEN {
        return Err(SkipReason::MalformedEmail);
    }

    let at = check_shape(out)?;
    if profile == EmailProfile::Gmail {
        let domain = &out[at + 1..];
        if domain == "gmail.com" || domain == "googlemail.com" {
            let cut = out[..at].find('+').unwrap_or(at);
            out.truncate(cut);
            out.retain(|c| c != '.');
            if out.is_empty() {
                return Err(SkipReason::MalformedEmail);
            }
            out.push_str("@gmail.com");
        }
    }
    Ok(())
}

/// Checks a lowercased address and returns the byte index of its `@`.
fn check_shape(email: &str) -> Result<usize, SkipReason> {
    let at = email.find('@').ok_or(SkipReason::MalformedEmail)?;
    let (local, domain) = (&email[..at], &email[at + 1..]);
    if local.is_empty() || local.chars().any(|c| bad_anywhere(c) || LOCAL_SPECIALS.contains(&c)) {
        return Err(SkipReason::MalformedEmail);
    }
    // This also rejects a second `@`.
    if domain.chars().any(|c| !(c.is_alphanumeric() || c == '-' || c == '.')) {
        return Err(SkipReason::MalformedEmail);
    }
    let mut labels = 0usize;
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(SkipReason::MalformedEmail);
        }
        labels += 1;
    }
    if labels < 2 {
        return Err(SkipReason::MalformedEmail);
    }
    Ok(at)
}

fn bad_anywhere(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std(s: &str) -> Result<String, SkipReason> {
        normalize_email(s, EmailProfile::Standard)
    }

    fn gmail(s: &str) -> Result<String, SkipReason> {
        normalize_email(s, EmailProfile::Gmail)
    }

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(std("  Alice.Smith@Example.COM ").as_deref(), Ok("alice.smith@example.com"));
        assert_eq!(std("\u{a0}bob@x.org\t").as_deref(), Ok("bob@x.org"));
    }

    #[test]
    fn lowercases_non_ascii() {
        assert_eq!(std("JÖRG@Example.DE").as_deref(), Ok("jörg@example.de"));
        assert_eq!(std("user@BÜCHER.de").as_deref(), Ok("user@bücher.de"));
    }

    #[test]
    fn standard_profile_keeps_gmail_dots_and_tags() {
        assert_eq!(std("A.L.I.C.E+promo@googlemail.com").as_deref(), Ok("a.l.i.c.e+promo@googlemail.com"));
    }

    #[test]
    fn gmail_profile_folds_aliases() {
        assert_eq!(gmail("a.l.i.c.e+promo@googlemail.com").as_deref(), Ok("alice@gmail.com"));
        assert_eq!(gmail(" Alice@GMail.com ").as_deref(), Ok("alice@gmail.com"));
        assert_eq!(gmail("al.ice+a+b@gmail.com").as_deref(), Ok("alice@gmail.com"));
    }

    #[test]
    fn gmail_profile_leaves_other_domains_alone() {
        assert_eq!(gmail("a.b+c@example.com").as_deref(), Ok("a.b+c@example.com"));
        assert_eq!(gmail("a.b+c@mail.gmail.com").as_deref(), Ok("a.b+c@mail.gmail.com"));
    }

    #[test]
    fn rejects_gmail_alias_with_nothing_left() {
        assert_eq!(gmail("+promo@gmail.com"), Err(SkipReason::MalformedEmail));
        assert_eq!(gmail("...@gmail.com"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_blank_as_empty() {
        assert_eq!(std(""), Err(SkipReason::Empty));
        assert_eq!(std("   \t"), Err(SkipReason::Empty));
    }

    #[test]
    fn rejects_missing_at() {
        assert_eq!(std("alice.example.com"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_two_ats() {
        assert_eq!(std("a@b@example.com"), Err(SkipReason::MalformedEmail));
        assert_eq!(std("a@example.com;b@example.com"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_empty_local_part() {
        assert_eq!(std("@example.com"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_domain_without_dot() {
        assert_eq!(std("alice@localhost"), Err(SkipReason::MalformedEmail));
        assert_eq!(std("alice@"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_empty_domain_label() {
        assert_eq!(std("alice@example..com"), Err(SkipReason::MalformedEmail));
        assert_eq!(std("alice@.example.com"), Err(SkipReason::MalformedEmail));
        assert_eq!(std("alice@example.com."), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_inner_space() {
        assert_eq!(std("alice smith@example.com"), Err(SkipReason::MalformedEmail));
        assert_eq!(std("alice@exa mple.com"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_display_name_form() {
        assert_eq!(std("<alice@example.com>"), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_over_254_bytes() {
        let local = "a".repeat(64);
        let ok = format!("{local}@{}.com", "b".repeat(MAX_EMAIL_LEN - 64 - 5));
        assert_eq!(ok.len(), MAX_EMAIL_LEN);
        assert!(std(&ok).is_ok());
        let long = format!("{local}@{}.com", "b".repeat(MAX_EMAIL_LEN - 64 - 4));
        assert_eq!(std(&long), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn rejects_over_254_bytes_after_lowercasing() {
        // U+0130 (2 bytes) lowercases to "i" + U+0307 (3 bytes).
        let email = format!("{}@example.com", "\u{130}".repeat(120));
        assert!(email.len() <= MAX_EMAIL_LEN);
        assert_eq!(std(&email), Err(SkipReason::MalformedEmail));
    }

    #[test]
    fn reuses_buffer_without_leftovers() {
        let mut buf = String::new();
        normalize_email_into("LONG.ADDRESS@EXAMPLE.COM", EmailProfile::Standard, &mut buf).unwrap();
        assert_eq!(normalize_email_into("bad", EmailProfile::Standard, &mut buf), Err(SkipReason::MalformedEmail));
        normalize_email_into("a@b.co", EmailProfile::Standard, &mut buf).unwrap();
        assert_eq!(buf, "a@b.co");
    }
}
