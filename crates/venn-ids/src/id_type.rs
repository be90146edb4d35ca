//! The names a user gives for what a column holds, and the kinds that
//! decide which identifiers may ever match each other.

use std::fmt;
use std::str::FromStr;

use crate::error::ParseNameError;

/// What a column holds, as named on the command line (`--id-type`).
///
/// Two types can share a [`IdKind`]: a plain `email` column and an
/// `email-sha256` column of the same people produce the same digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdType {
    /// An email address, normalized (trimmed, lowercased, shape-checked).
    Email,
    /// Lowercase or uppercase hex of SHA-256 over a normalized email, as
    /// Google's and Meta's upload tools produce it.
    EmailSha256,
    /// A phone number in any format `libphonenumber` reads, normalized to E.164.
    Phone,
    /// Hex of SHA-256 over an E.164 phone number (with its `+`).
    PhoneSha256,
    /// A mobile advertising id (IDFA or GAID): a UUID.
    Maid,
    /// Opaque bytes, used exactly as the CSV field holds them.
    Raw,
}

impl IdType {
    /// Every type, in the order the CLI lists them.
    pub const ALL: [IdType; 6] =
        [IdType::Email, IdType::EmailSha256, IdType::Phone, IdType::PhoneSha256, IdType::Maid, IdType::Raw];

    /// The command-line name: `email`, `email-sha256`, `phone`,
    /// `phone-sha256`, `maid` or `raw`.
    pub fn name(self) -> &'static str {
        match self {
            IdType::Email => "email",
            IdType::EmailSha256 => "email-sha256",
            IdType::Phone => "phone",
            IdType::PhoneSha256 => "phone-sha256",
            IdType::Maid => "maid",
            IdType::Raw => "raw",
        }
    }

    /// The kind whose digests this type produces; types of different kinds
    /// never match.
    pub fn kind(self) -> IdKind {
        match self {
            IdType::Email | IdType::EmailSha256 => IdKind::Email,
            IdType::Phone | IdType::PhoneSha256 => IdKind::Phone,
            IdType::Maid => IdKind::Maid,
            IdType::Raw => IdKind::Raw,
        }
    }
}

impl fmt::Display for IdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for IdType {
    type Err = ParseNameError;

    /// Accepts exactly the names of [`IdType::name`] (case-sensitive, so a
    /// script that works once keeps working).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdType::ALL.into_iter().find(|t| t.name() == s).ok_or_else(|| ParseNameError {
            what: "identifier type",
            input: s.to_owned(),
            expected: "email, email-sha256, phone, phone-sha256, maid, raw",
        })
    }
}

/// The domain an identifier's digest is separated into. An email and a phone
/// number never produce the same digest, even over the same bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// Email addresses, plain or pre-hashed.
    Email,
    /// Phone numbers, plain or pre-hashed.
    Phone,
    /// Mobile advertising ids.
    Maid,
    /// Opaque bytes.
    Raw,
}

impl IdKind {
    /// The label hashed into every digest of this kind: `email`, `phone`,
    /// `maid` or `raw`. Part of the digest contract: never change it.
    pub fn label(self) -> &'static str {
        match self {
            IdKind::Email => "email",
            IdKind::Phone => "phone",
            IdKind::Maid => "maid",
            IdKind::Raw => "raw",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How much of an email address is considered significant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EmailProfile {
    /// Trim and lowercase only. What the ad platforms do; the default.
    #[default]
    Standard,
    /// Also fold Gmail aliases: for `gmail.com` and `googlemail.com`, drop
    /// dots and any `+tag` from the local part and use `gmail.com`. Both
    /// parties must pick the same profile, or Gmail users stop matching.
    Gmail,
}

impl EmailProfile {
    /// The command-line name: `standard` or `gmail`.
    pub fn name(self) -> &'static str {
        match self {
            EmailProfile::Standard => "standard",
            EmailProfile::Gmail => "gmail",
        }
    }
}

impl fmt::Display for EmailProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EmailProfile {
    type Err = ParseNameError;

    /// Accepts exactly `standard` or `gmail`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [EmailProfile::Standard, EmailProfile::Gmail]
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ParseNameError { what: "email profile", input: s.to_owned(), expected: "standard, gmail" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_type_names_round_trip() {
        for t in IdType::ALL {
            assert_eq!(t.to_string().parse::<IdType>(), Ok(t));
        }
        assert_eq!("email-sha256".parse::<IdType>(), Ok(IdType::EmailSha256));
    }

    #[test]
    fn rejects_unknown_id_type() {
        let err = "Email".parse::<IdType>().unwrap_err();
        assert_eq!(err.input, "Email");
        assert!(err.to_string().contains("email-sha256"));
        assert!("sha256".parse::<IdType>().is_err());
        assert!("".parse::<IdType>().is_err());
    }

    #[test]
    fn hashed_types_share_their_plain_kind() {
        assert_eq!(IdType::EmailSha256.kind(), IdType::Email.kind());
        assert_eq!(IdType::PhoneSha256.kind(), IdType::Phone.kind());
        assert_ne!(IdType::Email.kind(), IdType::Phone.kind());
    }

    #[test]
    fn email_profile_names_round_trip() {
        assert_eq!("gmail".parse::<EmailProfile>(), Ok(EmailProfile::Gmail));
        assert_eq!("standard".parse::<EmailProfile>(), Ok(EmailProfile::Standard));
        assert_eq!(EmailProfile::default(), EmailProfile::Standard);
        assert_eq!(EmailProfile::Gmail.to_string(), "gmail");
    }

    #[test]
    fn rejects_unknown_email_profile() {
        assert!("Gmail".parse::<EmailProfile>().is_err());
        assert!("googlemail".parse::<EmailProfile>().is_err());
    }
}
