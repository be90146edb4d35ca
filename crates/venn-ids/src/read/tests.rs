//! One test per skip reason and per error, plus the file-format quirks
//! (BOM, CRLF, quoting) that hand-made exports bring.

use std::io::{self, Read, Write};
use std::path::Path;

use super::*;
use crate::digest::{digest, sha256};
use crate::id_type::IdKind;

fn read(csv: &[u8], options: &ReadOptions) -> Result<ReadOutcome, IdsError> {
    read_identifiers_from(csv, Path::new("test.csv"), options)
}

fn emails(csv: &str) -> ReadOutcome {
    read(csv.as_bytes(), &ReadOptions::new("email", IdType::Email)).unwrap()
}

fn strict(id_type: IdType) -> ReadOptions {
    ReadOptions { strict: true, ..ReadOptions::new("email", id_type) }
}

fn email_digest(normalized: &str) -> IdDigest {
    digest(IdKind::Email, &sha256(normalized.as_bytes()))
}

/// Checks the invariants every outcome must keep.
fn assert_consistent(o: &ReadOutcome) {
    assert_eq!(o.rows_read, o.valid + o.skipped());
    assert_eq!(o.distinct() as u64, o.valid - o.duplicates);
    assert!(o.digests.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
}

#[test]
fn reads_plain_column() {
    let o = emails("id,email\n1,alice@example.com\n2,bob@example.com\n");
    assert_consistent(&o);
    assert_eq!((o.rows_read, o.valid, o.duplicates, o.skipped()), (2, 2, 0, 0));
    let mut want = vec![email_digest("alice@example.com"), email_digest("bob@example.com")];
    want.sort();
    assert_eq!(o.digests, want);
}

#[test]
fn finds_column_by_trimmed_header_name() {
    let o = read(b" id , email \nx, a@b.co\n", &ReadOptions::new(" email", IdType::Email)).unwrap();
    assert_eq!(o.digests, vec![email_digest("a@b.co")]);
}

#[test]
fn header_match_is_case_sensitive() {
    let err = read(b"Email\na@b.co\n", &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::MissingColumn { .. }));
}

#[test]
fn strips_bom_from_header() {
    let o = emails("\u{feff}email,x\na@b.co,1\n");
    assert_eq!(o.valid, 1);
}

#[test]
fn strips_bom_before_quoted_header() {
    let o = emails("\u{feff}\"email\",x\na@b.co,1\n");
    assert_eq!(o.valid, 1);
}

#[test]
fn reads_crlf_line_ends() {
    let o = emails("email,x\r\nA@B.co,1\r\nc@d.co,2\r\n");
    assert_consistent(&o);
    assert_eq!((o.rows_read, o.valid), (2, 2));
    assert!(o.digests.contains(&email_digest("a@b.co")));
}

#[test]
fn reads_crlf_without_trailing_line_end() {
    let o = emails("email\r\na@b.co\r\nc@d.co");
    assert_eq!(o.valid, 2);
}

#[test]
fn honours_delimiter() {
    let options = ReadOptions { delimiter: b';', ..ReadOptions::new("email", IdType::Email) };
    let o = read(b"id;email\n1;a@b.co\n", &options).unwrap();
    assert_eq!(o.valid, 1);
}

#[test]
fn header_only_file_has_no_rows() {
    let o = emails("email\n");
    assert_consistent(&o);
    assert_eq!((o.rows_read, o.distinct()), (0, 0));
}

#[test]
fn blank_lines_are_not_rows() {
    let o = emails("email\n\na@b.co\n\n\n");
    assert_eq!((o.rows_read, o.valid), (1, 1));
}

#[test]
fn counts_and_removes_duplicates() {
    let o = emails("email\na@b.co\nA@B.CO\n a@b.co\nc@d.co\na@b.co\n");
    assert_consistent(&o);
    assert_eq!((o.rows_read, o.valid, o.duplicates, o.distinct()), (5, 5, 3, 2));
}

#[test]
fn duplicates_across_plain_and_hashed_forms_collapse() {
    let hex = hex::encode(sha256(b"a@b.co"));
    let csv = format!("email\n{hex}\n{}\n", hex.to_uppercase());
    let o = read(csv.as_bytes(), &ReadOptions::new("email", IdType::EmailSha256)).unwrap();
    assert_eq!((o.valid, o.duplicates), (2, 1));
    assert_eq!(o.digests, vec![email_digest("a@b.co")]);
}

#[test]
fn skips_empty_field() {
    let o = emails("email,x\n,1\n  ,2\n\"\",3\na@b.co,4\n");
    assert_consistent(&o);
    assert_eq!(o.skipped_by_reason.get(SkipReason::Empty), 3);
    assert_eq!(o.valid, 1);
}

#[test]
fn skips_malformed_email() {
    let o = emails("email\nnot an email\na@b.co\n");
    assert_eq!(o.skipped_by_reason.get(SkipReason::MalformedEmail), 1);
    assert_eq!(o.valid, 1);
}

#[test]
fn skips_unparsable_phone() {
    let options = ReadOptions::new("phone", IdType::Phone);
    let o = read(b"phone\n(212) 555-0134\nn/a\n12\n", &options).unwrap();
    assert_consistent(&o);
    assert_eq!(o.skipped_by_reason.get(SkipReason::UnparsablePhone), 2);
    assert_eq!(o.digests, vec![digest(IdKind::Phone, &sha256(b"+12125550134"))]);
}

#[test]
fn skips_bad_hex() {
    let good = hex::encode(sha256(b"a@b.co"));
    let csv = format!("h\n{good}\n{}\nnot-hex\n", &good[..60]);
    let o = read(csv.as_bytes(), &ReadOptions::new("h", IdType::PhoneSha256)).unwrap();
    assert_eq!(o.skipped_by_reason.get(SkipReason::BadHex), 2);
    assert_eq!(o.valid, 1);
}

#[test]
fn skips_bad_maid() {
    let csv = "maid\n6d92078a-8246-4ba4-ae5b-76104861e7dc\n00000000-0000-0000-0000-000000000000\nxyz\n";
    let o = read(csv.as_bytes(), &ReadOptions::new("maid", IdType::Maid)).unwrap();
    assert_eq!(o.skipped_by_reason.get(SkipReason::BadMaid), 2);
    assert_eq!(o.valid, 1);
}

#[test]
fn skips_invalid_utf8_row_and_reads_on() {
    let o = read(b"email,x\na\xff@b.co,1\nc@d.co,\xfe\n", &ReadOptions::new("email", IdType::Email)).unwrap();
    assert_consistent(&o);
    assert_eq!(o.skipped_by_reason.get(SkipReason::InvalidUtf8), 1);
    // Invalid UTF-8 in another column does not matter.
    assert_eq!(o.digests, vec![email_digest("c@d.co")]);
}

#[test]
fn raw_accepts_invalid_utf8() {
    let o = read(b"id\n\xff\xfe\n", &ReadOptions::new("id", IdType::Raw)).unwrap();
    assert_eq!(o.digests, vec![digest(IdKind::Raw, b"\xff\xfe")]);
}

#[test]
fn skips_ragged_row() {
    let o = emails("id,x,email\n1,2,a@b.co\n3,4\n5\n6,7,c@d.co,extra\n");
    assert_consistent(&o);
    assert_eq!(o.skipped_by_reason.get(SkipReason::RaggedRow), 2);
    assert_eq!(o.valid, 2);
}

#[test]
fn skips_row_whose_unterminated_quote_swallows_the_file() {
    let o = emails("email,note\na@b.co,\"oops\nc@d.co,x\ne@f.co,y\n");
    assert_consistent(&o);
    assert_eq!(o.rows_read, 1);
    assert_eq!(o.skipped_by_reason.get(SkipReason::MalformedCsv), 1);
}

#[test]
fn skips_id_field_spanning_lines() {
    let o = emails("email,x\n\"a@b.co\nc@d.co\",1\ne@f.co,2\n");
    assert_consistent(&o);
    assert_eq!(o.skipped_by_reason.get(SkipReason::MalformedCsv), 1);
    assert_eq!(o.digests, vec![email_digest("e@f.co")]);
}

/// The `csv` crate reads a quote in the middle of a field leniently (it
/// neither errors nor skips); the result must still be normalized.
#[test]
fn reads_stray_quote_inside_field_leniently() {
    let o = emails("email,x\n\"a@b\".co,1\nc\"d@e.co,2\n");
    assert_consistent(&o);
    assert_eq!(o.rows_read, 2);
    assert!(o.digests.contains(&email_digest("a@b.co")));
    // A literal quote in a local part is rejected as malformed.
    assert_eq!(o.skipped_by_reason.get(SkipReason::MalformedEmail), 1);
}

#[test]
fn multiline_quoted_field_in_other_column_is_fine() {
    let o = emails("email,note\na@b.co,\"line 1\nline 2\"\nc@d.co,x\n");
    assert_consistent(&o);
    assert_eq!((o.rows_read, o.valid), (2, 2));
}

#[test]
fn ten_megabyte_field_is_skipped_not_fatal() {
    let mut csv = b"email,x\n".to_vec();
    csv.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    csv.extend_from_slice(b"@b.co,1\nc@d.co,2\n");
    let o = read(&csv, &ReadOptions::new("email", IdType::Email)).unwrap();
    assert_consistent(&o);
    assert_eq!(o.skipped_by_reason.get(SkipReason::MalformedEmail), 1);
    assert_eq!(o.digests, vec![email_digest("c@d.co")]);
}

#[test]
fn ten_megabyte_line_of_phones_is_skipped_not_fatal() {
    let mut csv = b"phone\n".to_vec();
    csv.extend(std::iter::repeat_n(b'5', 10 * 1024 * 1024));
    csv.push(b'\n');
    let o = read(&csv, &ReadOptions::new("phone", IdType::Phone)).unwrap();
    assert_eq!(o.skipped_by_reason.get(SkipReason::UnparsablePhone), 1);
}

#[test]
fn strict_mode_reports_first_invalid_line() {
    let err = read(b"email\na@b.co\n\nc@d.co\nbad\ne@f.co\n", &strict(IdType::Email)).unwrap_err();
    match err {
        IdsError::InvalidRow { line, reason, ref path } => {
            assert_eq!((line, reason), (5, SkipReason::MalformedEmail));
            assert_eq!(path, Path::new("test.csv"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().starts_with("test.csv line 5: malformed_email"));
}

#[test]
fn strict_mode_line_numbers_hold_for_crlf_and_multiline_fields() {
    let csv = b"email,note\r\na@b.co,\"two\r\nlines\"\r\n\r\nc@d.co,x\r\n,empty\r\n";
    let err = read(csv, &strict(IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::InvalidRow { line: 6, reason: SkipReason::Empty, .. }), "{err:?}");
}

#[test]
fn strict_mode_reports_ragged_row() {
    let options = ReadOptions { strict: true, ..ReadOptions::new("email", IdType::Email) };
    let err = read(b"id,email\n1,a@b.co\n2\n", &options).unwrap_err();
    assert!(matches!(err, IdsError::InvalidRow { line: 3, reason: SkipReason::RaggedRow, .. }));
}

#[test]
fn strict_mode_accepts_duplicates_and_clean_rows() {
    let o = read(b"email\na@b.co\na@b.co\n", &strict(IdType::Email)).unwrap();
    assert_eq!((o.valid, o.duplicates), (2, 1));
}

#[test]
fn rejects_missing_column_listing_available_ones() {
    let err = read(b"mail,phone\na@b.co,1\n", &ReadOptions::new("email", IdType::Email)).unwrap_err();
    match &err {
        IdsError::MissingColumn { path, column, available } => {
            assert_eq!(path, Path::new("test.csv"));
            assert_eq!(column, "email");
            assert_eq!(available, &["mail".to_owned(), "phone".to_owned()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("test.csv") && msg.contains("\"mail\", \"phone\""), "{msg}");
}

#[test]
fn rejects_missing_segment_column() {
    let options = ReadOptions { segments: scheme(&["tier", "age"]), ..ReadOptions::new("email", IdType::Email) };
    let err = read(b"email,tier\na@b.co,gold\n", &options).unwrap_err();
    assert!(matches!(err, IdsError::MissingColumn { ref column, .. } if column == "age"));
}

#[test]
fn accepts_present_segment_columns() {
    let options = ReadOptions { segments: scheme(&["tier"]), ..ReadOptions::new("email", IdType::Email) };
    assert_eq!(read(b"email,tier\na@b.co,gold\n", &options).unwrap().valid, 1);
}

fn scheme(columns: &[&str]) -> crate::LabelScheme {
    crate::LabelScheme::new(
        columns
            .iter()
            .map(|c| crate::SegmentColumn { name: c.to_string(), values: vec!["gold".into(), "silver".into()] })
            .collect(),
    )
}

#[test]
fn labels_follow_their_digests_and_the_first_row_wins() {
    let options = ReadOptions { segments: scheme(&["tier"]), ..ReadOptions::new("email", IdType::Email) };
    let out = read(b"email,tier\nb@b.co,silver\na@b.co,gold\nA@b.co,silver\nc@b.co,bronze\n", &options).unwrap();
    assert_eq!(out.duplicates, 1);
    assert_eq!(out.digests.len(), out.labels.len());
    let label_of = |email: &str| {
        let d = crate::digest(crate::IdKind::Email, &crate::digest::sha256(email.as_bytes()));
        out.labels[out.digests.iter().position(|x| *x == d).unwrap()]
    };
    assert_eq!(label_of("a@b.co"), 0, "first row's gold wins over the later silver");
    assert_eq!(label_of("b@b.co"), 1);
    assert_eq!(label_of("c@b.co"), 2, "bronze is not agreed: other");
}

#[test]
fn rejects_duplicate_id_column() {
    let err = read(b"email,email\na@b.co,c@d.co\n", &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::DuplicateColumn { ref column, .. } if column == "email"));
}

#[test]
fn rejects_empty_input() {
    let err = read(b"", &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::NoHeader { .. }));
    assert_eq!(err.to_string(), "test.csv is empty: expected a header row naming the columns");
}

#[test]
fn rejects_input_of_blank_lines_and_bom() {
    for csv in [&b"\n\r\n\n"[..], b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"] {
        let err = read(csv, &ReadOptions::new("email", IdType::Email)).unwrap_err();
        assert!(matches!(err, IdsError::NoHeader { .. }), "{csv:?}: {err:?}");
    }
}

#[test]
fn rejects_unreadable_file_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.csv");
    let err = read_identifiers(&path, &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::Open { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("cannot open ") && msg.contains("missing.csv"), "{msg}");
}

#[test]
fn rejects_an_empty_directory_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_identifiers(dir.path(), &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::NoParts { .. }), "{err:?}");
    assert!(err.to_string().contains(&dir.path().display().to_string()), "{err}");
}

/// Yields its data, then fails like a disk or network error would.
struct FailAfter<'a>(&'a [u8]);

impl Read for FailAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::other("device gone"));
        }
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn rejects_read_failure_mid_file_with_line() {
    let input = FailAfter(b"email\na@b.co\nc@d.co\ne@f");
    let err = read_identifiers_from(input, Path::new("t.csv"), &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::Read { line: 4, .. }), "{err:?}");
    assert_eq!(err.to_string(), "cannot read t.csv at line 4: device gone");
}

#[test]
fn reads_a_real_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"email\r\nA@B.co\r\n").unwrap();
    let o = read_identifiers(file.path(), &ReadOptions::new("email", IdType::Email)).unwrap();
    assert_eq!(o.digests, vec![email_digest("a@b.co")]);
}

#[test]
fn gmail_profile_applies_when_reading() {
    let options = ReadOptions { email_profile: EmailProfile::Gmail, ..ReadOptions::new("email", IdType::Email) };
    let o = read(b"email\na.l.i.c.e+promo@googlemail.com\nalice@gmail.com\n", &options).unwrap();
    assert_eq!((o.distinct(), o.duplicates), (1, 1));
}

#[test]
fn default_region_applies_when_reading() {
    let options = ReadOptions { default_region: Region::GB, ..ReadOptions::new("phone", IdType::Phone) };
    let o = read(b"phone\n020 7946 0958\n", &options).unwrap();
    assert_eq!(o.digests, vec![digest(IdKind::Phone, &sha256(b"+442079460958"))]);
}

#[test]
fn rejects_utf16_with_a_byte_order_mark() {
    let text = "email\nalice@example.com\n";
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let err = read(&le, &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::Utf16 { .. }), "{err}");
    assert!(err.to_string().contains("save it as UTF-8"), "{err}");
}

#[test]
fn rejects_utf16_without_a_byte_order_mark() {
    let be: Vec<u8> = "email\nalice@example.com\n".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let err = read(&be, &ReadOptions::new("email", IdType::Email)).unwrap_err();
    assert!(matches!(err, IdsError::Utf16 { .. }), "{err}");
}

#[test]
fn a_hashed_column_read_as_email_names_the_right_type() {
    let rows: String = (0..3).map(|i| format!("{}\n", hex::encode(sha256(format!("p{i}@x.com").as_bytes())))).collect();
    let options = ReadOptions::new("email", IdType::Email);
    let outcome = read(format!("email\n{rows}").as_bytes(), &options).unwrap();
    assert_eq!(outcome.skipped_by_reason.get(SkipReason::MalformedEmail), 3);
    let err = outcome.ensure_usable(Path::new("test.csv"), &options).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, IdsError::NothingUsable { rows: 3, shape: Some(Shape::Sha256Hex), .. }), "{message}");
    assert!(message.contains("all 3 rows of test.csv were skipped (3 malformed_email)"), "{message}");
    assert!(message.contains("--id-type email-sha256 (or phone-sha256)"), "{message}");
    assert!(!message.contains("@x.com"), "no identifier in the message: {message}");
}

#[test]
fn a_file_with_valid_rows_or_no_rows_is_usable() {
    let options = ReadOptions::new("email", IdType::Email);
    let some = emails("email\nalice@example.com\nnot-an-email\n");
    assert!(some.ensure_usable(Path::new("test.csv"), &options).is_ok());
    let none = emails("email\n");
    assert!(none.ensure_usable(Path::new("test.csv"), &options).is_ok(), "an empty list is the policy's to refuse");
    let junk = emails("email\nxyz\nabc\n");
    let err = junk.ensure_usable(Path::new("test.csv"), &options).unwrap_err();
    assert!(matches!(err, IdsError::NothingUsable { shape: None, .. }), "{err}");
    assert!(
        err.to_string().contains("check that --id-column \"email\" and --id-type email describe the file"),
        "{err}"
    );
}
