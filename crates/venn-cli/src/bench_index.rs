//! `venn bench --index`: index mode (issue 11) measured end to end against
//! its curve floors, in one run, with counting mode at the same sizes beside
//! it.
//!
//! The run, in order:
//!
//! 1. `venn gen` writes a brand list of `--rows` N (plain emails) and a
//!    platform list of `--platform-rows` M (SHA-256 hashes) with a known
//!    overlap (`--overlap`, a fraction of N); `venn keygen` makes both
//!    identities.
//! 2. The floors, sampled before the work and again after it (a sample
//!    during the work would compete with it for the same cores), on this
//!    process's rayon pool, with process CPU time (`/proc/self/stat`):
//!    - the **build floor**: per element, one hash to the group under the
//!      index's domain tag, one variable-base multiplication and a share of
//!      a batched compression ([`blind_batch`]), on all cores;
//!    - the **session floor**: per brand record, the three batch functions a
//!      session runs, each over the whole sample, timed apart: the brand's
//!      `r·H_e(b)` ([`blind_batch`]: hash, multiplication, batched
//!      compression), the platform's `k·X` ([`evaluate_batch`]:
//!      decompression, multiplication, batched compression) and the brand's
//!      `r⁻¹·Y` ([`unblind_to_filter_keys`]: decompression, multiplication,
//!      batched compression, the filter key's SHA-256). The brand's share is
//!      the first and the third, the platform's the second.
//! 3. `venn index build` runs as a child process (the command itself); its
//!    wall time is spawn to exit, its CPU time comes from the kernel's
//!    account of reaped children (below).
//! 4. Sessions: for each, `venn serve --index` (one session) and then
//!    `venn connect` start as child processes over loopback; the first
//!    session downloads the index into a fresh cache, the later ones
//!    (`--cached-sessions`) find it there. Each side's wall is its process's
//!    spawn to exit; the reports give the session's own wall, the bytes
//!    downloaded and the overlap, which is checked against the generator.
//! 5. Counting mode at the same sizes (or at `--counting-platform-rows`,
//!    extrapolated linearly in the records of both lists and labelled so),
//!    both parties in this process as `venn bench` runs it.
//!
//! # A child's CPU time
//!
//! Each child's user + system time is read from this process's
//! `/proc/self/stat`, fields 16 and 17 (`cutime`, `cstime`): the CPU time
//! of the children this process has waited for, all their threads
//! included. The kernel adds a child's time there when it is reaped, so the
//! difference across one `wait` is exactly that child's time (plus that of
//! any children it reaped itself; these commands have none), with no race
//! against the child's exit, which reading `/proc/<pid>/stat` just before
//! the exit would have. The clock has the resolution of a tick (10 ms).
//! Only one child is reaped at a time here, and this process starts no
//! other children while one is measured.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Serialize;
use venn_crypto::{blind_batch, evaluate_batch, unblind_to_filter_keys, BlindingKey, DomainTag, EpochKey};
use venn_protocol::index_domain;

use crate::{
    bench::{generate, measure, overlap_of, BenchResult, Provenance, Spread},
    flags::BenchArgs,
    index_build::TAG_CHUNK,
    report::group,
    sysinfo::{cpu_time, load_average},
};

/// Linux's `USER_HZ`: the clock ticks per second `/proc` counts in (100 on
/// every mainstream architecture).
const TICKS_PER_SECOND: u64 = 100;

/// Everything `venn bench --index` measured.
#[derive(Debug, Serialize)]
pub struct IndexBenchResult {
    /// "index".
    pub mode: &'static str,
    /// Command, checkout, machine and load at the start.
    #[serde(flatten)]
    pub run: Provenance,
    /// Load averages when it ended.
    pub load_average_end: [f64; 3],
    /// How each child's CPU time was measured.
    pub child_cpu_clock: &'static str,
    /// Records in the brand's list (distinct identifiers).
    pub brand_rows: u64,
    /// Records in the platform's list (distinct identifiers).
    pub platform_rows: u64,
    /// People in both, as generated.
    pub overlap_generated: u64,
    /// Threads of this process's curve-work pool (the floors).
    pub threads: usize,
    /// Points per message.
    pub batch_size: usize,
    /// The index build.
    pub build: BuildMeasure,
    /// The index build's floor.
    pub build_floor: FloorSummary,
    /// Every build floor sample, in the order taken.
    pub build_floor_samples: Vec<StepSample>,
    /// The session's floor per brand record.
    pub session_floor: SessionFloorSummary,
    /// Every session floor sample, in the order taken.
    pub session_floor_samples: Vec<SessionFloorSample>,
    /// The first session (downloads the index), then the cached ones.
    pub sessions: Vec<SessionMeasure>,
    /// Medians over the cached sessions.
    pub cached: CachedSummary,
    /// Counting mode (both parties in this process, `venn bench`), at
    /// `brand_rows` × `counting.platform_rows`; `None` with --no-counting.
    pub counting: Option<BenchResult>,
    /// Counting mode's wall and CPU scaled linearly to `platform_rows` when
    /// it ran at fewer (`--counting-platform-rows`): an extrapolation, not
    /// a measurement.
    pub counting_extrapolated: Option<CountingExtrapolation>,
}

/// The index build: `venn index build` as a child process.
#[derive(Debug, Serialize)]
pub struct BuildMeasure {
    /// Elements in the index (its header).
    pub elements: u64,
    /// Spawn to exit, seconds (reading the CSV and writing the index included).
    pub wall_seconds: f64,
    /// The child's user + system CPU seconds, all threads.
    pub cpu_seconds: f64,
    /// Elements per wall second.
    pub elements_per_second: f64,
    /// CPU µs per element.
    pub cpu_us_per_element: f64,
    /// Bytes of the filter parts (what a brand downloads).
    pub part_bytes: u64,
    /// Bytes of `header.bin`.
    pub header_bytes: u64,
    /// `part_bytes / elements`.
    pub bytes_per_element: f64,
    /// Build CPU per element over the floor's (median, and against the
    /// dearest and the cheapest floor sample).
    pub cpu_ratio: Spread,
    /// Floor CPU per element over the build's: the build's efficiency on
    /// the CPU clock (target: at least 0.85).
    pub cpu_efficiency: Spread,
    /// Build elements per wall second over the floor's (both on all cores;
    /// a busy machine moves it).
    pub wall_rate_ratio: Spread,
}

/// One timed pass of curve work over a floor sample.
#[derive(Debug, Clone, Serialize)]
pub struct StepSample {
    /// "before" or "after" the measured work.
    pub when: &'static str,
    /// Elements (or brand records) in the sample.
    pub records: usize,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// Process CPU seconds (all threads).
    pub cpu_seconds: f64,
}

impl StepSample {
    fn cpu_us_per_record(&self) -> f64 {
        1e6 * self.cpu_seconds / self.records.max(1) as f64
    }

    fn records_per_second(&self) -> f64 {
        self.records as f64 / self.wall_seconds
    }
}

/// Min, median and max of a floor's samples.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FloorSummary {
    /// Process CPU µs per element (or brand record).
    pub cpu_us_per_record: Spread,
    /// Elements (or brand records) per wall second.
    pub records_per_second: Spread,
}

/// One sample of the session floor: the brand's blinding, the platform's
/// evaluation and the brand's unblinding of the same records, timed apart.
#[derive(Debug, Clone, Serialize)]
pub struct SessionFloorSample {
    /// "before" or "after" the sessions.
    pub when: &'static str,
    /// Brand records.
    pub records: usize,
    /// `r·H_e(b)`: hash, multiplication, batched compression.
    pub blind: StepSample,
    /// `k·X`: decompression, multiplication, batched compression.
    pub evaluate: StepSample,
    /// `r⁻¹·Y`: decompression, multiplication, batched compression, SHA-256.
    pub unblind: StepSample,
}

impl SessionFloorSample {
    fn wall_seconds(&self) -> f64 {
        self.blind.wall_seconds + self.evaluate.wall_seconds + self.unblind.wall_seconds
    }

    fn per_record(&self, cpu_seconds: f64) -> f64 {
        1e6 * cpu_seconds / self.records.max(1) as f64
    }

    fn brand_cpu_us(&self) -> f64 {
        self.per_record(self.blind.cpu_seconds + self.unblind.cpu_seconds)
    }

    fn platform_cpu_us(&self) -> f64 {
        self.per_record(self.evaluate.cpu_seconds)
    }

    fn total_cpu_us(&self) -> f64 {
        self.per_record(self.blind.cpu_seconds + self.evaluate.cpu_seconds + self.unblind.cpu_seconds)
    }
}

/// The session floor's spread per brand record.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SessionFloorSummary {
    /// Both sides' CPU µs per brand record.
    pub cpu_us_per_record: Spread,
    /// The brand's share (blind and unblind).
    pub brand_cpu_us_per_record: Spread,
    /// The platform's share (evaluate).
    pub platform_cpu_us_per_record: Spread,
    /// Brand records per wall second of all three passes.
    pub records_per_second: Spread,
}

/// One side of one session: a child process.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SideMeasure {
    /// Spawn to exit, seconds.
    pub wall_seconds: f64,
    /// The child's user + system CPU seconds, all threads.
    pub cpu_seconds: f64,
    /// The session's wall time as its report gives it.
    pub report_wall_seconds: f64,
}

/// One index session.
#[derive(Debug, Serialize)]
pub struct SessionMeasure {
    /// "first" (downloads the index into a fresh cache) or "cached".
    pub kind: &'static str,
    /// `venn connect`.
    pub brand: SideMeasure,
    /// `venn serve --index`.
    pub platform: SideMeasure,
    /// Index bytes the brand downloaded (its report).
    pub downloaded_bytes: u64,
    /// UDP payload bytes the brand sent and received.
    pub brand_bytes_sent: u64,
    /// UDP payload bytes the brand received.
    pub brand_bytes_received: u64,
    /// The overlap the brand found.
    pub overlap_found: u64,
    /// Found minus generated (false matches of the filter; 0 expected).
    pub overlap_difference: i64,
    /// The brand's report: expected false matches (n_brand × rate).
    pub expected_false_matches: f64,
    /// Both sides' CPU µs per brand record.
    pub cpu_us_per_brand_record: f64,
    /// The brand's CPU µs per brand record.
    pub brand_cpu_us_per_brand_record: f64,
    /// The platform's CPU µs per brand record.
    pub platform_cpu_us_per_brand_record: f64,
    /// Both sides' CPU over the session floor (target: at most 1.3).
    pub cpu_ratio: Spread,
    /// The brand's CPU over the floor's brand share.
    pub brand_cpu_ratio: Spread,
    /// The platform's CPU over the floor's platform share.
    pub platform_cpu_ratio: Spread,
}

/// The cached sessions' medians.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CachedSummary {
    /// Cached sessions measured.
    pub sessions: usize,
    /// The brand's wall seconds (spawn to exit): min, median, max.
    pub brand_wall_seconds: Spread,
    /// The brand's CPU seconds.
    pub brand_cpu_seconds: Spread,
    /// The platform's wall seconds.
    pub platform_wall_seconds: Spread,
    /// The platform's CPU seconds.
    pub platform_cpu_seconds: Spread,
    /// Both sides' CPU seconds.
    pub total_cpu_seconds: Spread,
    /// Both sides' CPU over the session floor's median, per session.
    pub cpu_ratio: Spread,
}

/// Counting mode's measured cost per record of either list, carried to
/// other list sizes: an extrapolation.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CountingExtrapolation {
    /// "linear in the records of both lists, from the counting run at
    /// counting.platform_rows".
    pub method: &'static str,
    /// The brand's records.
    pub brand_rows: u64,
    /// The platform's records it is carried to.
    pub platform_rows: u64,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// CPU seconds (both parties).
    pub cpu_seconds: f64,
}

/// `measured × (brand + target) / (brand + measured_platform)`: a counting
/// run's cost scaled linearly in the records of both lists.
pub fn extrapolate_linear(measured: f64, brand: u64, measured_platform: u64, target_platform: u64) -> f64 {
    measured * (brand + target_platform) as f64 / (brand + measured_platform).max(1) as f64
}

/// `user + system` and `children user + children system` CPU time from the
/// text of `/proc/<pid>/stat`: fields 14 and 15, 16 and 17 of the line
/// (counting from 1), in clock ticks. The command name (field 2) is in
/// parentheses and may hold spaces or parentheses itself, so the fields are
/// counted after its last `)`. `None` if the text does not have them.
pub fn parse_stat_cpu(stat: &str) -> Option<(Duration, Duration)> {
    let (_, after) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `fields[0]` is field 3 (the state), so field n is fields[n - 3].
    let tick = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SECOND);
    Some((ticks(tick(14)? + tick(15)?), ticks(tick(16)? + tick(17)?)))
}

/// CPU time of the children this process has reaped so far (zero where
/// `/proc` is missing).
fn children_cpu_time() -> Duration {
    std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| parse_stat_cpu(&s)).map_or(Duration::ZERO, |c| c.1)
}

/// The ratio `measured / floor` against each of the floor's samples:
/// median over median, min over the dearest floor (max), max over the
/// cheapest (min).
pub fn ratio_over(measured: f64, floor: &Spread) -> Spread {
    floor.divide_into(measured)
}

/// The inverse: `floor / measured` with the floor's own min, median, max.
pub fn efficiency(measured: f64, floor: &Spread) -> Spread {
    Spread { min: floor.min / measured, median: floor.median / measured, max: floor.max / measured }
}

/// A child that has been started: reaped with its wall and CPU time.
struct Timed {
    child: Child,
    started: Instant,
    what: &'static str,
}

impl Timed {
    fn spawn(command: &mut Command, what: &'static str) -> anyhow::Result<Self> {
        let started = Instant::now();
        let child = command.spawn().with_context(|| format!("cannot start {what}"))?;
        Ok(Self { child, started, what })
    }

    /// Waits for the child; its wall (spawn to exit) and CPU time.
    fn wait(mut self) -> anyhow::Result<(f64, f64)> {
        let before = children_cpu_time();
        let status = self.child.wait().with_context(|| format!("cannot wait for {}", self.what))?;
        let wall = self.started.elapsed().as_secs_f64();
        let cpu = children_cpu_time().saturating_sub(before).as_secs_f64();
        anyhow::ensure!(status.success(), "{} failed ({status})", self.what);
        Ok((wall, cpu))
    }
}

/// The curve work of the floors: the same inputs and keys every sample.
struct Floors {
    brand: Box<BlindingKey>,
    build_key: Box<BlindingKey>,
    epoch: Box<EpochKey>,
    dst: DomainTag,
    session_elements: Vec<[u8; 32]>,
    build_elements: Vec<[u8; 32]>,
    batch: usize,
}

/// `count` elements from an xorshift stream seeded with `state`: cheap,
/// reproducible inputs for the floors (their cost is the curve work alone).
pub(crate) fn pseudo_random_elements(count: usize, mut state: u64) -> Vec<[u8; 32]> {
    (0..count)
        .map(|_| {
            std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
        })
        .collect()
}

/// Runs `work` and times it on the wall and process CPU clocks.
fn timed<T>(when: &'static str, records: usize, work: impl FnOnce() -> T) -> (T, StepSample) {
    let (start, cpu) = (Instant::now(), cpu_time());
    let out = work();
    let sample = StepSample {
        when,
        records,
        wall_seconds: start.elapsed().as_secs_f64(),
        cpu_seconds: cpu_time().saturating_sub(cpu).as_secs_f64(),
    };
    (out, sample)
}

impl Floors {
    fn new(session_records: usize, build_records: usize, batch: usize) -> Self {
        Self {
            brand: BlindingKey::random(),
            build_key: BlindingKey::random(),
            epoch: EpochKey::random(),
            // Any epoch's tag has the same length, so the same hashing cost.
            dst: index_domain(0),
            session_elements: pseudo_random_elements(session_records, 0x2545_f491_4f6c_dd1d),
            build_elements: pseudo_random_elements(build_records, 0x9e37_79b9_7f4a_7c15),
            batch: batch.max(1),
        }
    }

    /// The build floor: `k·H_e(e)`, compressed in batches, per element, in
    /// the build's chunks, over all cores.
    fn build_samples(&self, when: &'static str, count: usize) -> Vec<StepSample> {
        let warm = &self.build_elements[..self.batch.min(self.build_elements.len())];
        std::hint::black_box(blind_batch(&self.build_key, &self.dst, warm));
        (0..count)
            .map(|_| {
                timed(when, self.build_elements.len(), || {
                    for chunk in self.build_elements.chunks(TAG_CHUNK) {
                        std::hint::black_box(blind_batch(&self.build_key, &self.dst, chunk));
                    }
                })
                .1
            })
            .collect()
    }

    /// The session floor: blind, evaluate, unblind each brand record, in
    /// message-sized batches, each step timed over the whole sample.
    fn session_samples(&self, when: &'static str, count: usize) -> anyhow::Result<Vec<SessionFloorSample>> {
        let warm = &self.session_elements[..self.batch.min(self.session_elements.len())];
        std::hint::black_box(blind_batch(&self.brand, &self.dst, warm));
        let records = self.session_elements.len();
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let (blinded, blind) = timed(when, records, || {
                self.session_elements
                    .chunks(self.batch)
                    .map(|c| blind_batch(&self.brand, &self.dst, c))
                    .collect::<Vec<_>>()
            });
            let (evaluated, evaluate) = timed(when, records, || {
                blinded.iter().map(|b| evaluate_batch(&self.epoch, b)).collect::<Result<Vec<_>, _>>()
            });
            let evaluated: Vec<Vec<_>> = evaluated.context("the floor's evaluation refused its own points")?;
            let (keys, unblind) = timed(when, records, || {
                evaluated.iter().map(|y| unblind_to_filter_keys(&self.brand, y)).collect::<Result<Vec<_>, _>>()
            });
            let keys: Vec<Vec<u64>> = keys.context("the floor's unblinding refused its own points")?;
            std::hint::black_box(keys);
            samples.push(SessionFloorSample { when, records, blind, evaluate, unblind });
        }
        Ok(samples)
    }
}

fn spread(values: impl IntoIterator<Item = f64>, what: &str) -> anyhow::Result<Spread> {
    let values: Vec<f64> = values.into_iter().collect();
    Spread::of(&values).with_context(|| format!("no {what} measured"))
}

/// A CPU spread that can divide: every sample read a positive CPU time.
fn cpu_spread(values: impl IntoIterator<Item = f64>, what: &str) -> anyhow::Result<Spread> {
    let s = spread(values, what)?;
    anyhow::ensure!(s.min > 0.0, "the process CPU clock read zero for {what} (no /proc here?)");
    Ok(s)
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `venn keygen --out dir`: the fingerprint it prints.
fn keygen(venn: &Path, dir: &Path) -> anyhow::Result<String> {
    let out = Command::new(venn).args(["keygen", "--out", &s(dir)]).output().context("cannot run `venn keygen`")?;
    anyhow::ensure!(out.status.success(), "`venn keygen` failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Fingerprint:").map(|f| f.trim().to_owned()))
        .context("`venn keygen` printed no fingerprint")
}

/// The socket address in `venn serve`'s `venn: listening on ADDR as …` line.
fn listening_addr(line: &str) -> Option<std::net::SocketAddr> {
    line.strip_prefix("venn: listening on ")?.split_whitespace().next()?.parse().ok()
}

/// What one session's reports say.
#[derive(serde::Deserialize)]
struct ReportFields {
    /// The platform's is `null` unless the brand shares the result.
    overlap: Option<u64>,
    wall_time_seconds: f64,
    bytes: Traffic,
    index: Option<IndexFields>,
}

#[derive(serde::Deserialize)]
struct Traffic {
    sent: u64,
    received: u64,
}

#[derive(serde::Deserialize)]
struct IndexFields {
    downloaded_bytes: Option<u64>,
    expected_false_matches: Option<f64>,
}

fn read_report(path: &Path) -> anyhow::Result<ReportFields> {
    let text = std::fs::read(path).with_context(|| format!("no report at {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("cannot read the report {}", path.display()))
}

/// The paths and identities one run's children share.
struct Setup {
    venn: std::path::PathBuf,
    dir: std::path::PathBuf,
    brand_fp: String,
    platform_fp: String,
    batch_size: usize,
}

impl Setup {
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(name)
    }

    fn build(&self) -> anyhow::Result<(f64, f64)> {
        let mut command = Command::new(&self.venn);
        command
            .args(["--quiet", "index", "build", "--identity", &s(&self.path("platform-id"))])
            .args(["--input", &s(&self.path("platform.csv")), "--id-column", "email_sha256"])
            .args(["--id-type", "email-sha256", "--out", &s(&self.path("index"))])
            .stdout(Stdio::null());
        Timed::spawn(&mut command, "`venn index build`")?.wait()
    }

    /// One session: `venn serve --index` for one session, then `venn
    /// connect` with the shared cache.
    fn session(&self, n: usize, kind: &'static str) -> anyhow::Result<(SideMeasure, SideMeasure, ReportFields)> {
        let (brand_report, platform_report) =
            (self.path(&format!("brand-{n}.json")), self.path(&format!("platform-{n}.json")));
        let batch = self.batch_size.to_string();
        let mut serve = Command::new(&self.venn);
        serve
            .args(["--quiet", "serve", "--index", &s(&self.path("index")), "--identity"])
            .args([s(&self.path("platform-id")), "--listen".into(), "127.0.0.1:0".into()])
            .args(["--peer-fingerprint", &self.brand_fp, "--index-ledger", &s(&self.path("ledger.json"))])
            .args(["--max-sessions-per-brand", "1000000", "--min-set-size", "1", "--batch-size", &batch])
            .args(["--report", &s(&platform_report)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut platform = Timed::spawn(&mut serve, "`venn serve --index`")?;
        let stderr = platform.child.stderr.take().context("no stderr of `venn serve`")?;
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = listening_addr(&line) {
                        break addr;
                    }
                    seen.push(line);
                }
                _ => {
                    let _ = platform.child.kill();
                    let _ = platform.child.wait();
                    anyhow::bail!("`venn serve --index` ended before it listened: {}", seen.join("\n"));
                }
            }
        };
        // Keep draining what it prints, so it never blocks on a full pipe.
        let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

        let mut connect = Command::new(&self.venn);
        connect
            .args(["--quiet", "connect", "--peer", &addr.to_string(), "--identity", &s(&self.path("brand-id"))])
            .args(["--peer-fingerprint", &self.platform_fp, "--input", &s(&self.path("brand.csv"))])
            .args(["--id-column", "email", "--id-type", "email", "--cache", &s(&self.path("cache"))])
            .args(["--min-set-size", "1", "--batch-size", &batch, "--report", &s(&brand_report)])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let brand = Timed::spawn(&mut connect, "`venn connect`")?;
        let brand_out = brand.child.wait_with_output_timed(brand.started);
        let (brand_wall, brand_cpu, brand_status, brand_stderr) = brand_out?;
        let platform_result = platform.wait();
        let platform_stderr = drain.join().unwrap_or_default().join("\n");
        anyhow::ensure!(
            brand_status.success(),
            "`venn connect` ({kind} session) failed ({brand_status}): {brand_stderr}\nplatform: {platform_stderr}"
        );
        let (platform_wall, platform_cpu) =
            platform_result.with_context(|| format!("the platform of the {kind} session: {platform_stderr}"))?;
        let b = read_report(&brand_report)?;
        let p = read_report(&platform_report)?;
        Ok((
            SideMeasure { wall_seconds: brand_wall, cpu_seconds: brand_cpu, report_wall_seconds: b.wall_time_seconds },
            SideMeasure {
                wall_seconds: platform_wall,
                cpu_seconds: platform_cpu,
                report_wall_seconds: p.wall_time_seconds,
            },
            b,
        ))
    }
}

/// Waiting for a child whose stderr is piped: its wall, CPU, status and stderr.
trait WaitTimed {
    fn wait_with_output_timed(self, started: Instant) -> anyhow::Result<(f64, f64, std::process::ExitStatus, String)>;
}

impl WaitTimed for Child {
    fn wait_with_output_timed(self, started: Instant) -> anyhow::Result<(f64, f64, std::process::ExitStatus, String)> {
        let before = children_cpu_time();
        let out = self.wait_with_output().context("cannot wait for `venn connect`")?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = children_cpu_time().saturating_sub(before).as_secs_f64();
        Ok((wall, cpu, out.status, String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

/// Runs `venn bench --index` and prints its table (or JSON).
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let platform_rows = args.platform_rows.unwrap_or(args.rows);
    anyhow::ensure!((0.0..=1.0).contains(&args.overlap), "--overlap must be a fraction between 0 and 1");
    anyhow::ensure!(args.rows > 0 && platform_rows > 0, "--rows and --platform-rows must be at least 1");
    anyhow::ensure!(args.floor_samples > 0, "--floor-samples must be at least 1");
    anyhow::ensure!(args.cached_sessions > 0, "--cached-sessions must be at least 1");
    anyhow::ensure!(args.segments.is_none(), "--index measures a count; segments in index mode come later");
    let load_average_start = load_average();
    let rows = args.rows;
    let overlap = overlap_of(rows, platform_rows, args.overlap);
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let venn = std::env::current_exe()?;
    generate(rows, platform_rows, overlap, args.seed, &tmp.path().join("brand.csv"), &tmp.path().join("platform.csv"))?;
    let setup = Setup {
        brand_fp: keygen(&venn, &tmp.path().join("brand-id"))?,
        platform_fp: keygen(&venn, &tmp.path().join("platform-id"))?,
        venn,
        dir: tmp.path().to_path_buf(),
        batch_size: args.batch_size,
    };

    let samples = args.floor_samples;
    let floors = std::sync::Arc::new(Floors::new(
        args.floor_records.min(rows).max(1),
        args.floor_records.min(platform_rows).max(1),
        args.batch_size,
    ));
    let f = floors.clone();
    let (mut build_samples, mut session_samples) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok((f.build_samples("before", samples), f.session_samples("before", samples)?))
    })
    .await??;

    let (build_wall, build_cpu) = setup.build()?;
    let header = venn_index::read_header(&setup.path("index"))?;
    let header_bytes = std::fs::metadata(setup.path("index").join(venn_index::HEADER_FILE))?.len();

    let mut sessions = Vec::new();
    for n in 0..=args.cached_sessions {
        let kind = if n == 0 { "first" } else { "cached" };
        let (brand, platform, report) = setup.session(n, kind)?;
        let index = report.index.as_ref();
        let found = report.overlap.context("the brand's report has no overlap")?;
        sessions.push((kind, brand, platform, found, report.bytes.sent, report.bytes.received, {
            (
                index.and_then(|i| i.downloaded_bytes).unwrap_or(0),
                index.and_then(|i| i.expected_false_matches).unwrap_or(f64::NAN),
            )
        }));
    }

    let f = floors.clone();
    let (after_build, after_session) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok((f.build_samples("after", samples), f.session_samples("after", samples)?))
    })
    .await??;
    build_samples.extend(after_build);
    session_samples.extend(after_session);

    let build_floor = FloorSummary {
        cpu_us_per_record: cpu_spread(build_samples.iter().map(StepSample::cpu_us_per_record), "build floor CPU")?,
        records_per_second: spread(build_samples.iter().map(StepSample::records_per_second), "build floor rate")?,
    };
    let session_floor = SessionFloorSummary {
        cpu_us_per_record: cpu_spread(session_samples.iter().map(|s| s.total_cpu_us()), "session floor CPU")?,
        brand_cpu_us_per_record: cpu_spread(session_samples.iter().map(|s| s.brand_cpu_us()), "brand floor CPU")?,
        platform_cpu_us_per_record: cpu_spread(
            session_samples.iter().map(|s| s.platform_cpu_us()),
            "platform floor CPU",
        )?,
        records_per_second: spread(
            session_samples.iter().map(|s| s.records as f64 / s.wall_seconds()),
            "session floor rate",
        )?,
    };

    let elements = header.total_elements();
    let build_cpu_us = 1e6 * build_cpu / elements.max(1) as f64;
    let build_rate = elements as f64 / build_wall;
    let part_bytes = header.total_part_bytes();
    let build = BuildMeasure {
        elements,
        wall_seconds: build_wall,
        cpu_seconds: build_cpu,
        elements_per_second: build_rate,
        cpu_us_per_element: build_cpu_us,
        part_bytes,
        header_bytes,
        bytes_per_element: part_bytes as f64 / elements.max(1) as f64,
        cpu_ratio: ratio_over(build_cpu_us, &build_floor.cpu_us_per_record),
        cpu_efficiency: efficiency(build_cpu_us, &build_floor.cpu_us_per_record),
        wall_rate_ratio: build_floor.records_per_second.divide_into(build_rate),
    };

    let per_record = |cpu: f64| 1e6 * cpu / rows as f64;
    let sessions: Vec<SessionMeasure> = sessions
        .into_iter()
        .map(|(kind, brand, platform, found, sent, received, (downloaded, expected))| {
            let total = per_record(brand.cpu_seconds + platform.cpu_seconds);
            let (b, p) = (per_record(brand.cpu_seconds), per_record(platform.cpu_seconds));
            SessionMeasure {
                kind,
                brand,
                platform,
                downloaded_bytes: downloaded,
                brand_bytes_sent: sent,
                brand_bytes_received: received,
                overlap_found: found,
                overlap_difference: found as i64 - overlap as i64,
                expected_false_matches: expected,
                cpu_us_per_brand_record: total,
                brand_cpu_us_per_brand_record: b,
                platform_cpu_us_per_brand_record: p,
                cpu_ratio: ratio_over(total, &session_floor.cpu_us_per_record),
                brand_cpu_ratio: ratio_over(b, &session_floor.brand_cpu_us_per_record),
                platform_cpu_ratio: ratio_over(p, &session_floor.platform_cpu_us_per_record),
            }
        })
        .collect();
    let cached: Vec<&SessionMeasure> = sessions.iter().filter(|s| s.kind == "cached").collect();
    let over_cached = |f: &dyn Fn(&SessionMeasure) -> f64, what| spread(cached.iter().map(|s| f(s)), what);
    let cached_summary = CachedSummary {
        sessions: cached.len(),
        brand_wall_seconds: over_cached(&|s| s.brand.wall_seconds, "cached brand wall")?,
        brand_cpu_seconds: over_cached(&|s| s.brand.cpu_seconds, "cached brand CPU")?,
        platform_wall_seconds: over_cached(&|s| s.platform.wall_seconds, "cached platform wall")?,
        platform_cpu_seconds: over_cached(&|s| s.platform.cpu_seconds, "cached platform CPU")?,
        total_cpu_seconds: over_cached(&|s| s.brand.cpu_seconds + s.platform.cpu_seconds, "cached CPU")?,
        cpu_ratio: over_cached(&|s| s.cpu_ratio.median, "cached CPU ratio")?,
    };

    let (counting, counting_extrapolated) = if args.no_counting {
        (None, None)
    } else {
        let counting_rows = args.counting_platform_rows.unwrap_or(platform_rows);
        let mut count_args = args.clone();
        count_args.index = false;
        let result = measure(&count_args, rows, counting_rows).await?;
        let extrapolated = (counting_rows != platform_rows).then(|| CountingExtrapolation {
            method: "linear in the records of both lists, from the counting run at counting.platform_rows",
            brand_rows: rows as u64,
            platform_rows: platform_rows as u64,
            wall_seconds: extrapolate_linear(
                result.wall_seconds,
                rows as u64,
                counting_rows as u64,
                platform_rows as u64,
            ),
            cpu_seconds: extrapolate_linear(
                result.cpu_seconds,
                rows as u64,
                counting_rows as u64,
                platform_rows as u64,
            ),
        });
        (Some(result), extrapolated)
    };

    let result = IndexBenchResult {
        mode: "index",
        run: Provenance::of_run(load_average_start),
        load_average_end: load_average(),
        child_cpu_clock:
            "cutime + cstime of /proc/self/stat across each child's wait (the kernel's account of reaped children)",
        brand_rows: rows as u64,
        platform_rows: platform_rows as u64,
        overlap_generated: overlap as u64,
        threads: rayon::current_num_threads(),
        batch_size: args.batch_size,
        build,
        build_floor,
        build_floor_samples: build_samples,
        session_floor,
        session_floor_samples: session_samples,
        sessions,
        cached: cached_summary,
        counting,
        counting_extrapolated,
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print!("{}", table(&result));
    }
    Ok(())
}

fn table(r: &IndexBenchResult) -> String {
    let mut out = format!(
        "venn bench (index): brand {} records, platform {} records, overlap {}; {} threads, batch {}\n",
        group(r.brand_rows),
        group(r.platform_rows),
        group(r.overlap_generated),
        r.threads,
        group(r.batch_size as u64)
    );
    let load = format!("load average {:.2} at start, {:.2} at end", r.run.load_average_start[0], r.load_average_end[0]);
    out += &format!("{}\n\n", r.run.describe(&load));
    let b = &r.build;
    let f = &r.build_floor;
    out += &format!(
        "index build: {} elements in {:.2} s wall, {:.2} s CPU: {} elements/s, {:.2} CPU µs/element\n",
        group(b.elements),
        b.wall_seconds,
        b.cpu_seconds,
        group(b.elements_per_second as u64),
        b.cpu_us_per_element
    );
    out += &format!(
        "  floor {:.2} CPU µs/element [{:.2}–{:.2}], {} elements/s; efficiency (floor CPU / build CPU) {:.3} \
         [{:.3}–{:.3}] (target ≥ 0.85); wall rate / floor {:.3}\n",
        f.cpu_us_per_record.median,
        f.cpu_us_per_record.min,
        f.cpu_us_per_record.max,
        group(f.records_per_second.median as u64),
        b.cpu_efficiency.median,
        b.cpu_efficiency.min,
        b.cpu_efficiency.max,
        b.wall_rate_ratio.median
    );
    out += &format!(
        "  index {} in parts + {} header: {:.3} bytes per element (target ≤ 5)\n\n",
        crate::report::bytes(b.part_bytes),
        crate::report::bytes(b.header_bytes),
        b.bytes_per_element
    );
    let sf = &r.session_floor;
    out += &format!(
        "session floor per brand record: {:.2} CPU µs [{:.2}–{:.2}] (brand {:.2}, platform {:.2})\n",
        sf.cpu_us_per_record.median,
        sf.cpu_us_per_record.min,
        sf.cpu_us_per_record.max,
        sf.brand_cpu_us_per_record.median,
        sf.platform_cpu_us_per_record.median
    );
    out += &format!(
        "{:<8} {:>10} {:>10} {:>10} {:>10} {:>12} {:>10} {:>10} {:>10} {:>9}\n",
        "session",
        "brand s",
        "brand CPU",
        "platf. s",
        "platf. CPU",
        "downloaded",
        "CPU µs/rec",
        "CPU ratio",
        "(b / p)",
        "overlap Δ"
    );
    for s in &r.sessions {
        out += &format!(
            "{:<8} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>12} {:>10.2} {:>10.3} {:>4.2}/{:<5.2} {:>9}\n",
            s.kind,
            s.brand.wall_seconds,
            s.brand.cpu_seconds,
            s.platform.wall_seconds,
            s.platform.cpu_seconds,
            crate::report::bytes(s.downloaded_bytes),
            s.cpu_us_per_brand_record,
            s.cpu_ratio.median,
            s.brand_cpu_ratio.median,
            s.platform_cpu_ratio.median,
            s.overlap_difference
        );
    }
    out += "(CPU ratio: session CPU per brand record over the floor's, target ≤ 1.3; overlap Δ: found − generated)\n\n";
    if let Some(c) = &r.counting {
        out += &format!(
            "counting mode, {} × {}: {:.2} s wall, {:.2} s CPU (CPU ratio {:.3} over its own floor)\n",
            group(c.rows_per_side),
            group(c.platform_rows),
            c.wall_seconds,
            c.cpu_seconds,
            c.cpu_ratio.unwrap_or(f64::NAN)
        );
    }
    if let Some(e) = &r.counting_extrapolated {
        out += &format!(
            "counting mode, {} × {}, EXTRAPOLATED linearly: {:.0} s wall, {:.0} s CPU\n",
            group(e.brand_rows),
            group(e.platform_rows),
            e.wall_seconds,
            e.cpu_seconds
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_fields_are_counted_after_the_last_parenthesis() {
        // A command name with a space and a parenthesis; utime 250, stime 50,
        // cutime 1200, cstime 34 ticks.
        let stat = "4242 (venn (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 1200 34 20 0 3 0 12345 0 0";
        let (own, children) = parse_stat_cpu(stat).unwrap();
        assert_eq!(own, Duration::from_millis(3_000));
        assert_eq!(children, Duration::from_millis(12_340));
    }

    #[test]
    fn a_short_or_garbled_stat_is_none() {
        assert_eq!(parse_stat_cpu("4242 (venn) S 1 2 3"), None);
        assert_eq!(parse_stat_cpu("no parenthesis here"), None);
        assert_eq!(parse_stat_cpu("1 (v) S 1 1 1 0 -1 0 0 0 0 0 x 50 1 1"), None);
    }

    #[test]
    fn this_process_reads_its_own_stat() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(parse_stat_cpu(&stat).is_some());
    }

    #[test]
    fn a_reaped_child_s_cpu_time_is_counted_once_it_is_waited_for() {
        // A child that burns about 0.2 s of CPU.
        let mut child =
            Command::new("sh").args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]).spawn().unwrap();
        let before = children_cpu_time();
        child.wait().unwrap();
        assert!(children_cpu_time() > before, "the shell's loop took at least one tick");
    }

    #[test]
    fn ratios_over_a_floor_keep_min_below_max() {
        // 120 µs per record against floor samples of 90, 100 and 120 µs.
        let floor = Spread { min: 90.0, median: 100.0, max: 120.0 };
        let r = ratio_over(120.0, &floor);
        assert_eq!(r.min, 1.0);
        assert!((r.median - 1.2).abs() < 1e-12);
        assert!((r.max - 120.0 / 90.0).abs() < 1e-12);
        let e = efficiency(120.0, &floor);
        assert!((e.min - 0.75).abs() < 1e-12);
        assert!((e.median - 100.0 / 120.0).abs() < 1e-12);
        assert_eq!(e.max, 1.0);
        for (x, y) in [(r.min, e.max), (r.median, e.median), (r.max, e.min)] {
            assert!((x * y - 1.0).abs() < 1e-12, "efficiency is the inverse ratio");
        }
    }

    #[test]
    fn counting_extrapolates_in_the_records_of_both_lists() {
        // 1M × 1M took 150 s: 1M × 10M is 11M records against 2M.
        assert!((extrapolate_linear(150.0, 1_000_000, 1_000_000, 10_000_000) - 825.0).abs() < 1e-9);
        assert_eq!(extrapolate_linear(7.0, 5, 5, 5), 7.0);
    }

    #[test]
    fn session_floor_sides_add_up() {
        let step = |cpu| StepSample { when: "before", records: 1_000, wall_seconds: 0.1, cpu_seconds: cpu };
        let s = SessionFloorSample {
            when: "before",
            records: 1_000,
            blind: step(0.040),
            evaluate: step(0.030),
            unblind: step(0.035),
        };
        assert!((s.brand_cpu_us() - 75.0).abs() < 1e-9);
        assert!((s.platform_cpu_us() - 30.0).abs() < 1e-9);
        assert!((s.total_cpu_us() - 105.0).abs() < 1e-9);
        assert!((s.wall_seconds() - 0.3).abs() < 1e-12);
    }

    #[test]
    fn the_listening_line_gives_the_address() {
        let line =
            "venn: listening on 127.0.0.1:40312 as ab12 (short ab12-…); serving index epoch 1 (3,000 elements) to cd34";
        assert_eq!(listening_addr(line), Some("127.0.0.1:40312".parse().unwrap()));
        assert_eq!(listening_addr("venn: reading users.csv"), None);
    }

    #[test]
    fn the_overlap_is_a_fraction_of_the_brand_within_both_lists() {
        use crate::bench::overlap_of;
        assert_eq!(overlap_of(100_000, 1_000_000, 0.25), 25_000);
        assert_eq!(overlap_of(100_000, 10_000, 0.25), 10_000);
        assert_eq!(overlap_of(3, 3, 1.0), 3);
    }
}
