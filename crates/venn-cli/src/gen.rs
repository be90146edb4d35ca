//! `venn gen`: synthetic audiences with a known overlap.

use std::{fs::File, io::BufWriter, path::Path};

use anyhow::Context;
use venn_ids::synthetic::{generate, true_overlap, write_csv, Person, SideFormat, SyntheticSpec};

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

/// Writes one side's file.
pub fn write_side(people: &[Person], format: SideFormat, path: &Path) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    write_csv(people, format, BufWriter::new(file)).with_context(|| format!("cannot write {}", path.display()))
}

/// Generates both files and prints the true overlap.
pub fn run(args: &GenArgs) -> anyhow::Result<()> {
    let (format_a, format_b) = (side_format(&args.format_a)?, side_format(&args.format_b)?);
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
    write_side(&a, format_a, &args.out_a)?;
    write_side(&b, format_b, &args.out_b)?;
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
