//! `venn index build` and `venn index publish`: the platform's offline step
//! of index mode (issue 11).
//!
//! Once per epoch the platform turns its audience into an index: for every
//! distinct identifier digest `d` (the protocol's [`Element`]) the tag
//! `t = epoch_tags(k, index_domain(epoch), [d])`, i.e. `trunc(k·H_e(d))`,
//! goes into a binary fuse filter part ([`venn_index::PartBuilder`]). The
//! brand later learns `k·H_e(b)` for its own identifiers through the
//! session and looks them up.
//!
//! **Epochs.** An epoch is `D` days (`--epoch-days`, 30 by default): its id
//! is `floor(unix_now / (D·86400))`, its label `YYYY-MM-DD+Dd` names the day
//! it started, and it expires when it ends ([`Epoch`]). Its key `k` lives
//! beside the identity (see [`crate::epoch_key`]).
//!
//! **Shards.** `--shard i/N` keeps only the identifiers whose digest falls
//! in slice `i` ([`Shard::slice_of`]: the digest's first 8 bytes, big-endian,
//! mod `N`), so N machines that read the same input build N disjoint parts
//! that together hold every identifier once. Each shard writes its part
//! `part-i-of-N.vidx` and a small build record beside it,
//! `part-i-of-N.build.json` ([`BuildRecord`]: epoch, `D`, `K`, the part's
//! SHA-256). `venn index publish` reads every part, checks that all N are
//! there and that every record names the same epoch and key (the one in the
//! identity directory), and writes `header.bin`. The record is what lets the
//! publish step refuse parts of different epochs or keys (a Job that
//! straddled an epoch boundary, a second identity), which the part files
//! alone cannot show. Without `--shard`, `build` makes the single part 0/1
//! and publishes at once.

use std::{
    fs,
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use venn_crypto::{epoch_tags, EpochKey};
use venn_index::{part_file_name, HeaderFields, PartBuilder, PartEntry, HEADER_FILE};
use venn_protocol::{index_domain, Element};

use crate::{
    epoch_key::{self, Origin},
    exit::Failure,
    flags::{IndexBuildArgs, IndexPublishArgs},
    report::group,
};

/// Seconds in a day.
pub const SECONDS_PER_DAY: u64 = 86_400;

/// The longest epoch `--epoch-days` accepts (about ten years).
pub const MAX_EPOCH_DAYS: u32 = 3_660;

/// Identifiers tagged per call of [`epoch_tags`]: each call spreads its
/// chunk over all cores (in sub-chunks of [`venn_crypto::BATCH_CHUNK`]),
/// and the chunk bounds the memory of points in flight.
pub const TAG_CHUNK: usize = 65_536;

/// One epoch: `days` days starting at a multiple of `days·86400` seconds
/// since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// `floor(unix / (days·86400))`.
    pub id: u64,
    /// Its length in days.
    pub days: u32,
}

impl Epoch {
    /// The epoch of length `days` (at least 1) that contains `unix` seconds.
    pub fn at(unix: u64, days: u32) -> Epoch {
        let days = days.max(1);
        Epoch { id: unix / Epoch::length(days), days }
    }

    fn length(days: u32) -> u64 {
        u64::from(days) * SECONDS_PER_DAY
    }

    /// Unix seconds at which it starts (inclusive).
    pub fn start(&self) -> u64 {
        self.id.saturating_mul(Epoch::length(self.days))
    }

    /// Unix seconds at which it ends (exclusive): the index header's expiry.
    pub fn expires_at(&self) -> u64 {
        self.id.saturating_add(1).saturating_mul(Epoch::length(self.days))
    }

    /// `YYYY-MM-DD+Dd`: the UTC day it starts and its length.
    pub fn label(&self) -> String {
        format!("{}+{}d", date(self.start()), self.days)
    }
}

/// Unix seconds as the UTC date `YYYY-MM-DD` (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`).
pub fn date(unix: u64) -> String {
    let z = (unix / SECONDS_PER_DAY) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `--shard i/N`: slice `index` of `count`, `0 ≤ index < count` (0-based,
/// like Kubernetes' `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// `i`.
    pub index: u32,
    /// `N`.
    pub count: u32,
}

impl Shard {
    /// The whole input: part 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The slice a digest belongs to among `count` (at least 1): its first 8
    /// bytes as a big-endian integer, mod `count`. Digests are SHA-256
    /// outputs, so slices are even to within sampling noise.
    pub fn slice_of(digest: &[u8; 32], count: u32) -> u32 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
    }

    /// Whether `digest` is in this slice.
    pub fn holds(&self, digest: &[u8; 32]) -> bool {
        Shard::slice_of(digest, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Parses `--shard i/N` (clap turns an error into exit code 2).
pub fn parse_shard(value: &str) -> Result<Shard, String> {
    let shape = || format!("expected i/N such as 0/4 (slice i of N, 0-based like JOB_COMPLETION_INDEX), got {value:?}");
    let (i, n) = value.split_once('/').ok_or_else(shape)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(i) || !digits(n) {
        return Err(shape());
    }
    let max = venn_index::MAX_PARTS as u32;
    let count: u32 = n.parse().map_err(|_| shape())?;
    if count == 0 || count > max {
        return Err(format!("the shard count N in {value:?} must be between 1 and {max}"));
    }
    let index: u32 = i.parse().map_err(|_| shape())?;
    if index >= count {
        return Err(format!(
            "shard {index} is out of range for {count} shards: i counts from 0, so use 0 to {} \
             (JOB_COMPLETION_INDEX already counts from 0)",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

/// What `build` records beside each part for `publish`:
/// `part-i-of-N.build.json`. Public values only (`K`, not `k`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRecord {
    /// Record format, 1.
    pub format: u32,
    /// `i`.
    pub shard: u32,
    /// `N`.
    pub shards: u32,
    /// The epoch id the tags were made for.
    pub epoch: u64,
    /// The epoch length in days.
    pub epoch_days: u32,
    /// `K = k·G`, hex.
    pub epoch_key: String,
    /// SHA-256 of the part file, hex.
    pub part_sha256: String,
    /// Distinct elements in the part.
    pub elements: u64,
}

/// The build record's file name for shard `i` of `N`.
pub fn record_file_name(shard: u32, shards: u32) -> String {
    format!("part-{shard}-of-{shards}.build.json")
}

/// Why `publish` (or the publish at the end of a whole build) refused.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No part files at all.
    #[error("no index parts in {}: run `venn index build --shard i/N --out {}` for every i from 0 to N-1 first", dir.display(), dir.display())]
    NoParts {
        /// The index directory.
        dir: PathBuf,
    },
    /// Parts of different shard counts.
    #[error("{} holds parts of different builds ({names}); remove the stale ones and publish again", dir.display())]
    MixedShardCounts {
        /// The index directory.
        dir: PathBuf,
        /// One part of each count.
        names: String,
    },
    /// Some of the N parts are missing.
    #[error("{missing} of {shards} parts missing in {}: {names}; build them with `venn index build --shard i/{shards}` (or copy them in), then publish again", dir.display())]
    MissingParts {
        /// The index directory.
        dir: PathBuf,
        /// How many are missing.
        missing: usize,
        /// N.
        shards: u32,
        /// The missing parts' file names.
        names: String,
    },
    /// A part without a usable build record.
    #[error("{part}: {why}; copy the part together with its {record}, or rebuild the shard")]
    Record {
        /// The part's file name.
        part: String,
        /// The record's file name.
        record: String,
        /// What is wrong.
        why: String,
    },
    /// Parts built for different epochs or keys.
    #[error("{first} and {other} were built for different epochs or epoch keys ({what}); rebuild the stale parts in one epoch")]
    Inconsistent {
        /// A part.
        first: String,
        /// Another part that differs.
        other: String,
        /// What differs.
        what: String,
    },
    /// The identity directory's key is not the one the parts were built with.
    #[error("the parts were built with another epoch key than {}; publish with the identity directory the shards used", path.display())]
    WrongKey {
        /// The key file loaded.
        path: PathBuf,
    },
    /// `--epoch-days` disagrees with the parts.
    #[error(
        "the parts were built with --epoch-days {built}, not {given}; publish with --epoch-days {built} or without it"
    )]
    EpochDays {
        /// The parts' length.
        built: u32,
        /// The flag's.
        given: u32,
    },
    /// The parts' epoch is over.
    #[error(
        "the parts were built for epoch {epoch} ({label}), which ended on {ended}; rebuild them for the current epoch"
    )]
    Expired {
        /// Epoch id.
        epoch: u64,
        /// Its label.
        label: String,
        /// The day it ended.
        ended: String,
    },
}

/// The exit code of this module's errors, and of `venn_index`'s; `None` for
/// any other error.
pub fn failure_of(cause: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    if cause.downcast_ref::<PublishError>().is_some() || cause.downcast_ref::<epoch_key::EpochKeyError>().is_some() {
        return Some(Failure::BadInput);
    }
    cause.downcast_ref::<venn_index::Error>().map(|e| match e {
        venn_index::Error::Io { .. } | venn_index::Error::BuildFailed { .. } => Failure::Other,
        _ => Failure::BadInput,
    })
}

/// Seconds since the Unix epoch by the system clock.
pub fn unix_now() -> anyhow::Result<u64> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?.as_secs())
}

/// `venn index build`, at time `now`.
pub fn build(args: &IndexBuildArgs, quiet: bool, now: u64) -> anyhow::Result<()> {
    let epoch = Epoch::at(now, args.epoch_days);
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let spec = crate::party::input_spec(&args.input)?;
    let identity = crate::keygen::load(&args.identity)?;
    let (key, origin) = epoch_key::load_or_create(&args.identity, epoch.id)?;
    let key_file = epoch_key::key_path(&args.identity, epoch.id);
    println!(
        "Epoch {} ({}, ends {} 00:00 UTC); epoch key {} {}.",
        epoch.id,
        epoch.label(),
        date(epoch.expires_at()),
        key_file.display(),
        if origin == Origin::Created { "created (mode 0600; keep it with the identity)" } else { "loaded" }
    );

    let (outcome, stats) = crate::input::read(&spec)?;
    let mine: Vec<Element> = outcome.digests.into_iter().filter(|d| shard.holds(d)).map(Element).collect();
    println!(
        "Read {} rows of {}: {} distinct identifiers ({} skipped, {} duplicates){}.",
        group(stats.rows_read),
        stats.path,
        group(stats.distinct),
        group(stats.rows_read.saturating_sub(stats.valid)),
        group(stats.duplicates),
        if shard == Shard::WHOLE { String::new() } else { format!("; {} in shard {shard}", group(mine.len() as u64)) }
    );

    fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the index directory {}", args.out.display()))?;
    let started = Instant::now();
    let tags_time;
    let built = {
        let mut builder = PartBuilder::with_capacity(shard.index, shard.count, mine.len())?;
        let bar = bar(mine.len() as u64, quiet);
        let domain = index_domain(epoch.id);
        for chunk in mine.chunks(TAG_CHUNK) {
            builder.extend(epoch_tags(&key, &domain, chunk));
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        drop(mine);
        tags_time = started.elapsed();
        builder.write(&args.out)?
    };
    let total_time = started.elapsed();
    let entry = built.entry.clone();
    write_record(&args.out, &entry, epoch, &key)?;
    let elements = entry.elements;
    println!(
        "Built {}: {} elements, {:.2} bytes per element, {} elements per second ({} s: tags {} s, filter {} s).",
        built.path.display(),
        group(elements),
        bytes_per_element(entry.byte_len, elements),
        group(rate(elements, total_time)),
        seconds(total_time),
        seconds(tags_time),
        seconds(total_time.saturating_sub(tags_time)),
    );

    if shard == Shard::WHOLE {
        let header = publish_entries(&args.out, epoch, &key, &identity, vec![entry])?;
        print_published(&args.out, &header);
    } else {
        println!(
            "Part {shard} done. Once all {} parts are in {}: venn index publish --identity {} --out {}{}",
            shard.count,
            args.out.display(),
            args.identity.display(),
            args.out.display(),
            epoch_days_flag(epoch.days)
        );
    }
    Ok(())
}

/// `venn index publish`, at time `now`.
pub fn publish(args: &IndexPublishArgs, now: u64) -> anyhow::Result<()> {
    let identity = crate::keygen::load(&args.identity)?;
    let entries = read_parts(&args.out)?;
    let (epoch, public) = read_records(&args.out, &entries)?;
    if let Some(given) = args.epoch_days.filter(|&d| d != epoch.days) {
        return Err(PublishError::EpochDays { built: epoch.days, given }.into());
    }
    if now >= epoch.expires_at() {
        return Err(
            PublishError::Expired { epoch: epoch.id, label: epoch.label(), ended: date(epoch.expires_at()) }.into()
        );
    }
    let key = epoch_key::load(&args.identity, epoch.id)?;
    if hex::encode(key.public_key().to_bytes()) != public {
        return Err(PublishError::WrongKey { path: epoch_key::key_path(&args.identity, epoch.id) }.into());
    }
    let header = publish_entries(&args.out, epoch, &key, &identity, entries)?;
    print_published(&args.out, &header);
    Ok(())
}

/// Every `part-i-of-N.vidx` in `dir`, read and checked: one N, all of
/// `0..N` present.
fn read_parts(dir: &Path) -> anyhow::Result<Vec<PartEntry>> {
    let listing = fs::read_dir(dir).with_context(|| format!("cannot read the index directory {}", dir.display()))?;
    let mut entries = Vec::new();
    for item in listing {
        let item = item.with_context(|| format!("cannot read the index directory {}", dir.display()))?;
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with("part-") && name.ends_with(".vidx") {
            entries.push(venn_index::read_part_entry(&item.path())?);
        }
    }
    let Some(shards) = entries.first().map(|e| e.shards) else {
        return Err(PublishError::NoParts { dir: dir.to_path_buf() }.into());
    };
    if let Some(other) = entries.iter().find(|e| e.shards != shards) {
        let names = format!("{} and {}", entries[0].file_name(), other.file_name());
        return Err(PublishError::MixedShardCounts { dir: dir.to_path_buf(), names }.into());
    }
    entries.sort_by_key(|e| e.shard);
    let missing: Vec<String> = (0..shards)
        .filter(|i| entries.binary_search_by_key(i, |e| e.shard).is_err())
        .map(|i| part_file_name(i, shards))
        .collect();
    if !missing.is_empty() {
        let mut names = missing.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
        if missing.len() > 10 {
            names.push_str(&format!(" and {} more", missing.len() - 10));
        }
        return Err(PublishError::MissingParts { dir: dir.to_path_buf(), missing: missing.len(), shards, names }.into());
    }
    Ok(entries)
}

/// The parts' common epoch and `K` (hex), from their build records.
fn read_records(dir: &Path, entries: &[PartEntry]) -> Result<(Epoch, String), PublishError> {
    let mut first: Option<(String, BuildRecord)> = None;
    for entry in entries {
        let part = entry.file_name();
        let record_name = record_file_name(entry.shard, entry.shards);
        let bad = |why: String| PublishError::Record { part: part.clone(), record: record_name.clone(), why };
        let text = fs::read_to_string(dir.join(&record_name))
            .map_err(|e| bad(format!("cannot read its build record {record_name}: {e}")))?;
        let record: BuildRecord =
            serde_json::from_str(&text).map_err(|e| bad(format!("its build record {record_name} is invalid: {e}")))?;
        if record.format != 1 || record.shard != entry.shard || record.shards != entry.shards {
            return Err(bad(format!("its build record {record_name} is for another part")));
        }
        if record.part_sha256 != hex::encode(entry.sha256) || record.elements != entry.elements {
            return Err(bad(format!(
                "the part does not match its build record {record_name} (rebuilt or replaced without it?)"
            )));
        }
        match &first {
            None => first = Some((part, record)),
            Some((first_part, f)) => {
                let what = if f.epoch != record.epoch || f.epoch_days != record.epoch_days {
                    format!(
                        "epoch {} of {} days and epoch {} of {} days",
                        f.epoch, f.epoch_days, record.epoch, record.epoch_days
                    )
                } else if f.epoch_key != record.epoch_key {
                    "same epoch, different keys".to_owned()
                } else {
                    continue;
                };
                return Err(PublishError::Inconsistent { first: first_part.clone(), other: part, what });
            }
        }
    }
    let (_, f) = first.unwrap_or_else(|| unreachable!("read_parts returns at least one part"));
    if f.epoch_days == 0 || f.epoch_days > MAX_EPOCH_DAYS {
        return Err(PublishError::Record {
            part: part_file_name(0, f.shards),
            record: record_file_name(0, f.shards),
            why: format!("its build record names an epoch of {} days", f.epoch_days),
        });
    }
    Ok((Epoch { id: f.epoch, days: f.epoch_days }, f.epoch_key))
}

fn write_record(dir: &Path, entry: &PartEntry, epoch: Epoch, key: &EpochKey) -> anyhow::Result<()> {
    let record = BuildRecord {
        format: 1,
        shard: entry.shard,
        shards: entry.shards,
        epoch: epoch.id,
        epoch_days: epoch.days,
        epoch_key: hex::encode(key.public_key().to_bytes()),
        part_sha256: hex::encode(entry.sha256),
        elements: entry.elements,
    };
    let mut text = serde_json::to_string_pretty(&record)?;
    text.push('\n');
    venn_index::write_atomic(dir, &record_file_name(entry.shard, entry.shards), |w| w.write_all(text.as_bytes()))?;
    Ok(())
}

fn publish_entries(
    dir: &Path,
    epoch: Epoch,
    key: &EpochKey,
    identity: &venn_net::Identity,
    entries: Vec<PartEntry>,
) -> anyhow::Result<venn_index::Header> {
    let fields = HeaderFields {
        epoch_id: epoch.id,
        epoch_label: epoch.label(),
        expires_at: epoch.expires_at(),
        epoch_key: key.public_key().to_bytes(),
        platform_fingerprint: identity.fingerprint().0,
    };
    Ok(venn_index::publish(dir, fields, entries)?)
}

fn print_published(dir: &Path, header: &venn_index::Header) {
    let f = header.fields();
    println!(
        "Published {}: epoch {} ({}), {} elements in {} part{} ({:.2} bytes per element), K {}, platform {}.",
        dir.join(HEADER_FILE).display(),
        f.epoch_id,
        f.epoch_label,
        group(header.total_elements()),
        header.parts().len(),
        if header.parts().len() == 1 { "" } else { "s" },
        bytes_per_element(header.total_part_bytes(), header.total_elements()),
        hex::encode(f.epoch_key),
        venn_net::Fingerprint(f.platform_fingerprint).short(),
    );
}

fn epoch_days_flag(days: u32) -> String {
    if days == crate::flags::DEFAULT_EPOCH_DAYS {
        String::new()
    } else {
        format!(" --epoch-days {days}")
    }
}

fn bytes_per_element(bytes: u64, elements: u64) -> f64 {
    bytes as f64 / elements.max(1) as f64
}

fn rate(elements: u64, took: Duration) -> u64 {
    (elements as f64 / took.as_secs_f64().max(1e-9)).round() as u64
}

fn seconds(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

fn bar(len: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template("   tagging [{bar:30}] {pos:>11}/{len:11} {per_sec:>14} {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len).with_style(style)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn epoch_arithmetic() {
        // 1_700_000_000 is 2023-11-14 22:13:20 UTC.
        let e = Epoch::at(1_700_000_000, 30);
        assert_eq!(e, Epoch { id: 655, days: 30 });
        assert_eq!(e.start(), 1_697_760_000);
        assert_eq!(e.expires_at(), 1_700_352_000);
        assert_eq!(e.label(), "2023-10-20+30d");
        assert_eq!(date(e.expires_at()), "2023-11-19");
        let w = Epoch::at(1_700_000_000, 7);
        assert_eq!((w.id, w.label()), (2810, "2023-11-09+7d".to_owned()));
        // The first and last second of an epoch belong to it; the end does not.
        assert_eq!(Epoch::at(e.start(), 30), e);
        assert_eq!(Epoch::at(e.expires_at() - 1, 30), e);
        assert_eq!(Epoch::at(e.expires_at(), 30).id, e.id + 1);
        assert_eq!(Epoch::at(0, 1).label(), "1970-01-01+1d");
        assert_eq!(Epoch::at(u64::MAX, MAX_EPOCH_DAYS).expires_at(), u64::MAX, "saturates");
    }

    #[test]
    fn dates_cross_leap_days_and_centuries() {
        assert_eq!(date(19_782 * SECONDS_PER_DAY), "2024-02-29");
        assert_eq!(date(19_783 * SECONDS_PER_DAY - 1), "2024-02-29");
        assert_eq!(date(11_016 * SECONDS_PER_DAY), "2000-02-29");
        assert_eq!(date(4_102_444_800), "2100-01-01");
    }

    #[test]
    fn shards_parse_zero_based() {
        assert_eq!(parse_shard("0/4").unwrap(), Shard { index: 0, count: 4 });
        assert_eq!(parse_shard("3/4").unwrap(), Shard { index: 3, count: 4 });
        assert_eq!(parse_shard("0/1").unwrap(), Shard::WHOLE);
        let out = parse_shard("4/4").unwrap_err();
        assert!(out.contains("out of range") && out.contains("0 to 3"), "{out}");
        for bad in ["", "1", "1/", "/4", "-1/4", "1/-4", "a/4", " 1/4", "1/4 ", "1.0/4", "1/4/2", "+1/4"] {
            assert!(parse_shard(bad).unwrap_err().contains("expected i/N"), "{bad:?}");
        }
        assert!(parse_shard("0/0").unwrap_err().contains("between 1 and"));
        assert!(parse_shard("0/4097").unwrap_err().contains("between 1 and 4096"));
        assert!(parse_shard("0/99999999999").is_err());
    }

    #[test]
    fn shard_slices_partition_the_digests() {
        let digests: Vec<[u8; 32]> = (0u32..5_000).map(|i| Sha256::digest(i.to_le_bytes()).into()).collect();
        for count in [1u32, 2, 3, 4, 7, 16] {
            let mut sizes = vec![0usize; count as usize];
            for d in &digests {
                let holders: Vec<u32> = (0..count).filter(|&index| Shard { index, count }.holds(d)).collect();
                assert_eq!(holders.len(), 1, "every digest in exactly one of {count} slices");
                assert_eq!(holders[0], Shard::slice_of(d, count));
                sizes[holders[0] as usize] += 1;
            }
            assert_eq!(sizes.iter().sum::<usize>(), digests.len());
            let even = digests.len() / count as usize;
            assert!(sizes.iter().all(|&s| s.abs_diff(even) < even / 4 + 50), "{count}: {sizes:?}");
        }
        // The rule is fixed: the first 8 bytes, big-endian, mod N.
        let mut d = [0u8; 32];
        d[7] = 10;
        assert_eq!(Shard::slice_of(&d, 4), 2);
        d[0] = 1; // 2^56 + 10 ≡ 2 (mod 4), ≡ 1 (mod 3): 2^56 ≡ 1 and 10 ≡ 1 (mod 3)
        assert_eq!(Shard::slice_of(&d, 4), 2);
        assert_eq!(Shard::slice_of(&d, 3), 2);
    }

    #[test]
    fn build_records_round_trip_and_refuse_unknown_fields() {
        let record = BuildRecord {
            format: 1,
            shard: 2,
            shards: 4,
            epoch: 655,
            epoch_days: 30,
            epoch_key: "ab".repeat(32),
            part_sha256: "cd".repeat(32),
            elements: 12,
        };
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<BuildRecord>(&text).unwrap(), record);
        let extra = text.replace("{", "{\"secret\":1,");
        assert!(serde_json::from_str::<BuildRecord>(&extra).is_err());
        assert_eq!(record_file_name(2, 4), "part-2-of-4.build.json");
    }

    #[test]
    fn errors_map_to_exit_codes() {
        let missing = anyhow::Error::new(PublishError::MissingParts {
            dir: "i".into(),
            missing: 1,
            shards: 4,
            names: "part-2-of-4.vidx".into(),
        })
        .context("publish");
        assert_eq!(Failure::of(&missing), Failure::BadInput);
        let key = anyhow::Error::new(epoch_key::EpochKeyError::TooOpen { path: "k".into(), mode: 0o644 });
        assert_eq!(Failure::of(&key), Failure::BadInput);
        let part = anyhow::Error::new(venn_index::Error::BadShard { shard: 4, shards: 4 });
        assert_eq!(Failure::of(&part), Failure::BadInput);
    }
}
