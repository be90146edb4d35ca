//! Errors of the identifier intake.
//!
//! Only problems that stop a whole file are errors. A bad row is not: it is
//! skipped and counted under a [`SkipReason`], unless the caller asked for
//! strict mode, in which case the first one becomes [`IdsError::InvalidRow`].

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::{
    shape::Shape,
    skip::{SkipCounts, SkipReason},
    IdType,
};

/// Most column names a [`IdsError::MissingColumn`] message lists before it
/// says how many more there are, so that a garbage header (say, one 10 MB
/// line) still gives a one-line message.
const LISTED_COLUMNS: usize = 20;

/// Longest column name, in characters, shown in a message.
const LISTED_NAME_CHARS: usize = 40;

/// Why a file could not be turned into identifiers. Every message names the
/// file and fits on one line, so the CLI can print it as is.
#[derive(Debug, Error)]
pub enum IdsError {
    /// The file could not be opened (missing, no permission, ...).
    #[error("cannot open {}: {source}", .path.display())]
    Open {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Reading failed part-way through the file.
    #[error("cannot read {} at line {line}: {source}", .path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// 1-based line where the record being read starts.
        line: u64,
        /// What the operating system said.
        source: io::Error,
    },
    /// A gzip or zstd stream is truncated or damaged.
    #[error(
        "{} is not a readable {compression} file ({detail}): it is truncated or damaged; export or copy it again",
        .path.display()
    )]
    Corrupt {
        /// The file (or part) being read.
        path: PathBuf,
        /// The compression its first bytes announced.
        compression: crate::Compression,
        /// What the decompressor said.
        detail: String,
    },
    /// A directory or pattern given as the input names no file to read.
    #[error("{} {why}; give a file, a directory of part files or a pattern such as data/part-*.csv.gz", .spec.display())]
    NoParts {
        /// The directory or pattern as given.
        spec: PathBuf,
        /// Why nothing is there to read.
        why: &'static str,
    },
    /// An object-store URL that cannot be read as given.
    #[error("cannot read {url}: {detail}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The object store refused a request or could not be reached.
    #[error("cannot read {url}: {detail}; {hint}")]
    Remote {
        /// The URL of the input or of the part being read.
        url: String,
        /// What the store (or the network) said, on one line.
        detail: String,
        /// What to check.
        hint: &'static str,
    },
    /// A stored part was rewritten while it was being read: its ETag (or
    /// modification time) no longer matches the one listed.
    #[error(
        "{url} changed while it was being read (it is no longer the version that was listed); wait until the \
         export is complete, or write it under a new prefix, then run again"
    )]
    RemoteChanged {
        /// The part's URL.
        url: String,
    },
    /// A glob pattern that cannot be parsed.
    #[error("{} is not a valid pattern ({detail}); use * ? and [...] as in data/part-*.csv.gz", .pattern.display())]
    BadPattern {
        /// The pattern as given.
        pattern: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A Parquet column named for reading holds a type that is not text or
    /// bytes.
    #[error(
        "{} column {column:?} is of type {data_type}; expected UTF-8 text, binary or fixed-size binary (dictionary-encoded or not)",
        .path.display()
    )]
    UnsupportedColumn {
        /// The file that was read.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
    },
    /// The file holds no header row (it is empty or only blank lines).
    #[error("{} is empty: expected a header row naming the columns", .path.display())]
    NoHeader {
        /// The file that was read.
        path: PathBuf,
    },
    /// A column the caller named is not in the header row.
    #[error("{} has no column {column:?}; {}", .path.display(), list_columns(.available))]
    MissingColumn {
        /// The file that was read.
        path: PathBuf,
        /// The column that was asked for.
        column: String,
        /// The header names the file does have, whitespace-trimmed.
        available: Vec<String>,
    },
    /// A column the caller named appears more than once in the header row,
    /// so which one holds the identifiers is ambiguous.
    #[error("{} has more than one column named {column:?}; rename one of them", .path.display())]
    DuplicateColumn {
        /// The file that was read.
        path: PathBuf,
        /// The ambiguous column name.
        column: String,
    },
    /// The file is UTF-16 text (a spreadsheet's "Unicode text" export).
    #[error("{} is UTF-16 text: save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet, or `iconv -f UTF-16 -t UTF-8`)", .path.display())]
    Utf16 {
        /// The file that was read.
        path: PathBuf,
    },
    /// Every data row was skipped: usually the wrong `--id-type` or
    /// `--id-column`.
    #[error("{}", nothing_usable(.path, *.rows, .reasons, .column, *.id_type, *.shape))]
    NothingUsable {
        /// The file that was read.
        path: PathBuf,
        /// Data rows read, all skipped.
        rows: u64,
        /// Why they were skipped (boxed: errors stay small).
        reasons: Box<SkipCounts>,
        /// The identifier column.
        column: String,
        /// The type the column was read as.
        id_type: IdType,
        /// The shape most skipped fields share, when another type reads it.
        shape: Option<Shape>,
    },
    /// Strict mode only: the first row that would have been skipped.
    #[error(
        "{} line {line}: {reason} ({}); strict mode stops at the first invalid row",
        .path.display(),
        .reason.explain()
    )]
    InvalidRow {
        /// The file that was read.
        path: PathBuf,
        /// 1-based line where the offending record starts (the header is line 1).
        line: u64,
        /// Why the row is invalid.
        reason: SkipReason,
    },
}

/// "all 1,000 rows of x.csv were skipped (1,000 malformed_email): column
/// "c" looks like SHA-256 hex digests; read it with --id-type email-sha256
/// (or phone-sha256)".
fn nothing_usable(
    path: &std::path::Path,
    rows: u64,
    reasons: &SkipCounts,
    column: &str,
    id_type: IdType,
    shape: Option<Shape>,
) -> String {
    let why: Vec<String> =
        reasons.iter().filter(|&(_, n)| n > 0).map(|(r, n)| format!("{} {r}", group_digits(n))).collect();
    let mut out = format!(
        "all {} rows of {} were skipped ({}), so nothing is left to match",
        group_digits(rows),
        path.display(),
        why.join(", ")
    );
    match shape {
        Some(shape) => {
            let types: Vec<&str> = shape.id_types().iter().map(|t| t.name()).collect();
            out += &format!(
                ": column {column:?} looks like {} rather than --id-type {id_type}; read it with --id-type {}",
                shape.describe(),
                types[0]
            );
            if types.len() > 1 {
                out += &format!(" (or {})", types[1..].join(", "));
            }
        }
        None => out += &format!(": check that --id-column {column:?} and --id-type {id_type} describe the file"),
    }
    out
}

/// `1234567` as `1,234,567`: every count a person reads has separators.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a header name looks like an identifier rather than a column
/// name: it has an `@`, or six digits or more (a phone number, a hash, a
/// device id). A file exported without its header row has data in its first
/// row, and an error message must not print identifiers.
fn looks_like_identifier(name: &str) -> bool {
    name.contains('@') || name.chars().filter(char::is_ascii_digit).count() >= 6
}

/// Renders header names for a message: quoted, shortened, at most
/// [`LISTED_COLUMNS`] of them, with a hint when there is only one column
/// (the usual sign of a wrong delimiter). If any looks like an identifier,
/// none is shown: the header row is probably missing.
fn list_columns(names: &[String]) -> String {
    if names.iter().any(|name| looks_like_identifier(name)) {
        return "its first row looks like data, not column names (not shown, as it may hold identifiers): \
                is the header row missing?"
            .to_owned();
    }
    let mut out = "its columns are: ".to_owned();
    out += &names
        .iter()
        .take(LISTED_COLUMNS)
        .map(|name| {
            if name.chars().count() > LISTED_NAME_CHARS {
                let short: String = name.chars().take(LISTED_NAME_CHARS).collect();
                format!("{short:?}...")
            } else {
                format!("{name:?}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED_COLUMNS {
        out.push_str(&format!(" and {} more", names.len() - LISTED_COLUMNS));
    }
    if names.len() == 1 {
        out.push_str(" (only one column: is the delimiter right?)");
    }
    out
}

/// A name given for an [`IdType`](crate::IdType) or
/// [`EmailProfile`](crate::EmailProfile) that is not one of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {what} {input:?}; expected one of: {expected}")]
pub struct ParseNameError {
    /// What was being parsed ("identifier type", "email profile").
    pub what: &'static str,
    /// The rejected input.
    pub input: String,
    /// The accepted names, comma-separated.
    pub expected: &'static str,
}

/// Why a synthetic audience could not be generated or written.
#[derive(Debug, Error)]
pub enum SynthError {
    /// More people were asked to be in both lists than one list holds.
    #[error("overlap {overlap} is larger than a list (rows_a = {rows_a}, rows_b = {rows_b})")]
    OverlapTooLarge {
        /// The requested overlap.
        overlap: usize,
        /// Rows requested for side A.
        rows_a: usize,
        /// Rows requested for side B.
        rows_b: usize,
    },
    /// More distinct people were asked for than the generator supports.
    #[error("{requested} distinct people requested; at most {max} are supported")]
    TooManyPeople {
        /// rows_a + rows_b - overlap.
        requested: usize,
        /// The supported maximum.
        max: usize,
    },
    /// Writing the CSV failed.
    #[error("cannot write synthetic CSV: {0}")]
    Write(#[from] csv::Error),
    /// Writing the Parquet file failed.
    #[error("cannot write synthetic Parquet: {0}")]
    Parquet(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_column_message_lists_available_columns() {
        let err = IdsError::MissingColumn {
            path: PathBuf::from("brand.csv"),
            column: "email".into(),
            available: vec!["mail".into(), "phone".into()],
        };
        assert_eq!(err.to_string(), r#"brand.csv has no column "email"; its columns are: "mail", "phone""#);
    }

    #[test]
    fn missing_column_message_hints_at_delimiter_for_single_column() {
        let err = IdsError::MissingColumn {
            path: PathBuf::from("brand.csv"),
            column: "email".into(),
            available: vec!["email;phone".into()],
        };
        assert!(err.to_string().contains("is the delimiter right?"));
    }

    #[test]
    fn missing_column_message_never_shows_a_first_row_of_data() {
        for first_row in [&["alice@example.com", "x"][..], &["id", "+1 212 555 0134"], &["7dcd3a39ad3a8d2145645ec6"]] {
            let err = IdsError::MissingColumn {
                path: PathBuf::from("brand.csv"),
                column: "email".into(),
                available: first_row.iter().map(|s| s.to_string()).collect(),
            };
            let msg = err.to_string();
            assert!(msg.ends_with("is the header row missing?"), "{msg}");
            for field in first_row.iter().filter(|f| looks_like_identifier(f)) {
                assert!(!msg.contains(field), "{msg}");
            }
        }
    }

    #[test]
    fn missing_column_message_is_bounded_for_huge_headers() {
        let available: Vec<String> = (0..1000).map(|i| format!("{i}{}", "x".repeat(500))).collect();
        let err = IdsError::MissingColumn { path: PathBuf::from("brand.csv"), column: "email".into(), available };
        let msg = err.to_string();
        assert!(msg.len() < 2_000, "message is {} bytes", msg.len());
        assert!(msg.ends_with("and 980 more"));
        assert!(!msg.contains('\n'));
    }
}
