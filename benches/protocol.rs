//! Per-record cost of Venn's protocol work outside the curve: sorting tag
//! lists, counting the overlap of two sorted lists, and the wire codec.
//!
//! Every bench reports elements per second; see `benches/curve.rs` for the
//! curve work and `docs/benches.md` for measured numbers.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput};
use rand::{rngs::StdRng, Rng, SeedableRng};
use venn::crypto::Tag;
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

// ---------------------------------------------------------------------------
// Reserved: label encryption, re-randomization and baby-step giant-step
// decryption benches (per record, `Throughput::Elements`) go here, each as
// its own function added to `criterion_group!` below.
// ---------------------------------------------------------------------------

/// Every bench of this file. Written out rather than with `criterion_group!`,
/// whose generated function has no doc comment for the workspace's
/// `missing_docs` lint.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    tag_sort(&mut c);
    intersection(&mut c);
    codec_points(&mut c);
}

criterion_main!(benches);
