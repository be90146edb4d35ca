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
//! For one record `(C₀, C₁, …, C_L)`, R proves knowledge of `ρ` and `m`
//! with
//!
//! ```text
//! C₀ = ρ·G  ∧  ⋀_j ( C_j = m_j·G + ρ·P_j  ∧  m_j·(1 − m_j) = 0 )  ∧  Σ_j m_j = 1
//! ```
//!
//! ElGamal is perfectly binding: `C₀` fixes `ρ`, and then each `C_j` fixes
//! `m_j`, whatever R knows. Knowing the secret keys `p_j` therefore does not
//! help R: every equation below binds `ρ` through `C₀` and `G` as well as
//! through `P_j`.
//!
//! # The proof
//!
//! Groth and Kohlweiss's proof that a committed value is a bit ("One-out-of-many
//! proofs", EUROCRYPT 2015, Fig. 1; Bootle et al., ESORICS 2015), run on each
//! component with ElGamal in place of Pedersen commitments, one shared
//! `S` for the `A_j` (they hide the `a_j` under one randomness, as the
//! ciphertext hides the `m_j` under `ρ`), and the sum folded into the
//! masks: the prover draws `a_1 … a_{L−1}` and sets `a_L = −Σ_{j<L} a_j`,
//! so the responses `f_j = m_j·c + a_j` sum to `c` exactly when the `m_j`
//! sum to 1, and `f_L` need not be sent.
//!
//! * Nonces `s`, `a_1 … a_{L−1}`, `t_1 … t_L`; `a_L = −Σ_{j<L} a_j`.
//! * Commitments `S = s·G`, and per component `A_j = a_j·G + s·P_j`,
//!   `T_j = t_j·G`, `B_j = (a_j·m_j)·G + t_j·P_j`.
//! * Challenge: `c = H(DST, context, keys, C₀ … C_L, all commitments)`, with
//!   `H` SHA-512 reduced mod `ℓ` (Fiat–Shamir, strong form: the statement is
//!   hashed, keys included).
//! * Responses `f_j = m_j·c + a_j` (`j < L`), `z = ρ·c + s`, and
//!   `y_j = ρ·(c − f_j) + t_j`.
//!
//! The verifier sets `f_L = c − Σ_{j<L} f_j` and accepts iff
//!
//! ```text
//! S   + c·C₀          − z·G             = 0
//! A_j + c·C_j         − f_j·G − z·P_j   = 0     (j = 1 … L)
//! T_j + (c − f_j)·C₀  − y_j·G           = 0
//! B_j + (c − f_j)·C_j − y_j·P_j         = 0
//! ```
//!
//! Completeness: the last line is `(a_j·m_j + (c − f_j)·m_j)·G = c·m_j·(1 − m_j)·G`,
//! zero for a bit. Special soundness: from two accepting transcripts with
//! challenges `c ≠ c′` the first two lines give `ρ` (with `C₀ = ρ·G`), the
//! plaintexts `m_j` and masks `a_j` with `f_j = m_j·c + a_j` in both; the
//! last two then say that `B_j − t_j·P_j = −(c − f_j)·m_j·G` for a fixed
//! `t_j`, and `(c − f_j)·m_j = c·m_j·(1 − m_j) − a_j·m_j` is the same for
//! both challenges only if `m_j·(1 − m_j) = 0`; `Σ f_j = c` for both gives
//! `Σ m_j = 1`. Honest-verifier zero knowledge: draw `c`, the `f_j`
//! (`j < L`), `z` and the `y_j` uniformly and solve the equations for the
//! commitments; in a real proof the `a_j`, `s` and `t_j` make those
//! responses uniform too. Each `y_j` has its own `t_j`: with one `T` for
//! all components, `y_i − y_j = ρ·(f_j − f_i)` would reveal `ρ`.
//!
//! The earlier proof, `L` Chaum–Pedersen OR-proofs and a DLEQ for the sum
//! (`4L + 2` commitments, `3L + 1` scalars), proved the same statement with
//! five more points per record at `L = 4`, each a multiplication for the
//! prover and a decompression for the verifier.
//!
//! # Batch verification
//!
//! Each of the `3L + 1` equations of every record is multiplied by its own
//! 128-bit weight from the OS CSPRNG and all are summed into one
//! multiscalar multiplication that must give the identity (a wrong batch
//! passes with probability at most `2⁻¹²⁸` per weight; ristretto255 has prime
//! order, so there are no small-subgroup components to hide in). `G` and the
//! `P_j` are shared across the batch, so they enter once with summed
//! coefficients; per record the multiplication holds `C₀ … C_L` and the
//! `3L + 1` commitments.
//!
//! # Encoding
//!
//! A record's proof is [`proof_len`]`(L) = (5L + 1)·32` bytes (672 at
//! `L = 4`): first the `3L + 1` commitments (the points hashed into the
//! challenge), then the `2L` scalars.
//!
//! ```text
//! S  A_1 T_1 B_1  …  A_L T_L B_L
//! f_1 … f_{L−1}  z  y_1 … y_L
//! ```
//!
//! Points are canonical compressed ristretto255 encodings, scalars canonical
//! little-endian integers below `ℓ`; anything else is refused.
//!
//! # Constant time
//!
//! The prover multiplies secrets only by fixed bases, through precomputed
//! tables (constant time in curve25519-dalek): `ρ′`, `s′`, `a′_j`, `t′_j`
//! by `G`, and `ρ′`, `s′`, `t′_j` by `P_j`. The keys' owner
//! ([`crate::LabelKeys::encrypt_one_hot_proven`]) multiplies by `G` only:
//! its secret keys `p_j` enter constant-time scalar products (`ρ′·p_j`,
//! `s′·p_j`, `t′_j·p_j`), wiped after use. The label enters only through
//! `ct_eq` and conditional selects; there is no branch and no index on it
//! or on a bit. Scalar arithmetic is constant time. Nonces live in a
//! zeroizing buffer and are wiped with their doubles. The verifier is
//! variable time (`vartime_multiscalar_mul`, early returns on a malformed
//! encoding) and sees public data only: ciphertexts, proofs, keys, context
//! and its own random weights, whose timing reveals nothing the sender
//! does not know.

use curve25519_dalek::{
    constants::{RISTRETTO_BASEPOINT_POINT as G, RISTRETTO_BASEPOINT_TABLE},
    ristretto::{CompressedRistretto, RistrettoPoint},
    scalar::Scalar,
    traits::{Identity, IsIdentity, VartimeMultiscalarMul},
};
use rand_core::{OsRng, RngCore};
use rayon::prelude::*;
use sha2::{Digest, Sha512};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

use crate::{CryptoError, PointBytes, PublicLabelKeys, BATCH_CHUNK, POINT_LEN};

/// Domain separation of the Fiat–Shamir hash (v2: the bit-product proof).
const DST: &[u8] = b"venn-crypto/one-hot-proof/v2/ristretto255/SHA-512";

/// Bytes of a canonical scalar.
const SCALAR_LEN: usize = 32;

/// Records per parallel task: like [`crate::encrypt_one_hot`], a quarter of
/// [`BATCH_CHUNK`], since a record is many points.
const RECORDS_PER_CHUNK: usize = BATCH_CHUNK / 4;

/// Bytes of one record's proof for `labels` labels: `3L + 1` points and
/// `2L` scalars, `(5L + 1)·32` bytes.
pub const fn proof_len(labels: usize) -> usize {
    commitments_len(labels) + 2 * labels * SCALAR_LEN
}

/// Bytes of the commitments at the head of a proof.
const fn commitments_len(labels: usize) -> usize {
    equations(labels) * POINT_LEN
}

/// Equations per record in the batch check, each with its own weight; also
/// the number of commitments.
const fn equations(labels: usize) -> usize {
    3 * labels + 1
}

/// One component's commitments `A_j, T_j, B_j` and its response `y_j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ComponentProof {
    a: RistrettoPoint,
    t: RistrettoPoint,
    b: RistrettoPoint,
    y: Scalar,
}

/// One record's proof, parsed and validated (see the module docs for the
/// equations and the byte layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneHotProof {
    s: RistrettoPoint,
    components: Vec<ComponentProof>,
    /// `f_1 … f_{L−1}`; the verifier derives `f_L`.
    f: Vec<Scalar>,
    z: Scalar,
}

impl OneHotProof {
    /// Parses one record's proof for `labels` labels. Fails with
    /// [`CryptoError::TooManyKeys`] if `labels` exceeds
    /// [`crate::MAX_LABELS`], with [`CryptoError::ProofLength`] unless
    /// `bytes` is exactly [`proof_len`]`(labels)` long, and with
    /// [`CryptoError::MalformedProof`]` { record: 0 }` if a point is not a
    /// canonical ristretto255 encoding or a scalar is not canonical.
    pub fn from_bytes(bytes: &[u8], labels: usize) -> Result<Self, CryptoError> {
        Self::parse(bytes, labels, 0)
    }

    /// Number of labels the proof is for.
    pub fn labels(&self) -> usize {
        self.components.len()
    }

    /// The fixed-size encoding, [`proof_len`]`(self.labels())` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(proof_len(self.labels()));
        out.extend_from_slice(self.s.compress().as_bytes());
        for c in &self.components {
            for point in [&c.a, &c.t, &c.b] {
                out.extend_from_slice(point.compress().as_bytes());
            }
        }
        for f in &self.f {
            out.extend_from_slice(f.as_bytes());
        }
        out.extend_from_slice(self.z.as_bytes());
        for c in &self.components {
            out.extend_from_slice(c.y.as_bytes());
        }
        out
    }

    /// `f_1 … f_L` under challenge `c`, the last one derived: `c − Σ_{j<L} f_j`.
    fn all_f(&self, c: &Scalar) -> impl Iterator<Item = Scalar> + '_ {
        let last = c - self.f.iter().sum::<Scalar>();
        self.f.iter().copied().chain(std::iter::once(last))
    }

    /// [`Self::from_bytes`] naming `record` in its errors.
    fn parse(bytes: &[u8], labels: usize, record: usize) -> Result<Self, CryptoError> {
        // Keys are at most MAX_LABELS (PublicLabelKeys), so proof_len cannot
        // overflow below; a caller's larger count is refused, not wrapped.
        if labels > crate::MAX_LABELS {
            return Err(CryptoError::TooManyKeys { count: labels });
        }
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
        let s = point()?;
        let mut components = Vec::with_capacity(labels);
        for _ in 0..labels {
            components.push(ComponentProof { a: point()?, t: point()?, b: point()?, y: Scalar::ZERO });
        }
        let mut scalar = || scalars.next().unwrap_or_else(|| Err(malformed()));
        let f = (1..labels).map(|_| scalar()).collect::<Result<Vec<_>, _>>()?;
        let z = scalar()?;
        for c in &mut components {
            c.y = scalar()?;
        }
        Ok(Self { s, components, f, z })
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
/// nonces are `2s′`, `2a′_j`, `2t′_j`. Cost per record: `5L + 2` fixed-base
/// multiplications (`4L + 2` by the keys' owner, who uses
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
    /// `p_j`: every point that the public prover makes as `x·P_j + y·G`
    /// (two table multiplications) it makes as `(x·p_j + y)·G` (one), so a
    /// record costs `4L + 2` fixed-base multiplications instead of `5L + 2`.
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
}

/// One record's halved secrets, drawn as `ρ′, s′, a′_1 … a′_{L−1},
/// t′_1 … t′_L` (`2L + 1` scalars), with `a′_L = −Σ_{j<L} a′_j` derived
/// once (the drawn ones are wiped with their buffer, the derived on drop).
struct Nonces<'a> {
    drawn: &'a [Scalar],
    a: Zeroizing<Vec<Scalar>>,
}

impl<'a> Nonces<'a> {
    const fn per_record(labels: usize) -> usize {
        2 * labels + 1
    }

    /// The nonces of `labels` labels in `drawn` ([`Self::per_record`] long).
    fn new(drawn: &'a [Scalar], labels: usize) -> Self {
        let masks = &drawn[2..labels + 1];
        let last = -masks.iter().sum::<Scalar>();
        let a = Zeroizing::new(masks.iter().copied().chain(std::iter::once(last)).collect());
        Nonces { drawn, a }
    }

    fn rho(&self) -> &Scalar {
        &self.drawn[0]
    }

    fn s(&self) -> &Scalar {
        &self.drawn[1]
    }

    /// `a′_1 … a′_L`.
    fn a(&self) -> &[Scalar] {
        &self.a
    }

    /// `t′_1 … t′_L`.
    fn t(&self) -> &[Scalar] {
        &self.drawn[self.a.len() + 1..]
    }
}

impl Prover<'_> {
    /// Encrypts and proves `labels` into `cts` and `proofs` (sized for them).
    fn prove_chunk(&self, labels: &[u16], cts: &mut [PointBytes], proofs: &mut [u8]) {
        let l = self.keys.len();
        let width = l + 1;
        let plen = proof_len(l);
        let clen = commitments_len(l);
        let secrets = random_scalars(labels.len() * Nonces::per_record(l));
        let nonces: Vec<Nonces> = secrets.chunks_exact(Nonces::per_record(l)).map(|s| Nonces::new(s, l)).collect();
        let stride = width + equations(l);
        let mut halves = Vec::with_capacity(labels.len() * stride);
        for (&label, n) in labels.iter().zip(&nonces) {
            self.half_points(label, n, &mut halves);
        }
        let compressed = RistrettoPoint::double_and_compress_batch(&halves);
        for (r, (&label, n)) in labels.iter().zip(&nonces).enumerate() {
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
            respond(label, n, &c, &mut proof[clen..]);
        }
    }

    /// Pushes one record's halved points: `C₀/2, C_j/2`, then `S/2`, then
    /// per label `A_j/2, T_j/2, B_j/2`.
    fn half_points(&self, label: u16, n: &Nonces, out: &mut Vec<RistrettoPoint>) {
        match self.secrets {
            None => self.half_points_public(label, n, out),
            Some(secrets) => self.half_points_owner(secrets, label, n, out),
        }
    }

    /// [`Self::half_points`] from the public keys' tables.
    fn half_points_public(&self, label: u16, n: &Nonces, out: &mut Vec<RistrettoPoint>) {
        let g = RISTRETTO_BASEPOINT_TABLE;
        let tables = self.keys.tables();
        out.push(n.rho() * g);
        for (j, table) in tables.iter().enumerate() {
            let mask = n.rho() * table;
            let bit = (j as u16).ct_eq(&label);
            out.push(RistrettoPoint::conditional_select(&mask, &(mask + self.half_g), bit));
        }
        out.push(n.s() * g);
        for (j, ((table, a), t)) in tables.iter().zip(n.a()).zip(n.t()).enumerate() {
            let bit = (j as u16).ct_eq(&label);
            // Products of secrets that are not themselves sent are wiped:
            // a′_j·G and a′_j·m_j·G (which says where the label is), and
            // s′·P_j and t′_j·P_j (with S and z they would give ρ).
            let a_g = Zeroizing::new(a * g);
            // a′_j·m_j·G: a′_j·G where m_j = 1, the identity elsewhere.
            let am_g = Zeroizing::new(RistrettoPoint::conditional_select(&RistrettoPoint::identity(), &a_g, bit));
            let (s_p, t_p) = (Zeroizing::new(n.s() * table), Zeroizing::new(t * table));
            out.extend([*a_g + *s_p, t * g, *am_g + *t_p]);
        }
    }

    /// [`Self::half_points`] by the owner of the keys: the same points,
    /// each as one multiple of `G` (`ρ′·P_j + m_j·G/2 = (ρ′·p_j + m_j/2)·G`,
    /// `a′_j·G + s′·P_j = (a′_j + s′·p_j)·G`, `a′_j·m_j·G + t′_j·P_j =
    /// (a′_j·m_j + t′_j·p_j)·G`). The exponents are selected, not branched
    /// on, as in the public prover.
    fn half_points_owner(&self, secrets: &[Scalar], label: u16, n: &Nonces, out: &mut Vec<RistrettoPoint>) {
        let g = RISTRETTO_BASEPOINT_TABLE;
        out.push(n.rho() * g);
        for (j, p) in secrets.iter().enumerate() {
            let bit = (j as u16).ct_eq(&label);
            let mask = Zeroizing::new(n.rho() * p);
            let x = Zeroizing::new(Scalar::conditional_select(&mask, &(*mask + self.half), bit));
            out.push(&*x * g);
        }
        out.push(n.s() * g);
        for (j, ((p, a), t)) in secrets.iter().zip(n.a()).zip(n.t()).enumerate() {
            let bit = (j as u16).ct_eq(&label);
            let am = Zeroizing::new(Scalar::conditional_select(&Scalar::ZERO, a, bit));
            let (s_p, t_p) = (Zeroizing::new(n.s() * p), Zeroizing::new(t * p));
            let a_exp = Zeroizing::new(a + *s_p);
            let b_exp = Zeroizing::new(*am + *t_p);
            out.extend([&*a_exp * g, t * g, &*b_exp * g]);
        }
    }
}

/// Writes one record's scalars `f_1 … f_{L−1}, z, y_1 … y_L` for challenge
/// `c` from the halved nonces `n` (see [`Prover::half_points`]).
fn respond(label: u16, n: &Nonces, c: &Scalar, out: &mut [u8]) {
    let double = |x: &Scalar| Zeroizing::new(x + x);
    let rho = double(n.rho());
    let mut slots = out.chunks_exact_mut(SCALAR_LEN);
    let mut write = |value: &Scalar| {
        if let Some(slot) = slots.next() {
            slot.copy_from_slice(value.as_bytes());
        }
    };
    // f_j = m_j·c + a_j: c is added where m_j = 1, by a select.
    let f: Zeroizing<Vec<Scalar>> = Zeroizing::new(
        n.a()
            .iter()
            .enumerate()
            .map(|(j, a)| {
                let a = double(a);
                Scalar::conditional_select(&a, &(*a + c), (j as u16).ct_eq(&label))
            })
            .collect(),
    );
    for f_j in f.iter().take(f.len().saturating_sub(1)) {
        write(f_j);
    }
    write(&(*rho * c + *double(n.s())));
    for (f_j, t) in f.iter().zip(n.t()) {
        write(&(*rho * (c - f_j) + *double(t)));
    }
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
/// Errors: first the shapes, then record by record (the lowest bad record
/// is reported, and within a record its ciphertext before its proof):
/// * [`CryptoError::RaggedCiphertexts`]: the points do not form records;
/// * [`CryptoError::ProofLength`]: `proofs` is not one proof per record;
/// * [`CryptoError::InvalidEncoding`]` { index }`: ciphertext point `index`
///   (flat, `record·(L + 1) + j`) is not a canonical encoding;
/// * [`CryptoError::MalformedProof`]` { record }`: a point or scalar of that
///   record's proof is not canonical;
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
        // S + c·C₀ − z·G = 0
        let alpha = weight();
        points.push(proof.s);
        scalars.push(alpha);
        coeff[0] += alpha * c;
        g -= alpha * proof.z;
        for (j, (component, f)) in proof.components.iter().zip(proof.all_f(&c)).enumerate() {
            let (beta, gamma, delta) = (weight(), weight(), weight());
            let rest = c - f;
            // A_j + c·C_j − f_j·G − z·P_j = 0
            points.push(component.a);
            scalars.push(beta);
            coeff[j + 1] += beta * c;
            g -= beta * f;
            p[j] -= beta * proof.z;
            // T_j + (c − f_j)·C₀ − y_j·G = 0
            points.push(component.t);
            scalars.push(gamma);
            coeff[0] += gamma * rest;
            g -= gamma * component.y;
            // B_j + (c − f_j)·C_j − y_j·P_j = 0
            points.push(component.b);
            scalars.push(delta);
            coeff[j + 1] += delta * rest;
            p[j] -= delta * component.y;
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
