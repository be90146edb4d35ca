//! Per-record cost of Venn's protocol work outside the blinding curve work:
//! sorting tag lists, counting the overlap of two sorted lists, the wire
//! codec, and the label operations of a segment match (exponential ElGamal:
//! encryption, re-randomization, decryption of the aggregator's own label,
//! accumulation, and the receiver's baby-step giant-step decryption).
//!
//! Every bench reports elements per second; see `benches/curve.rs` for the
//! curve work and `docs/benches.md` for measured numbers. The batched label
//! benches run on rayon's pool and name its thread count, like the curve
//! benches.

use std::hint::black_box;
use std::time::Duration;

mod support;

use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use rand::{rngs::StdRng, Rng, SeedableRng};
use venn::crypto::{decrypt_accumulators, encrypt_one_hot, Accumulator, DiscreteLog, LabelKeys, PointBytes, Tag};
use venn::protocol::{
    codec,
    count::{sort_tags, sorted_intersection_size},
    Message, DEFAULT_BATCH_SIZE,
};

/// Tags per list in the sort and intersection benches.
const TAGS: usize = 1_000_000;

/// Seed of every random input, so that runs measure the same data.
const SEED: u64 = 0x7665_6e6e; // "venn"

/// `n` uniformly random tags, as doubly-blinded points give.
fn random_tags(rng: &mut StdRng, n: usize) -> Vec<Tag> {
    (0..n).map(|_| Tag(rng.gen())).collect()
}

/// Settings for the benches over a million tags (tens of milliseconds per
/// iteration): ten samples in three seconds.
fn large(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

/// `sort_tags` (bucket pass on the top 16 bits, then comparison sorts)
/// against the standard library's unstable sort, on a fresh unsorted copy
/// each iteration (the copy is not timed).
fn tag_sort(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let tags = random_tags(&mut rng, TAGS);
    let mut g = c.benchmark_group("protocol/tag_sort");
    large(&mut g);
    g.throughput(Throughput::Elements(TAGS as u64));
    g.bench_function(BenchmarkId::new("sort_tags", TAGS), |b| {
        b.iter_batched_ref(|| tags.clone(), |t| sort_tags(black_box(t)), BatchSize::LargeInput)
    });
    g.bench_function(BenchmarkId::new("sort_unstable", TAGS), |b| {
        b.iter_batched_ref(|| tags.clone(), |t| black_box(t).sort_unstable(), BatchSize::LargeInput)
    });
    g.finish();
}

/// The merge count over two sorted lists of a million tags each that share
/// half their tags. Throughput counts the records of both lists.
fn intersection(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    // 1.5 million distinct tags (a collision among random 128-bit values is
    // out of reach): the middle third is common to both lists.
    let all = random_tags(&mut rng, TAGS + TAGS / 2);
    let mut a = all[..TAGS].to_vec();
    let mut b = all[TAGS / 2..].to_vec();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(sorted_intersection_size(&a, &b), (TAGS / 2) as u64);

    let mut g = c.benchmark_group("protocol/sorted_intersection_size");
    large(&mut g);
    g.throughput(Throughput::Elements(2 * TAGS as u64));
    g.bench_function(format!("{TAGS}+{TAGS}/overlap=50%"), |bench| {
        bench.iter(|| sorted_intersection_size(black_box(&a), black_box(&b)))
    });
    g.finish();
}

/// Encoding and decoding a full batch of blinded points as the session sends
/// it. Point bytes are random: the codec never looks inside them.
fn codec_points(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let message = Message::Points((0..DEFAULT_BATCH_SIZE).map(|_| rng.gen()).collect());
    let bytes = codec::encode(&message);
    assert_eq!(codec::decode(&bytes).as_ref(), Ok(&message));

    // About a millisecond per iteration: twenty samples in three seconds.
    let mut g = c.benchmark_group("protocol/codec_points");
    g.throughput(Throughput::Elements(DEFAULT_BATCH_SIZE as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function(BenchmarkId::new("encode", DEFAULT_BATCH_SIZE), |b| b.iter(|| codec::encode(black_box(&message))));
    g.bench_function(BenchmarkId::new("decode", DEFAULT_BATCH_SIZE), |b| {
        b.iter(|| codec::decode(black_box(&bytes)).expect("valid frame"))
    });
    g.bench_function(BenchmarkId::new("encode_decode", DEFAULT_BATCH_SIZE), |b| {
        b.iter(|| codec::decode(&codec::encode(black_box(&message))).expect("valid frame"))
    });
    g.finish();
}

/// Receiver labels in the label benches, as in `venn bench --segments 4`:
/// three loyalty tiers and `other`.
const RECEIVER_LABELS: usize = 4;

/// Aggregator labels, as in `venn bench --segments 4`: three campaigns and
/// `other`. The aggregator encrypts under one key, whatever its label count.
const AGGREGATOR_LABELS: usize = 4;

/// Records per batched label bench: 16 of the chunks `encrypt_one_hot`
/// hands to rayon (`BATCH_CHUNK / 4` records each), so every core gets work.
const LABEL_RECORDS: usize = 2_048;

/// Largest count the receiver's discrete log covers in the bench: a match
/// of a million per side (the session's bound is the smaller set's size,
/// plus a noise margin with ε).
const DLOG_BOUND: u64 = 1_000_000;

/// `n` random labels below `labels`.
fn random_labels(rng: &mut StdRng, n: usize, labels: usize) -> Vec<u16> {
    (0..n).map(|_| rng.gen_range(0..labels as u16)).collect()
}

/// The per-record label work of a segment match, batched as the session
/// does it: the receiver's one-hot encryption (`L + 1` fixed-base
/// multiplications), the aggregator's encryption of its label index (two),
/// and the receiver's re-randomization of those (two fixed-base
/// multiplications, two decompressions, two single compressions).
fn label_batches(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let receiver = LabelKeys::random(RECEIVER_LABELS);
    let r_labels = random_labels(&mut rng, LABEL_RECORDS, RECEIVER_LABELS);

    let mut g = c.benchmark_group("protocol/labels");
    large(&mut g);
    g.throughput(Throughput::Elements(LABEL_RECORDS as u64));
    g.bench_function(format!("encrypt_one_hot/L={RECEIVER_LABELS}/{}", support::batch_id(LABEL_RECORDS)), |b| {
        b.iter(|| encrypt_one_hot(receiver.public(), black_box(&r_labels)).expect("labels in range"))
    });
    g.finish();
}

/// The aggregator's work per receiver record (matched or not, the same),
/// on one core: adding the receiver's `L + 1` points to an accumulator
/// (`L + 1` decompressions and additions).
fn label_per_match(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let receiver = LabelKeys::random(RECEIVER_LABELS);
    let one_hot =
        encrypt_one_hot(receiver.public(), &random_labels(&mut rng, 1, RECEIVER_LABELS)).expect("label in range");

    let mut g = c.benchmark_group("protocol/labels");
    g.throughput(Throughput::Elements(1))
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut accumulator = Accumulator::new(RECEIVER_LABELS + 1);
    g.bench_function(format!("accumulator_add/L={RECEIVER_LABELS}"), |b| {
        b.iter(|| accumulator.add(black_box(&one_hot)).expect("valid ciphertext"))
    });
    g.finish();
}

/// Once per session: the aggregator closes its `AGGREGATOR_LABELS`
/// accumulators (an encryption of zero and the noise each), and the receiver
/// builds its baby-step table and decrypts every cell of the cross-tab.
/// Elements are cells (`RECEIVER_LABELS × AGGREGATOR_LABELS`).
fn label_per_session(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let receiver = LabelKeys::random(RECEIVER_LABELS);
    let cells = RECEIVER_LABELS * AGGREGATOR_LABELS;
    // Cell counts of a million-record overlap split over 16 cells, put
    // under encryption as the "noise" of empty accumulators: the receiver
    // sees exactly what a real session's accumulators would decrypt to.
    let counts: Vec<Vec<i64>> = (0..AGGREGATOR_LABELS)
        .map(|_| (0..RECEIVER_LABELS).map(|_| rng.gen_range(0..(DLOG_BOUND / cells as u64) as i64)).collect())
        .collect();
    let wire: Vec<PointBytes> = counts
        .iter()
        .flat_map(|column| Accumulator::new(RECEIVER_LABELS + 1).finish(receiver.public(), column))
        .collect();
    let dlog = DiscreteLog::new(DLOG_BOUND);
    let decrypted = decrypt_accumulators(&receiver, &wire, AGGREGATOR_LABELS, &dlog).expect("in range");
    for (a, column) in counts.iter().enumerate() {
        for (r, &count) in column.iter().enumerate() {
            assert_eq!(decrypted[r][a], count);
        }
    }

    let mut g = c.benchmark_group("protocol/labels");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("accumulator_finish/L={RECEIVER_LABELS}"), |b| {
        b.iter_batched(
            || Accumulator::new(RECEIVER_LABELS + 1),
            |acc| acc.finish(receiver.public(), black_box(&counts[0])),
            BatchSize::SmallInput,
        )
    });
    g.bench_function(format!("discrete_log_table/bound={DLOG_BOUND}"), |b| {
        b.iter(|| DiscreteLog::new(black_box(DLOG_BOUND)))
    });
    g.throughput(Throughput::Elements(cells as u64));
    g.bench_function(
        format!(
            "decrypt_accumulators/{RECEIVER_LABELS}x{AGGREGATOR_LABELS}/bound={DLOG_BOUND}/{}",
            support::batch_id(cells)
        ),
        |b| b.iter(|| decrypt_accumulators(&receiver, black_box(&wire), AGGREGATOR_LABELS, &dlog).expect("in range")),
    );
    g.finish();
}

/// Every bench of this file. Written out rather than with `criterion_group!`,
/// whose generated function has no doc comment for the workspace's
/// `missing_docs` lint.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    tag_sort(&mut c);
    intersection(&mut c);
    codec_points(&mut c);
    label_batches(&mut c);
    label_per_match(&mut c);
    label_per_session(&mut c);
}

criterion_main!(benches);
