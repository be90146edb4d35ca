//! Per-record cost of Venn's curve work.
//!
//! Every record of either list costs one hash-to-group, two variable-base
//! scalar multiplications (blinded by its owner, re-blinded by the peer), one
//! decompression (by the peer) and two batched compressions (after each
//! multiplication). The single-operation benches below measure those terms one
//! by one on one core; `curve/floor` runs the real batched pipeline of both
//! parties, on the rayon pool, for 8,192 records. Every bench reports
//! elements per second, so criterion's "thrpt" line reads as records (or
//! operations) per second. `docs/benches.md` has measured numbers.
//!
//! The rayon benches name their thread count. It follows rayon's own default
//! (`RAYON_NUM_THREADS` when set and non-zero, the number of CPUs otherwise),
//! so a single-thread run is
//! `RAYON_NUM_THREADS=1 cargo bench --bench curve -- 'curve/(blind_batch|reblind_to_tags|floor)'`.

use std::hint::black_box;
use std::time::Duration;

mod support;

use criterion::{criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use curve25519_dalek::{ristretto::RistrettoPoint, scalar::Scalar};
use rand::{rngs::StdRng, Rng, SeedableRng};
use venn::crypto::{blind_batch, hash_to_group, reblind_to_tags, BlindingKey, DomainTag, PointBytes, BATCH_CHUNK};

/// Records per batch in the batched benches: the protocol's default batch
/// size (`venn::protocol::DEFAULT_BATCH_SIZE`).
const BATCH: usize = 8_192;

/// Seed of every random input, so that runs measure the same data.
const SEED: u64 = 0x7665_6e6e; // "venn"

/// A domain tag of the length a session uses: the 44-byte suite label and a
/// 32-byte session id (see `hash_domain` in `venn-protocol`). Its length sets
/// how many SHA-512 blocks `expand_message_xmd` hashes.
fn session_dst() -> DomainTag {
    let mut dst = b"VENN-V1-ristretto255_XMD:SHA-512_R255MAP_RO_".to_vec();
    dst.extend_from_slice(&[0x5a; 32]);
    DomainTag::new(&dst).expect("76-byte tag is valid")
}

/// `n` random 32-byte messages: the size of a `venn-ids` digest.
fn messages(rng: &mut StdRng, n: usize) -> Vec<[u8; 32]> {
    (0..n).map(|_| rng.gen()).collect()
}

/// `n` random points.
fn points(rng: &mut StdRng, n: usize) -> Vec<RistrettoPoint> {
    (0..n).map(|_| RistrettoPoint::random(rng)).collect()
}

/// The single operations, each on one core, one element per iteration.
fn single_ops(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let dst = session_dst();
    let message: [u8; 32] = rng.gen();
    let point = RistrettoPoint::random(&mut rng);
    let scalar = Scalar::random(&mut rng);
    let encoding = point.compress();

    let mut g = c.benchmark_group("curve");
    g.throughput(Throughput::Elements(1));
    // RFC 9380 hash_to_ristretto255: expand_message_xmd (SHA-512) and two
    // Elligator maps.
    g.bench_function("hash_to_group", |b| b.iter(|| hash_to_group(black_box(&message), &dst)));
    // The constant-time variable-base multiplication that blinding uses.
    g.bench_function("scalar_mul", |b| b.iter(|| black_box(&point) * black_box(&scalar)));
    // Decoding and validating one received encoding.
    g.bench_function("decompress", |b| b.iter(|| black_box(&encoding).decompress()));
    // One compression with its own field inversion: what batching avoids.
    g.bench_function("compress", |b| b.iter(|| black_box(&point).compress()));
    g.finish();
}

/// One batched compression of a chunk: the cost per point of sharing one
/// inversion across [`BATCH_CHUNK`] points, against `curve/compress`.
fn batched_compression(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let chunk = points(&mut rng, BATCH_CHUNK);
    let mut g = c.benchmark_group("curve/double_and_compress_batch");
    g.throughput(Throughput::Elements(BATCH_CHUNK as u64));
    g.bench_function(BenchmarkId::from_parameter(BATCH_CHUNK), |b| {
        b.iter(|| RistrettoPoint::double_and_compress_batch(black_box(&chunk)))
    });
    g.finish();
}

/// The batched operations of `venn-crypto` on the rayon pool, and the floor:
/// both parties' work for one batch of records.
fn batched_ops(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(SEED);
    let dst = session_dst();
    let (a, b) = (BlindingKey::random(), BlindingKey::random());
    let inputs = messages(&mut rng, BATCH);
    let encodings: Vec<PointBytes> = points(&mut rng, BATCH).iter().map(|p| p.compress().to_bytes()).collect();

    // A batch takes about half a second on two cores (the floor about one):
    // a flat sampling of ten samples, one iteration each on such a machine,
    // with the measurement time sized to that so criterion does not warn.
    let configure = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>, seconds| {
        g.throughput(Throughput::Elements(BATCH as u64))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(seconds));
    };

    // Owner side: hash, multiply by a/2, batched double-and-compress.
    let mut g = c.benchmark_group("curve/blind_batch");
    configure(&mut g, 5);
    g.bench_function(support::batch_id(BATCH), |bench| bench.iter(|| blind_batch(&a, &dst, black_box(&inputs))));
    g.finish();

    // Peer side: decompress and validate, multiply by b/2, batched
    // double-and-compress, truncate.
    let mut g = c.benchmark_group("curve/reblind_to_tags");
    configure(&mut g, 5);
    g.bench_function(support::batch_id(BATCH), |bench| {
        bench.iter(|| reblind_to_tags(&b, black_box(&encodings)).expect("valid encodings"))
    });
    g.finish();

    // Both: the whole curve cost of a batch of one list's records, so the
    // time per element is the floor cost of one record.
    let mut g = c.benchmark_group("curve/floor");
    configure(&mut g, 10);
    g.bench_function(support::batch_id(BATCH), |bench| {
        bench.iter(|| {
            let sent = blind_batch(&a, &dst, black_box(&inputs));
            reblind_to_tags(&b, &sent).expect("own encodings are valid")
        })
    });
    g.finish();
}

/// Every bench of this file. Written out rather than with `criterion_group!`,
/// whose generated function has no doc comment for the workspace's
/// `missing_docs` lint.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    single_ops(&mut c);
    batched_compression(&mut c);
    batched_ops(&mut c);
}

criterion_main!(benches);
