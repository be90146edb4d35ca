//! Identifier intake for Venn: one column of a hand-exported CSV file in,
//! a sorted, deduplicated list of 32-byte identifier digests out, with a
//! count of every row skipped and why.
//!
//! The digests are the input of the blinding step; they never leave the
//! machine. Their definition ([`digest()`], documented in [`mod@digest`]) is the
//! contract between parties: a plain `email` column and an `email-sha256`
//! column of the same people produce the same digests, and no email ever
//! matches a phone number.
//!
//! ```
//! use std::path::Path;
//! use venn_ids::{read_identifiers_from, IdType, ReadOptions, SkipReason};
//!
//! let csv = "\u{feff}Email,phone\r\n Alice@Example.com ,1\r\nalice@example.com,2\r\nnot-an-email,3\r\n";
//! let options = ReadOptions::new("Email", IdType::Email);
//! let outcome = read_identifiers_from(csv.as_bytes(), Path::new("brand.csv"), &options).unwrap();
//! assert_eq!(outcome.rows_read, 3);
//! assert_eq!(outcome.distinct(), 1);
//! assert_eq!(outcome.duplicates, 1);
//! assert_eq!(outcome.skipped_by_reason.get(SkipReason::MalformedEmail), 1);
//! ```

#![forbid(unsafe_code)]

pub mod digest;
mod error;
mod id_type;
mod lines;
mod normalize;
mod read;
pub mod remote;
mod segments;
mod shape;
mod skip;
mod source;
pub mod synthetic;

#[cfg(test)]
mod prop_tests;

pub use digest::{digest, IdDigest};
pub use error::{group_digits, IdsError, ParseNameError};
pub use id_type::{EmailProfile, IdKind, IdType};
pub use normalize::{
    canonical_maid, normalize_email, normalize_email_into, normalize_maid, normalize_phone, normalize_phone_into,
    parse_sha256_hex, Normalizer, MAID_LEN, MAX_EMAIL_LEN, MAX_PHONE_INPUT_LEN, SHA256_HEX_LEN,
};
pub use read::{read_identifiers, read_identifiers_from, read_input, Intake, PartCount, ReadOptions, ReadOutcome};
pub use remote::{read_remote, RemoteUrl};
pub use segments::{LabelScheme, SegmentColumn, OTHER};
pub use shape::{Shape, ShapeCounts};
pub use skip::{SkipCounts, SkipReason};
pub use source::{Compression, InputSource, STDIN};

/// A country, as `libphonenumber` names it (`Region::US`, `"GB".parse()`),
/// re-exported so callers need not depend on `phonenumber` themselves.
pub use phonenumber::country::Id as Region;
