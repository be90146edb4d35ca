//! Cost per record of the receiver's one-hot ciphertexts with and without
//! their proofs, and of the aggregator's batch verification, at `L = 4`, on
//! one core (a 1-thread rayon pool), beside one variable-base scalar
//! multiplication per element for scale (same group, same units, so a
//! loaded machine skews all four alike).
//!
//! `cargo bench -p venn-crypto --bench one_hot_proof`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use curve25519_dalek::{constants::RISTRETTO_BASEPOINT_POINT as G, scalar::Scalar};
use rand_core::OsRng;
use venn_crypto::{encrypt_one_hot, encrypt_one_hot_proven, verify_one_hot_batch, LabelKeys};

const LABELS: usize = 4;
const RECORDS: usize = 4096;
const CONTEXT: &[u8] = b"bench session";

fn one_hot_proof(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a rayon pool");
    let owner = LabelKeys::random(LABELS);
    let keys = owner.public();
    let labels: Vec<u16> = (0..RECORDS).map(|i| (i * 7 % LABELS) as u16).collect();
    let (cts, proofs) = encrypt_one_hot_proven(keys, &labels, CONTEXT).expect("labels in range");

    let mut group = c.benchmark_group("one_hot_L4_per_record");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("encrypt_one_hot", |b| {
        b.iter(|| pool.install(|| encrypt_one_hot(keys, &labels).expect("in range")))
    });
    group.bench_function("encrypt_one_hot_proven", |b| {
        b.iter(|| pool.install(|| encrypt_one_hot_proven(keys, &labels, CONTEXT).expect("in range")))
    });
    group.bench_function("encrypt_one_hot_proven_by_owner", |b| {
        b.iter(|| pool.install(|| owner.encrypt_one_hot_proven(&labels, CONTEXT).expect("in range")))
    });
    group.bench_function("verify_one_hot_batch", |b| {
        b.iter(|| pool.install(|| verify_one_hot_batch(keys, &cts, &proofs, CONTEXT).expect("honest proofs")))
    });
    // For scale, in the same group and units: one constant-time
    // variable-base multiplication per element.
    let point = Scalar::random(&mut OsRng) * G;
    let scalars: Vec<Scalar> = (0..RECORDS).map(|_| Scalar::random(&mut OsRng)).collect();
    group.bench_function("variable_base_scalar_mul", |b| {
        b.iter(|| scalars.iter().map(|s| s * point).fold(point, |acc, p| acc + p))
    });
    group.finish();
}

criterion_group!(benches, one_hot_proof);
criterion_main!(benches);
