//! Index filter benchmarks: build rate (keys per second, through a part
//! file on disk), lookup time over the memory-mapped index (members and
//! non-members, random order), and bytes per element, for 1M and 10M keys.
//!
//! `cargo bench -p venn-index --bench filter`

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use venn_index::{publish, HeaderFields, Index, PartBuilder};

const SIZES: [usize; 2] = [1_000_000, 10_000_000];

fn keys(n: usize, seed: u64) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen()).collect()
}

fn fields() -> HeaderFields {
    HeaderFields {
        epoch_id: 1,
        epoch_label: "bench".into(),
        expires_at: u64::MAX,
        epoch_key: [0; 32],
        platform_fingerprint: [0; 32],
    }
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("index_build");
    g.sample_size(10);
    for n in SIZES {
        let ks = keys(n, 1);
        let dir = tempfile::tempdir().expect("tempdir");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &ks, |b, ks| {
            b.iter(|| {
                let mut pb = PartBuilder::with_capacity(0, 1, ks.len()).expect("shard");
                pb.extend(ks.iter().copied());
                black_box(pb.write(dir.path()).expect("write"))
            })
        });
    }
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("index_lookup");
    for n in SIZES {
        let ks = keys(n, 2);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut pb = PartBuilder::with_capacity(0, 1, n).expect("shard");
        pb.extend(ks.iter().copied());
        let entry = pb.write(dir.path()).expect("write").entry;
        publish(dir.path(), fields(), vec![entry]).expect("publish");
        let index = Index::open(dir.path()).expect("open");
        eprintln!(
            "index of {n} keys: {} bytes, {:.3} bytes ({:.2} bits) per element",
            index.byte_len(),
            index.bytes_per_element(),
            index.bytes_per_element() * 8.0
        );
        // Half members, half random non-members, in random order.
        let mut rng = StdRng::seed_from_u64(3);
        let probes: Vec<u64> =
            (0..1 << 20).map(|_| if rng.gen() { ks[rng.gen_range(0..n)] } else { rng.gen() }).collect();
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(n), &probes, |b, probes| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) & (probes.len() - 1);
                black_box(index.contains(probes[i]))
            })
        });
    }
    g.finish();
}

/// Every bench of this file. Written out rather than with `criterion_group!`,
/// whose generated function has no doc comment for the workspace's
/// `missing_docs` lint.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    build(&mut c);
    lookup(&mut c);
}

criterion_main!(benches);
