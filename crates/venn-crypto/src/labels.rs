//! Segment labels under exponential ElGamal on ristretto255.
//!
//! A label `m` encrypted under public key `P = p·G` with randomness `r` is
//! `(r·G, m·G + r·P)`. Adding two ciphertexts componentwise adds their
//! labels, so a party that holds only ciphertexts can sum them; only the key
//! holder recovers `m·G = C₁ − p·C₀`, and then `m` itself by a discrete log
//! over a small range ([`DiscreteLog`]).
//!
//! The receiver encrypts a one-hot vector over its `L` labels under `L`
//! keys with shared randomness: `(ρ·G, m₁·G + ρ·P₁, …, m_L·G + ρ·P_L)`, one
//! group element more than the vector (Kurosawa's multi-recipient trick).
//! (The aggregator's labels travel in the clear as padded group names, see
//! `venn-protocol`'s segment mode; nothing here encrypts them.)
//!
//! Every secret scalar is drawn from the OS CSPRNG; every multiplication by
//! a secret is a constant-time fixed-base table lookup or variable-base
//! multiplication. Public keys are fixed for a session, so each gets a
//! precomputed table and encrypting costs fixed-base multiplications only.

use std::collections::HashMap;

use curve25519_dalek::{
    constants::{RISTRETTO_BASEPOINT_POINT as G, RISTRETTO_BASEPOINT_TABLE},
    ristretto::{CompressedRistretto, RistrettoBasepointTable, RistrettoPoint},
    scalar::Scalar,
    traits::Identity,
};
use rand_core::OsRng;
use rayon::prelude::*;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::{CryptoError, PointBytes, BATCH_CHUNK};

/// Most labels one side may have; bounds every allocation that a peer's
/// announced label count drives.
pub const MAX_LABELS: usize = 4096;

/// A party's ephemeral label keys: secret scalars and public points with
/// their tables. Zeroized on drop; never serialized.
pub struct LabelKeys {
    secrets: Vec<Scalar>,
    public: PublicLabelKeys,
}

impl Drop for LabelKeys {
    fn drop(&mut self) {
        self.secrets.zeroize();
    }
}

impl LabelKeys {
    /// `count` fresh key pairs from the OS CSPRNG.
    pub fn random(count: usize) -> Self {
        Self::from_secrets((0..count).map(|_| Scalar::random(&mut OsRng)).collect())
    }

    /// The public half.
    pub fn public(&self) -> &PublicLabelKeys {
        &self.public
    }

    /// The secret scalars `p_j`, for the owner's prover.
    pub(crate) fn secrets(&self) -> &[Scalar] {
        &self.secrets
    }

    /// Keys from given secrets (tests compare the owner's prover with the
    /// public one on the same keys).
    pub(crate) fn from_secrets(secrets: Vec<Scalar>) -> Self {
        let points = secrets.iter().map(|s| s * RISTRETTO_BASEPOINT_TABLE).collect();
        Self { secrets, public: PublicLabelKeys::from_points(points) }
    }

    /// `C_j − p_j·C₀` for every component `j ≥ 1` of one accumulated
    /// ciphertext `[C₀, C₁, …]`: the plaintexts `m_j·G`.
    fn open(&self, ciphertext: &[RistrettoPoint]) -> Vec<RistrettoPoint> {
        let c0 = ciphertext[0];
        ciphertext[1..].iter().zip(&self.secrets).map(|(cj, p)| cj - c0 * p).collect()
    }
}

impl std::fmt::Debug for LabelKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LabelKeys({} keys, <secret>)", self.secrets.len())
    }
}

/// Public label keys, ours or the peer's, with precomputed tables.
pub struct PublicLabelKeys {
    points: Vec<RistrettoPoint>,
    tables: Vec<RistrettoBasepointTable>,
}

impl PublicLabelKeys {
    fn from_points(points: Vec<RistrettoPoint>) -> Self {
        let tables = points.iter().map(RistrettoBasepointTable::create).collect();
        Self { points, tables }
    }

    /// Validates a peer's keys: canonical encodings, not the identity (a key
    /// of zero would expose every label), at most [`MAX_LABELS`].
    pub fn from_bytes(keys: &[PointBytes]) -> Result<Self, CryptoError> {
        if keys.len() > MAX_LABELS {
            return Err(CryptoError::TooManyKeys { count: keys.len() });
        }
        let points =
            keys.iter().enumerate().map(|(index, b)| decompress_non_identity(b, index)).collect::<Result<_, _>>()?;
        Ok(Self::from_points(points))
    }

    /// The keys as sent in the handshake.
    pub fn to_bytes(&self) -> Vec<PointBytes> {
        self.points.iter().map(|p| p.compress().to_bytes()).collect()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The points `P₁ … P_L`.
    pub(crate) fn points(&self) -> &[RistrettoPoint] {
        &self.points
    }

    /// Precomputed fixed-base tables of `P₁ … P_L`.
    pub(crate) fn tables(&self) -> &[RistrettoBasepointTable] {
        &self.tables
    }

    /// `(ρ·G, ρ·P₁, …)`: the shared-randomness encryption of zero.
    fn encrypt_zero(&self, rho: &Scalar) -> Vec<RistrettoPoint> {
        std::iter::once(rho * RISTRETTO_BASEPOINT_TABLE).chain(self.tables.iter().map(|t| rho * t)).collect()
    }
}

fn decompress_non_identity(bytes: &PointBytes, index: usize) -> Result<RistrettoPoint, CryptoError> {
    if bytes.iter().all(|&b| b == 0) {
        return Err(CryptoError::IdentityPoint { index });
    }
    CompressedRistretto(*bytes).decompress().ok_or(CryptoError::InvalidEncoding { index })
}

fn decompress_at(bytes: &PointBytes, index: usize) -> Result<RistrettoPoint, CryptoError> {
    CompressedRistretto(*bytes).decompress().ok_or(CryptoError::InvalidEncoding { index })
}

/// One inversion per point: for sums of peer points, which cannot be halved
/// for the batched path without a scalar multiplication each.
fn compress_all(points: &[RistrettoPoint]) -> Vec<PointBytes> {
    points.iter().map(|p| p.compress().to_bytes()).collect()
}

/// The receiver's per-record ciphertexts: for each label index (`< L`), the
/// one-hot encryption under `keys`, flattened to `L + 1` points per record.
/// Fails if a label is out of range.
///
/// Compression is batched with the halving trick of [`crate::blind_batch`]:
/// with fresh `ρ′` the points `ρ′·G` and `ρ′·P_j + m_j·(G/2)` are doubled
/// and compressed together, giving the encryption under randomness `2ρ′`
/// (as uniform as `ρ′`) for one field inversion per chunk.
///
/// Constant time in the labels: every component computes `ρ′·P_j` and
/// `ρ′·P_j + G/2` and keeps one with a conditional select on `j = label`.
pub fn encrypt_one_hot(keys: &PublicLabelKeys, labels: &[u16]) -> Result<Vec<PointBytes>, CryptoError> {
    let width = keys.len() + 1;
    if let Some(&bad) = labels.iter().find(|&&l| l as usize >= keys.len()) {
        return Err(CryptoError::LabelOutOfRange { label: bad as usize, labels: keys.len() });
    }
    let half_g = half_basepoint();
    let mut out = vec![[0u8; 32]; labels.len() * width];
    out.par_chunks_mut(width * BATCH_CHUNK / 4).zip(labels.par_chunks(BATCH_CHUNK / 4)).for_each(|(out, labels)| {
        let mut points = Vec::with_capacity(labels.len() * width);
        for &label in labels {
            let mut rho = Scalar::random(&mut OsRng);
            points.push(&rho * RISTRETTO_BASEPOINT_TABLE);
            for (j, table) in keys.tables.iter().enumerate() {
                let mask = &rho * table;
                let hit = (j as u16).ct_eq(&label);
                points.push(RistrettoPoint::conditional_select(&mask, &(mask + half_g), hit));
            }
            rho.zeroize();
        }
        write_doubled(&points, out);
    });
    Ok(out)
}

/// `G/2`, the point whose double is the basepoint.
fn half_basepoint() -> RistrettoPoint {
    &Scalar::from(2u8).invert() * RISTRETTO_BASEPOINT_TABLE
}

/// Compresses `2·P` for every point, one inversion per call.
fn write_doubled(points: &[RistrettoPoint], out: &mut [PointBytes]) {
    for (slot, c) in out.iter_mut().zip(RistrettoPoint::double_and_compress_batch(points)) {
        *slot = c.to_bytes();
    }
}

/// A running sum of one-hot ciphertexts, one per aggregator label: point
/// additions only.
#[derive(Clone)]
pub struct Accumulator {
    sums: Vec<RistrettoPoint>,
}

impl Accumulator {
    /// An encryption-free zero over `width` points (the receiver's `L + 1`).
    pub fn new(width: usize) -> Self {
        Self { sums: vec![RistrettoPoint::identity(); width] }
    }

    /// Adds one record's ciphertext (`width` encodings).
    pub fn add(&mut self, ciphertext: &[PointBytes]) -> Result<(), CryptoError> {
        self.check_width(ciphertext.len())?;
        let points = ciphertext.iter().enumerate().map(|(j, b)| decompress_at(b, j)).collect::<Result<Vec<_>, _>>()?;
        self.add_points(&points)
    }

    fn check_width(&self, len: usize) -> Result<(), CryptoError> {
        if len != self.sums.len() {
            return Err(CryptoError::RaggedCiphertexts { len, width: self.sums.len() });
        }
        Ok(())
    }

    /// Adds one record's ciphertext, already decompressed (as
    /// [`crate::verify_one_hot_batch_points`] returns it).
    pub fn add_points(&mut self, ciphertext: &[RistrettoPoint]) -> Result<(), CryptoError> {
        self.check_width(ciphertext.len())?;
        for (sum, point) in self.sums.iter_mut().zip(ciphertext) {
            *sum += point;
        }
        Ok(())
    }

    /// Adds `noise_j` to each label under the receiver's keys with fresh
    /// randomness (all zero noise just re-randomizes), then encodes.
    pub fn finish(mut self, keys: &PublicLabelKeys, noise: &[i64]) -> Vec<PointBytes> {
        let mut rho = Scalar::random(&mut OsRng);
        let zero = keys.encrypt_zero(&rho);
        rho.zeroize();
        for (j, (sum, z)) in self.sums.iter_mut().zip(zero).enumerate() {
            *sum += z;
            if j > 0 {
                *sum += &signed(noise.get(j - 1).copied().unwrap_or(0)) * RISTRETTO_BASEPOINT_TABLE;
            }
        }
        compress_all(&self.sums)
    }
}

/// `v` as a scalar (`ℓ − |v|` when negative), without a branch on its sign:
/// `|v| = (v ⊕ s) − s` with `s = v >> 63` (all ones when negative), then a
/// conditional select between `|v|` and `−|v|`.
fn signed(v: i64) -> Scalar {
    let sign = v >> 63;
    let magnitude = Scalar::from((v ^ sign).wrapping_sub(sign) as u64);
    Scalar::conditional_select(&magnitude, &-magnitude, Choice::from((sign & 1) as u8))
}

/// Solves `x·G = P` for `x` in `[-bound, bound]` by baby-step giant-step:
/// a table of `j·G` for `j < m` and at most `(2·bound + 1)/m` giant steps of
/// `−m·G`. Variable time, but only ever applied to values the receiver is
/// allowed to learn (released cells), never to secrets.
pub struct DiscreteLog {
    table: HashMap<PointBytes, u64>,
    step: RistrettoPoint,
    m: u64,
    bound: u64,
}

impl DiscreteLog {
    /// Most baby steps kept (memory ≈ 40 bytes each).
    pub const MAX_TABLE: u64 = 1 << 18;

    /// Prepares for values in `[-bound, bound]`.
    pub fn new(bound: u64) -> Self {
        let span = 2 * bound + 1;
        let m = ((span as f64).sqrt().ceil() as u64).clamp(1, Self::MAX_TABLE);
        let mut table = HashMap::with_capacity(m as usize);
        let mut p = RistrettoPoint::identity();
        for j in 0..m {
            table.insert(p.compress().to_bytes(), j);
            p += G;
        }
        Self { table, step: Scalar::from(m) * G, m, bound }
    }

    /// `x` with `x·G = point` and `|x| ≤ bound`, if there is one.
    pub fn solve(&self, point: &RistrettoPoint) -> Option<i64> {
        // Shift into [0, 2·bound] and search.
        let mut q = point + Scalar::from(self.bound) * G;
        let giant_steps = (2 * self.bound + 1).div_ceil(self.m);
        for i in 0..=giant_steps {
            if let Some(j) = self.table.get(&q.compress().to_bytes()) {
                let x = i * self.m + j;
                return (x <= 2 * self.bound).then(|| x as i64 - self.bound as i64);
            }
            q -= self.step;
        }
        None
    }
}

/// The receiver's decryption of the accumulators: for each aggregator
/// label, the plaintext `m_j·G` of each receiver label, solved by `dlog`.
/// Returns `cells[r][a]` (receiver label `r`, aggregator label `a`).
pub fn decrypt_accumulators(
    keys: &LabelKeys,
    accumulators: &[PointBytes],
    aggregator_labels: usize,
    dlog: &DiscreteLog,
) -> Result<Vec<Vec<i64>>, CryptoError> {
    let width = keys.secrets.len() + 1;
    if accumulators.len() != width * aggregator_labels {
        return Err(CryptoError::RaggedCiphertexts { len: accumulators.len(), width });
    }
    let columns: Vec<Result<Vec<i64>, CryptoError>> = accumulators
        .par_chunks(width)
        .enumerate()
        .map(|(a, acc)| {
            let points: Vec<RistrettoPoint> =
                acc.iter().enumerate().map(|(j, b)| decompress_at(b, a * width + j)).collect::<Result<_, _>>()?;
            keys.open(&points).iter().map(|m| dlog.solve(m).ok_or(CryptoError::UndecryptableLabel)).collect()
        })
        .collect();
    let columns: Vec<Vec<i64>> = columns.into_iter().collect::<Result<_, _>>()?;
    let rows = width - 1;
    Ok((0..rows).map(|r| columns.iter().map(|col| col[r]).collect()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_sums_decrypt_to_the_counts() {
        let receiver = LabelKeys::random(3);
        // Receiver records with labels; the aggregator's label of each 0/1.
        let r_labels = [0u16, 1, 2, 2, 1, 2];
        let a_labels = [1u16, 0, 1, 1, 0, 0];
        let cts = encrypt_one_hot(receiver.public(), &r_labels).unwrap();
        let mut accs = vec![Accumulator::new(4), Accumulator::new(4)];
        for (i, &v) in a_labels.iter().enumerate() {
            accs[v as usize].add(&cts[4 * i..4 * i + 4]).unwrap();
        }
        let noise = [0i64; 3];
        let wire: Vec<PointBytes> = accs.into_iter().flat_map(|a| a.finish(receiver.public(), &noise)).collect();
        let cells = decrypt_accumulators(&receiver, &wire, 2, &DiscreteLog::new(100)).unwrap();
        // cells[r][a]: count of records with receiver label r and aggregator label a.
        let mut expected = vec![vec![0i64; 2]; 3];
        for i in 0..6 {
            expected[r_labels[i] as usize][a_labels[i] as usize] += 1;
        }
        assert_eq!(cells, expected);
    }

    #[test]
    fn noise_is_added_under_encryption() {
        let receiver = LabelKeys::random(2);
        let mut acc = Accumulator::new(3);
        acc.add(&encrypt_one_hot(receiver.public(), &[1]).unwrap()).unwrap();
        let wire = acc.finish(receiver.public(), &[-5, 7]);
        let cells = decrypt_accumulators(&receiver, &wire, 1, &DiscreteLog::new(100)).unwrap();
        assert_eq!(cells, vec![vec![-5], vec![8]]);
    }

    #[test]
    fn discrete_log_covers_its_signed_range_and_nothing_more() {
        let dlog = DiscreteLog::new(1_000);
        for x in [-1_000i64, -999, -1, 0, 1, 77, 999, 1_000] {
            assert_eq!(dlog.solve(&(signed(x) * G)), Some(x));
        }
        assert_eq!(dlog.solve(&(signed(1_001) * G)), None);
        assert_eq!(dlog.solve(&(signed(-1_001) * G)), None);
    }

    #[test]
    fn signed_matches_the_branching_definition_at_the_edges() {
        for v in [0i64, 1, -1, 7, -5, i64::MAX, i64::MIN, i64::MIN + 1] {
            let expected = if v < 0 { -Scalar::from(v.unsigned_abs()) } else { Scalar::from(v as u64) };
            assert_eq!(signed(v), expected, "{v}");
        }
    }

    #[test]
    fn one_hot_components_decrypt_to_the_label_bits() {
        let keys = LabelKeys::random(4);
        let ct = encrypt_one_hot(keys.public(), &[0, 3, 2]).unwrap();
        for (r, label) in [0usize, 3, 2].into_iter().enumerate() {
            let points: Vec<RistrettoPoint> =
                ct[5 * r..5 * r + 5].iter().map(|b| decompress_at(b, 0).unwrap()).collect();
            let opened = keys.open(&points);
            for (j, m) in opened.iter().enumerate() {
                let expected = if j == label { G } else { RistrettoPoint::identity() };
                assert_eq!(*m, expected);
            }
        }
    }

    #[test]
    fn rejects_bad_peer_keys_and_ciphertexts() {
        assert!(matches!(PublicLabelKeys::from_bytes(&[[0; 32]]), Err(CryptoError::IdentityPoint { index: 0 })));
        assert!(matches!(PublicLabelKeys::from_bytes(&[[0xff; 32]]), Err(CryptoError::InvalidEncoding { index: 0 })));
        let key = LabelKeys::random(1);
        let mut acc = Accumulator::new(2);
        assert!(matches!(acc.add(&[[1; 32]]), Err(CryptoError::RaggedCiphertexts { .. })));
        assert!(matches!(acc.add(&[[0xff; 32], [0xff; 32]]), Err(CryptoError::InvalidEncoding { .. })));
        assert!(matches!(encrypt_one_hot(key.public(), &[1]), Err(CryptoError::LabelOutOfRange { .. })));
    }
}
