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

/// How a cheating receiver builds its proof.
#[derive(Clone, Copy, Debug)]
enum Strategy {
    /// The honest prover's equations with the wrong plaintext: branch
    /// `claim[j]` of each bit is run as the real one with witness `ρ`, the
    /// other is simulated; the sum's DLEQ is run with `ρ`.
    Claim,
    /// Both branches of every bit simulated, each with its own challenge.
    SimulateBoth,
    /// As `Claim`, but using the secret keys: the real branch's response
    /// uses `ρ_j = ρ + (m_j − k)/p_j`, which satisfies its `P_j` equation,
    /// and the sum's uses `ρ + (Σm − 1)/Σp`.
    KeyHolder,
}

/// A receiver's record that encrypts `m` (any scalars), with the best proof
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
    let c0 = rho * G;
    let cts: Vec<RistrettoPoint> = std::iter::once(c0).chain((0..l).map(|j| m[j] * G + rho * p[j])).collect();
    let ct_bytes: Vec<PointBytes> = cts.iter().map(|c| c.compress().to_bytes()).collect();

    // Per bit and branch: the nonce (real) or the chosen (challenge, response).
    let mut nonces = vec![[Scalar::ZERO; 2]; l];
    let mut simulated = vec![[(Scalar::ZERO, Scalar::ZERO); 2]; l];
    let mut commitments = Vec::new();
    for j in 0..l {
        for k in 0..2 {
            let real = !matches!(strategy, Strategy::SimulateBoth) && claim[j] == k;
            if real {
                let e = rnd();
                nonces[j][k] = e;
                commitments.extend([e * G, e * p[j]]);
            } else {
                let (c, z) = (rnd(), rnd());
                simulated[j][k] = (c, z);
                let d = cts[j + 1] - Scalar::from(k as u64) * G;
                commitments.extend([z * G - c * c0, z * p[j] - c * d]);
            }
        }
    }
    let w = rnd();
    let sum_p: RistrettoPoint = p.iter().sum();
    commitments.extend([w * G, w * sum_p]);
    let mut proof: Vec<u8> = commitments.iter().flat_map(|c| c.compress().to_bytes()).collect();
    let c = challenge(&transcript_prefix(keys, context), &ct_bytes, &proof);

    for j in 0..l {
        let (c0j, z0, z1) = match strategy {
            Strategy::SimulateBoth => (simulated[j][0].0, simulated[j][0].1, simulated[j][1].1),
            Strategy::Claim | Strategy::KeyHolder => {
                let k = claim[j];
                let witness = match strategy {
                    Strategy::KeyHolder => rho + (m[j] - Scalar::from(k as u64)) * secrets[j].invert(),
                    _ => rho,
                };
                let (c_other, z_other) = simulated[j][1 - k];
                let c_real = c - c_other;
                let z_real = nonces[j][k] + c_real * witness;
                if k == 0 {
                    (c_real, z_real, z_other)
                } else {
                    (c_other, z_other, z_real)
                }
            }
        };
        for s in [c0j, z0, z1] {
            proof.extend_from_slice(s.as_bytes());
        }
    }
    let witness = match strategy {
        Strategy::KeyHolder => {
            let sum_m: Scalar = m.iter().sum();
            let sum_secret: Scalar = secrets.iter().sum();
            rho + (sum_m - Scalar::ONE) * sum_secret.invert()
        }
        _ => rho,
    };
    proof.extend_from_slice((w + c * witness).as_bytes());
    (ct_bytes, proof)
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
        for strategy in [Strategy::Claim, Strategy::KeyHolder] {
            let record = forge(&keys, &secrets, &m, &claim, strategy, CONTEXT);
            let (cts, proofs) = batch_with(&keys, &[1, 3], 1, &record);
            assert_eq!(verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT), Ok(()), "{strategy:?}");
        }
    }
}

/// Every cheating plaintext, with every claim of which branch is real and
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
    for (name, m) in &attacks {
        let mut tried = 0;
        for claims in 0..16usize {
            let claim: Vec<usize> = (0..4).map(|j| (claims >> j) & 1).collect();
            for strategy in [Strategy::Claim, Strategy::KeyHolder, Strategy::SimulateBoth] {
                let record = forge(&keys, &secrets, m, &claim, strategy, CONTEXT);
                // The ciphertext is the attack.
                let opened = open(&secrets, &record.0);
                assert_eq!(opened, m.iter().map(|x| x * G).collect::<Vec<_>>());
                let (cts, proofs) = batch_with(&keys, &[0, 2], 1, &record);
                assert_eq!(
                    verify_one_hot_batch(&keys, &cts, &proofs, CONTEXT),
                    Err(CryptoError::ProofRejected),
                    "{name}, claim {claim:?}, {strategy:?}"
                );
                tried += 1;
            }
        }
        assert_eq!(tried, 48);
    }
}

/// The attack of weak Fiat–Shamir (Bernhard, Pereira, Warinschi,
/// ASIACRYPT 2012): commit first, learn the challenge, then pick the
/// ciphertext that fits. With commitments of known logs (`u_{j,k} = log B −
/// p_j·log A`), the equations reduce to `u_{j,k} + c_{j,k}·(m_j − k) = 0`
/// and `u_Σ + c·(Σm − 1) = 0`, solved after `c` by `m₁ = 1 − u/c`, `m₂ = 0`.
/// Hashing the ciphertext into `c` is what refuses it.
#[test]
fn a_statement_chosen_after_the_challenge_is_refused() {
    let (secrets, keys) = keys(2);
    let p = keys.points();
    let rnd = || Scalar::random(&mut OsRng);
    let u = rnd();
    let a: Vec<Scalar> = (0..5).map(|_| rnd()).collect();
    // u_{1,0} = 0, u_{1,1} = u, u_{2,0} = u_{2,1} = 0, u_Σ = u.
    let us = [Scalar::ZERO, u, Scalar::ZERO, Scalar::ZERO];
    let mut commitments = Vec::new();
    for i in 0..4 {
        commitments.extend([a[i] * G, (us[i] + a[i] * secrets[i / 2]) * G]);
    }
    let sum_secret: Scalar = secrets.iter().sum();
    commitments.extend([a[4] * G, (u + a[4] * sum_secret) * G]);
    let commitment_bytes: Vec<u8> = commitments.iter().flat_map(|c| c.compress().to_bytes()).collect();
    // The challenge without the statement, which is not yet chosen.
    let c = challenge(&transcript_prefix(&keys, CONTEXT), &[], &commitment_bytes);
    let x = rnd();
    let m = [Scalar::ONE - u * c.invert(), Scalar::ZERO];
    let cts: Vec<PointBytes> =
        std::iter::once(x * G).chain((0..2).map(|j| m[j] * G + x * p[j])).map(|c| c.compress().to_bytes()).collect();
    let challenges = [[Scalar::ZERO, c], [c, Scalar::ZERO]];
    let mut proof = commitment_bytes;
    for j in 0..2 {
        let z = |k: usize| a[2 * j + k] + challenges[j][k] * x;
        for s in [challenges[j][0], z(0), z(1)] {
            proof.extend_from_slice(s.as_bytes());
        }
    }
    proof.extend_from_slice((a[4] + c * x).as_bytes());
    assert_ne!(m[0], Scalar::ONE);
    assert_ne!(m[0], Scalar::ZERO);
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
    for s in 0..7 {
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
        for slot in [0, 9] {
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
    assert_eq!(proof_len(4), 992);
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
