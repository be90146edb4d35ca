//! Why a row was skipped, and how many rows were skipped for each reason.
//!
//! Hand-exported files are dirty; a bad row is normal and must not stop a
//! run. Counting the reasons lets the user see whether they picked the wrong
//! column or type (nearly every row skipped) or just have a few typos.

use std::fmt;

/// Why one row produced no identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// The identifier field is empty or only whitespace (or, for a hashed
    /// type, is the SHA-256 of the empty string: an empty value hashed).
    Empty,
    /// Not an email address: wrong number of `@`, no dot in the domain, an
    /// empty domain label, a space, or longer than 254 bytes.
    MalformedEmail,
    /// Not a phone number `libphonenumber` accepts as valid for the default
    /// region (or for the country its `+` prefix names).
    UnparsablePhone,
    /// Not exactly 64 hexadecimal digits.
    BadHex,
    /// Not a UUID in 36-character hyphenated or 32-digit form, or the
    /// all-zero UUID a device sends when ad tracking is limited.
    BadMaid,
    /// The field is not valid UTF-8 (every type but `raw` is text).
    InvalidUtf8,
    /// The row has too few fields to reach the identifier column.
    RaggedRow,
    /// The row's CSV structure is broken: the identifier field spans lines
    /// (a stray quote joined rows), or a quote opened in this row is never
    /// closed and swallowed the rest of the file.
    MalformedCsv,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 8] = [
        SkipReason::Empty,
        SkipReason::MalformedEmail,
        SkipReason::UnparsablePhone,
        SkipReason::BadHex,
        SkipReason::BadMaid,
        SkipReason::InvalidUtf8,
        SkipReason::RaggedRow,
        SkipReason::MalformedCsv,
    ];

    /// Stable snake_case label used in reports: `empty`, `malformed_email`,
    /// `unparsable_phone`, `bad_hex`, `bad_maid`, `invalid_utf8`,
    /// `ragged_row`, `malformed_csv`.
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::Empty => "empty",
            SkipReason::MalformedEmail => "malformed_email",
            SkipReason::UnparsablePhone => "unparsable_phone",
            SkipReason::BadHex => "bad_hex",
            SkipReason::BadMaid => "bad_maid",
            SkipReason::InvalidUtf8 => "invalid_utf8",
            SkipReason::RaggedRow => "ragged_row",
            SkipReason::MalformedCsv => "malformed_csv",
        }
    }

    /// A short explanation for a person reading an error message.
    pub fn explain(self) -> &'static str {
        match self {
            SkipReason::Empty => "the identifier field is empty",
            SkipReason::MalformedEmail => "not a well-formed email address",
            SkipReason::UnparsablePhone => "not a valid phone number for the default region",
            SkipReason::BadHex => "expected exactly 64 hex digits",
            SkipReason::BadMaid => "expected a non-zero UUID (8-4-4-4-12 or 32 hex digits)",
            SkipReason::InvalidUtf8 => "the field is not valid UTF-8",
            SkipReason::RaggedRow => "the row has too few fields to reach the identifier column",
            SkipReason::MalformedCsv => "broken CSV quoting: the field spans lines or a quote is never closed",
        }
    }

    fn index(self) -> usize {
        match self {
            SkipReason::Empty => 0,
            SkipReason::MalformedEmail => 1,
            SkipReason::UnparsablePhone => 2,
            SkipReason::BadHex => 3,
            SkipReason::BadMaid => 4,
            SkipReason::InvalidUtf8 => 5,
            SkipReason::RaggedRow => 6,
            SkipReason::MalformedCsv => 7,
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How many rows were skipped, per [`SkipReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkipCounts {
    counts: [u64; SkipReason::ALL.len()],
}

impl SkipCounts {
    /// Rows skipped for `reason`.
    pub fn get(&self, reason: SkipReason) -> u64 {
        self.counts[reason.index()]
    }

    /// Counts one more row skipped for `reason`.
    pub fn add(&mut self, reason: SkipReason) {
        self.counts[reason.index()] += 1;
    }

    /// Adds every count of `other` (rows skipped elsewhere, counted apart).
    pub fn merge(&mut self, other: &SkipCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// Rows skipped for any reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every reason with its count (zeros included), in [`SkipReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (SkipReason, u64)> + '_ {
        SkipReason::ALL.into_iter().map(|r| (r, self.get(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_report_order() {
        for (i, r) in SkipReason::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i, "{r}");
        }
    }

    #[test]
    fn counts_add_up() {
        let mut c = SkipCounts::default();
        c.add(SkipReason::BadHex);
        c.add(SkipReason::BadHex);
        c.add(SkipReason::RaggedRow);
        assert_eq!(c.get(SkipReason::BadHex), 2);
        assert_eq!(c.get(SkipReason::Empty), 0);
        assert_eq!(c.total(), 3);
        assert_eq!(c.iter().count(), SkipReason::ALL.len());
    }

    #[test]
    fn merging_adds_each_reason() {
        let (mut a, mut b) = (SkipCounts::default(), SkipCounts::default());
        a.add(SkipReason::BadHex);
        b.add(SkipReason::BadHex);
        b.add(SkipReason::Empty);
        a.merge(&b);
        assert_eq!((a.get(SkipReason::BadHex), a.get(SkipReason::Empty), a.total()), (2, 1, 3));
    }
}
