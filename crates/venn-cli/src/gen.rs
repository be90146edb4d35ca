//! `venn gen`: synthetic audiences with a known overlap.

use std::{
    fs::File,
    io::{BufWriter, Write},
    path::Path,
};

use anyhow::Context;
use venn_ids::synthetic::{
    generate, true_overlap, write_csv, write_csv_gz, write_parquet, Person, SideFormat, SyntheticSpec,
};

use crate::{exit::UsageError, flags::GenArgs, report::group};

/// Parses `plain`, `messy` or `sha256`.
pub fn side_format(name: &str) -> anyhow::Result<SideFormat> {
    match name {
        "plain" => Ok(SideFormat::Plain),
        "messy" => Ok(SideFormat::Messy),
        "sha256" => Ok(SideFormat::Sha256),
        other => anyhow::bail!("unknown format {other:?}: expected plain, messy or sha256"),
    }
}

/// The file format of `venn gen --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Plain CSV.
    Csv,
    /// Gzip-compressed CSV.
    CsvGz,
    /// Parquet (Utf8 columns) in row groups of at most this many rows.
    Parquet {
        /// Rows per row group.
        row_group_rows: usize,
    },
}

/// Rows per row group of `venn gen --format parquet` unless told otherwise.
pub const ROW_GROUP_ROWS: usize = 131_072;

/// Parses `csv`, `csv.gz` or `parquet` (row groups of [`ROW_GROUP_ROWS`]).
pub fn file_format(name: &str) -> anyhow::Result<FileFormat> {
    match name {
        "csv" => Ok(FileFormat::Csv),
        "csv.gz" => Ok(FileFormat::CsvGz),
        "parquet" => Ok(FileFormat::Parquet { row_group_rows: ROW_GROUP_ROWS }),
        other => Err(UsageError(format!("unknown --format {other:?}: expected csv, csv.gz or parquet")).into()),
    }
}

/// Writes one side's file as plain CSV.
pub fn write_side(people: &[Person], format: SideFormat, path: &Path) -> anyhow::Result<()> {
    write_side_as(people, format, FileFormat::Csv, path)
}

/// Writes one side's file in `file_format`.
pub fn write_side_as(
    people: &[Person],
    format: SideFormat,
    file_format: FileFormat,
    path: &Path,
) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let written = match file_format {
        FileFormat::Csv => write_csv(people, format, BufWriter::new(file)),
        FileFormat::CsvGz => write_csv_gz(people, format, BufWriter::new(file))
            .and_then(|mut w| w.flush().map_err(|e| venn_ids::synthetic::SynthError::Write(e.into()))),
        FileFormat::Parquet { row_group_rows } => write_parquet(people, format, BufWriter::new(file), row_group_rows)
            .and_then(|mut w| w.flush().map_err(|e| venn_ids::synthetic::SynthError::Write(e.into()))),
    };
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// Generates both files and prints the true overlap.
pub fn run(args: &GenArgs) -> anyhow::Result<()> {
    let (format_a, format_b) = (side_format(&args.format_a)?, side_format(&args.format_b)?);
    let file = match file_format(&args.format)? {
        FileFormat::Parquet { .. } if args.row_group_rows == 0 => {
            return Err(UsageError("--row-group-rows must be at least 1".into()).into())
        }
        FileFormat::Parquet { .. } => FileFormat::Parquet { row_group_rows: args.row_group_rows },
        other => other,
    };
    if args.overlap > args.rows_a.min(args.rows_b) {
        return Err(UsageError(format!(
            "--overlap {} is larger than the smaller list ({} rows): the overlap can be at most {}",
            group(args.overlap as u64),
            group(args.rows_a.min(args.rows_b) as u64),
            group(args.rows_a.min(args.rows_b) as u64)
        ))
        .into());
    }
    let spec = SyntheticSpec { rows_a: args.rows_a, rows_b: args.rows_b, overlap: args.overlap, seed: args.seed };
    let (a, b) = generate(&spec)?;
    write_side_as(&a, format_a, file, &args.out_a)?;
    write_side_as(&b, format_b, file, &args.out_b)?;
    println!(
        "Wrote {} rows to {} and {} rows to {}; true overlap {}.",
        group(a.len() as u64),
        args.out_a.display(),
        group(b.len() as u64),
        args.out_b.display(),
        group(true_overlap(&a, &b) as u64)
    );
    Ok(())
}
