//! Property tests: hostile input never panics, and normalization is
//! idempotent (a normalized value normalizes to itself, so re-reading our
//! own output cannot change a digest).

use std::path::Path;

use proptest::prelude::*;

use crate::{
    canonical_maid, normalize_email, normalize_maid, normalize_phone, parse_sha256_hex, read_identifiers_from,
    EmailProfile, IdType, Normalizer, ReadOptions, Region,
};

const PROFILES: [EmailProfile; 2] = [EmailProfile::Standard, EmailProfile::Gmail];

/// Strings that look like the column they are in, so the parsers get past
/// their first checks.
fn emailish() -> impl Strategy<Value = String> {
    "[ \tA-Za-z0-9._+@-]{0,30}(@[A-Za-z0-9.-]{0,12})?"
}

fn phoneish() -> impl Strategy<Value = String> {
    "[ +()0-9.x/;=:a-z-]{0,40}"
}

fn hexish() -> impl Strategy<Value = String> {
    "[ 0-9a-fA-F{}-]{0,70}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_normalizer_survives_random_bytes(field in prop::collection::vec(any::<u8>(), 0..120)) {
        for id_type in IdType::ALL {
            for profile in PROFILES {
                let _ = Normalizer::new(id_type, profile, Region::US).digest(&field);
            }
        }
    }

    #[test]
    fn every_normalizer_survives_random_strings(s in any::<String>()) {
        for profile in PROFILES {
            let _ = normalize_email(&s, profile);
        }
        let _ = normalize_phone(&s, Region::US);
        let _ = normalize_phone(&s, Region::DE);
        let _ = normalize_maid(&s);
        let _ = parse_sha256_hex(&s);
    }

    #[test]
    fn email_normalization_is_idempotent(s in emailish()) {
        for profile in PROFILES {
            if let Ok(once) = normalize_email(&s, profile) {
                prop_assert_eq!(normalize_email(&once, profile), Ok(once.clone()));
                prop_assert!(once.len() <= crate::MAX_EMAIL_LEN);
            }
        }
    }

    #[test]
    fn phone_normalization_is_idempotent(s in phoneish()) {
        if let Ok(once) = normalize_phone(&s, Region::US) {
            prop_assert!(once.starts_with('+'));
            prop_assert!(once[1..].bytes().all(|b| b.is_ascii_digit()), "{}", once);
            prop_assert_eq!(normalize_phone(&once, Region::US), Ok(once.clone()));
            // E.164 carries its country: the default region no longer matters.
            prop_assert_eq!(normalize_phone(&once, Region::JP), Ok(once.clone()));
        }
    }

    #[test]
    fn maid_and_hex_parsers_agree_with_their_contract(s in hexish()) {
        if let Ok(maid) = canonical_maid(&s) {
            let text = String::from_utf8_lossy(&maid).into_owned();
            prop_assert_eq!(normalize_maid(&text), Ok(text.clone()));
        }
        if let Ok(bytes) = parse_sha256_hex(&s) {
            prop_assert_eq!(parse_sha256_hex(&hex::encode(bytes)), Ok(bytes));
        }
    }

    #[test]
    fn reader_survives_random_bytes(
        body in prop::collection::vec(any::<u8>(), 0..400),
        with_header in any::<bool>(),
        strict in any::<bool>(),
    ) {
        let mut csv = if with_header { b"\xef\xbb\xbfid,email\r\n".to_vec() } else { Vec::new() };
        csv.extend_from_slice(&body);
        let options = ReadOptions { strict, ..ReadOptions::new("email", IdType::Email) };
        if let Ok(o) = read_identifiers_from(csv.as_slice(), Path::new("fuzz.csv"), &options) {
            prop_assert_eq!(o.rows_read, o.valid + o.skipped());
            prop_assert_eq!(o.distinct() as u64, o.valid - o.duplicates);
        }
    }

    #[test]
    fn reader_survives_csvish_text(
        body in "[a-c@.,\"\r\n ]{0,200}",
        id_type in prop::sample::select(IdType::ALL.to_vec()),
    ) {
        let csv = format!("email,x\n{body}");
        let options = ReadOptions::new("email", id_type);
        let o = read_identifiers_from(csv.as_bytes(), Path::new("fuzz.csv"), &options);
        // A header is present, so only row-level problems can occur.
        prop_assert!(o.is_ok(), "{:?}", o);
        if let Ok(o) = o {
            prop_assert_eq!(o.rows_read, o.valid + o.skipped());
        }
    }
}
