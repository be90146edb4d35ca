//! Index mode's oblivious PRF: the platform's index tags, its evaluation of
//! the brand's blinded points, the brand's unblinding, and the sums that
//! the session's proof is about.
//!
//! The PRF of an epoch is `F_k(x) = filter_key(k·H_e(x))`, with `H_e` the
//! RFC 9380 hash to ristretto255 under a DST that carries the epoch id, and
//! [`filter_key`] a 64-bit hash of the compressed point. The platform puts
//! `F_k(p)` of every identifier it holds into a static filter, offline
//! ([`epoch_tags`]). A brand learns `F_k(b)` of its own identifiers without
//! learning `k`, and without the platform learning `b`, by the 2HashDH
//! protocol (Jarecki, Kiayias, Krawczyk, "Round-Optimal Password-Protected
//! Secret Sharing and T-PAKE in the Password-Only Model", ASIACRYPT 2014;
//! RFC 9497 §3.3.1 is the same computation with another finalization):
//!
//! ```text
//! brand     X = r·H_e(b)                 blind_batch (r: BlindingKey)
//! platform  Y = k·X                      evaluate_batch
//! brand     N = r⁻¹·Y = k·H_e(b)         unblind_to_filter_keys → filter_key(N)
//! ```
//!
//! `X` is a uniformly random group element whatever `b` is (`r` is uniform
//! and the group has prime order), so the platform learns nothing but the
//! number of points; the brand learns `k·H_e(b)` for its own `b` and, under
//! the one-more-Gap-DH assumption, nothing about `k·H_e(p)` for any `p` it
//! did not query. The platform's guardrails (a query budget per brand and
//! epoch) bound how many it may query.
//!
//! # Sums for the proof
//!
//! The platform returns its outputs in a CSPRNG-shuffled order, so the
//! session proves one statement about the sums `M = Σ X` and `Z = Σ Y`
//! (see [`crate::prove_sum`]). [`SumAccumulator`] collects them batch by
//! batch; the `*_summed` variants of the batch functions add to it in the
//! same pass, from points they decompress or compute anyway (one point
//! addition per element, no second decompression).
//!
//! # Constant time
//! `k`, `k/2`, `r/2` and `(2r)⁻¹` only enter constant-time variable-base
//! multiplications and constant-time scalar arithmetic (`Scalar::invert` is
//! a fixed addition chain). Validation of an input stops at the first bad
//! point in its chunk and reports its index: timing reveals only where the
//! sender's own bad point is.

use curve25519_dalek::{ristretto::RistrettoPoint, scalar::Scalar, traits::Identity};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::batch::{decompress_all, hash_scale_compress, scale_compress};
use crate::{BlindingKey, CryptoError, DomainTag, EpochKey, PointBytes};

/// Prefix of the hash in [`filter_key`].
pub const FILTER_KEY_DST: &[u8] = b"venn/v1/index-filter-key";

/// The 64-bit filter key of an OPRF output `N = k·H_e(x)`: the first 8
/// bytes, read little-endian, of `SHA-256(FILTER_KEY_DST ‖ compress(N))`.
///
/// Both sides compute it: the platform from [`epoch_tags`], the brand from
/// [`unblind_to_filter_keys`]. Hashing instead of truncating spreads the 64
/// bits evenly (a canonical encoding's lowest bit is always 0, and a filter
/// wants uniform keys), and keeps the index's keys apart from any other use
/// of the same points.
pub fn filter_key(compressed: &PointBytes) -> u64 {
    let digest = Sha256::new().chain_update(FILTER_KEY_DST).chain_update(compressed).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The platform's index tags, offline: `filter_key(k·H_e(p))` for every
/// element `p`, in input order. `dst` is the epoch's domain tag (the caller
/// puts the epoch id into it); the brand must hash with the same one.
///
/// Cost per element: one RFC 9380 hash (three SHA-512 blocks and two
/// Elligator maps), one constant-time variable-base multiplication by `k/2`,
/// a share of one batched compression, one SHA-256. Parallel over rayon in
/// chunks of [`crate::BATCH_CHUNK`].
pub fn epoch_tags<M>(key: &EpochKey, dst: &DomainTag, elements: &[M]) -> Vec<u64>
where
    M: AsRef<[u8]> + Sync,
{
    hash_scale_compress(key.half(), dst, elements, 0u64, false, |c| filter_key(c.as_bytes())).0
}

/// The platform's evaluation, per session: `Y = k·X` for every blinded
/// point `X` the brand sent, compressed, in input order.
///
/// Refuses the batch, naming the lowest offending index, if an encoding is
/// not a canonical ristretto255 point ([`CryptoError::InvalidEncoding`]) or
/// is the identity ([`CryptoError::IdentityPoint`]).
pub fn evaluate_batch(key: &EpochKey, blinded: &[PointBytes]) -> Result<Vec<PointBytes>, CryptoError> {
    Ok(scale_compress(key.half(), blinded, [0u8; 32], false, |c| c.to_bytes())?.0)
}

/// [`evaluate_batch`], adding the inputs `X` to `sums` (platform side: the
/// proof needs `M = Σ X`; `Z = k·M` is computed by [`crate::prove_sum`]).
/// On an error nothing is added.
pub fn evaluate_batch_summed(
    key: &EpochKey,
    blinded: &[PointBytes],
    sums: &mut SumAccumulator,
) -> Result<Vec<PointBytes>, CryptoError> {
    let (out, sum) = scale_compress(key.half(), blinded, [0u8; 32], true, |c| c.to_bytes())?;
    sums.add_input_sum(sum, blinded.len());
    Ok(out)
}

/// [`crate::blind_batch`] (`X = r·H_e(b)` for every identifier), adding the
/// `X` to `sums` (brand side: the brand sums what it sent, without
/// decompressing it again).
pub fn blind_batch_summed<M>(
    r: &BlindingKey,
    dst: &DomainTag,
    messages: &[M],
    sums: &mut SumAccumulator,
) -> Vec<PointBytes>
where
    M: AsRef<[u8]> + Sync,
{
    let (out, sum) = hash_scale_compress(r.half(), dst, messages, [0u8; 32], true, |c| c.to_bytes());
    sums.add_input_sum(sum, messages.len());
    out
}

/// The brand's unblinding: `filter_key(r⁻¹·Y)` for every output `Y` of the
/// platform, in input order. For an honest `Y = k·r·H_e(b)` this is
/// `filter_key(k·H_e(b))`, the platform's tag of `b`.
///
/// Refuses the batch, naming the lowest offending index, if an encoding is
/// not a canonical ristretto255 point or is the identity. `(2r)⁻¹` is
/// computed once per call (constant time) and wiped after it.
pub fn unblind_to_filter_keys(r: &BlindingKey, outputs: &[PointBytes]) -> Result<Vec<u64>, CryptoError> {
    let inv_half = inverse_half(r);
    Ok(scale_compress(&inv_half, outputs, 0u64, false, |c| filter_key(c.as_bytes()))?.0)
}

/// [`unblind_to_filter_keys`], adding the outputs `Y` to `sums` (brand side:
/// `Z = Σ Y` is what the proof is checked against). On an error nothing is
/// added.
pub fn unblind_to_filter_keys_summed(
    r: &BlindingKey,
    outputs: &[PointBytes],
    sums: &mut SumAccumulator,
) -> Result<Vec<u64>, CryptoError> {
    let inv_half = inverse_half(r);
    let (keys, sum) = scale_compress(&inv_half, outputs, 0u64, true, |c| filter_key(c.as_bytes()))?;
    sums.add_output_sum(sum, outputs.len());
    Ok(keys)
}

/// `(2r)⁻¹ = ½·r⁻¹`, for the batched compression of `2·(½·r⁻¹)·Y`. From
/// `r/2`: `(4·(r/2))⁻¹ = (2r)⁻¹`. `r ≠ 0` is guaranteed by [`BlindingKey`].
fn inverse_half(r: &BlindingKey) -> Zeroizing<Scalar> {
    let four_halves = Zeroizing::new(r.half() + r.half() + r.half() + r.half());
    Zeroizing::new(four_halves.invert())
}

/// The sums of one session's inputs `M = Σ X` and outputs `Z = Σ Y`, with
/// their counts, fed batch by batch. The platform feeds the inputs it
/// received ([`evaluate_batch_summed`] or [`SumAccumulator::add_inputs`])
/// and proves with [`crate::prove_sum`], which computes `Z = k·M` itself.
/// The brand feeds what it sent ([`blind_batch_summed`]) and what it
/// received ([`unblind_to_filter_keys_summed`] or
/// [`SumAccumulator::add_outputs`]) and checks with [`crate::verify_sum`].
///
/// Public data only; addition order does not matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SumAccumulator {
    inputs: RistrettoPoint,
    outputs: RistrettoPoint,
    input_count: u64,
    output_count: u64,
}

impl Default for SumAccumulator {
    fn default() -> Self {
        Self::new()
    }
}

impl SumAccumulator {
    /// Empty sums (the identity), no points counted.
    pub fn new() -> Self {
        Self {
            inputs: RistrettoPoint::identity(),
            outputs: RistrettoPoint::identity(),
            input_count: 0,
            output_count: 0,
        }
    }

    /// Adds input points `X`. Each is validated like a peer's point (a
    /// canonical encoding, not the identity); on an error, which names the
    /// lowest offending index of `inputs`, nothing is added. This costs one
    /// decompression per point: where the points pass through
    /// [`evaluate_batch_summed`] or [`blind_batch_summed`] anyway, use
    /// those.
    pub fn add_inputs(&mut self, inputs: &[PointBytes]) -> Result<(), CryptoError> {
        let sum = sum_validated(inputs)?;
        self.add_input_sum(sum, inputs.len());
        Ok(())
    }

    /// Adds output points `Y`, validated like [`SumAccumulator::add_inputs`].
    pub fn add_outputs(&mut self, outputs: &[PointBytes]) -> Result<(), CryptoError> {
        let sum = sum_validated(outputs)?;
        self.add_output_sum(sum, outputs.len());
        Ok(())
    }

    /// Input points added so far.
    pub fn input_count(&self) -> u64 {
        self.input_count
    }

    /// Output points added so far.
    pub fn output_count(&self) -> u64 {
        self.output_count
    }

    /// `M = Σ X`.
    pub(crate) fn inputs_sum(&self) -> &RistrettoPoint {
        &self.inputs
    }

    /// `Z = Σ Y`.
    pub(crate) fn outputs_sum(&self) -> &RistrettoPoint {
        &self.outputs
    }

    fn add_input_sum(&mut self, sum: RistrettoPoint, count: usize) {
        self.inputs += sum;
        self.input_count = self.input_count.saturating_add(count as u64);
    }

    fn add_output_sum(&mut self, sum: RistrettoPoint, count: usize) {
        self.outputs += sum;
        self.output_count = self.output_count.saturating_add(count as u64);
    }
}

/// `Σ X` over validated encodings, in parallel chunks; the first error (by
/// index) wins.
fn sum_validated(encodings: &[PointBytes]) -> Result<RistrettoPoint, CryptoError> {
    use rayon::prelude::*;
    let chunk_sums: Vec<Result<RistrettoPoint, CryptoError>> = encodings
        .par_chunks(crate::BATCH_CHUNK)
        .enumerate()
        .map(|(chunk, encodings)| Ok(decompress_all(encodings, chunk * crate::BATCH_CHUNK)?.iter().sum()))
        .collect();
    let mut total = RistrettoPoint::identity();
    for chunk_sum in chunk_sums {
        total += chunk_sum?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_to_group::tests::scalar;
    use crate::{blind_batch, hash_to_group, BATCH_CHUNK};
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT as G;

    fn dst() -> DomainTag {
        DomainTag::new(b"venn/v1/index/epoch-test").unwrap()
    }

    fn ids(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("user-{i}@example.com").into_bytes()).collect()
    }

    /// The OPRF identity: what the brand reads out of a session equals the
    /// platform's index tag, for many inputs spread over several chunks.
    #[test]
    fn unblinded_evaluation_equals_the_index_tag() {
        let k = EpochKey::random();
        let r = BlindingKey::random();
        let x = ids(BATCH_CHUNK * 2 + 37);
        let tags = epoch_tags(&k, &dst(), &x);
        let blinded = blind_batch(&r, &dst(), &x);
        let evaluated = evaluate_batch(&k, &blinded).unwrap();
        let keys = unblind_to_filter_keys(&r, &evaluated).unwrap();
        assert_eq!(keys, tags);
        // And a different key or DST gives different tags.
        assert_ne!(epoch_tags(&EpochKey::random(), &dst(), &x[..4]), tags[..4]);
        let other = DomainTag::new(b"venn/v1/index/epoch-other").unwrap();
        assert_ne!(epoch_tags(&k, &other, &x[..4]), tags[..4]);
    }

    #[test]
    fn epoch_tags_are_filter_keys_of_k_times_hash() {
        let k = EpochKey::random();
        let x = ids(3);
        let tags = epoch_tags(&k, &dst(), &x);
        for (x, tag) in x.iter().zip(tags) {
            let point = k.scalar() * hash_to_group(x, &dst());
            assert_eq!(filter_key(point.compress().as_bytes()), tag);
        }
    }

    /// `filter_key` is the first 8 bytes, little-endian, of
    /// SHA-256("venn/v1/index-filter-key" ‖ point); the expected value is
    /// computed here independently, from a hand-built message.
    #[test]
    fn filter_key_is_a_prefix_of_sha256() {
        let point = G.compress().to_bytes();
        let mut message = b"venn/v1/index-filter-key".to_vec();
        message.extend_from_slice(&point);
        let digest = Sha256::digest(&message);
        let expected = u64::from_le_bytes(digest[..8].try_into().unwrap());
        assert_eq!(filter_key(&point), expected);
        assert_ne!(filter_key(&point), filter_key(&[0u8; 32]));
    }

    /// RFC 9497 Appendix A.1.1 (ristretto255-SHA512, OPRF mode), vectors 1
    /// and 2: unblinding the RFC's `EvaluationElement` with its `Blind`
    /// gives the platform's tag of its `Input` under `skSm`.
    #[test]
    fn unblinding_rfc9497_evaluations_gives_the_index_tags() {
        let oprf = DomainTag::new(b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512").unwrap();
        let blind =
            BlindingKey::from_scalar(scalar("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"));
        let sk = secret("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e");
        let inputs = [hex::decode("00").unwrap(), hex::decode("5a".repeat(17)).unwrap()];
        let evaluations = [
            point("7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e"),
            point("b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25"),
        ];
        assert_eq!(evaluate_batch(&sk, &blind_batch(&blind, &oprf, &inputs)).unwrap(), evaluations);
        assert_eq!(unblind_to_filter_keys(&blind, &evaluations).unwrap(), epoch_tags(&sk, &oprf, &inputs));
    }

    #[test]
    fn evaluation_is_k_times_each_input() {
        let k = EpochKey::random();
        let inputs: Vec<RistrettoPoint> =
            (0..5u64).map(|i| Scalar::from(i + 1) * hash_to_group(b"x", &dst())).collect();
        let bytes: Vec<PointBytes> = inputs.iter().map(|p| p.compress().to_bytes()).collect();
        let out = evaluate_batch(&k, &bytes).unwrap();
        for (x, y) in inputs.iter().zip(out) {
            assert_eq!((k.scalar() * x).compress().to_bytes(), y);
        }
    }

    #[test]
    fn evaluate_refuses_invalid_points_by_index() {
        let k = EpochKey::random();
        let r = BlindingKey::random();
        let mut blinded = blind_batch(&r, &dst(), &ids(BATCH_CHUNK * 2));
        blinded[BATCH_CHUNK + 5] = [0u8; 32];
        assert_eq!(evaluate_batch(&k, &blinded), Err(CryptoError::IdentityPoint { index: BATCH_CHUNK + 5 }));
        blinded[7] = [0xff; 32];
        assert_eq!(evaluate_batch(&k, &blinded), Err(CryptoError::InvalidEncoding { index: 7 }));
    }

    #[test]
    fn unblind_refuses_invalid_points_by_index() {
        let r = BlindingKey::random();
        let mut outputs = blind_batch(&r, &dst(), &ids(4));
        let mut negative = G.compress().to_bytes();
        negative[0] |= 1;
        outputs[3] = negative;
        assert_eq!(unblind_to_filter_keys(&r, &outputs), Err(CryptoError::InvalidEncoding { index: 3 }));
        outputs[1] = [0u8; 32];
        assert_eq!(unblind_to_filter_keys(&r, &outputs), Err(CryptoError::IdentityPoint { index: 1 }));
    }

    #[test]
    fn empty_batches_are_fine() {
        let k = EpochKey::random();
        let r = BlindingKey::random();
        assert!(epoch_tags::<&[u8]>(&k, &dst(), &[]).is_empty());
        assert!(evaluate_batch(&k, &[]).unwrap().is_empty());
        assert!(unblind_to_filter_keys(&r, &[]).unwrap().is_empty());
    }

    /// The summing variants give the same outputs as the plain ones, and
    /// the same sums as feeding the points to the accumulator directly.
    #[test]
    fn summed_variants_agree_with_plain_ones_and_with_add() {
        let k = EpochKey::random();
        let r = BlindingKey::random();
        let x = ids(BATCH_CHUNK + 3);
        let mut brand = SumAccumulator::new();
        let mut platform = SumAccumulator::new();
        let mut direct = SumAccumulator::new();
        let blinded = blind_batch_summed(&r, &dst(), &x, &mut brand);
        assert_eq!(blinded, blind_batch(&r, &dst(), &x));
        let evaluated = evaluate_batch_summed(&k, &blinded, &mut platform).unwrap();
        assert_eq!(evaluated, evaluate_batch(&k, &blinded).unwrap());
        let keys = unblind_to_filter_keys_summed(&r, &evaluated, &mut brand).unwrap();
        assert_eq!(keys, unblind_to_filter_keys(&r, &evaluated).unwrap());
        direct.add_inputs(&blinded).unwrap();
        direct.add_outputs(&evaluated).unwrap();

        assert_eq!(brand, direct);
        assert_eq!(platform.inputs_sum(), direct.inputs_sum());
        assert_eq!((brand.input_count(), brand.output_count()), (x.len() as u64, x.len() as u64));
        // Z = k·M for an honest evaluation.
        assert_eq!(*brand.outputs_sum(), k.scalar() * brand.inputs_sum());
    }

    #[test]
    fn accumulator_adds_nothing_on_error() {
        let r = BlindingKey::random();
        let k = EpochKey::random();
        let mut blinded = blind_batch(&r, &dst(), &ids(3));
        blinded[2] = [0u8; 32];
        let mut sums = SumAccumulator::new();
        assert_eq!(sums.add_inputs(&blinded), Err(CryptoError::IdentityPoint { index: 2 }));
        assert_eq!(sums.add_outputs(&blinded), Err(CryptoError::IdentityPoint { index: 2 }));
        assert!(evaluate_batch_summed(&k, &blinded, &mut sums).is_err());
        assert!(unblind_to_filter_keys_summed(&r, &blinded, &mut sums).is_err());
        assert_eq!(sums, SumAccumulator::new());
    }

    #[test]
    fn inverse_half_doubles_to_the_inverse() {
        let r = BlindingKey::random();
        let inv_half = inverse_half(&r);
        assert_eq!((*inv_half + *inv_half) * r.scalar(), Scalar::ONE);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::array::uniform32(0u8..), 0..8)) {
            let k = EpochKey::random();
            let r = BlindingKey::random();
            let _ = evaluate_batch(&k, &bytes);
            let _ = unblind_to_filter_keys(&r, &bytes);
            let _ = SumAccumulator::new().add_outputs(&bytes);
        }
    }

    fn secret(hex_le: &str) -> Box<EpochKey> {
        let bytes: [u8; 32] = hex::decode(hex_le).unwrap().try_into().unwrap();
        EpochKey::from_secret_bytes(Zeroizing::new(bytes)).unwrap()
    }

    fn point(hex: &str) -> PointBytes {
        hex::decode(hex).unwrap().try_into().unwrap()
    }
}
