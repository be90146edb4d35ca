//! Cost per element of index mode's OPRF on one core (a 1-thread rayon
//! pool): the platform's offline index tags, its per-session evaluation, the
//! brand's blinding and unblinding, with and without the session sums, beside
//! one constant-time variable-base multiplication per element for scale (same
//! group, same units, so a loaded machine skews all alike); and the sum
//! proof's prove and verify, per session (independent of its size).
//!
//! `cargo bench -p venn-crypto --bench oprf`

#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use curve25519_dalek::{constants::RISTRETTO_BASEPOINT_POINT as G, scalar::Scalar};
use rand_core::OsRng;
use venn_crypto::{
    blind_batch, blind_batch_summed, epoch_tags, evaluate_batch, evaluate_batch_summed, prove_sum,
    unblind_to_filter_keys, unblind_to_filter_keys_summed, verify_sum, BlindingKey, DomainTag, EpochKey,
    SumAccumulator,
};

const ELEMENTS: usize = 4096;
const CONTEXT: &[u8] = b"bench session";

fn oprf(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a rayon pool");
    let dst = DomainTag::new(b"venn/v1/index/epoch-bench").expect("a valid DST");
    let k = EpochKey::random();
    let r = BlindingKey::random();
    let ids: Vec<Vec<u8>> = (0..ELEMENTS).map(|i| format!("user-{i}@example.com").into_bytes()).collect();
    let mut brand = SumAccumulator::new();
    let mut platform = SumAccumulator::new();
    let blinded = blind_batch_summed(&r, &dst, &ids, &mut brand);
    let outputs = evaluate_batch_summed(&k, &blinded, &mut platform).expect("valid points");
    unblind_to_filter_keys_summed(&r, &outputs, &mut brand).expect("valid points");

    let mut group = c.benchmark_group("oprf_per_element");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    group.throughput(Throughput::Elements(ELEMENTS as u64));
    group.bench_function("epoch_tags", |b| b.iter(|| pool.install(|| epoch_tags(&k, &dst, &ids))));
    group.bench_function("blind_batch", |b| b.iter(|| pool.install(|| blind_batch(&r, &dst, &ids))));
    group.bench_function("blind_batch_summed", |b| {
        b.iter(|| pool.install(|| blind_batch_summed(&r, &dst, &ids, &mut SumAccumulator::new())))
    });
    group.bench_function("evaluate_batch", |b| b.iter(|| pool.install(|| evaluate_batch(&k, &blinded))));
    group.bench_function("evaluate_batch_summed", |b| {
        b.iter(|| pool.install(|| evaluate_batch_summed(&k, &blinded, &mut SumAccumulator::new())))
    });
    group
        .bench_function("unblind_to_filter_keys", |b| b.iter(|| pool.install(|| unblind_to_filter_keys(&r, &outputs))));
    group.bench_function("unblind_to_filter_keys_summed", |b| {
        b.iter(|| pool.install(|| unblind_to_filter_keys_summed(&r, &outputs, &mut SumAccumulator::new())))
    });
    // For scale, in the same group and units: one constant-time
    // variable-base multiplication per element.
    let point = Scalar::random(&mut OsRng) * G;
    let scalars: Vec<Scalar> = (0..ELEMENTS).map(|_| Scalar::random(&mut OsRng)).collect();
    group.bench_function("variable_base_scalar_mul", |b| {
        b.iter(|| scalars.iter().map(|s| s * point).fold(point, |acc, p| acc + p))
    });
    group.finish();

    let mut group = c.benchmark_group("oprf_sum_proof_per_session");
    group.sample_size(50).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let proof = prove_sum(&k, &platform, CONTEXT);
    verify_sum(k.public_key(), &brand, &proof, CONTEXT).expect("an honest proof");
    group.bench_function("prove_sum", |b| b.iter(|| prove_sum(&k, &platform, CONTEXT)));
    group.bench_function("verify_sum", |b| b.iter(|| verify_sum(k.public_key(), &brand, &proof, CONTEXT)));
    group.finish();
}

criterion_group!(benches, oprf);
criterion_main!(benches);
