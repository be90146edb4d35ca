//! Zero-knowledge proofs that a receiver's label ciphertext is one-hot.
//!
//! The receiver R encrypts, per record, a one-hot vector `m ∈ {0,1}^L` with
//! `Σ_j m_j = 1` under its public label keys `P_j = p_j·G` with one shared
//! randomness `ρ` (Kurosawa's multi-recipient ElGamal, see [`crate::encrypt_one_hot`]):
//!
//! ```text
//! C₀ = ρ·G,    C_j = m_j·G + ρ·P_j    (j = 1 … L)
//! ```
//!
//! The aggregator A adds such ciphertexts for matched records and never
//! decrypts. A receiver that encrypts anything else (`m_j = K·2ⁱ`, two ones,
//! `−1`) reads per-record facts out of the sums, so A first checks that every
//! record is one-hot: R attaches the proof below to each record, and A
//! verifies a whole stream with [`verify_one_hot_batch`] before it adds
//! anything.
//!
//! # The statement
//!
//! For one record `(C₀, C₁, …, C_L)`, R proves knowledge of `ρ` with
//!
//! ```text
//! C₀ = ρ·G  ∧  ⋀_j ( C_j = ρ·P_j  ∨  C_j − G = ρ·P_j )  ∧  Σ_j C_j − G = ρ·Σ_j P_j
//! ```
//!
//! Since `ρ = log_G C₀` is unique, the first two parts say every `m_j` is 0
//! or 1 and the last that `Σ_j m_j = 1`. Knowing the secret keys `p_j`
//! does not help R: each clause binds the *same* response to both bases
//! `G` and `P_j`, so it holds only with `ρ = log_G C₀` itself.
//!
//! # The proof
//!
//! One Σ-protocol, the AND of `L` Chaum–Pedersen OR-proofs (Cramer,
//! Damgård, Schoenmakers, "Proofs of partial knowledge", CRYPTO '94;
//! Chaum, Pedersen, "Wallet databases with observers", CRYPTO '92) and one
//! Chaum–Pedersen DLEQ proof (the shape of RFC 9497 §2.2, with transmitted
//! commitments so that verification is batchable), all under one challenge.
//! Write `D_{j,k} = C_j − k·G` (branch `k ∈ {0,1}`), `b_j = m_j` the real
//! branch and `b̄_j = 1 − b_j` the simulated one.
//!
//! * Branch `k = b_j` (real): nonce `e_{j,k}`, commitments
//!   `A_{j,k} = e_{j,k}·G`, `B_{j,k} = e_{j,k}·P_j`.
//! * Branch `k = b̄_j` (simulated): challenge `c_{j,k} = t_j` and nonce
//!   `e_{j,k}` drawn at random, commitments `A_{j,k} = e_{j,k}·G` and
//!   `B_{j,k} = e_{j,k}·P_j − t_j·(b_j − k)·G`, which equal the simulator's
//!   `z·G − c·C₀` and `z·P_j − c·D_{j,k}` for `z = e + c·ρ`.
//! * Sum: nonce `w`, `A_Σ = w·G`, `B_Σ = w·Σ_j P_j`.
//! * Challenge: `c = H(DST, context, keys, C₀ … C_L, all commitments)`, with
//!   `H` SHA-512 reduced mod `ℓ` (Fiat–Shamir, strong form: the statement is
//!   hashed, keys included).
//! * Responses: `c_{j,b̄} = t_j`, `c_{j,b} = c − t_j`, and for both branches
//!   `z_{j,k} = e_{j,k} + c_{j,k}·ρ`; `z_Σ = w + c·ρ`.
//!
//! Both branches are computed by the same formulas; the secret bit `b_j`
//! only chooses, by [`ConditionallySelectable::conditional_select`], which
//! of `0` and `±t_j·G` enters `B_{j,k}` and which of `t_j`, `c − t_j` is
//! `c_{j,0}`. For the real branch `b_j − k = 0`, so the formula is the same.
//!
//! The verifier accepts iff, with `c_{j,1} = c − c_{j,0}` (so `c_{j,0} + c_{j,1} = c`
//! holds by construction),
//!
//! ```text
//! A_{j,k} + c_{j,k}·C₀        − z_{j,k}·G    = 0     (j = 1 … L, k = 0, 1)
//! B_{j,k} + c_{j,k}·D_{j,k}   − z_{j,k}·P_j  = 0
//! A_Σ     + c·C₀              − z_Σ·G        = 0
//! B_Σ     + c·(Σ_j C_j − G)   − z_Σ·Σ_j P_j  = 0
//! ```
//!
//! Special soundness: two accepting transcripts with challenges `c ≠ c′`
//! differ in at least one branch's challenge for every `j`, which yields
//! `ρ` with `C₀ = ρ·G` and `D_{j,k} = ρ·P_j` for that branch, and from the
//! DLEQ `Σ C_j − G = ρ·ΣP_j`. Honest-verifier zero knowledge: a transcript
//! is simulated by drawing all challenges and responses and solving the
//! equations for the commitments, which is how the simulated branch is made.
//!
//! # Batch verification
//!
//! Each of the `4L + 2` equations of every record is multiplied by its own
//! 128-bit weight from the OS CSPRNG and all are summed into one
//! multiscalar multiplication that must give the identity (a wrong batch
//! passes with probability at most `2⁻¹²⁸` per weight; ristretto255 has prime
//! order, so there are no small-subgroup components to hide in). `G` and the
//! `P_j` are shared across the batch, so they enter once with summed
//! coefficients; per record the multiplication holds `C₀ … C_L` and the
//! `4L + 2` commitments.
//!
//! # Encoding
//!
//! A record's proof is [`proof_len`]`(L) = (7L + 3)·32` bytes (992 at
//! `L = 4`): first the `4L + 2` commitments (the points hashed into the
//! challenge), then the `3L + 1` scalars.
//!
//! ```text
//! A_{1,0} B_{1,0} A_{1,1} B_{1,1} … A_{L,0} B_{L,0} A_{L,1} B_{L,1} A_Σ B_Σ
//! c_{1,0} z_{1,0} z_{1,1} … c_{L,0} z_{L,0} z_{L,1} z_Σ
//! ```
//!
//! Points are canonical compressed ristretto255 encodings, scalars canonical
//! little-endian integers below `ℓ`; anything else is refused.
//!
//! # Constant time
//!
//! The prover multiplies secrets only by fixed bases, through precomputed
//! tables (constant time in curve25519-dalek): `ρ′` by `G` and each `P_j`;
//! `e_{j,k}` by `G` and `P_j`; `t_j` and `w` by `G`; `w` by `ΣP_j`. The
//! keys' owner ([`crate::LabelKeys::encrypt_one_hot_proven`]) multiplies
//! by `G` only: its secret keys `p_j` enter constant-time scalar products
//! (`ρ′·p_j`, `e·p_j ∓ t`, `w·Σp_j`), wiped after use. The label
//! enters only through `ct_eq` and conditional selects; there is no branch
//! and no index on it or on a bit. Scalar arithmetic is constant time.
//! Nonces live in a zeroizing buffer and are wiped with their doubles. The
//! verifier is variable time (`vartime_multiscalar_mul`, early returns on a
//! malformed encoding) and sees public data only: ciphertexts, proofs, keys,
//! context and its own random weights, whose timing reveals nothing the
//! sender does not know.

use curve25519_dalek::{
    constants::{RISTRETTO_BASEPOINT_POINT as G, RISTRETTO_BASEPOINT_TABLE},
    ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint},
    scalar::Scalar,
    traits::{Identity, IsIdentity, VartimeMultiscalarMul},
};
use rand_core::{OsRng, RngCore};
use rayon::prelude::*;
use sha2::{Digest, Sha512};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::{Zeroize, Zeroizing};

use crate::{CryptoError, PointBytes, PublicLabelKeys, BATCH_CHUNK, POINT_LEN};

/// Domain separation of the Fiat–Shamir hash.
const DST: &[u8] = b"venn-crypto/one-hot-proof/v1/ristretto255/SHA-512";

/// Bytes of a canonical scalar.
const SCALAR_LEN: usize = 32;

/// Records per parallel task: like [`crate::encrypt_one_hot`], a quarter of
/// [`BATCH_CHUNK`], since a record is many points.
const RECORDS_PER_CHUNK: usize = BATCH_CHUNK / 4;

/// Bytes of one record's proof for `labels` labels: `4L + 2` points and
/// `3L + 1` scalars, `(7L + 3)·32` bytes.
pub const fn proof_len(labels: usize) -> usize {
    commitments_len(labels) + (3 * labels + 1) * SCALAR_LEN
}

/// Bytes of the commitments at the head of a proof.
const fn commitments_len(labels: usize) -> usize {
    (4 * labels + 2) * POINT_LEN
}

/// Random weights per record in the batch check: one per equation.
const fn equations(labels: usize) -> usize {
    4 * labels + 2
}

/// One bit's OR-proof: commitments `[(A_{j,0}, B_{j,0}), (A_{j,1}, B_{j,1})]`,
/// the challenge `c_{j,0}` and responses `[z_{j,0}, z_{j,1}]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct BitProof {
    commitments: [[RistrettoPoint; 2]; 2],
    c0: Scalar,
    z: [Scalar; 2],
}

/// One record's proof, parsed and validated (see the module docs for the
/// equations and the byte layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneHotProof {
    bits: Vec<BitProof>,
    sum_commitments: [RistrettoPoint; 2],
    sum_response: Scalar,
}

impl OneHotProof {
    /// Parses one record's proof for `labels` labels. Fails with
    /// [`CryptoError::ProofLength`] unless `bytes` is exactly
    /// [`proof_len`]`(labels)` long, and with
    /// [`CryptoError::MalformedProof`]` { record: 0 }` if a point is not a
    /// canonical ristretto255 encoding or a scalar is not canonical.
    pub fn from_bytes(bytes: &[u8], labels: usize) -> Result<Self, CryptoError> {
        Self::parse(bytes, labels, 0)
    }

    /// Number of labels the proof is for.
    pub fn labels(&self) -> usize {
        self.bits.len()
    }

    /// The fixed-size encoding, [`proof_len`]`(self.labels())` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let labels = self.labels();
        let mut out = Vec::with_capacity(proof_len(labels));
        for bit in &self.bits {
            for point in bit.commitments.iter().flatten() {
                out.extend_from_slice(point.compress().as_bytes());
            }
        }
        for point in &self.sum_commitments {
            out.extend_from_slice(point.compress().as_bytes());
        }
        for bit in &self.bits {
            for s in [&bit.c0, &bit.z[0], &bit.z[1]] {
                out.extend_from_slice(s.as_bytes());
            }
        }
        out.extend_from_slice(self.sum_response.as_bytes());
        out
    }

    /// [`Self::from_bytes`] naming `record` in its errors.
    fn parse(bytes: &[u8], labels: usize, record: usize) -> Result<Self, CryptoError> {
        let expected = proof_len(labels);
        if bytes.len() != expected {
            return Err(CryptoError::ProofLength { len: bytes.len(), expected });
        }
        let malformed = || CryptoError::MalformedProof { record };
        let (points, scalars) = bytes.split_at(commitments_len(labels));
        let mut points = points.chunks_exact(POINT_LEN).map(|b| decode_point(b).ok_or_else(malformed));
        let mut scalars = scalars.chunks_exact(SCALAR_LEN).map(|b| decode_scalar(b).ok_or_else(malformed));
        // The lengths were checked, so the iterators cannot run dry; a
        // missing item still maps to an error rather than a panic.
        let mut point = || points.next().unwrap_or_else(|| Err(malformed()));
        let mut bits = Vec::with_capacity(labels);
        for _ in 0..labels {
            let commitments = [[point()?, point()?], [point()?, point()?]];
            bits.push(BitProof { commitments, c0: Scalar::ZERO, z: [Scalar::ZERO; 2] });
        }
        let sum_commitments = [point()?, point()?];
        let mut scalar = || scalars.next().unwrap_or_else(|| Err(malformed()));
        for bit in &mut bits {
            bit.c0 = scalar()?;
            bit.z = [scalar()?, scalar()?];
        }
        let sum_response = scalar()?;
        Ok(Self { bits, sum_commitments, sum_response })
    }
}

/// A canonical ristretto255 encoding, decompressed.
fn decode_point(bytes: &[u8]) -> Option<RistrettoPoint> {
    CompressedRistretto::from_slice(bytes).ok()?.decompress()
}

/// A canonical scalar (`< ℓ`).
fn decode_scalar(bytes: &[u8]) -> Option<Scalar> {
    let bytes: [u8; SCALAR_LEN] = bytes.try_into().ok()?;
    Scalar::from_canonical_bytes(bytes).into()
}

/// The Fiat–Shamir hash absorbed up to the record: the domain tag, the
/// context and the keys, each length-prefixed. Computed once per call and
/// cloned per record.
fn transcript_prefix(keys: &PublicLabelKeys, context: &[u8]) -> Sha512 {
    let mut h = Sha512::new();
    h.update((DST.len() as u64).to_le_bytes());
    h.update(DST);
    h.update((context.len() as u64).to_le_bytes());
    h.update(context);
    h.update((keys.len() as u64).to_le_bytes());
    for key in keys.to_bytes() {
        h.update(key);
    }
    h
}

/// `c = H(prefix ‖ C₀ … C_L ‖ commitments) mod ℓ`.
fn challenge(prefix: &Sha512, ciphertext: &[PointBytes], commitments: &[u8]) -> Scalar {
    let mut h = prefix.clone();
    for point in ciphertext {
        h.update(point);
    }
    h.update(commitments);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// `G/2`, the point whose double is the basepoint.
fn half_basepoint() -> RistrettoPoint {
    &Scalar::from(2u8).invert() * RISTRETTO_BASEPOINT_TABLE
}

/// [`crate::encrypt_one_hot`] with a proof per record: returns the same
/// flattened ciphertexts (`L + 1` points per record, in the order of
/// `labels`) and the proofs, [`proof_len`]`(L)` bytes per record in the same
/// order. `context` is bound into every proof (the session id), so a proof
/// verifies only under the same context and keys.
///
/// Fails with [`CryptoError::LabelOutOfRange`] if a label is `≥ L`.
///
/// Like [`crate::encrypt_one_hot`], every point is computed halved with
/// halved secrets and compressed doubled in one batch per chunk (one field
/// inversion per chunk); the ciphertext uses randomness `ρ = 2ρ′`, the
/// nonces are `2e′`, `2t′`, `2w′`. Cost per record: `6L + 3` fixed-base
/// multiplications (`5L + 3` by the keys' owner, who uses
/// [`crate::LabelKeys::encrypt_one_hot_proven`]).
pub fn encrypt_one_hot_proven(
    keys: &PublicLabelKeys,
    labels: &[u16],
    context: &[u8],
) -> Result<(Vec<PointBytes>, Vec<u8>), CryptoError> {
    prove(keys, None, labels, context)
}

impl crate::LabelKeys {
    /// [`encrypt_one_hot_proven`] by the keys' owner, who knows each
    /// `p_j`: every point that the public prover makes as `x·P_j ± y·G`
    /// (two table multiplications) it makes as `(x·p_j ± y)·G` (one), so a
    /// record costs `5L + 3` fixed-base multiplications instead of `6L + 3`.
    /// Same ciphertexts and proofs, in distribution and in format: the
    /// verifier cannot tell the two apart. The secret keys enter only
    /// constant-time scalar arithmetic and the basepoint table.
    pub fn encrypt_one_hot_proven(
        &self,
        labels: &[u16],
        context: &[u8],
    ) -> Result<(Vec<PointBytes>, Vec<u8>), CryptoError> {
        prove(self.public(), Some(self.secrets()), labels, context)
    }
}

/// Both provers: with `secrets`, the owner's.
fn prove(
    keys: &PublicLabelKeys,
    secrets: Option<&[Scalar]>,
    labels: &[u16],
    context: &[u8],
) -> Result<(Vec<PointBytes>, Vec<u8>), CryptoError> {
    let l = keys.len();
    if let Some(&bad) = labels.iter().find(|&&label| label as usize >= l) {
        return Err(CryptoError::LabelOutOfRange { label: bad as usize, labels: l });
    }
    let width = l + 1;
    let plen = proof_len(l);
    let prover = Prover {
        keys,
        secrets,
        prefix: transcript_prefix(keys, context),
        half: Scalar::from(2u8).invert(),
        half_g: half_basepoint(),
        sum_table: RistrettoBasepointTable::create(&keys.points().iter().sum()),
    };
    let mut ciphertexts = vec![[0u8; POINT_LEN]; labels.len() * width];
    let mut proofs = vec![0u8; labels.len() * plen];
    ciphertexts
        .par_chunks_mut(width * RECORDS_PER_CHUNK)
        .zip(proofs.par_chunks_mut(plen * RECORDS_PER_CHUNK))
        .zip(labels.par_chunks(RECORDS_PER_CHUNK))
        .for_each(|((cts, proofs), labels)| prover.prove_chunk(labels, cts, proofs));
    Ok((ciphertexts, proofs))
}

/// What every chunk of the prover shares.
struct Prover<'k> {
    keys: &'k PublicLabelKeys,
    /// The secret keys `p_j`, when the owner proves.
    secrets: Option<&'k [Scalar]>,
    prefix: Sha512,
    /// `1/2 mod ℓ`, and `G/2`.
    half: Scalar,
    half_g: RistrettoPoint,
    sum_table: RistrettoBasepointTable,
}

impl Prover<'_> {
    /// Encrypts and proves `labels` into `cts` and `proofs` (sized for them).
    fn prove_chunk(&self, labels: &[u16], cts: &mut [PointBytes], proofs: &mut [u8]) {
        let l = self.keys.len();
        let width = l + 1;
        let plen = proof_len(l);
        let clen = commitments_len(l);
        // Per record: ρ′, then (e′_{j,0}, e′_{j,1}, t′_j) per label, then w′.
        let per = 3 * l + 2;
        let secrets = random_scalars(labels.len() * per);
        let stride = width + equations(l);
        let mut halves = Vec::with_capacity(labels.len() * stride);
        for (&label, s) in labels.iter().zip(secrets.chunks_exact(per)) {
            self.half_points(label, s, &mut halves);
        }
        let compressed = RistrettoPoint::double_and_compress_batch(&halves);
        for (r, (&label, s)) in labels.iter().zip(secrets.chunks_exact(per)).enumerate() {
            let points = &compressed[r * stride..(r + 1) * stride];
            let ct = &mut cts[r * width..(r + 1) * width];
            let proof = &mut proofs[r * plen..(r + 1) * plen];
            for (slot, c) in ct.iter_mut().zip(&points[..width]) {
                *slot = c.to_bytes();
            }
            for (slot, c) in proof[..clen].chunks_exact_mut(POINT_LEN).zip(&points[width..]) {
                slot.copy_from_slice(c.as_bytes());
            }
            let c = challenge(&self.prefix, ct, &proof[..clen]);
            respond(label, s, &c, &mut proof[clen..]);
        }
    }

    /// Pushes one record's halved points: `C₀/2, C_j/2`, then per label
    /// `A_{j,0}/2, B_{j,0}/2, A_{j,1}/2, B_{j,1}/2`, then `A_Σ/2, B_Σ/2`.
    /// `s` holds the halved secrets `ρ′, (e′_{j,0}, e′_{j,1}, t′_j)…, w′`.
    fn half_points(&self, label: u16, s: &[Scalar], out: &mut Vec<RistrettoPoint>) {
        match self.secrets {
            None => self.half_points_public(label, s, out),
            Some(secrets) => self.half_points_owner(secrets, label, s, out),
        }
    }

    /// [`Self::half_points`] from the public keys' tables.
    fn half_points_public(&self, label: u16, s: &[Scalar], out: &mut Vec<RistrettoPoint>) {
        let g = RISTRETTO_BASEPOINT_TABLE;
        let rho = &s[0];
        out.push(rho * g);
        for (j, table) in self.keys.tables().iter().enumerate() {
            let mask = rho * table;
            let bit = (j as u16).ct_eq(&label);
            out.push(RistrettoPoint::conditional_select(&mask, &(mask + self.half_g), bit));
        }
        for (j, (table, nonces)) in self.keys.tables().iter().zip(s[1..].chunks_exact(3)).enumerate() {
            let bit = (j as u16).ct_eq(&label);
            let (e0, e1, t) = (&nonces[0], &nonces[1], &nonces[2]);
            // t′·G enters B_{j,k} only in the simulated branch, with sign
            // −(b − k): −t′·G at k = 0 when b = 1, +t′·G at k = 1 when b = 0.
            let mut sim = t * g;
            let identity = RistrettoPoint::identity();
            let at0 = RistrettoPoint::conditional_select(&identity, &sim, bit);
            let at1 = RistrettoPoint::conditional_select(&sim, &identity, bit);
            sim.zeroize();
            out.extend([e0 * g, e0 * table - at0, e1 * g, e1 * table + at1]);
        }
        let w = &s[3 * self.keys.len() + 1];
        out.extend([w * g, w * &self.sum_table]);
    }

    /// [`Self::half_points`] by the owner of the keys: the same points,
    /// each as one multiple of `G` (`ρ′·P_j + b·G/2 = (ρ′·p_j + b/2)·G`,
    /// `e′·P_j ∓ t′·G = (e′·p_j ∓ t′)·G`). The exponents are selected, not
    /// branched on, as in the public prover.
    fn half_points_owner(&self, secrets: &[Scalar], label: u16, s: &[Scalar], out: &mut Vec<RistrettoPoint>) {
        let g = RISTRETTO_BASEPOINT_TABLE;
        let rho = &s[0];
        out.push(rho * g);
        for (j, p) in secrets.iter().enumerate() {
            let bit = (j as u16).ct_eq(&label);
            let mask = Zeroizing::new(rho * p);
            let x = Zeroizing::new(Scalar::conditional_select(&mask, &(*mask + self.half), bit));
            out.push(&*x * g);
        }
        for (j, (p, nonces)) in secrets.iter().zip(s[1..].chunks_exact(3)).enumerate() {
            let bit = (j as u16).ct_eq(&label);
            let (e0, e1, t) = (&nonces[0], &nonces[1], &nonces[2]);
            // As in the public prover: −t′ at k = 0 when b = 1, +t′ at k = 1 when b = 0.
            let at0 = Zeroizing::new(Scalar::conditional_select(&Scalar::ZERO, t, bit));
            let at1 = Zeroizing::new(Scalar::conditional_select(t, &Scalar::ZERO, bit));
            let b0 = Zeroizing::new(e0 * p - *at0);
            let b1 = Zeroizing::new(e1 * p + *at1);
            out.extend([e0 * g, &*b0 * g, e1 * g, &*b1 * g]);
        }
        let w = &s[3 * secrets.len() + 1];
        let p_sum: Zeroizing<Scalar> = Zeroizing::new(secrets.iter().sum());
        let w_sum = Zeroizing::new(w * *p_sum);
        out.extend([w * g, &*w_sum * g]);
    }
}

/// Writes one record's scalars `c_{j,0}, z_{j,0}, z_{j,1} …, z_Σ` for
/// challenge `c` from the halved secrets `s` (see [`Prover::half_points`]).
fn respond(label: u16, s: &[Scalar], c: &Scalar, out: &mut [u8]) {
    let rho = Zeroizing::new(s[0] + s[0]);
    let mut slots = out.chunks_exact_mut(SCALAR_LEN);
    let mut write = |value: &Scalar| {
        if let Some(slot) = slots.next() {
            slot.copy_from_slice(value.as_bytes());
        }
    };
    for (j, nonces) in s[1..s.len() - 1].chunks_exact(3).enumerate() {
        let bit = (j as u16).ct_eq(&label);
        let e0 = Zeroizing::new(nonces[0] + nonces[0]);
        let e1 = Zeroizing::new(nonces[1] + nonces[1]);
        let t = Zeroizing::new(nonces[2] + nonces[2]);
        // The simulated branch keeps challenge t; the real one gets c − t.
        let c0 = Scalar::conditional_select(&(c - *t), &t, bit);
        let c1 = c - c0;
        write(&c0);
        write(&(*e0 + c0 * *rho));
        write(&(*e1 + c1 * *rho));
    }
    let w = Zeroizing::new(s[s.len() - 1] + s[s.len() - 1]);
    write(&(*w + c * *rho));
}

/// `count` uniform scalars from the OS CSPRNG, in a buffer wiped on drop.
fn random_scalars(count: usize) -> Zeroizing<Vec<Scalar>> {
    let mut wide = Zeroizing::new(vec![0u8; count * 64]);
    OsRng.fill_bytes(&mut wide);
    let mut block = Zeroizing::new([0u8; 64]);
    let scalars = wide
        .chunks_exact(64)
        .map(|b| {
            block.copy_from_slice(b);
            Scalar::from_bytes_mod_order_wide(&block)
        })
        .collect();
    Zeroizing::new(scalars)
}

/// Verifies the proofs of a batch of one-hot ciphertexts: `ciphertexts` as
/// from [`encrypt_one_hot_proven`] (`L + 1` points per record) and `proofs`
/// ([`proof_len`]`(L)` bytes per record, same order), under `keys` and
/// `context`. An empty batch verifies.
///
/// Errors, in the order checked:
/// * [`CryptoError::RaggedCiphertexts`]: the points do not form records;
/// * [`CryptoError::ProofLength`]: `proofs` is not one proof per record;
/// * [`CryptoError::InvalidEncoding`]` { index }`: ciphertext point `index`
///   (flat, `record·(L + 1) + j`) is not a canonical encoding;
/// * [`CryptoError::MalformedProof`]` { record }`: a point or scalar of that
///   record's proof is not canonical (the lowest such index is reported for
///   either kind);
/// * [`CryptoError::ProofRejected`]: the weighted batch equation fails, so
///   at least one record is not proven one-hot; which is not said.
///
/// Variable time on public data only. Records are spread over rayon tasks
/// of [`BATCH_CHUNK`]` / 4`; each task sums its part with one
/// `vartime_multiscalar_mul` over its ciphertext and commitment points, and
/// a last one over `G` and the `P_j` adds the shared terms.
pub fn verify_one_hot_batch(
    keys: &PublicLabelKeys,
    ciphertexts: &[PointBytes],
    proofs: &[u8],
    context: &[u8],
) -> Result<(), CryptoError> {
    verify_one_hot_batch_points(keys, ciphertexts, proofs, context).map(|_| ())
}

/// [`verify_one_hot_batch`], returning the ciphertexts' points once they
/// are proven, decompressed, in order: the aggregator adds them into its
/// accumulators without decompressing them a second time.
pub fn verify_one_hot_batch_points(
    keys: &PublicLabelKeys,
    ciphertexts: &[PointBytes],
    proofs: &[u8],
    context: &[u8],
) -> Result<Vec<RistrettoPoint>, CryptoError> {
    let l = keys.len();
    let width = l + 1;
    if !ciphertexts.len().is_multiple_of(width) {
        return Err(CryptoError::RaggedCiphertexts { len: ciphertexts.len(), width });
    }
    let records = ciphertexts.len() / width;
    let plen = proof_len(l);
    let expected = records.saturating_mul(plen);
    if proofs.len() != expected {
        return Err(CryptoError::ProofLength { len: proofs.len(), expected });
    }
    let prefix = transcript_prefix(keys, context);
    let parts: Vec<Result<PartialSum, CryptoError>> = ciphertexts
        .par_chunks(width * RECORDS_PER_CHUNK)
        .zip(proofs.par_chunks(plen * RECORDS_PER_CHUNK))
        .enumerate()
        .map(|(chunk, (cts, proofs))| verify_chunk(l, &prefix, cts, proofs, chunk * RECORDS_PER_CHUNK))
        .collect();
    let mut total = RistrettoPoint::identity();
    let mut g = Scalar::ZERO;
    let mut p = vec![Scalar::ZERO; l];
    let mut points = Vec::with_capacity(ciphertexts.len());
    // Chunks are collected in order, so the first error has the lowest index.
    for part in parts {
        let part = part?;
        points.extend(part.ciphertexts);
        total += part.point;
        g += part.g;
        for (sum, x) in p.iter_mut().zip(&part.p) {
            *sum += x;
        }
    }
    let shared = RistrettoPoint::vartime_multiscalar_mul(
        std::iter::once(g).chain(p),
        std::iter::once(G).chain(keys.points().iter().copied()),
    );
    if (total + shared).is_identity() {
        Ok(points)
    } else {
        Err(CryptoError::ProofRejected)
    }
}

/// One chunk's share of the batch equation: the multiscalar sum over its
/// own points, and its coefficients of `G` and each `P_j`.
struct PartialSum {
    point: RistrettoPoint,
    g: Scalar,
    p: Vec<Scalar>,
    /// The chunk's ciphertext points, decompressed, in order.
    ciphertexts: Vec<RistrettoPoint>,
}

/// Parses, hashes and weighs one chunk of records starting at `first`.
fn verify_chunk(
    l: usize,
    prefix: &Sha512,
    cts: &[PointBytes],
    proofs: &[u8],
    first: usize,
) -> Result<PartialSum, CryptoError> {
    let width = l + 1;
    let plen = proof_len(l);
    let clen = commitments_len(l);
    let records = cts.len() / width;
    let per_record = width + equations(l);
    let mut scalars = Vec::with_capacity(records * per_record);
    let mut points = Vec::with_capacity(records * per_record);
    let mut g = Scalar::ZERO;
    let mut p = vec![Scalar::ZERO; l];
    let mut ciphertexts = Vec::with_capacity(cts.len());
    let mut weight_bytes = vec![0u8; equations(l) * 16];
    for (r, (ct, proof_bytes)) in cts.chunks_exact(width).zip(proofs.chunks_exact(plen)).enumerate() {
        let record = first + r;
        let ct_points = ct
            .iter()
            .enumerate()
            .map(|(j, b)| {
                CompressedRistretto(*b).decompress().ok_or(CryptoError::InvalidEncoding { index: record * width + j })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let proof = OneHotProof::parse(proof_bytes, l, record)?;
        let c = challenge(prefix, ct, &proof_bytes[..clen]);
        OsRng.fill_bytes(&mut weight_bytes);
        let mut weights = weight_bytes.chunks_exact(16).map(|b| {
            let mut w = [0u8; 16];
            w.copy_from_slice(b);
            Scalar::from(u128::from_le_bytes(w))
        });
        let mut weight = || weights.next().unwrap_or(Scalar::ONE);
        // Coefficients of this record's C₀ … C_L.
        let mut coeff = vec![Scalar::ZERO; width];
        for (j, bit) in proof.bits.iter().enumerate() {
            let challenges = [bit.c0, c - bit.c0];
            for (k, ((ck, zk), [a, b])) in challenges.into_iter().zip(bit.z).zip(bit.commitments).enumerate() {
                // A + c·C₀ − z·G = 0
                let alpha = weight();
                points.push(a);
                scalars.push(alpha);
                coeff[0] += alpha * ck;
                g -= alpha * zk;
                // B + c·(C_j − k·G) − z·P_j = 0
                let beta = weight();
                points.push(b);
                scalars.push(beta);
                coeff[j + 1] += beta * ck;
                if k == 1 {
                    g -= beta * ck;
                }
                p[j] -= beta * zk;
            }
        }
        // A_Σ + c·C₀ − z_Σ·G = 0 and B_Σ + c·(ΣC_j − G) − z_Σ·ΣP_j = 0
        let z = proof.sum_response;
        let [a, b] = proof.sum_commitments;
        let (gamma, delta) = (weight(), weight());
        points.extend([a, b]);
        scalars.extend([gamma, delta]);
        coeff[0] += gamma * c;
        g -= gamma * z + delta * c;
        let delta_c = delta * c;
        let delta_z = delta * z;
        for j in 0..l {
            coeff[j + 1] += delta_c;
            p[j] -= delta_z;
        }
        points.extend_from_slice(&ct_points);
        ciphertexts.extend(ct_points);
        scalars.extend(coeff);
    }
    let point = RistrettoPoint::vartime_multiscalar_mul(&scalars, &points);
    Ok(PartialSum { point, g, p, ciphertexts })
}

#[cfg(test)]
mod tests;
