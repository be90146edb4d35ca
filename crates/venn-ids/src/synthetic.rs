//! Synthetic audiences for demos and end-to-end tests: two CSV files of
//! made-up people with a known overlap.
//!
//! Everything is a function of [`SyntheticSpec::seed`], so a failing
//! end-to-end run can be replayed byte for byte. The people are realistic
//! enough to exercise the real normalizers (mixed email domains, US phone
//! numbers `libphonenumber` accepts) and carry the segment columns the
//! breakdown feature will read.
//!
//! ```
//! use venn_ids::synthetic::{generate, true_overlap, write_csv, SideFormat, SyntheticSpec};
//!
//! let spec = SyntheticSpec { rows_a: 50, rows_b: 40, overlap: 10, seed: 7 };
//! let (a, b) = generate(&spec).unwrap();
//! assert_eq!(true_overlap(&a, &b), 10);
//! let mut csv = Vec::new();
//! write_csv(&b, SideFormat::Sha256, &mut csv).unwrap();
//! assert!(csv.starts_with(b"email_sha256,phone_sha256,loyalty_tier"));
//! ```

use std::collections::HashSet;
use std::io::Write;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::digest::sha256;
pub use crate::error::SynthError;

/// Most distinct people one spec may ask for, so identity generation (which
/// draws until unique) always terminates quickly.
pub const MAX_PEOPLE: usize = 10_000_000;

/// Values of the `loyalty_tier` column.
pub const LOYALTY_TIERS: [&str; 4] = ["bronze", "silver", "gold", "platinum"];
/// Values of the `recent_buyer` column.
pub const RECENT_BUYER: [&str; 2] = ["yes", "no"];
/// Values of the `age_band` column.
pub const AGE_BANDS: [&str; 5] = ["18-24", "25-34", "35-44", "45-54", "55+"];
/// Values of the `campaign` column: which ad campaign the person was
/// exposed to, if any.
pub const CAMPAIGNS: [&str; 3] = ["none", "a", "b"];

/// Header of a [`SideFormat::Plain`] or [`SideFormat::Messy`] file.
pub const PLAIN_COLUMNS: [&str; 6] = ["email", "phone", "loyalty_tier", "recent_buyer", "age_band", "campaign"];
/// Header of a [`SideFormat::Sha256`] file.
pub const SHA256_COLUMNS: [&str; 6] =
    ["email_sha256", "phone_sha256", "loyalty_tier", "recent_buyer", "age_band", "campaign"];

const FIRST_NAMES: [&str; 32] = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "david",
    "elizabeth",
    "william",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "carlos",
    "karen",
    "daniel",
    "lisa",
    "wei",
    "nancy",
    "mohammed",
    "priya",
    "ahmed",
    "sofia",
    "kenji",
    "olga",
    "luis",
    "amara",
];
const LAST_NAMES: [&str; 32] = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "nguyen",
    "chen",
    "patel",
    "kim",
    "singh",
    "okafor",
    "novak",
];
/// Domains with their weight out of 100; gmail.com dominates as in real lists.
const DOMAINS: [(&str, u32); 8] = [
    ("gmail.com", 45),
    ("yahoo.com", 15),
    ("outlook.com", 10),
    ("hotmail.com", 10),
    ("icloud.com", 8),
    ("aol.com", 4),
    ("comcast.net", 4),
    ("proton.me", 4),
];
/// Real, assigned NANP area codes (New York, San Francisco, Chicago, ...).
const AREA_CODES: [u16; 10] = [212, 415, 646, 312, 617, 202, 305, 512, 206, 303];
/// Loyalty tiers weighted like a real programme: most people at the bottom.
const LOYALTY_WEIGHTS: [u32; 4] = [50, 30, 15, 5];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// People in side A's list.
    pub rows_a: usize,
    /// People in side B's list.
    pub rows_b: usize,
    /// People in both lists; at most `min(rows_a, rows_b)`.
    pub overlap: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

/// One row of a synthetic list. `email` and `phone` are stored already
/// normalized (lowercase, E.164); the writer may mess them up on output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Normalized email address, unique per person even under Gmail folding.
    pub email: String,
    /// E.164 US phone number, unique per person.
    pub phone: String,
    /// One of [`LOYALTY_TIERS`].
    pub loyalty_tier: &'static str,
    /// One of [`RECENT_BUYER`].
    pub recent_buyer: &'static str,
    /// One of [`AGE_BANDS`].
    pub age_band: &'static str,
    /// One of [`CAMPAIGNS`].
    pub campaign: &'static str,
}

/// How a side's identifiers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SideFormat {
    /// Normalized email and E.164 phone, as stored.
    #[default]
    Plain,
    /// Emails in mixed case with surrounding whitespace, phones in assorted
    /// national formats: what a hand-made export looks like. Normalizes to
    /// the same identifiers as `Plain`.
    Messy,
    /// Columns `email_sha256` and `phone_sha256`: lowercase hex SHA-256 of
    /// the normalized email and of the E.164 phone, as ad platforms export.
    Sha256,
}

/// Generates side A's and side B's lists: `rows_a` and `rows_b` distinct
/// people, exactly `overlap` of them (same email and phone) in both. Segment
/// values are drawn separately for each side, since each party has its own
/// view of a shared customer. Both lists are shuffled.
///
/// Errors: [`SynthError::OverlapTooLarge`] if `overlap > min(rows_a,
/// rows_b)`; [`SynthError::TooManyPeople`] if more than [`MAX_PEOPLE`]
/// distinct people would be needed.
pub fn generate(spec: &SyntheticSpec) -> Result<(Vec<Person>, Vec<Person>), SynthError> {
    let SyntheticSpec { rows_a, rows_b, overlap, seed } = *spec;
    if overlap > rows_a.min(rows_b) {
        return Err(SynthError::OverlapTooLarge { overlap, rows_a, rows_b });
    }
    // Cannot overflow past MAX_PEOPLE checks: compute in u128.
    let total = rows_a as u128 + rows_b as u128 - overlap as u128;
    if total > MAX_PEOPLE as u128 {
        return Err(SynthError::TooManyPeople {
            requested: usize::try_from(total).unwrap_or(usize::MAX),
            max: MAX_PEOPLE,
        });
    }
    let total = rows_a + rows_b - overlap;

    let mut rng = StdRng::seed_from_u64(seed);
    let identities = unique_identities(&mut rng, total);
    // People [0, rows_a) are A's; [rows_a - overlap, total) are B's.
    let shared_from = rows_a - overlap;
    let mut side_a: Vec<Person> =
        identities[..rows_a].iter().map(|(email, phone)| person(&mut rng, email, phone)).collect();
    let mut side_b: Vec<Person> =
        identities[shared_from..].iter().map(|(email, phone)| person(&mut rng, email, phone)).collect();
    side_a.shuffle(&mut rng);
    side_b.shuffle(&mut rng);
    Ok((side_a, side_b))
}

/// The number of people in both lists, by email: what a correct private
/// intersection must report.
pub fn true_overlap(a: &[Person], b: &[Person]) -> usize {
    let in_a: HashSet<&str> = a.iter().map(|p| p.email.as_str()).collect();
    b.iter().filter(|p| in_a.contains(p.email.as_str())).count()
}

/// Writes `people` as CSV with a header row ([`PLAIN_COLUMNS`] or, for
/// [`SideFormat::Sha256`], [`SHA256_COLUMNS`]). The output depends only on
/// `people` and `format`.
pub fn write_csv<W: Write>(people: &[Person], format: SideFormat, out: W) -> Result<(), SynthError> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(match format {
        SideFormat::Sha256 => SHA256_COLUMNS,
        SideFormat::Plain | SideFormat::Messy => PLAIN_COLUMNS,
    })?;
    for (i, p) in people.iter().enumerate() {
        let (email, phone) = match format {
            SideFormat::Plain => (p.email.clone(), p.phone.clone()),
            SideFormat::Messy => (messy_email(&p.email, i), messy_phone(&p.phone, i)),
            SideFormat::Sha256 => (hex::encode(sha256(p.email.as_bytes())), hex::encode(sha256(p.phone.as_bytes()))),
        };
        writer.write_record([
            email.as_str(),
            phone.as_str(),
            p.loyalty_tier,
            p.recent_buyer,
            p.age_band,
            p.campaign,
        ])?;
    }
    writer.flush().map_err(csv::Error::from)?;
    Ok(())
}

/// [`write_csv`] through gzip (default level, one member), as a CRM export
/// to `.csv.gz` writes it; returns `out` once the gzip trailer is written.
pub fn write_csv_gz<W: Write>(people: &[Person], format: SideFormat, out: W) -> Result<W, SynthError> {
    let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    write_csv(people, format, &mut encoder)?;
    encoder.finish().map_err(|e| SynthError::Write(e.into()))
}

/// Writes `people` as Parquet: the columns of [`write_csv`], each `Utf8`
/// and holding the same text, in row groups of at most `row_group_rows`
/// rows (one for 0); snappy-compressed pages, dictionary encoding left to
/// the writer's default. Returns `out` once the footer is written.
pub fn write_parquet<W: Write + Send>(
    people: &[Person],
    format: SideFormat,
    out: W,
    row_group_rows: usize,
) -> Result<W, SynthError> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression as Codec;
    use parquet::file::properties::WriterProperties;

    let names = match format {
        SideFormat::Sha256 => SHA256_COLUMNS,
        SideFormat::Plain | SideFormat::Messy => PLAIN_COLUMNS,
    };
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect::<Vec<_>>()));
    let rows = if row_group_rows == 0 { people.len().max(1) } else { row_group_rows };
    let props =
        WriterProperties::builder().set_compression(Codec::SNAPPY).set_max_row_group_row_count(Some(rows)).build();
    let write_error = |e: parquet::errors::ParquetError| SynthError::Parquet(e.to_string());
    let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(props)).map_err(write_error)?;
    let batch_rows = rows.min(64 * 1024);
    for (c, chunk) in people.chunks(batch_rows).enumerate() {
        let mut columns: [Vec<String>; 6] = Default::default();
        for (j, p) in chunk.iter().enumerate() {
            let i = c * batch_rows + j;
            let (email, phone) = match format {
                SideFormat::Plain => (p.email.clone(), p.phone.clone()),
                SideFormat::Messy => (messy_email(&p.email, i), messy_phone(&p.phone, i)),
                SideFormat::Sha256 => {
                    (hex::encode(sha256(p.email.as_bytes())), hex::encode(sha256(p.phone.as_bytes())))
                }
            };
            let row =
                [email, phone, p.loyalty_tier.into(), p.recent_buyer.into(), p.age_band.into(), p.campaign.into()];
            for (column, value) in columns.iter_mut().zip(row) {
                column.push(value);
            }
        }
        let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| SynthError::Parquet(e.to_string()))?;
        writer.write(&batch).map_err(write_error)?;
    }
    writer.into_inner().map_err(write_error)
}

/// Draws `count` (email, phone) pairs, every email distinct even after
/// Gmail folding (dots removed) and every phone distinct.
fn unique_identities(rng: &mut StdRng, count: usize) -> Vec<(String, String)> {
    let mut seen_emails = HashSet::with_capacity(count);
    let mut seen_phones = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let email = random_email(rng);
        if !seen_emails.insert(email.replace('.', "")) {
            continue;
        }
        let phone = loop {
            let phone = random_phone(rng);
            if seen_phones.insert(phone.clone()) {
                break phone;
            }
        };
        out.push((email, phone));
    }
    out
}

fn random_email(rng: &mut StdRng) -> String {
    let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
    let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
    let n: u32 = rng.gen_range(1..10_000);
    let domain = DOMAINS[weighted(rng, &DOMAINS.map(|(_, w)| w))].0;
    let initial = &first[..1];
    match rng.gen_range(0..4) {
        0 => format!("{first}.{last}{n}@{domain}"),
        1 => format!("{initial}{last}{n}@{domain}"),
        2 => format!("{first}_{last}{n}@{domain}"),
        _ => format!("{first}{n}@{domain}"),
    }
}

/// A US number `+1 NPA NXX XXXX` with an assigned area code and an exchange
/// in 200-999 that is neither N11 (service codes) nor 555 (fiction).
fn random_phone(rng: &mut StdRng) -> String {
    let area = AREA_CODES[rng.gen_range(0..AREA_CODES.len())];
    let exchange = loop {
        let e: u16 = rng.gen_range(200..1000);
        if e % 100 != 11 && e != 555 {
            break e;
        }
    };
    let line: u16 = rng.gen_range(0..10_000);
    format!("+1{area}{exchange}{line:04}")
}

fn person(rng: &mut StdRng, email: &str, phone: &str) -> Person {
    Person {
        email: email.to_owned(),
        phone: phone.to_owned(),
        loyalty_tier: LOYALTY_TIERS[weighted(rng, &LOYALTY_WEIGHTS)],
        recent_buyer: RECENT_BUYER[rng.gen_range(0..RECENT_BUYER.len())],
        age_band: AGE_BANDS[rng.gen_range(0..AGE_BANDS.len())],
        campaign: CAMPAIGNS[rng.gen_range(0..CAMPAIGNS.len())],
    }
}

/// Index drawn with probability proportional to `weights` (which must not
/// all be zero).
fn weighted(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut pick = rng.gen_range(0..total.max(1));
    for (i, &w) in weights.iter().enumerate() {
        if pick < w {
            return i;
        }
        pick -= w;
    }
    weights.len().saturating_sub(1)
}

/// The email as a careless export would hold it: upper or title case, with
/// stray whitespace. Deterministic in the row index.
fn messy_email(email: &str, row: usize) -> String {
    let cased = match row % 3 {
        0 => email.to_uppercase(),
        1 => {
            let mut start = true;
            email
                .chars()
                .map(|c| {
                    let out = if start { c.to_ascii_uppercase() } else { c };
                    start = matches!(c, '.' | '@' | '_');
                    out
                })
                .collect()
        }
        _ => email.to_owned(),
    };
    match row % 4 {
        0 => format!(" {cased}"),
        1 => format!("{cased}  "),
        2 => format!("\t{cased} "),
        _ => cased,
    }
}

/// The E.164 US number in one of the national formats people type.
fn messy_phone(e164: &str, row: usize) -> String {
    let Some(digits) = e164.strip_prefix("+1").filter(|d| d.len() == 10) else {
        return e164.to_owned();
    };
    let (area, exchange, line) = (&digits[..3], &digits[3..6], &digits[6..]);
    match row % 4 {
        0 => format!("({area}) {exchange}-{line}"),
        1 => format!("{area}-{exchange}-{line}"),
        2 => format!("{area}.{exchange}.{line}"),
        _ => format!("+1 {area} {exchange} {line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{normalize_email, normalize_phone, read_identifiers_from, EmailProfile};
    use crate::{IdType, ReadOptions, Region};
    use std::path::Path;

    fn spec(rows_a: usize, rows_b: usize, overlap: usize, seed: u64) -> SyntheticSpec {
        SyntheticSpec { rows_a, rows_b, overlap, seed }
    }

    fn csv_of(people: &[Person], format: SideFormat) -> Vec<u8> {
        let mut out = Vec::new();
        write_csv(people, format, &mut out).unwrap();
        out
    }

    fn digests(csv: &[u8], column: &str, id_type: IdType) -> Vec<[u8; 32]> {
        let options = ReadOptions::new(column, id_type);
        let outcome = read_identifiers_from(csv, Path::new("synthetic.csv"), &options).unwrap();
        assert_eq!(outcome.skipped(), 0, "{:?}", outcome.skipped_by_reason);
        assert_eq!(outcome.duplicates, 0);
        outcome.digests
    }

    fn intersection(a: &[[u8; 32]], b: &[[u8; 32]]) -> usize {
        // Both are sorted by read_identifiers_from.
        b.iter().filter(|d| a.binary_search(d).is_ok()).count()
    }

    #[test]
    fn same_seed_gives_same_bytes() {
        let (a1, b1) = generate(&spec(300, 200, 50, 42)).unwrap();
        let (a2, b2) = generate(&spec(300, 200, 50, 42)).unwrap();
        for format in [SideFormat::Plain, SideFormat::Messy, SideFormat::Sha256] {
            assert_eq!(csv_of(&a1, format), csv_of(&a2, format));
            assert_eq!(csv_of(&b1, format), csv_of(&b2, format));
        }
    }

    #[test]
    fn different_seed_gives_different_people() {
        let (a1, _) = generate(&spec(100, 100, 10, 1)).unwrap();
        let (a2, _) = generate(&spec(100, 100, 10, 2)).unwrap();
        assert_ne!(a1, a2);
    }

    #[test]
    fn sizes_and_overlap_are_exact() {
        let (a, b) = generate(&spec(500, 300, 120, 9)).unwrap();
        assert_eq!((a.len(), b.len()), (500, 300));
        assert_eq!(true_overlap(&a, &b), 120);
        let phones_a: HashSet<&str> = a.iter().map(|p| p.phone.as_str()).collect();
        let shared_phones = b.iter().filter(|p| phones_a.contains(p.phone.as_str())).count();
        assert_eq!(shared_phones, 120);
    }

    #[test]
    fn overlap_read_back_matches_true_overlap() {
        let (a, b) = generate(&spec(400, 250, 77, 3)).unwrap();
        let plain_a = digests(&csv_of(&a, SideFormat::Plain), "email", IdType::Email);
        let plain_b = digests(&csv_of(&b, SideFormat::Plain), "email", IdType::Email);
        assert_eq!(intersection(&plain_a, &plain_b), true_overlap(&a, &b));
        assert_eq!(intersection(&plain_a, &plain_b), 77);
    }

    #[test]
    fn messy_side_matches_sha256_side() {
        let (a, b) = generate(&spec(400, 250, 77, 4)).unwrap();
        let messy_a = digests(&csv_of(&a, SideFormat::Messy), "email", IdType::Email);
        let hashed_b = digests(&csv_of(&b, SideFormat::Sha256), "email_sha256", IdType::EmailSha256);
        assert_eq!(intersection(&messy_a, &hashed_b), 77);
        // The same holds for phones.
        let messy_a = digests(&csv_of(&a, SideFormat::Messy), "phone", IdType::Phone);
        let hashed_b = digests(&csv_of(&b, SideFormat::Sha256), "phone_sha256", IdType::PhoneSha256);
        assert_eq!(intersection(&messy_a, &hashed_b), 77);
    }

    #[test]
    fn gzip_output_reads_as_the_plain_output() {
        let (a, _) = generate(&spec(300, 10, 0, 6)).unwrap();
        let gz = write_csv_gz(&a, SideFormat::Sha256, Vec::new()).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
        let options = crate::ReadOptions::new("email_sha256", IdType::EmailSha256);
        let from_gz = crate::read_identifiers_from(gz.as_slice(), std::path::Path::new("a.csv.gz"), &options).unwrap();
        assert_eq!(from_gz.digests, digests(&csv_of(&a, SideFormat::Sha256), "email_sha256", IdType::EmailSha256));
    }

    #[test]
    fn messy_format_is_actually_messy() {
        let (a, _) = generate(&spec(20, 10, 0, 5)).unwrap();
        let text = String::from_utf8(csv_of(&a, SideFormat::Messy)).unwrap();
        assert!(text.lines().skip(1).any(|l| l.starts_with(' ') || l.starts_with('"')));
        assert!(text.chars().any(|c| c.is_ascii_uppercase()));
        assert!(text.contains('('));
    }

    #[test]
    fn generated_identifiers_normalize_to_themselves() {
        let (a, b) = generate(&spec(2_000, 10, 5, 11)).unwrap();
        for p in a.iter().chain(&b) {
            assert_eq!(normalize_email(&p.email, EmailProfile::Standard).as_deref(), Ok(p.email.as_str()));
            assert_eq!(normalize_phone(&p.phone, Region::US).as_deref(), Ok(p.phone.as_str()), "{}", p.phone);
        }
    }

    #[test]
    fn emails_stay_distinct_under_gmail_folding() {
        let (a, _) = generate(&spec(3_000, 1, 0, 12)).unwrap();
        let folded: HashSet<String> =
            a.iter().map(|p| normalize_email(&p.email, EmailProfile::Gmail).unwrap()).collect();
        assert_eq!(folded.len(), a.len());
    }

    #[test]
    fn rejects_overlap_larger_than_a_side() {
        let err = generate(&spec(10, 5, 6, 0)).unwrap_err();
        assert!(matches!(err, SynthError::OverlapTooLarge { overlap: 6, rows_a: 10, rows_b: 5 }));
    }

    #[test]
    fn rejects_too_many_people() {
        let err = generate(&spec(MAX_PEOPLE, usize::MAX, 0, 0)).unwrap_err();
        assert!(matches!(err, SynthError::TooManyPeople { max: MAX_PEOPLE, .. }));
    }

    #[test]
    fn empty_lists_are_fine() {
        let (a, b) = generate(&spec(0, 0, 0, 0)).unwrap();
        assert!(a.is_empty() && b.is_empty());
        assert_eq!(csv_of(&a, SideFormat::Plain), b"email,phone,loyalty_tier,recent_buyer,age_band,campaign\n");
    }
}
