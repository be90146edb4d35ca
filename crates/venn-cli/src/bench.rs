//! `venn bench`: end-to-end throughput against the curve-arithmetic floor,
//! measured in one process, in one run.
//!
//! The floor is what the curve work alone costs per record (hash to group,
//! blind, decompress, re-blind, batched compressions) on the same rayon pool
//! the sessions use, hashing under a domain tag as long as a session's. The
//! end-to-end figure is both lists' records over a real match: reading and
//! normalizing CSV files, QUIC on loopback with TLS, both parties in this
//! process.
//!
//! The floor is sampled several times before the match and several times
//! after it (a sample during the match would compete with it for the same
//! cores), and each sample records wall and process CPU time. Two ratios
//! come out: the wall ratio (end-to-end records per second over the median
//! floor's), which a busy machine moves, and the CPU ratio (end-to-end
//! process CPU per record over the floor's, on the same clock), which it
//! moves much less, because CPU time waiting for a core is not counted.
//! Both are given with the range the floor samples span.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use venn_crypto::{blind_batch, reblind_to_tags, BlindingKey, DomainTag};
use venn_ids::{IdType, LabelScheme, SegmentColumn};
use venn_net::{connect, Identity, NetConfig, PeerPins, Server};
use venn_protocol::{Event, Policy, Role};

use crate::{
    flags::BenchArgs,
    input::InputSpec,
    party::{match_with, SegmentPlan, SessionParams},
    report::{bytes, group},
    sysinfo::{cpu_time, load_average, machine, peak_rss, Machine},
};

/// The suite label that opens a session's hash-to-group domain tag; a
/// session appends its 32-byte id (`venn_protocol`'s `transcript::hash_domain`).
const SESSION_DST_SUITE: &[u8] = b"VENN-V1-ristretto255_XMD:SHA-512_R255MAP_RO_";

/// Length of a session's domain tag: the suite label and a 32-byte session id.
const SESSION_DST_LEN: usize = SESSION_DST_SUITE.len() + 32;

/// The floor's domain tag: the session suite label and 32 fixed bytes where
/// a session has its id, so it is exactly as long as a session's. Length
/// matters: RFC 9380's `expand_message_xmd` hashes the tag into two SHA-512
/// inputs, and 76 bytes take two more compression blocks than 16 would.
fn floor_dst() -> Vec<u8> {
    let mut dst = Vec::with_capacity(SESSION_DST_LEN);
    dst.extend_from_slice(SESSION_DST_SUITE);
    dst.extend_from_slice(&[0x5a; 32]);
    dst
}

/// Where and how a `venn bench` result was made, flattened into each
/// result's JSON (`command`, `commit`, `worktree_clean`, `machine`,
/// `load_average_start`).
#[derive(Debug, Serialize)]
pub struct Provenance {
    /// The command line that ran this, with the environment variables that
    /// change the run (`RAYON_NUM_THREADS`, `VENN_SOCKET_BUFFER`) in front.
    pub command: String,
    /// `git rev-parse HEAD` of the checkout the binary lives in, or "unknown".
    pub commit: String,
    /// Whether that checkout's tracked files were unchanged (`None` if unknown).
    pub worktree_clean: Option<bool>,
    /// The machine.
    pub machine: Machine,
    /// Load averages (1, 5, 15 minutes) when the run started.
    pub load_average_start: [f64; 3],
}

impl Provenance {
    /// This run's command line, checkout and machine, with the load average
    /// taken when it started.
    pub(crate) fn of_run(load_average_start: [f64; 3]) -> Self {
        let (commit, worktree_clean) = commit();
        Provenance { command: command_line(), commit, worktree_clean, machine: machine(), load_average_start }
    }

    /// "machine: CPU, N CPUs; load average …; commit …" for a text report,
    /// with `load` saying what the load figures are.
    pub(crate) fn describe(&self, load: &str) -> String {
        format!(
            "machine: {}, {} CPUs; {load}; commit {}{}",
            self.machine.cpu_model,
            self.machine.cpus,
            self.commit.get(..12).unwrap_or(&self.commit),
            if self.worktree_clean == Some(false) { " with uncommitted changes" } else { "" }
        )
    }
}

/// Everything `venn bench` measured.
#[derive(Debug, Serialize)]
pub struct BenchResult {
    /// Command, checkout, machine and load.
    #[serde(flatten)]
    pub run: Provenance,
    /// Records in the brand's list (and in the platform's, unless
    /// `platform_rows` says otherwise).
    pub rows_per_side: u64,
    /// Records in the platform's list.
    pub platform_rows: u64,
    /// Records in both.
    pub overlap: u64,
    /// Threads of the curve-work pool.
    pub threads: usize,
    /// Points per message.
    pub batch_size: usize,
    /// Curve-only records per second: the median of the floor samples.
    pub floor_records_per_second: f64,
    /// Min, median and max of the floor samples' records per second.
    pub floor_records_per_second_spread: Spread,
    /// Min, median and max of the floor samples' process CPU µs per record.
    pub floor_cpu_us_per_record_spread: Option<Spread>,
    /// Every floor sample, in the order taken.
    pub floor_samples: Vec<FloorSample>,
    /// Records of both lists per second of the whole match.
    pub end_to_end_records_per_second: f64,
    /// Process CPU µs (both parties) per record of either list.
    pub end_to_end_cpu_us_per_record: f64,
    /// Wall ratio: end-to-end records per second over the median floor's.
    /// Below 1 the match is slower than its curve work alone.
    pub ratio: f64,
    /// The wall ratio against the fastest floor sample (min), the median
    /// and the slowest (max).
    pub ratio_spread: Spread,
    /// CPU ratio: end-to-end CPU per record over the median floor sample's
    /// CPU per record, on the same process clock. Above 1 is what the match
    /// spends beyond its curve work; `None` where CPU time is unknown.
    pub cpu_ratio: Option<f64>,
    /// The CPU ratio against the cheapest floor sample (max), the median
    /// and the dearest (min).
    pub cpu_ratio_spread: Option<Spread>,
    /// Wall seconds of the match.
    pub wall_seconds: f64,
    /// Process CPU seconds of the match (both parties).
    pub cpu_seconds: f64,
    /// Wall and CPU seconds per phase.
    pub phases: Vec<Phase>,
    /// Peak resident memory of the process (both parties), bytes.
    pub peak_rss_bytes: u64,
    /// The memory target for both parties: 2 × (100 B × (own + peer) + 64 MiB).
    pub memory_budget_bytes: u64,
    /// UDP payload bytes (QUIC, TLS and framing included; IP and UDP
    /// headers not) over both directions per record of either list.
    pub wire_bytes_per_record: f64,
    /// Protocol payload bytes per record.
    pub payload_bytes_per_record: f64,
    /// The listening socket's buffers: asked for and granted.
    pub socket_buffers: SocketBufferSizes,
    /// Overlap found, checked against the generator.
    pub overlap_found: u64,
    /// Receiver labels in a segment match; `None` for a count.
    pub segments: Option<u16>,
    /// Whether the aggregator's label groups travelled unpadded.
    pub reveal_segment_sizes: bool,
}

/// Minimum, median and maximum of a few samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Middle value (the mean of the two middle ones for an even count).
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` if there are none or one is not a number.
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
        Some(Self { min: sorted[0], median, max: sorted[n - 1] })
    }

    /// `numerator / x` for each of min, median, max, reordered so that min
    /// stays the smallest: the spread of a ratio whose denominator varies.
    pub fn divide_into(&self, numerator: f64) -> Self {
        Self { min: numerator / self.max, median: numerator / self.median, max: numerator / self.min }
    }
}

/// One measurement of the floor.
#[derive(Debug, Clone, Serialize)]
pub struct FloorSample {
    /// "before" or "after" the match.
    pub when: &'static str,
    /// Records blinded and re-blinded.
    pub records: usize,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Process CPU seconds (all threads).
    pub cpu_seconds: f64,
    /// Records per wall second.
    pub records_per_second: f64,
    /// Process CPU µs per record.
    pub cpu_us_per_record: f64,
}

/// The UDP socket buffers of the listening party.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SocketBufferSizes {
    /// Bytes asked for each of the receive and send buffers (`None`: none asked).
    pub requested: Option<usize>,
    /// `SO_RCVBUF` as the kernel reports it (Linux: twice what it granted).
    pub receive: usize,
    /// `SO_SNDBUF` as the kernel reports it.
    pub send: usize,
}

/// One phase of the match.
#[derive(Debug, Serialize)]
pub struct Phase {
    /// What happened.
    pub name: &'static str,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// CPU seconds of the whole process (both parties).
    pub cpu_seconds: f64,
}

/// A moment: wall clock and process CPU time.
type Mark = (Instant, Duration);

/// When each of the two parties first reached each milestone.
#[derive(Default)]
struct Milestones {
    handshake: [Option<Mark>; 2],
    points_done: [Option<Mark>; 2],
    finished: [Option<Mark>; 2],
}

fn record(milestones: &Mutex<Milestones>, party: usize, event: &Event) {
    let mut m = milestones.lock().unwrap_or_else(|p| p.into_inner());
    let slot = match event {
        Event::HandshakeComplete { .. } => &mut m.handshake[party],
        Event::Progress(p) if p.points_sent == p.own_size && p.points_received == p.peer_size => {
            &mut m.points_done[party]
        }
        Event::Finished(_) => &mut m.finished[party],
        _ => return,
    };
    slot.get_or_insert_with(|| (Instant::now(), cpu_time()));
}

/// What every floor sample blinds and re-blinds: the same inputs and keys.
struct FloorWork {
    a: Box<BlindingKey>,
    b: Box<BlindingKey>,
    dst: DomainTag,
    elements: Vec<[u8; 32]>,
    batch: usize,
}

impl FloorWork {
    fn new(records: usize, batch: usize) -> Self {
        let dst = DomainTag::new(&floor_dst()).unwrap_or_else(|_| unreachable!("76-byte tag is valid"));
        let elements = crate::bench_index::pseudo_random_elements(records, 0x2545_f491_4f6c_dd1d);
        Self { a: BlindingKey::random(), b: BlindingKey::random(), dst, elements, batch: batch.max(1) }
    }

    /// Blinds with one key and re-blinds with the other, batch by batch as
    /// a session does.
    fn run(&self, elements: &[[u8; 32]]) {
        for chunk in elements.chunks(self.batch) {
            let points = blind_batch(&self.a, &self.dst, chunk);
            let tags = reblind_to_tags(&self.b, &points);
            std::hint::black_box(tags.map(|t| t.len()).unwrap_or(0));
        }
    }

    /// `count` timed samples, after one untimed batch that wakes the pool.
    fn samples(&self, when: &'static str, count: usize) -> Vec<FloorSample> {
        self.run(&self.elements[..self.batch.min(self.elements.len())]);
        (0..count)
            .map(|_| {
                let (start, cpu) = (Instant::now(), cpu_time());
                self.run(&self.elements);
                let (wall, cpu) = (start.elapsed().as_secs_f64(), cpu_time().saturating_sub(cpu).as_secs_f64());
                let records = self.elements.len();
                FloorSample {
                    when,
                    records,
                    wall_seconds: wall,
                    cpu_seconds: cpu,
                    records_per_second: records as f64 / wall,
                    cpu_us_per_record: 1e6 * cpu / records as f64,
                }
            })
            .collect()
    }
}

/// The command line as typed, with the environment variables that change a
/// run in front.
pub(crate) fn command_line() -> String {
    let quote = |a: String| {
        if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c)) {
            a
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    ["RAYON_NUM_THREADS", "VENN_SOCKET_BUFFER"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| format!("{k}={}", quote(v))))
        .chain(std::env::args().map(quote))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `git rev-parse HEAD` in the directory of this binary (a `venn` built in
/// a checkout lives in its `target/`), and whether tracked files differ from
/// it. The binary may have been built from another state of the tree; the
/// commit says which checkout, not which build.
pub(crate) fn commit() -> (String, Option<bool>) {
    let Some(dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) else {
        return ("unknown".into(), None);
    };
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(&dir)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(head) if !head.is_empty() => {
            (head, git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| s.is_empty()))
        }
        _ => ("unknown".into(), None),
    }
}

/// Runs the benchmark and prints its table (or JSON).
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.index {
        return crate::bench_index::run(args).await;
    }
    if args.intake.is_some() {
        return crate::bench_intake::run(args);
    }
    let result = measure(args, args.rows, args.platform_rows.unwrap_or(args.rows)).await?;
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print!("{}", table(&result));
    }
    Ok(())
}

/// The brand's overlap with the platform: `fraction` of its `rows`,
/// rounded, and never more than the smaller list.
pub(crate) fn overlap_of(rows: usize, platform_rows: usize, fraction: f64) -> usize {
    ((rows as f64 * fraction).round() as usize).min(rows).min(platform_rows)
}

/// `venn gen` in a child process (so its memory does not count here): the
/// brand's plain emails in `brand_csv`, the platform's SHA-256 hashes in
/// `platform_csv`, `overlap` people in both.
pub(crate) fn generate(
    rows: usize,
    platform_rows: usize,
    overlap: usize,
    seed: u64,
    brand_csv: &Path,
    platform_csv: &Path,
) -> anyhow::Result<()> {
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["gen", "--rows-a", &rows.to_string(), "--rows-b", &platform_rows.to_string()])
        .args(["--overlap", &overlap.to_string(), "--seed", &seed.to_string()])
        .arg("--out-a")
        .arg(brand_csv)
        .arg("--out-b")
        .arg(platform_csv)
        .args(["--format-b", "sha256"])
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run `venn gen`")?;
    anyhow::ensure!(status.success(), "`venn gen` failed");
    Ok(())
}

/// One counting (or segment) match of `rows` brand records against
/// `platform_rows` platform records, both parties in this process, with its
/// floor samples before and after.
pub(crate) async fn measure(args: &BenchArgs, rows: usize, platform_rows: usize) -> anyhow::Result<BenchResult> {
    anyhow::ensure!((0.0..=1.0).contains(&args.overlap), "--overlap must be a fraction between 0 and 1");
    anyhow::ensure!(rows > 0 && platform_rows > 0, "--rows and --platform-rows must be at least 1");
    anyhow::ensure!(args.floor_samples > 0, "--floor-samples must be at least 1");
    let load_average_start = load_average();
    let overlap = overlap_of(rows, platform_rows, args.overlap);
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (brand_csv, platform_csv) = (dir.path().join("brand.csv"), dir.path().join("platform.csv"));
    generate(rows, platform_rows, overlap, args.seed, &brand_csv, &platform_csv)?;

    // No more floor records per sample than the match itself handles, so a
    // small run stays small.
    let floor_records = args.floor_records.min(rows + platform_rows).max(1);
    let work = Arc::new(FloorWork::new(floor_records, args.batch_size));
    let samples = args.floor_samples;
    let w = work.clone();
    let mut floor_samples = tokio::task::spawn_blocking(move || w.samples("before", samples)).await?;

    let (brand_id, platform_id) = (Identity::generate()?, Identity::generate()?);
    let (brand_fp, platform_fp) = (brand_id.fingerprint(), platform_id.fingerprint());
    let net = NetConfig::default();
    let policy = Policy { min_set_size: 0, ..Policy::default() };
    let (brand_plan, platform_plan) = match args.segments {
        None => (None, None),
        Some(labels) => {
            let tiers = ["bronze", "silver", "gold", "platinum"];
            let receiver = LabelScheme::new(vec![SegmentColumn {
                name: "loyalty_tier".into(),
                values: tiers[..labels as usize - 1].iter().map(|s| s.to_string()).collect(),
            }]);
            let aggregator = LabelScheme::new(vec![SegmentColumn {
                name: "campaign".into(),
                values: ["none", "a", "b"].iter().map(|s| s.to_string()).collect(),
            }]);
            let plan = |role, own: &LabelScheme, peer: &LabelScheme| SegmentPlan {
                role,
                own: own.clone(),
                peer: peer.clone(),
                agreement: [0xbe; 32],
                purpose: "benchmark".into(),
                reveal: args.reveal_segment_sizes,
                ledger: None,
            };
            (Some(plan(Role::Receiver, &receiver, &aggregator)), Some(plan(Role::Aggregator, &aggregator, &receiver)))
        }
    };
    let params = SessionParams { policy, batch_size: args.batch_size, net, index: None };
    let server = Server::bind("127.0.0.1:0".parse()?, platform_id, PeerPins::new([brand_fp]), net)?;
    let addr = server.local_addr()?;
    let buffers = server.socket_buffers();
    let milestones = Arc::new(Mutex::new(Milestones::default()));

    let (start, cpu_start) = (Instant::now(), cpu_time());
    let platform_spec = InputSpec::new(&platform_csv, "email_sha256", IdType::EmailSha256);
    let m = milestones.clone();
    let platform_params = params.clone();
    let platform = tokio::spawn(async move {
        let accept = || async move { Ok(server.accept().await?) };
        match_with("platform", platform_fp, platform_spec, platform_params, platform_plan, true, accept, move |e| {
            record(&m, 0, e)
        })
        .await
    });
    let brand_spec = InputSpec::new(&brand_csv, "email", IdType::Email);
    let m = milestones.clone();
    let dial = || async move { Ok(connect(addr, &brand_id, PeerPins::new([platform_fp]), net).await?) };
    let brand =
        match_with("brand", brand_fp, brand_spec, params, brand_plan, true, dial, move |e| record(&m, 1, e)).await?;
    let platform = platform.await??;
    let (wall, cpu) = (start.elapsed(), cpu_time().saturating_sub(cpu_start));
    let peak = peak_rss();

    let w = work.clone();
    floor_samples.extend(tokio::task::spawn_blocking(move || w.samples("after", samples)).await?);
    anyhow::ensure!(platform.overlap == overlap as u64, "found {} but generated {overlap}", platform.overlap);

    let records = (rows + platform_rows) as u64;
    let rates: Vec<f64> = floor_samples.iter().map(|s| s.records_per_second).collect();
    let floor = Spread::of(&rates).context("the floor samples are not numbers")?;
    let floor_cpu = floor_cpu_spread(&floor_samples);
    let end_to_end = records as f64 / wall.as_secs_f64();
    let end_to_end_cpu_us = 1e6 * cpu.as_secs_f64() / records as f64;
    let m = milestones.lock().unwrap_or_else(|p| p.into_inner());
    // A phase ends when the later of the two parties is through it.
    let last =
        |v: &[Option<Mark>; 2]| v.iter().flatten().max_by_key(|(t, _)| *t).copied().unwrap_or((start, cpu_start));
    let marks = [
        ("read input, connect, handshake", last(&m.handshake)),
        ("stream and re-blind points", last(&m.points_done)),
        ("sort, return tags, confirm", last(&m.finished)),
        ("close", (start + wall, cpu_start + cpu)),
    ];
    let mut phases = Vec::new();
    let mut previous = (start, cpu_start);
    for (name, mark) in marks {
        phases.push(Phase {
            name,
            wall_seconds: mark.0.saturating_duration_since(previous.0).as_secs_f64(),
            cpu_seconds: mark.1.saturating_sub(previous.1).as_secs_f64(),
        });
        previous = mark;
    }
    let ratio_spread = floor.divide_into(end_to_end);
    let cpu_ratio_spread = floor_cpu.map(|f| cpu_ratio(end_to_end_cpu_us, &f));
    let result = BenchResult {
        run: Provenance::of_run(load_average_start),
        rows_per_side: rows as u64,
        platform_rows: platform_rows as u64,
        overlap: overlap as u64,
        threads: rayon::current_num_threads(),
        batch_size: args.batch_size,
        floor_records_per_second: floor.median,
        floor_records_per_second_spread: floor,
        floor_cpu_us_per_record_spread: floor_cpu,
        floor_samples,
        end_to_end_records_per_second: end_to_end,
        end_to_end_cpu_us_per_record: end_to_end_cpu_us,
        ratio: ratio_spread.median,
        ratio_spread,
        cpu_ratio: cpu_ratio_spread.map(|s| s.median),
        cpu_ratio_spread,
        wall_seconds: wall.as_secs_f64(),
        cpu_seconds: cpu.as_secs_f64(),
        phases,
        peak_rss_bytes: peak,
        memory_budget_bytes: 2 * (100 * records + 64 * 1024 * 1024),
        wire_bytes_per_record: (brand.bytes.sent + platform.bytes.sent) as f64 / records as f64,
        payload_bytes_per_record: (brand.bytes.payload_sent + platform.bytes.payload_sent) as f64 / records as f64,
        socket_buffers: SocketBufferSizes {
            requested: buffers.requested,
            receive: buffers.receive,
            send: buffers.send,
        },
        overlap_found: platform.overlap,
        segments: args.segments,
        reveal_segment_sizes: args.reveal_segment_sizes,
    };
    Ok(result)
}

/// The spread of the floor samples' CPU µs per record; `None` when the
/// process CPU clock is unavailable (every sample reads zero).
fn floor_cpu_spread(samples: &[FloorSample]) -> Option<Spread> {
    let cpu: Vec<f64> = samples.iter().map(|s| s.cpu_us_per_record).collect();
    Spread::of(&cpu).filter(|s| s.min > 0.0)
}

/// End-to-end CPU per record over the floor's: the median against the
/// median floor, the min against the dearest floor sample (max), the max
/// against the cheapest (min).
fn cpu_ratio(end_to_end_cpu_us: f64, floor_cpu_us: &Spread) -> Spread {
    floor_cpu_us.divide_into(end_to_end_cpu_us)
}

pub(crate) fn table(r: &BenchResult) -> String {
    let mode = match r.segments {
        None => "count".to_owned(),
        Some(l) => format!(
            "segments, {l} × 4 labels{}",
            if r.reveal_segment_sizes { ", aggregator groups unpadded" } else { ", aggregator groups padded" }
        ),
    };
    let mut out = format!(
        "venn bench ({mode}): {} records per side, overlap {} ({}), {} threads, batch {}\n",
        if r.platform_rows == r.rows_per_side {
            group(r.rows_per_side)
        } else {
            format!("{} (brand) and {} (platform)", group(r.rows_per_side), group(r.platform_rows))
        },
        group(r.overlap),
        format_args!("{:.0}%", 100.0 * r.overlap as f64 / r.rows_per_side.max(1) as f64),
        r.threads,
        group(r.batch_size as u64)
    );
    out += &format!("{}\n\n", r.run.describe(&format!("load average at start {:.2}", r.run.load_average_start[0])));
    let samples = r.floor_samples.len();
    out += &format!("{:<36} {:>12} {:>12} {:>14}\n", "", "records/s", "µs/record", "CPU µs/record");
    let row = |label: &str, rate: f64, us: f64, cpu_us: Option<f64>| {
        let cpu_us = cpu_us.map_or("–".to_owned(), |c| format!("{c:.2}"));
        format!("{label:<36} {rate:>12.0} {us:>12.2} {cpu_us:>14}\n")
    };
    let (f, c) = (&r.floor_records_per_second_spread, r.floor_cpu_us_per_record_spread);
    // Each column is its own spread: the fastest sample need not be the
    // cheapest in CPU.
    out += &row(&format!("floor, median of {samples} samples"), f.median, 1e6 / f.median, c.map(|c| c.median));
    out += &row("floor, min of each column", f.min, 1e6 / f.max, c.map(|c| c.min));
    out += &row("floor, max of each column", f.max, 1e6 / f.min, c.map(|c| c.max));
    let e2e = r.end_to_end_records_per_second;
    out += &row("end to end (both lists)", e2e, 1e6 / e2e, Some(r.end_to_end_cpu_us_per_record));
    let rates = |when: &str| {
        r.floor_samples
            .iter()
            .filter(|s| s.when == when)
            .map(|s| format!("{:.0}", s.records_per_second))
            .collect::<Vec<_>>()
            .join(" ")
    };
    out += &format!(
        "floor samples, records/s: before {}; after {} ({} records each)\n\n",
        rates("before"),
        rates("after"),
        group(r.floor_samples.first().map_or(0, |s| s.records as u64))
    );
    out += &format!(
        "{:<36} {:>12.3}   (range {:.3} to {:.3} over the floor samples)\n",
        "wall ratio, end to end / floor", r.ratio, r.ratio_spread.min, r.ratio_spread.max
    );
    match (r.cpu_ratio, r.cpu_ratio_spread) {
        (Some(ratio), Some(s)) => {
            out += &format!(
                "{:<36} {:>12.3}   (range {:.3} to {:.3}; 1 = the match costs its curve work, no more)\n\n",
                "CPU ratio, end to end / floor", ratio, s.min, s.max
            )
        }
        _ => out += &format!("{:<36} {:>12}   (no process CPU clock here)\n\n", "CPU ratio, end to end / floor", "–"),
    }
    out += &format!("{:<36} {:>12} {:>12}\n", "phase", "wall s", "CPU s");
    for p in &r.phases {
        out += &format!("{:<36} {:>12.2} {:>12.2}\n", p.name, p.wall_seconds, p.cpu_seconds);
    }
    out += &format!("{:<36} {:>12.2} {:>12.2}\n\n", "total", r.wall_seconds, r.cpu_seconds);
    out += &format!(
        "{:<36} {:>12}   (target for two parties {})\n",
        "peak memory, both parties",
        bytes(r.peak_rss_bytes),
        bytes(r.memory_budget_bytes)
    );
    out += &format!(
        "{:<36} {:>12.1}   (protocol payload {:.1}; target 50)\n",
        "UDP payload bytes per record", r.wire_bytes_per_record, r.payload_bytes_per_record
    );
    let b = &r.socket_buffers;
    out += &format!(
        "{:<36} {:>12}   (send {}; asked {}; net.core.rmem_max {}; Linux reports twice the grant)\n",
        "UDP receive buffer, kernel reports",
        bytes(b.receive as u64),
        bytes(b.send as u64),
        b.requested.map_or("nothing, kernel default".into(), |n| bytes(n as u64)),
        r.run.machine.rmem_max.map_or("unknown".into(), bytes)
    );
    out += &format!("{:<36} {:>12}   (matches the generator)\n", "overlap found", group(r.overlap_found));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_counts() {
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { min: 1.0, median: 2.0, max: 3.0 }));
        assert_eq!(Spread::of(&[4.0, 1.0, 3.0, 2.0]), Some(Spread { min: 1.0, median: 2.5, max: 4.0 }));
        assert_eq!(Spread::of(&[7.0]), Some(Spread { min: 7.0, median: 7.0, max: 7.0 }));
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn a_ratio_over_a_varying_floor_keeps_min_below_max() {
        // End to end 9,000 rec/s against floors of 8,000 to 10,000 rec/s.
        let floor = Spread { min: 8_000.0, median: 9_000.0, max: 10_000.0 };
        let ratio = floor.divide_into(9_000.0);
        assert_eq!(ratio, Spread { min: 0.9, median: 1.0, max: 1.125 });
    }

    #[test]
    fn cpu_ratio_is_end_to_end_cpu_per_record_over_the_floors() {
        // 110 µs of CPU per record end to end, against floor samples that
        // spent 100, 104 and 110 µs per record.
        let samples: Vec<FloorSample> = [100.0, 110.0, 104.0]
            .iter()
            .map(|&us| FloorSample {
                when: "before",
                records: 1_000,
                wall_seconds: 0.1,
                cpu_seconds: us * 1e-3,
                records_per_second: 10_000.0,
                cpu_us_per_record: us,
            })
            .collect();
        let floor = floor_cpu_spread(&samples).unwrap();
        assert_eq!(floor, Spread { min: 100.0, median: 104.0, max: 110.0 });
        let ratio = cpu_ratio(110.0, &floor);
        assert_eq!(ratio.min, 1.0);
        assert!((ratio.median - 110.0 / 104.0).abs() < 1e-12);
        assert!((ratio.max - 1.1).abs() < 1e-12);
    }

    #[test]
    fn no_cpu_clock_means_no_cpu_ratio() {
        let sample = FloorSample {
            when: "after",
            records: 10,
            wall_seconds: 0.01,
            cpu_seconds: 0.0,
            records_per_second: 1_000.0,
            cpu_us_per_record: 0.0,
        };
        assert_eq!(floor_cpu_spread(&[sample]), None);
    }

    #[test]
    fn the_floor_hashes_under_a_tag_as_long_as_a_session_s() {
        assert_eq!(SESSION_DST_LEN, 76);
        assert_eq!(floor_dst().len(), SESSION_DST_LEN);
        assert!(floor_dst().starts_with(SESSION_DST_SUITE));
        assert!(DomainTag::new(&floor_dst()).is_ok());
    }
}
