//! What a skipped field looks like, so that a run whose rows are nearly all
//! skipped can say which `--id-type` the column probably holds.
//!
//! The usual mistake is a type that does not match the column: `email` on a
//! column of SHA-256 hex digests skips every row as `malformed_email`, and
//! the user then sees only "our set has 0 identifiers". Counting the shapes
//! of skipped fields (never the fields themselves) turns that into "the
//! column looks like SHA-256 hex: use `--id-type email-sha256`".

use crate::{normalize::canonical_maid, IdType};

/// The recognisable form of a field, judged by its characters alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// 64 hexadecimal digits: a SHA-256 digest (of an email or a phone).
    Sha256Hex,
    /// Something with one `@` and a dot after it.
    Email,
    /// A UUID: a mobile advertising id.
    Uuid,
    /// Seven to fifteen digits, with optional `+`, spaces, dots, dashes or
    /// parentheses.
    Phone,
}

impl Shape {
    const ALL: [Shape; 4] = [Shape::Sha256Hex, Shape::Email, Shape::Uuid, Shape::Phone];

    /// The shape of `field` (trimmed), if it has a recognisable one.
    pub fn of(field: &[u8]) -> Option<Shape> {
        let field = field.trim_ascii();
        if field.len() == 64 && field.iter().all(u8::is_ascii_hexdigit) {
            return Some(Shape::Sha256Hex);
        }
        if let Some(at) = field.iter().position(|&b| b == b'@') {
            let domain = &field[at + 1..];
            if at > 0 && !domain.contains(&b'@') && domain.contains(&b'.') {
                return Some(Shape::Email);
            }
        }
        if std::str::from_utf8(field).is_ok_and(|s| canonical_maid(s).is_ok()) {
            return Some(Shape::Uuid);
        }
        let digits = field.iter().filter(|b| b.is_ascii_digit()).count();
        let phone_chars = field.iter().all(|&b| b.is_ascii_digit() || b" +-.()".contains(&b));
        if phone_chars && (7..=15).contains(&digits) {
            return Some(Shape::Phone);
        }
        None
    }

    /// The `--id-type` values that read this shape, the likelier first.
    pub fn id_types(self) -> &'static [IdType] {
        match self {
            Shape::Sha256Hex => &[IdType::EmailSha256, IdType::PhoneSha256],
            Shape::Email => &[IdType::Email],
            Shape::Uuid => &[IdType::Maid],
            Shape::Phone => &[IdType::Phone],
        }
    }

    /// How the shape reads in a message.
    pub fn describe(self) -> &'static str {
        match self {
            Shape::Sha256Hex => "SHA-256 hex digests",
            Shape::Email => "email addresses",
            Shape::Uuid => "UUIDs (mobile advertising ids)",
            Shape::Phone => "phone numbers",
        }
    }

    fn index(self) -> usize {
        Shape::ALL.iter().position(|&s| s == self).unwrap_or_default()
    }
}

/// How many skipped fields had each [`Shape`]: counts only, never a field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShapeCounts {
    counts: [u64; Shape::ALL.len()],
}

impl ShapeCounts {
    /// Counts `field` under its shape, if it has one.
    pub fn add(&mut self, field: &[u8]) {
        if let Some(shape) = Shape::of(field) {
            self.counts[shape.index()] += 1;
        }
    }

    /// Adds every count of `other` (fields counted apart).
    pub fn merge(&mut self, other: &ShapeCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    /// Fields counted under `shape`.
    pub fn get(&self, shape: Shape) -> u64 {
        self.counts[shape.index()]
    }

    /// The shape that most of `skipped` fields share (at least 80 %), if
    /// that shape is read by a type other than `current`: the column then
    /// probably holds that shape and `current` is the wrong `--id-type`.
    pub fn likely_mismatch(&self, skipped: u64, current: IdType) -> Option<Shape> {
        let (shape, count) = Shape::ALL.into_iter().map(|s| (s, self.get(s))).max_by_key(|&(_, n)| n)?;
        let most = skipped > 0 && count * 5 >= skipped * 4;
        (most && !shape.id_types().contains(&current)).then_some(shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_shape() {
        let hex = "a".repeat(64);
        assert_eq!(Shape::of(hex.as_bytes()), Some(Shape::Sha256Hex));
        assert_eq!(Shape::of(b" Jane.Doe@Example.com "), Some(Shape::Email));
        assert_eq!(Shape::of(b"6D92078A-8246-4BA4-AE5B-76104861E7DC"), Some(Shape::Uuid));
        assert_eq!(Shape::of(b"+1 (415) 555-0132"), Some(Shape::Phone));
        assert_eq!(Shape::of(b"hello"), None);
        assert_eq!(Shape::of(b"@x.com"), None, "no local part");
        assert_eq!(Shape::of(b"12345"), None, "too few digits for a phone");
        assert_eq!(Shape::of(&hex.as_bytes()[1..]), None, "63 hex digits");
    }

    #[test]
    fn merging_adds_each_shape() {
        let (mut a, mut b) = (ShapeCounts::default(), ShapeCounts::default());
        a.add(b"a@b.co");
        b.add(b"a@b.co");
        b.add("f".repeat(64).as_bytes());
        a.merge(&b);
        assert_eq!((a.get(Shape::Email), a.get(Shape::Sha256Hex), a.get(Shape::Uuid)), (2, 1, 0));
    }

    #[test]
    fn a_column_of_digests_read_as_email_suggests_the_hashed_type() {
        let mut counts = ShapeCounts::default();
        for _ in 0..9 {
            counts.add("f".repeat(64).as_bytes());
        }
        counts.add(b"junk");
        assert_eq!(counts.likely_mismatch(10, IdType::Email), Some(Shape::Sha256Hex));
        assert_eq!(counts.likely_mismatch(10, IdType::EmailSha256), None, "the type already reads that shape");
    }

    #[test]
    fn mixed_junk_suggests_nothing() {
        let mut counts = ShapeCounts::default();
        counts.add("f".repeat(64).as_bytes());
        counts.add(b"a@b.co");
        counts.add(b"junk");
        assert_eq!(counts.likely_mismatch(3, IdType::Phone), None, "no shape has 80 %");
        assert_eq!(ShapeCounts::default().likely_mismatch(0, IdType::Email), None);
    }
}
