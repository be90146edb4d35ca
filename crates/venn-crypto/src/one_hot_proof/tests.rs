//! Honest proofs verify; every way a receiver could cheat is refused.

use super::*;

const CONTEXT: &[u8] = b"session 4f1c";

/// Label keys whose secrets the test holds, as a cheating receiver does.
fn keys(labels: usize) -> (Vec<Scalar>, PublicLabelKeys) {
    let secrets: Vec<Scalar> = (0..labels).map(|_| Scalar::random(&mut OsRng)).collect();
    let bytes: Vec<PointBytes> = secrets.iter().map(|s| (s * G).compress().to_bytes()).collect();
    (secrets, PublicLabelKeys::from_bytes(&bytes).unwrap())
}

fn point(bytes: &PointBytes) -> RistrettoPoint {
    CompressedRistretto(*bytes).decompress().unwrap()
}

/// `m_j·G = C_j − p_j·C₀` for one record.
fn open(secrets: &[Scalar], ct: &[PointBytes]) -> Vec<RistrettoPoint> {
    let c0 = point(&ct[0]);
    ct[1..].iter().zip(secrets).map(|(cj, p)| point(cj) - p * c0).collect()
}

/// How a cheating receiver builds its proof of a record that encrypts `m`.
#[derive(Clone, Copy, Debug)]
enum Strategy {
    /// The honest prover's formulas run on `m`: `a_L = −Σ_{j<L} a_j`,
    /// `B_j` from `a_j·m_j`, responses from `ρ` and `m`.
    Honest,
    /// Commitments and `f_j` made for `claim` instead of `m` (as if the
    /// record encrypted those bits); `z` and `y_j` from `ρ`.
    Claim,
    /// As `Honest`, but each `y_j` solved with the secret key `p_j` from its
    /// `B_j` equation, which then always holds; the `T_j` equations are left
    /// to chance.
    KeyHolder,
    /// As `KeyHolder`, and `z` solved with `p_L` from the `A_L` equation
    /// with the verifier's `f_L = c − Σ_{j<L} f_j`, which then holds; the
    /// `S` equation is left to chance.
    KeyHolderSum,
}

/// A receiver's record that encrypts `m` (any scalars), with the proof
/// `strategy` makes of it.
fn forge(
    keys: &PublicLabelKeys,
    secrets: &[Scalar],
    m: &[Scalar],
    claim: &[usize],
    strategy: Strategy,
    context: &[u8],
) -> (Vec<PointBytes>, Vec<u8>) {
    let l = keys.len();
    let rnd = || Scalar::random(&mut OsRng);
    let p = keys.points();
    let rho = rnd();
    let cts: Vec<RistrettoPoint> = std::iter::once(rho * G).chain((0..l).map(|j| m[j] * G + rho * p[j])).collect();
    let ct_bytes: Vec<PointBytes> = cts.iter().map(|c| c.compress().to_bytes()).collect();
    let shown: Vec<Scalar> = match strategy {
        Strategy::Claim => claim.iter().map(|&k| Scalar::from(k as u64)).collect(),
        _ => m.to_vec(),
    };
    let s = rnd();
    let mut a: Vec<Scalar> = (1..l).map(|_| rnd()).collect();
    a.push(-a.iter().sum::<Scalar>());
    let t: Vec<Scalar> = (0..l).map(|_| rnd()).collect();
    let mut commitments = vec![s * G];
    for j in 0..l {
        commitments.extend([a[j] * G + s * p[j], t[j] * G, (a[j] * shown[j]) * G + t[j] * p[j]]);
    }
    let mut proof: Vec<u8> = commitments.iter().flat_map(|c| c.compress().to_bytes()).collect();
    let c = challenge(&transcript_prefix(keys, context), &ct_bytes, &proof);
    let mut f: Vec<Scalar> = (0..l).map(|j| shown[j] * c + a[j]).collect();
    // What the verifier will use for f_L.
    f[l - 1] = c - f[..l - 1].iter().sum::<Scalar>();
    let mut z = rho * c + s;
    let mut y: Vec<Scalar> = (0..l).map(|j| rho * (c - f[j]) + t[j]).collect();
    if matches!(strategy, Strategy::KeyHolder | Strategy::KeyHolderSum) {
        // log B_j + (c − f_j)·log C_j = y_j·p_j
        for j in 0..l {
            let log_b = a[j] * shown[j] + t[j] * secrets[j];
            y[j] = (log_b + (c - f[j]) * (m[j] + rho * secrets[j])) * secrets[j].invert();
        }
    }
    if matches!(strategy, Strategy::KeyHolderSum) {
        // log A_L + c·log C_L − f_L = z·p_L
        let k = l - 1;
        z = (a[k] + s * secrets[k] + c * (m[k] + rho * secrets[k]) - f[k]) * secrets[k].invert();
    }
    for x in f[..l - 1].iter().chain([&z]).chain(&y) {
        proof.extend_from_slice(x.as_bytes());
    }
    (ct_bytes, proof)
}

/// Every equation of one record's proof checked on its own under
/// challenge `c`, without batching: a second verifier, for the tests.
fn equations_hold(keys: &PublicLabelKeys, ct: &[PointBytes], proof: &[u8], c: &Scalar) -> bool {
    let l = keys.len();
    let (cts, p) = (ct.iter().map(point).collect::<Vec<_>>(), keys.points());
    let proof = OneHotProof::from_bytes(proof, l).unwrap();
    let f: Vec<Scalar> = proof.all_f(c).collect();
    let mut ok = (proof.s + c * cts[0] - proof.z * G).is_identity();
    for (j, q) in proof.components.iter().enumerate() {
        ok &= (q.a + c * cts[j + 1] - f[j] * G - proof.z * p[j]).is_identity();
        ok &= (q.t + (c - f[j]) * cts[0] - q.y * G).is_identity();
        ok &= (q.b + (c - f[j]) * cts[j + 1] - q.y * p[j]).is_identity();
    }
    ok
}

/// The challenge the verifier computes for one record.
fn challenge_of(keys: &PublicLabelKeys, ct: &[PointBytes], proof: &[u8], context: &[u8]) -> Scalar {
    challenge(&transcript_prefix(keys, context), ct, &proof[..commitments_len(keys.len())])
}

fn one_hot(labels: usize, label: usize) -> Vec<Scalar> {
    (0..labels).map(|j| Scalar::from((j == label) as u8)).collect()
}

/// Ciphertexts and proofs of `labels` under `keys`, with the cheater's
/// record inserted at `at`.
fn batch_with(
    keys: &PublicLabelKeys,
    labels: &[u16],
    at: usize,
    record: &(Vec<PointBytes>, Vec<u8>),
) -> (Vec<PointBytes>, Vec<u8>) {
    let (mut cts, mut proofs) = encrypt_one_hot_proven(keys, labels, CONTEXT).unwrap();
    let width = keys.len() + 1;
    let plen = proof_len(keys.len());
    cts.splice(at * width..at * width, record.0.iter().copied());
    proofs.splice(at * plen..at * plen, record.1.iter().copied());
    (cts, proofs)
}

#[test]
fn honest_proofs_verify_for_every_label() {
    for l in [1usize, 2, 4, 16] {
        let (secrets, keys) = keys(l);
        let labels: Vec<u16> = (0..l as u16).chain((0..l as u16).rev()).collect();
        let (cts, proofs) = encrypt_one_hot_proven(&keys, &labels, CONTEXT).unwrap();
        assert_eq!(cts.len(), labels.len() * (l + 1));
        assert_eq!(proofs.len(), labels.len() * proof_len(l));
        assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Ok(()), "L = {l}");
        for (r, &label) in labels.iter().enumerate() {
            let opened = open(&secrets, &cts[r * (l + 1)..(r + 1) * (l + 1)]);
            let expected: Vec<RistrettoPoint> = one_hot(l, label as usize).iter().map(|m| m * G).collect();
            assert_eq!(opened, expected, "L = {l}, record {r}");
            // Each record also verifies alone.
            let one = &proofs[r * proof_len(l)..(r + 1) * proof_len(l)];
            assert_eq!(verify_one_hot_batch(&keys, &cts[r * (l + 1)..(r + 1) * (l + 1)], one, CONTEXT), Ok(()));
        }
    }
}

#[test]
fn the_owners_proofs_verify_and_open_like_the_public_provers() {
    for l in [1usize, 2, 4, 16] {
        let (secrets, keys) = keys(l);
        let owner = crate::LabelKeys::from_secrets(secrets.clone());
        let labels: Vec<u16> = (0..l as u16).chain((0..l as u16).rev()).chain([0, 0]).collect();
        let (cts, proofs) = owner.encrypt_one_hot_proven(&labels, CONTEXT).unwrap();
        assert_eq!((cts.len(), proofs.len()), (labels.len() * (l + 1), labels.len() * proof_len(l)));
        // Verified under the public keys alone, as the aggregator does.
        assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Ok(()), "L = {l}");
        for (r, &label) in labels.iter().enumerate() {
            let opened = open(&secrets, &cts[r * (l + 1)..(r + 1) * (l + 1)]);
            let expected: Vec<RistrettoPoint> = one_hot(l, label as usize).iter().map(|m| m * G).collect();
            assert_eq!(opened, expected, "L = {l}, record {r}");
        }
        // Bound to the context like the public prover's.
        assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, b"another session"), Err(CryptoError::ProofRejected));
        // Mixed in one batch with the public prover's records, all verify.
        let (cts2, proofs2) = encrypt_one_hot_proven(&keys, &labels, CONTEXT).unwrap();
        let both = ([cts.clone(), cts2].concat(), [proofs.clone(), proofs2].concat());
        assert_eq!(verify_one_hot_batch(&keys, &both.0, &both.1, CONTEXT), Ok(()), "L = {l}");
    }
}

#[test]
fn the_owner_proves_out_of_range_labels_no_more_than_the_public_prover() {
    let owner = crate::LabelKeys::from_secrets(keys(4).0);
    assert_eq!(
        owner.encrypt_one_hot_proven(&[0, 4], CONTEXT),
        Err(CryptoError::LabelOutOfRange { label: 4, labels: 4 })
    );
}

#[test]
fn verified_points_are_the_ciphertexts_decompressed_in_order() {
    let (_, keys) = keys(3);
    // More than one rayon chunk, so their points must come back in order.
    let labels: Vec<u16> = (0..RECORDS_PER_CHUNK as u16 + 5).map(|i| i % 3).collect();
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &labels, CONTEXT).unwrap();
    let points = verify_one_hot_batch_points(&keys, &cts, &proofs, CONTEXT).unwrap();
    assert_eq!(points, cts.iter().map(point).collect::<Vec<_>>());
    assert_eq!(
        verify_one_hot_batch_points(&keys, &cts, &proofs, b"another session"),
        Err(CryptoError::ProofRejected),
        "no points without a proof"
    );
}

#[test]
fn batches_across_chunk_boundaries_verify() {
    let (_, keys) = keys(2);
    let labels: Vec<u16> = (0..RECORDS_PER_CHUNK as u16 * 2 + 3).map(|i| i % 2).collect();
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &labels, CONTEXT).unwrap();
    assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Ok(()));
}

/// The test's forger, run honestly, makes proofs that verify: so the
/// rejections below come from the plaintexts, not from a broken forger.
#[test]
fn the_forger_run_honestly_verifies() {
    let (secrets, keys) = keys(4);
    for label in 0..4 {
        let m = one_hot(4, label);
        let claim: Vec<usize> = (0..4).map(|j| (j == label) as usize).collect();
        for strategy in [Strategy::Honest, Strategy::Claim, Strategy::KeyHolder, Strategy::KeyHolderSum] {
            let record = forge(&keys, &secrets, &m, &claim, strategy, CONTEXT);
            assert!(equations_hold(&keys, &record.0, &record.1, &challenge_of(&keys, &record.0, &record.1, CONTEXT)));
            let (cts, proofs) = batch_with(&keys, &[1, 3], 1, &record);
            assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Ok(()), "{strategy:?}");
        }
    }
}

/// Every cheating plaintext, with every claim of which bits are set and
/// every strategy, inside a batch of honest records: refused.
#[test]
fn cheating_receiver_plaintexts_are_refused() {
    let (secrets, keys) = keys(4);
    let minus_one = -Scalar::ONE;
    let k_pow = Scalar::from(1_000u64) * Scalar::from(1u64 << 20);
    let s = |v: u64| Scalar::from(v);
    let attacks: [(&str, Vec<Scalar>); 8] = [
        ("a component encrypting 2", vec![s(0), s(2), s(0), s(0)]),
        ("K·2^i alone", vec![k_pow, s(0), s(0), s(0)]),
        ("K·2^i beside a one", vec![s(1), k_pow, s(0), s(0)]),
        ("ℓ − 1 with two ones (sums to 1)", vec![minus_one, s(1), s(1), s(0)]),
        ("two components set", vec![s(1), s(0), s(1), s(0)]),
        ("no component set", vec![s(0); 4]),
        ("2 and −1 (sums to 1)", vec![s(2), minus_one, s(0), s(0)]),
        ("K·2^i and 1 − K·2^i (sums to 1)", vec![k_pow, Scalar::ONE - k_pow, s(0), s(0)]),
    ];
    let strategies = [Strategy::Honest, Strategy::Claim, Strategy::KeyHolder, Strategy::KeyHolderSum];
    for (name, m) in &attacks {
        let mut tried = 0;
        for claims in 0..16usize {
            let claim: Vec<usize> = (0..4).map(|j| (claims >> j) & 1).collect();
            for strategy in strategies {
                let record = forge(&keys, &secrets, m, &claim, strategy, CONTEXT);
                // The ciphertext is the attack.
                let opened = open(&secrets, &record.0);
                assert_eq!(opened, m.iter().map(|x| x * G).collect::<Vec<_>>());
                let c = challenge_of(&keys, &record.0, &record.1, CONTEXT);
                assert!(!equations_hold(&keys, &record.0, &record.1, &c), "{name}, claim {claim:?}, {strategy:?}");
                let (cts, proofs) = batch_with(&keys, &[0, 2], 1, &record);
                assert_eq!(
                    verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT),
                    Err(CryptoError::ProofRejected),
                    "{name}, claim {claim:?}, {strategy:?}"
                );
                tried += 1;
            }
        }
        assert_eq!(tried, 64);
    }
}

/// The same at `L = 2`, where `f_2` is all the verifier derives: pairs
/// that are not bits or do not sum to 1, with every claim and strategy.
#[test]
fn cheating_receiver_plaintexts_are_refused_with_two_labels() {
    let (secrets, keys) = keys(2);
    let k_pow = Scalar::from(1u64 << 40);
    let attacks = [
        [Scalar::from(2u8), -Scalar::ONE],
        [Scalar::ONE, Scalar::ONE],
        [Scalar::ZERO, Scalar::ZERO],
        [k_pow, Scalar::ONE - k_pow],
    ];
    for m in &attacks {
        for claims in 0..4usize {
            let claim = [claims & 1, claims >> 1];
            for strategy in [Strategy::Honest, Strategy::Claim, Strategy::KeyHolder, Strategy::KeyHolderSum] {
                let record = forge(&keys, &secrets, m, &claim, strategy, CONTEXT);
                let (cts, proofs) = batch_with(&keys, &[1, 0], 2, &record);
                let result = verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT);
                assert_eq!(result, Err(CryptoError::ProofRejected), "{m:?}, claim {claim:?}, {strategy:?}");
            }
        }
    }
}

/// Errors in two records that cancel when both carry the same weight:
/// `y_1 + δ` in one and `y_1 − δ` in the other (the challenges do not
/// hash the responses, so both records keep theirs). Each record's
/// equations are weighed independently, so the batch is refused.
#[test]
fn errors_that_cancel_across_records_are_refused() {
    let (_, keys) = keys(2);
    let (cts, mut proofs) = encrypt_one_hot_proven(&keys, &[0, 1], CONTEXT).unwrap();
    let plen = proof_len(2);
    // y_1 is the third scalar: after f_1 and z.
    let y1 = commitments_len(2) + 2 * SCALAR_LEN;
    let delta = Scalar::random(&mut OsRng);
    for (record, shift) in [(0, delta), (1, -delta)] {
        let at = record * plen + y1;
        let y = decode_scalar(&proofs[at..at + SCALAR_LEN]).unwrap() + shift;
        proofs[at..at + SCALAR_LEN].copy_from_slice(y.as_bytes());
    }
    for record in 0..2 {
        let ct = &cts[record * 3..(record + 1) * 3];
        let proof = &proofs[record * plen..(record + 1) * plen];
        assert!(!equations_hold(&keys, ct, proof, &challenge_of(&keys, ct, proof, CONTEXT)));
    }
    assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Err(CryptoError::ProofRejected));
}

/// The owner's prover makes, from the same nonces, the same points as the
/// public prover (so the same proofs: the responses do not depend on which
/// made the points), for every label.
#[test]
fn the_owners_points_equal_the_public_provers_for_the_same_nonces() {
    for l in [1usize, 2, 5] {
        let (secrets, keys) = keys(l);
        let nonces = random_scalars(Nonces::per_record(l));
        let prover = |secrets| Prover {
            keys: &keys,
            secrets,
            prefix: transcript_prefix(&keys, CONTEXT),
            half: Scalar::from(2u8).invert(),
            half_g: half_basepoint(),
        };
        for label in 0..l as u16 {
            let (mut public, mut owner) = (Vec::new(), Vec::new());
            prover(None).half_points(label, &Nonces::new(&nonces, l), &mut public);
            prover(Some(&secrets)).half_points(label, &Nonces::new(&nonces, l), &mut owner);
            assert_eq!(public.len(), l + 1 + 3 * l + 1);
            assert_eq!(public, owner, "L = {l}, label {label}");
        }
    }
}

/// What the responses would give away if the components shared one `T`
/// (one `t` for all `y_j`): `ρ = (y_i − y_j)/(f_j − f_i)`. Each component has
/// its own `t_j`, so that candidate is not `log_G C₀`, in any record.
#[test]
fn the_responses_do_not_give_away_the_randomness() {
    let (_, keys) = keys(3);
    let labels = [0u16, 1, 2, 2, 1, 0];
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &labels, CONTEXT).unwrap();
    let plen = proof_len(3);
    for r in 0..labels.len() {
        let (ct, proof) = (&cts[r * 4..(r + 1) * 4], &proofs[r * plen..(r + 1) * plen]);
        let parsed = OneHotProof::from_bytes(proof, 3).unwrap();
        let f: Vec<Scalar> = parsed.all_f(&challenge_of(&keys, ct, proof, CONTEXT)).collect();
        let y: Vec<Scalar> = parsed.components.iter().map(|q| q.y).collect();
        for (i, j) in [(0, 1), (0, 2), (1, 2)] {
            let candidate = (y[i] - y[j]) * (f[j] - f[i]).invert();
            assert_ne!(candidate * G, point(&ct[0]), "record {r}, components {i} and {j}");
        }
    }
}

/// The attack of weak Fiat–Shamir (Bernhard, Pereira, Warinschi,
/// ASIACRYPT 2012): commit first, learn the challenge, then pick the
/// ciphertext that fits. With `L = 2`, masks `a_1`, `a_2 = −a_1` and
/// commitments whose `B_j − t_j·P_j` are known (`u_1 = 0`, `u_2 = −a_1`), the
/// `B_j` equations reduce to `u_j + (c − f_j)·m_j = 0`, solved after `c` by
/// `m_1 = 1 − a_1/c`, `m_2 = a_1/c`: two components that are not bits and sum
/// to 1. Every equation holds under the challenge computed without the
/// statement; hashing the ciphertext into `c` is what refuses it.
#[test]
fn a_statement_chosen_after_the_challenge_is_refused() {
    let (secrets, keys) = keys(2);
    let p = keys.points();
    let rnd = || Scalar::random(&mut OsRng);
    let (s, a1, rho) = (rnd(), rnd(), rnd());
    let (a, t, u) = ([a1, -a1], [rnd(), rnd()], [Scalar::ZERO, -a1]);
    let mut commitments = vec![s * G];
    for j in 0..2 {
        commitments.extend([(a[j] + s * secrets[j]) * G, t[j] * G, (u[j] + t[j] * secrets[j]) * G]);
    }
    let mut proof: Vec<u8> = commitments.iter().flat_map(|c| c.compress().to_bytes()).collect();
    // The challenge without the statement, which is not yet chosen.
    let c = challenge(&transcript_prefix(&keys, CONTEXT), &[], &proof);
    let m = [Scalar::ONE - a1 * c.invert(), a1 * c.invert()];
    let cts: Vec<PointBytes> = std::iter::once(rho * G)
        .chain((0..2).map(|j| m[j] * G + rho * p[j]))
        .map(|c| c.compress().to_bytes())
        .collect();
    let f = [c * m[0] + a[0], c * m[1] + a[1]];
    let y = [rho * (c - f[0]) + t[0], rho * (c - f[1]) + t[1]];
    for x in [f[0], rho * c + s, y[0], y[1]] {
        proof.extend_from_slice(x.as_bytes());
    }
    assert!(m.iter().all(|m| *m != Scalar::ZERO && *m != Scalar::ONE), "not bits");
    assert!(equations_hold(&keys, &cts, &proof, &c), "the attack works against weak Fiat–Shamir");
    assert_eq!(verify_one_hot_batch(&keys, &cts, &proof, CONTEXT), Err(CryptoError::ProofRejected));
}

#[test]
fn a_flipped_byte_anywhere_is_refused() {
    let (_, keys) = keys(2);
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &[1, 0], CONTEXT).unwrap();
    let plen = proof_len(2);
    for i in plen..2 * plen {
        let mut bad = proofs.clone();
        bad[i] ^= 0x01;
        let result = verify_one_hot_batch(&keys, &cts, &bad, CONTEXT);
        assert!(
            matches!(result, Err(CryptoError::ProofRejected | CryptoError::MalformedProof { record: 1 })),
            "byte {i}: {result:?}"
        );
    }
    for i in 3..6 {
        for byte in [0, 17, 31] {
            let mut bad = cts.clone();
            bad[i][byte] ^= 0x02;
            let result = verify_one_hot_batch(&keys, &bad, &proofs, CONTEXT);
            assert!(
                result == Err(CryptoError::ProofRejected) || result == Err(CryptoError::InvalidEncoding { index: i }),
                "point {i} byte {byte}: {result:?}"
            );
        }
    }
}

#[test]
fn a_proof_moved_to_another_record_is_refused() {
    let (_, keys) = keys(4);
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &[2, 2, 0], CONTEXT).unwrap();
    let plen = proof_len(4);
    let mut swapped = proofs.clone();
    swapped[..plen].copy_from_slice(&proofs[plen..2 * plen]);
    swapped[plen..2 * plen].copy_from_slice(&proofs[..plen]);
    assert_eq!(verify_one_hot_batch(&keys, &cts, &swapped, CONTEXT), Err(CryptoError::ProofRejected));
    // Moving whole records (ciphertext with its proof) is not an attack.
    let mut cts_moved = cts.clone();
    cts_moved[..5].copy_from_slice(&cts[5..10]);
    cts_moved[5..10].copy_from_slice(&cts[..5]);
    assert_eq!(verify_one_hot_batch(&keys, &cts_moved, &swapped, CONTEXT), Ok(()));
}

#[test]
fn a_proof_for_another_context_or_other_keys_is_refused() {
    let (_, keys_a) = keys(4);
    let (_, keys_b) = keys(4);
    let (cts, proofs) = encrypt_one_hot_proven(&keys_a, &[3], b"session A").unwrap();
    assert_eq!(verify_one_hot_batch(&keys_a, &cts, &proofs, b"session A"), Ok(()));
    assert_eq!(verify_one_hot_batch(&keys_a, &cts, &proofs, b"session B"), Err(CryptoError::ProofRejected));
    assert_eq!(verify_one_hot_batch(&keys_a, &cts, &proofs, b""), Err(CryptoError::ProofRejected));
    assert_eq!(verify_one_hot_batch(&keys_b, &cts, &proofs, b"session A"), Err(CryptoError::ProofRejected));
}

/// `ℓ`, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// `x + ℓ` as 32 little-endian bytes: the same scalar mod `ℓ`, non-canonical.
fn plus_ell(x: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = x[i] as u16 + ELL[i] as u16 + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

#[test]
fn non_canonical_scalars_are_refused_by_record() {
    let (_, keys) = keys(2);
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &[0, 1, 1], CONTEXT).unwrap();
    let plen = proof_len(2);
    let scalars_at = plen + commitments_len(2);
    // Every scalar of record 1 in turn, replaced by itself plus ℓ: a reducing
    // parser would accept it, since the equations hold mod ℓ.
    for s in 0..4 {
        let at = scalars_at + s * 32;
        let mut bad = proofs.clone();
        let shifted = plus_ell(&proofs[at..at + 32]);
        bad[at..at + 32].copy_from_slice(&shifted);
        assert_eq!(verify_one_hot_batch(&keys, &cts, &bad, CONTEXT), Err(CryptoError::MalformedProof { record: 1 }));
    }
    let mut bad = proofs.clone();
    bad[scalars_at..scalars_at + 32].copy_from_slice(&[0xff; 32]);
    assert_eq!(verify_one_hot_batch(&keys, &cts, &bad, CONTEXT), Err(CryptoError::MalformedProof { record: 1 }));
}

#[test]
fn invalid_points_are_refused_by_record_or_index() {
    let (_, keys) = keys(2);
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &[0, 1, 1], CONTEXT).unwrap();
    let plen = proof_len(2);
    // Above the field prime, and a valid point's encoding made negative.
    let mut negative = G.compress().to_bytes();
    negative[0] |= 1;
    for bad_point in [[0xff; 32], negative] {
        for slot in [0, 6] {
            let mut bad = proofs.clone();
            bad[2 * plen + slot * 32..2 * plen + slot * 32 + 32].copy_from_slice(&bad_point);
            assert_eq!(
                verify_one_hot_batch(&keys, &cts, &bad, CONTEXT),
                Err(CryptoError::MalformedProof { record: 2 })
            );
        }
        let mut bad = cts.clone();
        bad[4] = bad_point;
        assert_eq!(verify_one_hot_batch(&keys, &bad, &proofs, CONTEXT), Err(CryptoError::InvalidEncoding { index: 4 }));
    }
}

#[test]
fn the_lowest_malformed_record_is_reported_across_chunks() {
    let (_, keys) = keys(1);
    let n = RECORDS_PER_CHUNK * 2 + 5;
    let labels = vec![0u16; n];
    let (cts, mut proofs) = encrypt_one_hot_proven(&keys, &labels, CONTEXT).unwrap();
    let plen = proof_len(1);
    let late = RECORDS_PER_CHUNK * 2 + 1;
    let early = RECORDS_PER_CHUNK + 7;
    proofs[late * plen..late * plen + 32].copy_from_slice(&[0xff; 32]);
    proofs[early * plen..early * plen + 32].copy_from_slice(&[0xff; 32]);
    assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Err(CryptoError::MalformedProof { record: early }));
}

#[test]
fn wrong_lengths_are_refused() {
    let (_, keys) = keys(4);
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &[0, 1], CONTEXT).unwrap();
    let expected = 2 * proof_len(4);
    assert_eq!(
        verify_one_hot_batch(&keys, &cts, &proofs[..expected - 1], CONTEXT),
        Err(CryptoError::ProofLength { len: expected - 1, expected })
    );
    let mut long = proofs.clone();
    long.push(0);
    assert_eq!(
        verify_one_hot_batch(&keys, &cts, &long, CONTEXT),
        Err(CryptoError::ProofLength { len: expected + 1, expected })
    );
    // One record's proof for two records.
    assert_eq!(
        verify_one_hot_batch(&keys, &cts, &proofs[..proof_len(4)], CONTEXT),
        Err(CryptoError::ProofLength { len: proof_len(4), expected })
    );
    assert_eq!(
        verify_one_hot_batch(&keys, &cts[..9], &proofs, CONTEXT),
        Err(CryptoError::RaggedCiphertexts { len: 9, width: 5 })
    );
    assert_eq!(
        OneHotProof::from_bytes(&proofs[..proof_len(4) - 32], 4),
        Err(CryptoError::ProofLength { len: proof_len(4) - 32, expected: proof_len(4) })
    );
    // A label count no key set can have is refused before any arithmetic.
    assert_eq!(
        OneHotProof::from_bytes(&[0u8; 192], (1 << 59) + 1),
        Err(CryptoError::TooManyKeys { count: (1 << 59) + 1 })
    );
    // A proof for L = 4 parsed as one for L = 3 is the wrong length too.
    assert!(matches!(OneHotProof::from_bytes(&proofs[..proof_len(4)], 3), Err(CryptoError::ProofLength { .. })));
}

#[test]
fn an_empty_batch_verifies_and_proves_to_nothing() {
    let (_, keys) = keys(4);
    let (cts, proofs) = encrypt_one_hot_proven(&keys, &[], CONTEXT).unwrap();
    assert!(cts.is_empty() && proofs.is_empty());
    assert_eq!(verify_one_hot_batch(&keys, &[], &[], CONTEXT), Ok(()));
    // Proofs without records are not an empty batch.
    assert_eq!(
        verify_one_hot_batch(&keys, &[], &[0u8; 32], CONTEXT),
        Err(CryptoError::ProofLength { len: 32, expected: 0 })
    );
}

#[test]
fn labels_out_of_range_are_refused_by_the_prover() {
    let (_, keys) = keys(4);
    assert_eq!(
        encrypt_one_hot_proven(&keys, &[0, 4], CONTEXT),
        Err(CryptoError::LabelOutOfRange { label: 4, labels: 4 })
    );
}

#[test]
fn proofs_round_trip_through_their_encoding() {
    let (_, keys) = keys(4);
    let (_, proofs) = encrypt_one_hot_proven(&keys, &[2], CONTEXT).unwrap();
    assert_eq!(proof_len(4), 672);
    let parsed = OneHotProof::from_bytes(&proofs, 4).unwrap();
    assert_eq!(parsed.labels(), 4);
    assert_eq!(parsed.to_bytes(), proofs);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    #[test]
    fn honest_random_batches_always_verify(
        l in 1usize..=6,
        raw in proptest::collection::vec(0u16..u16::MAX, 0..12),
        context in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
    ) {
        let (secrets, keys) = keys(l);
        let labels: Vec<u16> = raw.iter().map(|v| v % l as u16).collect();
        let (cts, proofs) = encrypt_one_hot_proven(&keys, &labels, &context).unwrap();
        proptest::prop_assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, &context), Ok(()));
        let owner = crate::LabelKeys::from_secrets(secrets);
        let (cts, proofs) = owner.encrypt_one_hot_proven(&labels, &context).unwrap();
        proptest::prop_assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, &context), Ok(()));
    }

    #[test]
    fn arbitrary_proof_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..700)) {
        let (_, keys) = keys(2);
        let (cts, _) = encrypt_one_hot_proven(&keys, &[1, 0], CONTEXT).unwrap();
        proptest::prop_assert!(verify_one_hot_batch(&keys, &cts, &bytes, CONTEXT).is_err());
        let _ = OneHotProof::from_bytes(&bytes, 2);
    }
}
