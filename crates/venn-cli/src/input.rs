//! Reading a party's identifiers into the protocol's input set.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use venn_ids::{EmailProfile, IdType, ReadOptions, ReadOutcome, Region};
use venn_protocol::{Element, ElementSet, LabeledSet};

use crate::report::group;

/// Where a party's identifiers come from and how to read them.
#[derive(Debug, Clone)]
pub struct InputSpec {
    /// What `--input` names: a CSV file (plain, gzip or zstd) or a Parquet file, a directory
    /// or glob pattern of part files, or `-` for standard input
    /// ([`venn_ids::InputSource`]).
    pub path: PathBuf,
    /// How to read it.
    pub options: ReadOptions,
}

impl InputSpec {
    /// A spec with default options for the given column and type.
    pub fn new(path: &Path, id_column: &str, id_type: IdType) -> Self {
        Self { path: path.to_path_buf(), options: ReadOptions::new(id_column, id_type) }
    }

    /// Sets the details that `serve` and `connect` expose as flags.
    pub fn with(mut self, delimiter: u8, profile: EmailProfile, region: Region, strict: bool) -> Self {
        self.options.delimiter = delimiter;
        self.options.email_profile = profile;
        self.options.default_region = region;
        self.options.strict = strict;
        self
    }
}

/// What reading the input found, for the report. Counts only: no
/// identifier is ever kept here.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InputStats {
    /// The file read.
    pub path: String,
    /// The id column.
    pub id_column: String,
    /// The id type.
    pub id_type: String,
    /// Data rows in the file.
    pub rows_read: u64,
    /// Rows with a valid identifier.
    pub valid: u64,
    /// Rows skipped, by reason.
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Valid rows that repeated an earlier identifier.
    pub duplicates: u64,
    /// Distinct identifiers entering the protocol.
    pub distinct: u64,
    /// Each part read, in order, with its data rows: one entry for a single
    /// file or standard input, one per part file for a directory or glob.
    /// Absent (empty) where the input is not a list (an index).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartStats>,
}

/// One part of the input, for the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PartStats {
    /// The part's path (`-` for standard input).
    pub path: String,
    /// `plain`, `gzip` or `zstd`, as its first bytes told.
    pub compression: &'static str,
    /// Its data rows.
    pub rows_read: u64,
}

/// Reads and normalizes the input, deduplicates it, and returns the
/// shuffled set the protocol takes.
pub fn load(spec: &InputSpec) -> anyhow::Result<(Input, InputStats)> {
    let (outcome, stats) = read(spec)?;
    // venn-ids already removed duplicates; the sets check again and shuffle.
    let input = if spec.options.segments.columns().is_empty() {
        Input::Count(ElementSet::new(outcome.digests.into_iter().map(Element).collect()).0)
    } else {
        // Labels are below the scheme's count, which the caller capped far below u16::MAX.
        let records = outcome.digests.into_iter().map(Element).zip(outcome.labels.into_iter().map(|l| l as u16));
        Input::Segments(LabeledSet::new(records.collect()).0)
    };
    Ok((input, stats))
}

/// Reads and normalizes the input exactly as [`load`] does (the same
/// refusals and warnings), returning venn-ids' outcome, whose digests are
/// distinct and sorted, and the statistics. `venn index build`
/// uses it directly: it needs the digests, not a shuffled protocol set.
pub fn read(spec: &InputSpec) -> anyhow::Result<(ReadOutcome, InputStats)> {
    let outcome = crate::stable::read_identifiers_stable(&spec.path, &spec.options)
        .with_context(|| format!("cannot use input {}", spec.path.display()))?;
    outcome.ensure_usable(&spec.path, &spec.options)?;
    if let Some(shape) = outcome.likely_type_mismatch(spec.options.id_type) {
        if outcome.skipped() > outcome.valid {
            let types: Vec<&str> = shape.id_types().iter().map(|t| t.name()).collect();
            eprintln!(
                "venn: warning: {} of {} rows of {} were skipped and most of them look like {}: is --id-type {} \
                 right (rather than {})?",
                group(outcome.skipped()),
                group(outcome.rows_read),
                spec.path.display(),
                shape.describe(),
                spec.options.id_type,
                types.join(" or ")
            );
        }
    }
    let stats = InputStats {
        path: spec.path.display().to_string(),
        id_column: spec.options.id_column.clone(),
        id_type: spec.options.id_type.to_string(),
        rows_read: outcome.rows_read,
        valid: outcome.valid,
        skipped: outcome.skipped_by_reason.iter().map(|(r, n)| (r.label().to_owned(), n)).collect(),
        duplicates: outcome.duplicates,
        distinct: outcome.distinct() as u64,
        parts: outcome
            .parts
            .iter()
            .map(|p| PartStats {
                path: p.path.display().to_string(),
                compression: p.compression.name(),
                rows_read: p.rows_read,
            })
            .collect(),
    };
    Ok((outcome, stats))
}

/// A party's prepared input.
pub enum Input {
    /// Identifiers only.
    Count(ElementSet),
    /// Identifiers with segment labels.
    Segments(LabeledSet),
}
