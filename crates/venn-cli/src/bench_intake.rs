//! `venn bench --intake FORMAT`: how fast `--input` reads a list, without
//! a match.
//!
//! Issue 12 asks that reading never be the bottleneck of a match or an
//! index build: at least 1,000,000 rows per second of SHA-256 identifiers
//! from `.csv.gz` on two cores. This writes `--rows` of them with `venn gen`
//! (in a child process, so its memory is not counted here), in the file
//! format asked (`csv`, `csv.gz` or `parquet`, the platform's side: columns
//! `email_sha256`, `phone_sha256` and four segment columns), then reads the
//! file `--intake-runs` times exactly as `--input` does (decompression,
//! CSV parsing, normalization into digests, sorting and deduplication) and
//! reports the median.
//!
//! Issue 12's target for Parquet is 2,000,000 rows per second; a Parquet
//! file's row groups are decoded and normalized in parallel on rayon's
//! threads (all CPUs, or `RAYON_NUM_THREADS`), so that figure is one for
//! all of them (`threads` in the JSON).
//!
//! A compressed file is read by two threads, decompression beside parsing,
//! so the figure is a two-core one; `--intake-threads 1` does all the work
//! on one thread, for comparison.

use std::{path::Path, time::Instant};

use anyhow::Context;
use serde::Serialize;
use venn_ids::{IdType, Intake, ReadOptions};

use crate::{
    bench::{Provenance, Spread},
    flags::BenchArgs,
    report::{bytes, group},
    sysinfo::{cpu_time, load_average, peak_rss},
};

/// The target of issue 12 for `.csv.gz`, rows per second on two cores.
pub const CSV_GZ_TARGET_ROWS_PER_SECOND: f64 = 1_000_000.0;

/// The target of issue 12 for Parquet, rows per second.
pub const PARQUET_TARGET_ROWS_PER_SECOND: f64 = 2_000_000.0;

/// What `venn bench --intake` measured.
#[derive(Debug, Serialize)]
pub struct IntakeResult {
    /// Command, checkout, machine and load at the start.
    #[serde(flatten)]
    pub run: Provenance,
    /// `csv`, `csv.gz` or `parquet`.
    pub format: String,
    /// The compression the reader found in the file's first bytes.
    pub compression: &'static str,
    /// Data rows in the file.
    pub rows: u64,
    /// Distinct identifiers read (all rows are distinct; checked).
    pub distinct: u64,
    /// Size of the file, bytes.
    pub file_bytes: u64,
    /// Threads reading: 2 for a compressed file (decompression beside
    /// parsing) unless `--intake-threads 1`; 1 for plain CSV; rayon's
    /// threads for Parquet (row groups decoded in parallel).
    pub threads: u8,
    /// Every timed read, in order.
    pub runs: Vec<IntakeRun>,
    /// Median rows per wall second over the runs.
    pub rows_per_second: f64,
    /// Min, median and max rows per wall second.
    pub rows_per_second_spread: Spread,
    /// Median process CPU µs per row (all threads).
    pub cpu_us_per_row: f64,
    /// The target for this format (1,000,000 rows/s for csv.gz, 2,000,000
    /// for parquet; `None` for csv).
    pub target_rows_per_second: Option<f64>,
    /// Peak resident memory of the process, bytes.
    pub peak_rss_bytes: u64,
}

/// One timed read.
#[derive(Debug, Clone, Serialize)]
pub struct IntakeRun {
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Process CPU seconds (all threads).
    pub cpu_seconds: f64,
    /// Rows per wall second.
    pub rows_per_second: f64,
}

/// Runs the intake benchmark and prints its table (or JSON).
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let result = measure(args)?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print!("{}", table(&result));
    }
    Ok(())
}

/// Generates the file and times its reads.
pub fn measure(args: &BenchArgs) -> anyhow::Result<IntakeResult> {
    let format = args.intake.clone().unwrap_or_else(|| "csv.gz".into());
    anyhow::ensure!(args.rows > 0, "--rows must be at least 1");
    anyhow::ensure!(args.intake_runs > 0, "--intake-runs must be at least 1");
    let load_average_start = load_average();
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let path = dir.path().join(format!("platform.{format}"));
    generate(args.rows, args.seed, &format, &path, &dir.path().join("unused.csv"))?;
    let file_bytes = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?.len();

    let options = ReadOptions::new("email_sha256", IdType::EmailSha256);
    let mut runs = Vec::with_capacity(args.intake_runs);
    let mut last = None;
    for _ in 0..args.intake_runs {
        let file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let (cpu0, t0) = (cpu_time(), Instant::now());
        let mut intake = Intake::new(&options);
        intake.read_ahead(args.intake_threads > 1);
        intake.read_file_part(file, &path)?;
        let outcome = intake.finish();
        let (wall, cpu) = (t0.elapsed().as_secs_f64(), (cpu_time() - cpu0).as_secs_f64());
        runs.push(IntakeRun { wall_seconds: wall, cpu_seconds: cpu, rows_per_second: outcome.rows_read as f64 / wall });
        last = Some(outcome);
    }
    let outcome = last.context("no run")?;
    anyhow::ensure!(
        outcome.rows_read == args.rows as u64 && outcome.distinct() == args.rows,
        "read {} rows, {} distinct, of the {} generated",
        outcome.rows_read,
        outcome.distinct(),
        args.rows
    );
    let compression = outcome.parts.first().map_or("plain", |p| p.compression.name());
    let spread = Spread::of(&runs.iter().map(|r| r.rows_per_second).collect::<Vec<_>>()).context("no run")?;
    let cpu_us = Spread::of(&runs.iter().map(|r| r.cpu_seconds * 1e6 / args.rows as f64).collect::<Vec<_>>())
        .context("no run")?;
    Ok(IntakeResult {
        run: Provenance::of_run(load_average_start),
        threads: match compression {
            "plain" => 1,
            "parquet" => u8::try_from(rayon::current_num_threads()).unwrap_or(u8::MAX),
            _ => args.intake_threads,
        },
        target_rows_per_second: match format.as_str() {
            "csv.gz" => Some(CSV_GZ_TARGET_ROWS_PER_SECOND),
            "parquet" => Some(PARQUET_TARGET_ROWS_PER_SECOND),
            _ => None,
        },
        format,
        compression,
        rows: outcome.rows_read,
        distinct: outcome.distinct() as u64,
        file_bytes,
        runs,
        rows_per_second: spread.median,
        rows_per_second_spread: spread,
        cpu_us_per_row: cpu_us.median,
        peak_rss_bytes: peak_rss(),
    })
}

/// `venn gen` in a child process: `rows` SHA-256 rows in `path`.
fn generate(rows: usize, seed: u64, format: &str, path: &Path, unused: &Path) -> anyhow::Result<()> {
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["gen", "--rows-a", &rows.to_string(), "--rows-b", "0", "--overlap", "0"])
        .args(["--seed", &seed.to_string(), "--format-a", "sha256", "--format", format])
        .arg("--out-a")
        .arg(path)
        .arg("--out-b")
        .arg(unused)
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run `venn gen`")?;
    anyhow::ensure!(status.success(), "`venn gen` failed");
    Ok(())
}

/// The table `venn bench --intake` prints.
pub fn table(r: &IntakeResult) -> String {
    let mut out = format!(
        "venn bench --intake {}: {} rows of SHA-256 identifiers, {} ({}), {} thread{}\n",
        r.format,
        group(r.rows),
        bytes(r.file_bytes),
        r.compression,
        r.threads,
        if r.threads == 1 { "" } else { "s" }
    );
    out += &format!("{}\n\n", r.run.describe(&format!("load average at start {:.2}", r.run.load_average_start[0])));
    let s = &r.rows_per_second_spread;
    out += &format!(
        "rows/s, median of {} reads: {:.0} (range {:.0} to {:.0}); CPU {:.3} µs/row\n",
        r.runs.len(),
        r.rows_per_second,
        s.min,
        s.max,
        r.cpu_us_per_row
    );
    if let Some(target) = r.target_rows_per_second {
        out +=
            &format!("target {:.0} rows/s: {}\n", target, if r.rows_per_second >= target { "met" } else { "NOT met" });
    }
    out += &format!("peak memory {}\n", bytes(r.peak_rss_bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_says_whether_the_target_is_met() {
        let run = IntakeRun { wall_seconds: 0.5, cpu_seconds: 0.9, rows_per_second: 2_000_000.0 };
        let mut r = IntakeResult {
            run: Provenance {
                command: "venn bench --intake csv.gz".into(),
                commit: "0123456789abcdef".into(),
                worktree_clean: Some(true),
                machine: crate::sysinfo::machine(),
                load_average_start: [0.5, 0.5, 0.5],
            },
            format: "csv.gz".into(),
            compression: "gzip",
            rows: 1_000_000,
            distinct: 1_000_000,
            file_bytes: 60_000_000,
            threads: 2,
            runs: vec![run],
            rows_per_second: 2_000_000.0,
            rows_per_second_spread: Spread { min: 2e6, median: 2e6, max: 2e6 },
            cpu_us_per_row: 0.9,
            target_rows_per_second: Some(CSV_GZ_TARGET_ROWS_PER_SECOND),
            peak_rss_bytes: 1 << 26,
        };
        let text = table(&r);
        assert!(text.contains("1,000,000 rows of SHA-256 identifiers"), "{text}");
        assert!(text.contains("target 1000000 rows/s: met"), "{text}");
        assert!(text.contains("load average at start 0.50; commit 0123456789ab\n"), "{text}");
        // The run's provenance sits at the top level of the JSON, as before.
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!((&json["commit"], &json["load_average_start"][0]), (&"0123456789abcdef".into(), &0.5.into()));
        r.rows_per_second = 900_000.0;
        assert!(table(&r).contains("NOT met"));
    }
}
