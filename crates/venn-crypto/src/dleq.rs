//! The platform's proof, per session, that it evaluated the brand's points
//! with the epoch key of its index: a Chaum–Pedersen proof of equality of
//! discrete logarithms (DLEQ) over the session's sums.
//!
//! # The statement
//!
//! The brand sends `X_1 … X_n` and receives `Y_1 … Y_n` in a shuffled order,
//! so neither side can pair an output with its input. Both sides know the
//! sums `M = Σ X_i` and `Z = Σ Y_i` ([`crate::SumAccumulator`]), and the
//! platform proves, for the `K` of the index header,
//!
//! ```text
//! log_G K = log_M Z        (K = k·G and Z = k·M for one k)
//! ```
//!
//! # The proof (RFC 9497 §2.2, with the sums as composites)
//!
//! RFC 9497 §2.2.1 `GenerateProof(k, A = G, B = K, C, D)` with the composite
//! `(M, Z)` that its `ComputeCompositesFast` would derive from per-element
//! weights replaced by the plain sums (weights are impossible: the outputs
//! are shuffled):
//!
//! ```text
//! prover    t  ← random scalar (OS CSPRNG)
//!           Z  = k·M,  T₂ = t·G,  T₃ = t·M
//!           c  = HashToScalar(transcript(K, M, Z, T₂, T₃))
//!           s  = t − c·k                       proof = (c, s)
//! verifier  T₂ = s·G + c·K,  T₃ = s·M + c·Z
//!           accept iff c = HashToScalar(transcript(K, M, Z, T₂, T₃))
//! ```
//!
//! `HashToScalar` is RFC 9497's for ristretto255: `expand_message_xmd` with
//! SHA-512 (RFC 9380 §5.3.1) to 64 bytes under a DST, read little-endian
//! and reduced mod `ℓ`. Venn's DST is [`DLEQ_DST`], and its transcript
//! is RFC 9497's prefixed with the context and the generator:
//!
//! ```text
//! I2OSP(len(context), 8) ‖ context ‖ I2OSP(32, 2) ‖ G ‖
//! I2OSP(32, 2) ‖ K ‖ I2OSP(32, 2) ‖ M ‖ I2OSP(32, 2) ‖ Z ‖
//! I2OSP(32, 2) ‖ T₂ ‖ I2OSP(32, 2) ‖ T₃ ‖ "Challenge"
//! ```
//!
//! The context is the caller's (the session id and the index header's hash
//! belong in it): a proof verifies under one context only. With an empty
//! prefix and RFC 9497's DST the same code computes RFC 9497's proofs; the
//! tests check it against the RFC's VOPRF vectors, feeding it composites
//! computed as the RFC does (the only part of the RFC the sums replace).
//!
//! Soundness: two accepting proofs `(c, s)`, `(c′, s′)` with the same
//! commitments and `c ≠ c′` give `k = (s − s′)/(c′ − c)` with `K = k·G` and
//! `Z = k·M` (special soundness, Chaum and Pedersen, "Wallet databases with
//! observers", CRYPTO '92); Fiat–Shamir in the random-oracle model, with the
//! whole statement hashed (strong Fiat–Shamir). Zero knowledge: `(c, s)`
//! uniform and `T₂`, `T₃` solved from the verification equations simulate
//! it, so the proof reveals nothing about `k` beyond `K` and `Z = k·M`.
//!
//! # What the proof catches
//!
//! * A platform that evaluates with another key `k′` than the `k` of `K`
//!   in the index header (a key rotated, mixed up, or a per-brand key meant
//!   to tag the brand's queries): every output is then `k′·X_i`,
//!   `Z = k′·M ≠ k·M`, and no proof for `K` verifies (soundness error
//!   `≈ 2⁻²⁵²`, plus the random-oracle hash). The same holds for any key
//!   applied to *all* elements, and for any error that leaves
//!   `Z ≠ k·M`: one output changed, dropped or duplicated, one output of
//!   another session, a proof made for another context or key.
//!
//! # What it does not catch
//!
//! * Errors that cancel in the sum. Any outputs with `Σ Y_i = k·M` pass:
//!   `Y_1 + D` and `Y_2 − D` for any `D`; `k′·X_i` for some elements
//!   compensated by another output; two outputs merged into one or one
//!   split in two. A platform can so make chosen outputs unblind to
//!   garbage (those elements then miss in the filter: the count can only
//!   go down, and only by elements the platform cannot identify, since it
//!   sees blinded points only) — the test
//!   `sum_proof_does_not_catch_errors_that_cancel` shows it. Catching this
//!   would need per-element weights that the platform cannot predict,
//!   which the shuffled order rules out (RFC 9497's composites need the
//!   pairing `C_i ↔ D_i`).
//! * A change in the number of outputs that keeps the sum, and a different
//!   number of outputs than inputs: only the count check finds those.
//!   [`verify_sum`] does it (the accumulator counts both sides) and refuses
//!   with [`CryptoError::CountMismatch`].
//! * Anything about the index itself: the proof ties the session to `K`,
//!   and the header ties `K` to the filter; whether the filter holds
//!   `k·H_e(p)` of real identifiers is not provable here.
//!
//! # Encoding
//!
//! [`DLEQ_PROOF_LEN`] = 64 bytes, `c ‖ s`, each a canonical little-endian
//! scalar (`< ℓ`, RFC 9497's `SerializeScalar`); anything else is refused
//! with [`CryptoError::MalformedDleqProof`].
//!
//! # Constant time
//!
//! The prover multiplies the secrets `k` and `t` only by constant-time
//! routines: `t·G` through the precomputed basepoint table, `k·M` and `t·M`
//! by curve25519-dalek's constant-time variable-base multiplication;
//! `s = t − c·k` is constant-time scalar arithmetic. The nonce is drawn
//! from the OS CSPRNG into a zeroizing buffer, and it and `c·k` are wiped
//! when dropped. The verifier is variable time
//! (`vartime_double_scalar_mul_basepoint`, `vartime_multiscalar_mul`) and
//! sees public data only: `K`, the sums, the proof and the context.

use curve25519_dalek::{
    constants::{RISTRETTO_BASEPOINT_COMPRESSED, RISTRETTO_BASEPOINT_TABLE},
    ristretto::RistrettoPoint,
    scalar::Scalar,
    traits::{IsIdentity, VartimeMultiscalarMul},
};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::{expand_message_xmd_sha512, CryptoError, DomainTag, EpochKey, EpochPublicKey, PointBytes, SumAccumulator};

/// The DST of Venn's challenge hash, in RFC 9497's `"HashToScalar-" ‖
/// contextString` form.
pub const DLEQ_DST: &[u8] = b"HashToScalar-venn/v1/index-sum-dleq-ristretto255-SHA512";

/// Bytes of an encoded [`DleqProof`]: two scalars.
pub const DLEQ_PROOF_LEN: usize = 64;

/// A Chaum–Pedersen proof `(c, s)` that `log_G K = log_M Z` (see the module
/// documentation). Public data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DleqProof {
    c: Scalar,
    s: Scalar,
}

impl DleqProof {
    /// `c ‖ s`, little-endian canonical scalars.
    pub fn to_bytes(&self) -> [u8; DLEQ_PROOF_LEN] {
        let mut out = [0u8; DLEQ_PROOF_LEN];
        out[..32].copy_from_slice(self.c.as_bytes());
        out[32..].copy_from_slice(self.s.as_bytes());
        out
    }

    /// Parses `c ‖ s`. Refuses a scalar that is not canonical (`≥ ℓ`) with
    /// [`CryptoError::MalformedDleqProof`]; a parsed proof still has to pass
    /// [`verify_sum`].
    pub fn from_bytes(bytes: &[u8; DLEQ_PROOF_LEN]) -> Result<Self, CryptoError> {
        let scalar = |half: &[u8]| -> Result<Scalar, CryptoError> {
            let mut le = [0u8; 32];
            le.copy_from_slice(half);
            Option::from(Scalar::from_canonical_bytes(le)).ok_or(CryptoError::MalformedDleqProof)
        };
        Ok(Self { c: scalar(&bytes[..32])?, s: scalar(&bytes[32..])? })
    }
}

/// The platform's proof for one session: with `M` the sum of all inputs
/// it evaluated (`sums`, fed by [`crate::evaluate_batch_summed`] or
/// [`SumAccumulator::add_inputs`]), proves `K = k·G ∧ Z = k·M` with
/// `Z = k·M` computed here (constant time). The outputs `sums` may hold are
/// ignored. `context` must be the verifier's.
///
/// Never fails; a session whose inputs add up to the identity gets a proof
/// that [`verify_sum`] refuses ([`CryptoError::EmptySum`]).
pub fn prove_sum(key: &EpochKey, sums: &SumAccumulator, context: &[u8]) -> DleqProof {
    let mut wide = Zeroizing::new([0u8; 64]);
    OsRng.fill_bytes(wide.as_mut());
    let nonce = Zeroizing::new(Scalar::from_bytes_mod_order_wide(&wide));
    generate(key, sums.inputs_sum(), &nonce, &Transcript::venn(context))
}

/// The brand's check of a session: the input and output counts of `sums`
/// are equal ([`CryptoError::CountMismatch`] otherwise), `M = Σ X` is not
/// the identity ([`CryptoError::EmptySum`]), and `proof` shows
/// `log_G K = log_M Z` for `Z = Σ Y` under `context`
/// ([`CryptoError::DleqRejected`] otherwise).
///
/// Variable time; every input is public.
pub fn verify_sum(
    public: &EpochPublicKey,
    sums: &SumAccumulator,
    proof: &DleqProof,
    context: &[u8],
) -> Result<(), CryptoError> {
    if sums.input_count() != sums.output_count() {
        return Err(CryptoError::CountMismatch { inputs: sums.input_count(), outputs: sums.output_count() });
    }
    if sums.inputs_sum().is_identity() {
        return Err(CryptoError::EmptySum);
    }
    if verify(public, sums.inputs_sum(), sums.outputs_sum(), proof, &Transcript::venn(context)) {
        Ok(())
    } else {
        Err(CryptoError::DleqRejected)
    }
}

/// How the challenge is hashed: a DST for `HashToScalar` and a prefix put
/// before RFC 9497's challenge transcript.
struct Transcript {
    dst: DomainTag,
    prefix: Vec<u8>,
}

impl Transcript {
    /// Venn's: [`DLEQ_DST`] and `I2OSP(len(context), 8) ‖ context ‖
    /// I2OSP(32, 2) ‖ G`.
    fn venn(context: &[u8]) -> Self {
        let mut prefix = Vec::with_capacity(8 + context.len() + 2 + 32);
        prefix.extend_from_slice(&(context.len() as u64).to_be_bytes());
        prefix.extend_from_slice(context);
        prefix.extend_from_slice(&32u16.to_be_bytes());
        prefix.extend_from_slice(RISTRETTO_BASEPOINT_COMPRESSED.as_bytes());
        let dst = DomainTag::new(DLEQ_DST).expect("DLEQ_DST is a constant of 1..=255 bytes");
        Self { dst, prefix }
    }

    /// `HashToScalar(prefix ‖ I2OSP(32, 2) ‖ K ‖ … ‖ I2OSP(32, 2) ‖ T₃ ‖
    /// "Challenge")` (RFC 9497 §2.2.1 for an empty prefix).
    fn challenge(&self, points: [&PointBytes; 5]) -> Scalar {
        let mut msg = Vec::with_capacity(self.prefix.len() + 5 * 34 + 9);
        msg.extend_from_slice(&self.prefix);
        for point in points {
            msg.extend_from_slice(&32u16.to_be_bytes());
            msg.extend_from_slice(point);
        }
        msg.extend_from_slice(b"Challenge");
        Scalar::from_bytes_mod_order_wide(&expand_message_xmd_sha512::<64>(&msg, &self.dst))
    }
}

/// RFC 9497 §2.2.1 `GenerateProof` for the composite `(M, k·M)`, with the
/// nonce `t` given. Constant time in `k` and `t`.
fn generate(key: &EpochKey, m: &RistrettoPoint, t: &Scalar, transcript: &Transcript) -> DleqProof {
    let k = key.scalar();
    let z = k * m;
    let t2 = t * RISTRETTO_BASEPOINT_TABLE;
    let t3 = t * m;
    let c = transcript.challenge([
        key.public_key().as_bytes(),
        m.compress().as_bytes(),
        z.compress().as_bytes(),
        t2.compress().as_bytes(),
        t3.compress().as_bytes(),
    ]);
    let ck = Zeroizing::new(c * k);
    DleqProof { c, s: t - *ck }
}

/// RFC 9497 §2.2.2 `VerifyProof` for the composite `(M, Z)`. Variable time.
fn verify(
    public: &EpochPublicKey,
    m: &RistrettoPoint,
    z: &RistrettoPoint,
    proof: &DleqProof,
    transcript: &Transcript,
) -> bool {
    let t2 = RistrettoPoint::vartime_double_scalar_mul_basepoint(&proof.c, public.point(), &proof.s);
    let t3 = RistrettoPoint::vartime_multiscalar_mul([proof.s, proof.c], [m, z]);
    let c = transcript.challenge([
        public.as_bytes(),
        m.compress().as_bytes(),
        z.compress().as_bytes(),
        t2.compress().as_bytes(),
        t3.compress().as_bytes(),
    ]);
    c == proof.c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_to_group::tests::scalar;
    use crate::{
        blind_batch_summed, evaluate_batch, evaluate_batch_summed, unblind_to_filter_keys,
        unblind_to_filter_keys_summed, BlindingKey, BATCH_CHUNK,
    };
    use curve25519_dalek::{constants::RISTRETTO_BASEPOINT_POINT as G, ristretto::CompressedRistretto};
    use sha2::{Digest, Sha512};

    const CONTEXT: &[u8] = b"session 42, index header 0123";

    fn dst() -> DomainTag {
        DomainTag::new(b"venn/v1/index/epoch-test").unwrap()
    }

    fn ids(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("customer-{i}").into_bytes()).collect()
    }

    /// One honest session, fed in batches on both sides; the platform's
    /// outputs reach the brand reversed (a stand-in for the shuffle).
    struct Session {
        k: Box<EpochKey>,
        r: Box<BlindingKey>,
        blinded: Vec<PointBytes>,
        outputs: Vec<PointBytes>,
        platform: SumAccumulator,
        brand_inputs: SumAccumulator,
    }

    impl Session {
        fn run(n: usize) -> Self {
            let (k, r) = (EpochKey::random(), BlindingKey::random());
            let mut brand_inputs = SumAccumulator::new();
            let mut platform = SumAccumulator::new();
            let x = ids(n);
            let mut blinded = Vec::new();
            let mut outputs = Vec::new();
            for batch in x.chunks(BATCH_CHUNK / 2 + 1) {
                let sent = blind_batch_summed(&r, &dst(), batch, &mut brand_inputs);
                outputs.extend(evaluate_batch_summed(&k, &sent, &mut platform).unwrap());
                blinded.extend(sent);
            }
            outputs.reverse();
            Self { k, r, blinded, outputs, platform, brand_inputs }
        }

        /// The brand's accumulator after receiving `outputs`.
        fn brand_sums(&self, outputs: &[PointBytes]) -> SumAccumulator {
            let mut sums = self.brand_inputs.clone();
            for batch in outputs.chunks(100) {
                unblind_to_filter_keys_summed(&self.r, batch, &mut sums).unwrap();
            }
            sums
        }

        fn proof(&self) -> DleqProof {
            prove_sum(&self.k, &self.platform, CONTEXT)
        }
    }

    #[test]
    fn honest_session_verifies() {
        let s = Session::run(BATCH_CHUNK * 2 + 11);
        let sums = s.brand_sums(&s.outputs);
        assert_eq!(verify_sum(s.k.public_key(), &sums, &s.proof(), CONTEXT), Ok(()));
        // Through the byte encoding too.
        let parsed = DleqProof::from_bytes(&s.proof().to_bytes()).unwrap();
        assert_eq!(verify_sum(s.k.public_key(), &sums, &parsed, CONTEXT), Ok(()));
        // A single-element session.
        let one = Session::run(1);
        assert_eq!(verify_sum(one.k.public_key(), &one.brand_sums(&one.outputs), &one.proof(), CONTEXT), Ok(()));
    }

    /// The platform evaluates and proves with another key than the one in
    /// its index header: every output is wrong, and the proof fails.
    #[test]
    fn rejects_evaluation_with_another_key() {
        let s = Session::run(50);
        let other = EpochKey::random();
        let outputs = evaluate_batch(&other, &s.blinded).unwrap();
        let sums = s.brand_sums(&outputs);
        let proof = prove_sum(&other, &s.platform, CONTEXT);
        assert_eq!(verify_sum(s.k.public_key(), &sums, &proof, CONTEXT), Err(CryptoError::DleqRejected));
        // Nor does a proof with the header's key help the wrong outputs.
        assert_eq!(verify_sum(s.k.public_key(), &sums, &s.proof(), CONTEXT), Err(CryptoError::DleqRejected));
        // And honest outputs are not vouched for by another key's proof.
        let honest = s.brand_sums(&s.outputs);
        assert_eq!(verify_sum(other.public_key(), &honest, &s.proof(), CONTEXT), Err(CryptoError::DleqRejected));
    }

    #[test]
    fn rejects_one_changed_output() {
        let s = Session::run(50);
        let mut outputs = s.outputs.clone();
        // k·X′ for an X′ the brand did not send.
        outputs[17] = evaluate_batch(&s.k, &[(Scalar::from(3u8) * G).compress().to_bytes()]).unwrap()[0];
        let sums = s.brand_sums(&outputs);
        assert_eq!(verify_sum(s.k.public_key(), &sums, &s.proof(), CONTEXT), Err(CryptoError::DleqRejected));
    }

    #[test]
    fn rejects_proof_for_another_context() {
        let s = Session::run(20);
        let sums = s.brand_sums(&s.outputs);
        let proof = prove_sum(&s.k, &s.platform, b"session 43, index header 0123");
        assert_eq!(verify_sum(s.k.public_key(), &sums, &proof, CONTEXT), Err(CryptoError::DleqRejected));
        assert_eq!(verify_sum(s.k.public_key(), &sums, &s.proof(), b""), Err(CryptoError::DleqRejected));
    }

    /// Every single-bit flip of the 64 bytes is refused: as malformed if it
    /// makes a scalar non-canonical, as a failed proof otherwise.
    #[test]
    fn rejects_every_tampered_bit() {
        let s = Session::run(20);
        let sums = s.brand_sums(&s.outputs);
        let bytes = s.proof().to_bytes();
        let mut rejected = 0;
        for byte in 0..DLEQ_PROOF_LEN {
            for bit in 0..8 {
                let mut tampered = bytes;
                tampered[byte] ^= 1 << bit;
                match DleqProof::from_bytes(&tampered) {
                    Err(e) => assert_eq!(e, CryptoError::MalformedDleqProof),
                    Ok(proof) => {
                        assert_eq!(
                            verify_sum(s.k.public_key(), &sums, &proof, CONTEXT),
                            Err(CryptoError::DleqRejected)
                        );
                        rejected += 1;
                    }
                }
            }
        }
        assert!(rejected > 400, "most flips give canonical scalars: {rejected}");
    }

    #[test]
    fn rejects_non_canonical_scalars() {
        // ℓ, little-endian (RFC 8032 §5.1).
        let ell: [u8; 32] = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
        let s = Session::run(3);
        let bytes = s.proof().to_bytes();
        let mut c_bad = bytes;
        c_bad[..32].copy_from_slice(&ell);
        let mut s_bad = bytes;
        s_bad[32..].copy_from_slice(&ell);
        let mut high = bytes;
        high[63] = 0xff;
        for bad in [c_bad, s_bad, high] {
            assert_eq!(DleqProof::from_bytes(&bad), Err(CryptoError::MalformedDleqProof));
        }
    }

    #[test]
    fn rejects_dropped_or_duplicated_outputs_by_count() {
        let s = Session::run(20);
        let dropped = s.brand_sums(&s.outputs[1..]);
        assert_eq!(
            verify_sum(s.k.public_key(), &dropped, &s.proof(), CONTEXT),
            Err(CryptoError::CountMismatch { inputs: 20, outputs: 19 })
        );
        let mut doubled = s.outputs.clone();
        doubled.push(s.outputs[0]);
        assert_eq!(
            verify_sum(s.k.public_key(), &s.brand_sums(&doubled), &s.proof(), CONTEXT),
            Err(CryptoError::CountMismatch { inputs: 20, outputs: 21 })
        );
    }

    /// A duplicated output in place of another changes the sum: the proof
    /// alone catches that one even with equal counts.
    #[test]
    fn rejects_an_output_replaced_by_a_duplicate() {
        let s = Session::run(20);
        let mut outputs = s.outputs.clone();
        outputs[5] = outputs[6];
        let sums = s.brand_sums(&outputs);
        assert_eq!(verify_sum(s.k.public_key(), &sums, &s.proof(), CONTEXT), Err(CryptoError::DleqRejected));
    }

    #[test]
    fn refuses_a_session_without_inputs() {
        let k = EpochKey::random();
        let empty = SumAccumulator::new();
        let proof = prove_sum(&k, &empty, CONTEXT);
        assert_eq!(verify_sum(k.public_key(), &empty, &proof, CONTEXT), Err(CryptoError::EmptySum));
    }

    /// THE LIMIT OF A SUM PROOF. A platform adds `D` to one output and
    /// subtracts it from another: the sum is unchanged, the proof verifies,
    /// and the two elements unblind to keys that are in no filter. This
    /// test asserts that the proof *accepts* such outputs; if it ever fails,
    /// the proof has become stronger and the module documentation must say
    /// so.
    #[test]
    fn sum_proof_does_not_catch_errors_that_cancel() {
        let s = Session::run(30);
        let d = Scalar::from(7u8) * G;
        let mut outputs = s.outputs.clone();
        let shift = |bytes: &PointBytes, by: RistrettoPoint| {
            (CompressedRistretto(*bytes).decompress().unwrap() + by).compress().to_bytes()
        };
        outputs[3] = shift(&outputs[3], d);
        outputs[8] = shift(&outputs[8], -d);
        let sums = s.brand_sums(&outputs);
        assert_eq!(verify_sum(s.k.public_key(), &sums, &s.proof(), CONTEXT), Ok(()));

        // The two elements are really wrong: their keys differ from the
        // honest ones, the other 28 are the same.
        let honest = unblind_to_filter_keys(&s.r, &s.outputs).unwrap();
        let cheated = unblind_to_filter_keys(&s.r, &outputs).unwrap();
        let differing: Vec<usize> = (0..30).filter(|&i| honest[i] != cheated[i]).collect();
        assert_eq!(differing, [3, 8]);

        // The same with another key on some elements, compensated: k′·X₀
        // and Y₁ + (k − k′)·X₀.
        let other = EpochKey::random();
        let x0 = CompressedRistretto(s.blinded[0]).decompress().unwrap();
        let mut mixed = evaluate_batch(&s.k, &s.blinded).unwrap();
        let honest_y0 = CompressedRistretto(mixed[0]).decompress().unwrap();
        mixed[0] = (other.scalar() * x0).compress().to_bytes();
        let wrong_y0 = CompressedRistretto(mixed[0]).decompress().unwrap();
        mixed[1] = shift(&mixed[1], honest_y0 - wrong_y0);
        assert_eq!(verify_sum(s.k.public_key(), &s.brand_sums(&mixed), &s.proof(), CONTEXT), Ok(()));
    }

    // ---- RFC 9497 conformance ----------------------------------------

    /// RFC 9497 §3.2 contextString for VOPRF mode and ristretto255-SHA512.
    const RFC_CONTEXT: &[u8] = b"OPRFV1-\x01-ristretto255-SHA512";

    fn rfc_hash_to_scalar(msg: &[u8]) -> Scalar {
        let dst = DomainTag::new(&[b"HashToScalar-".as_slice(), RFC_CONTEXT].concat()).unwrap();
        Scalar::from_bytes_mod_order_wide(&expand_message_xmd_sha512::<64>(msg, &dst))
    }

    /// RFC 9497 §2.2.2 `ComputeComposites` (the verifier's form, from `C`
    /// and `D`), test-only: Venn replaces it with plain sums.
    fn rfc_composites(pk: &PointBytes, c: &[PointBytes], d: &[PointBytes]) -> (RistrettoPoint, RistrettoPoint) {
        let seed_dst = [b"Seed-".as_slice(), RFC_CONTEXT].concat();
        let mut h = Sha512::new();
        h.update(32u16.to_be_bytes());
        h.update(pk);
        h.update((seed_dst.len() as u16).to_be_bytes());
        h.update(&seed_dst);
        let seed = h.finalize();
        let (mut m, mut z) = (RistrettoPoint::default(), RistrettoPoint::default());
        for (i, (ci, di)) in c.iter().zip(d).enumerate() {
            let mut t = Vec::new();
            t.extend_from_slice(&(seed.len() as u16).to_be_bytes());
            t.extend_from_slice(&seed);
            t.extend_from_slice(&(i as u16).to_be_bytes());
            t.extend_from_slice(&32u16.to_be_bytes());
            t.extend_from_slice(ci);
            t.extend_from_slice(&32u16.to_be_bytes());
            t.extend_from_slice(di);
            t.extend_from_slice(b"Composite");
            let weight = rfc_hash_to_scalar(&t);
            m += weight * CompressedRistretto(*ci).decompress().unwrap();
            z += weight * CompressedRistretto(*di).decompress().unwrap();
        }
        (m, z)
    }

    fn bytes32(hex: &str) -> [u8; 32] {
        hex::decode(hex).unwrap().try_into().unwrap()
    }

    /// RFC 9497 Appendix A.1.2 (ristretto255-SHA512, VOPRF mode), test
    /// vectors 1 and 2 (batch size 1) and 3 (batch size 2): from `skSm`,
    /// the public key is `pkSm`, the evaluation of each `BlindedElement` is
    /// its `EvaluationElement`, and the proof generated with the RFC's
    /// `ProofRandomScalar` over the RFC's composites, under the RFC's DST
    /// and an empty prefix, is the RFC's `Proof`, byte for byte; it
    /// verifies, and fails with a changed `Z`.
    #[test]
    fn proof_core_matches_rfc9497_voprf_vectors() {
        let sk = EpochKey::from_secret_bytes(Zeroizing::new(bytes32(
            "e6f73f344b79b379f1a0dd37e07ff62e38d9f71345ce62ae3a9bc60b04ccd909",
        )))
        .unwrap();
        assert_eq!(
            hex::encode(sk.public_key().as_bytes()),
            "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
        );
        let rfc = Transcript {
            dst: DomainTag::new(&[b"HashToScalar-".as_slice(), RFC_CONTEXT].concat()).unwrap(),
            prefix: Vec::new(),
        };
        let vectors: [(&[&str], &[&str], &str, &str); 3] = [
            (
                &["863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945"],
                &["aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e"],
                "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
                "ddef93772692e535d1a53903db24367355cc2cc78de93b3be5a8ffcc6985dd06\
                 6d4346421d17bf5117a2a1ff0fcb2a759f58a539dfbe857a40bce4cf49ec600d",
            ),
            (
                &["cc0b2a350101881d8a4cba4c80241d74fb7dcbfde4a61fde2f91443c2bf9ef0c"],
                &["60a59a57208d48aca71e9e850d22674b611f752bed48b36f7a91b372bd7ad468"],
                "222a5e897cf59db8145db8d16e597e8facb80ae7d4e26d9881aa6f61d645fc0e",
                "401a0da6264f8cf45bb2f5264bc31e109155600babb3cd4e5af7d181a2c9dc0a\
                 67154fabf031fd936051dec80b0b6ae29c9503493dde7393b722eafdf5a50b02",
            ),
            (
                &[
                    "863f330cc1a1259ed5a5998a23acfd37fb4351a793a5b3c090b642ddc439b945",
                    "90a0145ea9da29254c3a56be4fe185465ebb3bf2a1801f7124bbbadac751e654",
                ],
                &[
                    "aa8fa048764d5623868679402ff6108d2521884fa138cd7f9c7669a9a014267e",
                    "cc5ac221950a49ceaa73c8db41b82c20372a4c8d63e5dded2db920b7eee36a2a",
                ],
                "419c4f4f5052c53c45f3da494d2b67b220d02118e0857cdbcf037f9ea84bbe0c",
                "cc203910175d786927eeb44ea847328047892ddf8590e723c37205cb74600b0a\
                 5ab5337c8eb4ceae0494c2cf89529dcf94572ed267473d567aeed6ab873dee08",
            ),
        ];
        for (blinded, evaluated, nonce, proof) in vectors {
            let c: Vec<PointBytes> = blinded.iter().map(|h| bytes32(h)).collect();
            let d: Vec<PointBytes> = evaluated.iter().map(|h| bytes32(h)).collect();
            assert_eq!(evaluate_batch(&sk, &c).unwrap(), d);
            let (m, z) = rfc_composites(sk.public_key().as_bytes(), &c, &d);
            let generated = generate(&sk, &m, &scalar(nonce), &rfc);
            assert_eq!(hex::encode(generated.to_bytes()), proof);
            assert!(verify(sk.public_key(), &m, &z, &generated, &rfc));
            assert!(!verify(sk.public_key(), &m, &(z + G), &generated, &rfc));
        }
    }
}
