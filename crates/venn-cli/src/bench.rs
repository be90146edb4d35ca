//! `venn bench`: end-to-end throughput against the curve-arithmetic floor,
//! measured in one process, in one run.
//!
//! The floor is what the curve work alone costs per record (hash to group,
//! blind, decompress, re-blind, batched compressions) on the same rayon pool
//! the sessions use. The end-to-end figure is both lists' records over the
//! wall time of a real match: reading and normalizing CSV files, QUIC on
//! loopback with TLS, both parties in this process. Their ratio is the
//! number to steer by: absolute speeds drift on shared machines, the ratio
//! much less. The floor is measured before and after the match and averaged.

use std::{
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
    report::group,
    sysinfo::{cpu_time, peak_rss},
};

/// Records blinded and re-blinded to measure the floor.
const FLOOR_SAMPLE: usize = 65_536;

/// Everything `venn bench` measured.
#[derive(Debug, Serialize)]
pub struct BenchResult {
    /// Records in each list.
    pub rows_per_side: u64,
    /// Records in both.
    pub overlap: u64,
    /// Threads of the curve-work pool.
    pub threads: usize,
    /// Points per message.
    pub batch_size: usize,
    /// Curve-only records per second (mean of before and after).
    pub floor_records_per_second: f64,
    /// The two floor measurements.
    pub floor_samples: [f64; 2],
    /// Records of both lists per second of the whole match.
    pub end_to_end_records_per_second: f64,
    /// End-to-end over floor.
    pub ratio: f64,
    /// Wall and CPU seconds per phase.
    pub phases: Vec<Phase>,
    /// Peak resident memory of the process (both parties), bytes.
    pub peak_rss_bytes: u64,
    /// The memory target for both parties: 2 × (100 B × (own + peer) + 64 MiB).
    pub memory_budget_bytes: u64,
    /// UDP bytes over both directions per record of either list.
    pub wire_bytes_per_record: f64,
    /// Protocol payload bytes per record.
    pub payload_bytes_per_record: f64,
    /// Overlap found, checked against the generator.
    pub overlap_found: u64,
    /// Receiver labels in a segment match; `None` for a count.
    pub segments: Option<u16>,
    /// Whether the aggregator's labels travelled in the clear.
    pub reveal_segment_sizes: bool,
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

/// The floor: blind with one key, re-blind with another, per record.
fn measure_floor(records: usize) -> f64 {
    let (a, b) = (BlindingKey::random(), BlindingKey::random());
    let dst = DomainTag::new(b"venn-bench-floor").unwrap_or_else(|_| unreachable!("valid tag"));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let elements: Vec<[u8; 32]> = (0..records)
        .map(|_| {
            std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
        })
        .collect();
    let start = Instant::now();
    for chunk in elements.chunks(venn_protocol::DEFAULT_BATCH_SIZE) {
        let points = blind_batch(&a, &dst, chunk);
        let tags = reblind_to_tags(&b, &points);
        std::hint::black_box(tags.map(|t| t.len()).unwrap_or(0));
    }
    records as f64 / start.elapsed().as_secs_f64()
}

/// Runs the benchmark and prints its table (or JSON).
pub async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!((0.0..=1.0).contains(&args.overlap), "--overlap must be a fraction between 0 and 1");
    let rows = args.rows;
    let overlap = (rows as f64 * args.overlap).round() as usize;
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let (brand_csv, platform_csv) = (dir.path().join("brand.csv"), dir.path().join("platform.csv"));
    // A child process writes the inputs, so its memory does not count here.
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["gen", "--rows-a", &rows.to_string(), "--rows-b", &rows.to_string()])
        .args(["--overlap", &overlap.to_string(), "--seed", &args.seed.to_string()])
        .arg("--out-a")
        .arg(&brand_csv)
        .arg("--out-b")
        .arg(&platform_csv)
        .args(["--format-b", "sha256"])
        .stdout(std::process::Stdio::null())
        .status()
        .context("cannot run `venn gen`")?;
    anyhow::ensure!(status.success(), "`venn gen` failed");

    let floor_before = tokio::task::spawn_blocking(|| measure_floor(FLOOR_SAMPLE)).await?;

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
    let params = SessionParams { policy, batch_size: args.batch_size, net };
    let server = Server::bind("127.0.0.1:0".parse()?, platform_id, PeerPins::new([brand_fp]), net)?;
    let addr = server.local_addr()?;
    let milestones = Arc::new(Mutex::new(Milestones::default()));

    let (start, cpu_start) = (Instant::now(), cpu_time());
    let platform_spec = InputSpec::new(&platform_csv, "email_sha256", IdType::EmailSha256);
    let m = milestones.clone();
    let platform = tokio::spawn(async move {
        let accept = || async move { Ok(server.accept().await?) };
        match_with("platform", platform_fp, platform_spec, params, platform_plan, true, accept, move |e| {
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
    let (wall, cpu) = (start.elapsed(), cpu_time() - cpu_start);
    let peak = peak_rss();

    let floor_after = tokio::task::spawn_blocking(|| measure_floor(FLOOR_SAMPLE)).await?;
    anyhow::ensure!(platform.overlap == overlap as u64, "found {} but generated {overlap}", platform.overlap);

    let records = 2 * rows as u64;
    let floor = (floor_before + floor_after) / 2.0;
    let end_to_end = records as f64 / wall.as_secs_f64();
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
    let result = BenchResult {
        rows_per_side: rows as u64,
        overlap: overlap as u64,
        threads: rayon::current_num_threads(),
        batch_size: args.batch_size,
        floor_records_per_second: floor,
        floor_samples: [floor_before, floor_after],
        end_to_end_records_per_second: end_to_end,
        ratio: end_to_end / floor,
        phases,
        peak_rss_bytes: peak,
        memory_budget_bytes: 2 * (100 * records + 64 * 1024 * 1024),
        wire_bytes_per_record: (brand.bytes.sent + platform.bytes.sent) as f64 / records as f64,
        payload_bytes_per_record: (brand.bytes.payload_sent + platform.bytes.payload_sent) as f64 / records as f64,
        overlap_found: platform.overlap,
        segments: args.segments,
        reveal_segment_sizes: args.reveal_segment_sizes,
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    } else {
        print!("{}", table(&result, wall, cpu));
    }
    Ok(())
}

fn table(r: &BenchResult, wall: Duration, cpu: Duration) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mode = match r.segments {
        None => "count".to_owned(),
        Some(l) => format!(
            "segments, {l} × 4 labels{}",
            if r.reveal_segment_sizes { ", aggregator labels in the clear" } else { ", labels encrypted" }
        ),
    };
    let mut out = format!(
        "venn bench ({mode}): {} records per side, overlap {} ({}), {} threads, batch {}\n\n",
        group(r.rows_per_side),
        group(r.overlap),
        format_args!("{:.0}%", 100.0 * r.overlap as f64 / r.rows_per_side.max(1) as f64),
        r.threads,
        group(r.batch_size as u64)
    );
    out += &format!("{:<34} {:>12} {:>12}\n", "", "records/s", "µs/record");
    out += &format!(
        "{:<34} {:>12.0} {:>12.2}   (before {:.0}, after {:.0})\n",
        "floor (curve work only)",
        r.floor_records_per_second,
        1e6 / r.floor_records_per_second,
        r.floor_samples[0],
        r.floor_samples[1]
    );
    out += &format!(
        "{:<34} {:>12.0} {:>12.2}\n",
        "end to end (both lists / wall)",
        r.end_to_end_records_per_second,
        1e6 / r.end_to_end_records_per_second
    );
    out += &format!("{:<34} {:>12.3}\n\n", "ratio end to end / floor", r.ratio);
    out += &format!("{:<34} {:>12} {:>12}\n", "phase", "wall s", "CPU s");
    for p in &r.phases {
        out += &format!("{:<34} {:>12.2} {:>12.2}\n", p.name, p.wall_seconds, p.cpu_seconds);
    }
    out += &format!("{:<34} {:>12.2} {:>12.2}\n\n", "total", wall.as_secs_f64(), cpu.as_secs_f64());
    out += &format!(
        "{:<34} {:>9.1} MiB   (target for two parties {:.1} MiB)\n",
        "peak memory, both parties",
        mib(r.peak_rss_bytes),
        mib(r.memory_budget_bytes)
    );
    out += &format!(
        "{:<34} {:>12.1}   (payload {:.1}; target 50)\n",
        "wire bytes per record", r.wire_bytes_per_record, r.payload_bytes_per_record
    );
    out += &format!("{:<34} {:>12}   (matches the generator)\n", "overlap found", group(r.overlap_found));
    out
}
