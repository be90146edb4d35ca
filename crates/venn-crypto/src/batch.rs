//! Batched, parallel blinding and re-blinding.
//!
//! Both operations work on chunks of [`BATCH_CHUNK`] records: rayon spreads
//! the chunks over the cores, and inside a chunk the points are compressed
//! together with [`RistrettoPoint::double_and_compress_batch`], which shares
//! one field inversion across the chunk (Montgomery's trick). That is why
//! the key keeps `k/2`: `compress(2·(k/2)·P) = compress(k·P)`.

use curve25519_dalek::{
    ristretto::{CompressedRistretto, RistrettoPoint},
    scalar::Scalar,
    traits::Identity,
};
use rayon::prelude::*;

use crate::{hash_to_group, BlindingKey, CryptoError, DomainTag, PointBytes, Tag};

/// Records per parallel task and per batched compression. Large enough that
/// the shared inversion (≈ 7 µs) is spread thin, small enough that two cores
/// stay balanced on a 65,536-point message.
pub const BATCH_CHUNK: usize = 512;

/// `k·H(m)` for every message, compressed: what a party sends for its own
/// identifiers. The output has the order of the input.
pub fn blind_batch<M>(key: &BlindingKey, dst: &DomainTag, messages: &[M]) -> Vec<PointBytes>
where
    M: AsRef<[u8]> + Sync,
{
    hash_scale_compress(key.half(), dst, messages, [0u8; 32], false, |c| c.to_bytes()).0
}

/// `k·P` for every received encoding `P`, truncated to a [`Tag`]: what a
/// party computes from the peer's blinded identifiers.
///
/// Rejects, naming the lowest offending index, an encoding that is not a
/// canonical ristretto255 point and the identity (all-zero encoding).
pub fn reblind_to_tags(key: &BlindingKey, encodings: &[PointBytes]) -> Result<Vec<Tag>, CryptoError> {
    let (tags, _) =
        scale_compress(key.half(), encodings, Tag([0u8; 16]), false, |c| Tag::from_point_bytes(c.as_bytes()))?;
    Ok(tags)
}

/// The hashing half of the batch machinery, shared by [`blind_batch`] and
/// the index mode's `epoch_tags`: for every message `m`, with `s = k/2`,
/// `P = s·H(m)`, then `map(compress(2·P))` (one field inversion per chunk),
/// in input order, spread over rayon in chunks of [`BATCH_CHUNK`].
///
/// With `sum`, the second value is `Σ 2·P = k·Σ H(m)` (chunk sums added as
/// the chunks finish, one point addition per message); without, it is the
/// identity. `s` is secret: it is only used in constant-time multiplication.
pub(crate) fn hash_scale_compress<M, T>(
    half: &Scalar,
    dst: &DomainTag,
    messages: &[M],
    blank: T,
    sum: bool,
    map: impl Fn(&CompressedRistretto) -> T + Sync,
) -> (Vec<T>, RistrettoPoint)
where
    M: AsRef<[u8]> + Sync,
    T: Clone + Send + Sync,
{
    let mut out = vec![blank; messages.len()];
    let halved_sum: RistrettoPoint = out
        .par_chunks_mut(BATCH_CHUNK)
        .zip(messages.par_chunks(BATCH_CHUNK))
        .map(|(out, messages)| {
            let points: Vec<RistrettoPoint> = messages.iter().map(|m| hash_to_group(m.as_ref(), dst) * half).collect();
            write_doubled(&points, out, &map);
            if sum {
                points.iter().sum()
            } else {
                RistrettoPoint::identity()
            }
        })
        .reduce(RistrettoPoint::identity, |a, b| a + b);
    (out, halved_sum + halved_sum)
}

/// The re-keying half of the batch machinery, shared by
/// [`reblind_to_tags`] and the index mode's `evaluate_batch` and
/// `unblind_to_filter_keys`: every encoding is decompressed (refused, by
/// lowest index, if it is not a canonical ristretto255 point or is the
/// identity), `P = s·X` with the caller's `s` (`k/2` for a key `k`), then
/// `map(compress(2·P))`, in input order, in parallel chunks.
///
/// With `sum`, the second value is `Σ X` over the decompressed inputs (not
/// the products); without, it is the identity. `s` is secret and only used
/// in constant-time multiplication.
pub(crate) fn scale_compress<T>(
    half: &Scalar,
    encodings: &[PointBytes],
    blank: T,
    sum: bool,
    map: impl Fn(&CompressedRistretto) -> T + Sync,
) -> Result<(Vec<T>, RistrettoPoint), CryptoError>
where
    T: Clone + Send + Sync,
{
    let mut out = vec![blank; encodings.len()];
    let chunk_sums: Vec<Result<RistrettoPoint, CryptoError>> = out
        .par_chunks_mut(BATCH_CHUNK)
        .zip(encodings.par_chunks(BATCH_CHUNK))
        .enumerate()
        .map(|(chunk, (out, encodings))| {
            let points = decompress_all(encodings, chunk * BATCH_CHUNK)?;
            let scaled: Vec<RistrettoPoint> = points.iter().map(|p| p * half).collect();
            write_doubled(&scaled, out, &map);
            Ok(if sum { points.iter().sum() } else { RistrettoPoint::identity() })
        })
        .collect();
    // Chunks are collected in order, so the first failure has the lowest index.
    let mut total = RistrettoPoint::identity();
    for chunk_sum in chunk_sums {
        total += chunk_sum?;
    }
    Ok((out, total))
}

/// Decompresses a chunk, refusing invalid encodings and the identity.
pub(crate) fn decompress_all(encodings: &[PointBytes], offset: usize) -> Result<Vec<RistrettoPoint>, CryptoError> {
    encodings
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let index = offset + i;
            // The identity has exactly one canonical encoding: all zeros.
            if bytes.iter().all(|&b| b == 0) {
                return Err(CryptoError::IdentityPoint { index });
            }
            CompressedRistretto(*bytes).decompress().ok_or(CryptoError::InvalidEncoding { index })
        })
        .collect()
}

/// Compresses `2·P` for each point with one shared inversion and stores the
/// mapped result in `out`.
fn write_doubled<T>(points: &[RistrettoPoint], out: &mut [T], map: &impl Fn(&CompressedRistretto) -> T) {
    for (slot, c) in out.iter_mut().zip(RistrettoPoint::double_and_compress_batch(points)) {
        *slot = map(&c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_to_group::tests::scalar;
    use curve25519_dalek::constants::RISTRETTO_BASEPOINT_POINT;

    fn dst() -> DomainTag {
        DomainTag::new(b"venn-test").unwrap()
    }

    /// RFC 9497 Appendix A.1.1, vectors 1 and 2: blinding with the RFC's
    /// `Blind` gives its `BlindedElement`, and re-blinding that with `skSm`
    /// gives its `EvaluationElement`.
    #[test]
    fn batch_paths_match_rfc9497_vectors() {
        let oprf = DomainTag::new(b"HashToGroup-OPRFV1-\x00-ristretto255-SHA512").unwrap();
        let blind =
            BlindingKey::from_scalar(scalar("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706"));
        let sk = BlindingKey::from_scalar(scalar("5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e"));
        let inputs = [hex::decode("00").unwrap(), hex::decode("5a".repeat(17)).unwrap()];
        let blinded = blind_batch(&blind, &oprf, &inputs);
        assert_eq!(hex::encode(blinded[0]), "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c");
        assert_eq!(hex::encode(blinded[1]), "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418");
        let tags = reblind_to_tags(&sk, &blinded).unwrap();
        assert_eq!(hex::encode(tags[0].0), "7ec6578ae5120958eb2db1745758ff37");
        assert_eq!(hex::encode(tags[1].0), "b4cbf5a4f1eeda5a63ce7b77c7d23f46");
    }

    #[test]
    fn batched_compression_equals_single_compression_across_chunks() {
        let key = BlindingKey::random();
        let messages: Vec<Vec<u8>> = (0..BATCH_CHUNK as u32 * 2 + 7).map(|i| i.to_le_bytes().to_vec()).collect();
        let batched = blind_batch(&key, &dst(), &messages);
        for (m, b) in messages.iter().zip(&batched) {
            let single = (hash_to_group(m, &dst()) * key.scalar()).compress();
            assert_eq!(single.as_bytes(), b);
        }
    }

    #[test]
    fn blinding_commutes() {
        let (a, b) = (BlindingKey::random(), BlindingKey::random());
        let ids = [b"one".as_slice(), b"two", b"three"];
        let ab = reblind_to_tags(&b, &blind_batch(&a, &dst(), &ids)).unwrap();
        let ba = reblind_to_tags(&a, &blind_batch(&b, &dst(), &ids)).unwrap();
        assert_eq!(ab, ba);
    }

    #[test]
    fn empty_batches_are_fine() {
        let key = BlindingKey::random();
        assert!(blind_batch::<&[u8]>(&key, &dst(), &[]).is_empty());
        assert!(reblind_to_tags(&key, &[]).unwrap().is_empty());
    }

    #[test]
    fn rejects_identity_point_by_index() {
        let key = BlindingKey::random();
        let mut batch = blind_batch(&key, &dst(), &[b"a", b"b", b"c"]);
        batch[2] = [0u8; 32];
        assert_eq!(reblind_to_tags(&key, &batch), Err(CryptoError::IdentityPoint { index: 2 }));
    }

    #[test]
    fn rejects_invalid_encoding_by_lowest_index() {
        let key = BlindingKey::random();
        let messages: Vec<[u8; 4]> = (0..BATCH_CHUNK as u32 * 3).map(u32::to_le_bytes).collect();
        let mut batch = blind_batch(&key, &dst(), &messages);
        // 0xff.. is above the field prime: not canonical. Put one in a late
        // chunk and one in an earlier chunk.
        batch[BATCH_CHUNK * 2 + 1] = [0xff; 32];
        batch[BATCH_CHUNK + 3] = [0xff; 32];
        assert_eq!(reblind_to_tags(&key, &batch), Err(CryptoError::InvalidEncoding { index: BATCH_CHUNK + 3 }));
    }

    #[test]
    fn rejects_non_canonical_encoding_of_a_valid_point() {
        let key = BlindingKey::random();
        // The basepoint's encoding with the sign bit forced: a negative field
        // element, which ristretto255 decoding must refuse.
        let mut bytes = RISTRETTO_BASEPOINT_POINT.compress().to_bytes();
        bytes[0] |= 1;
        assert_eq!(reblind_to_tags(&key, &[bytes]), Err(CryptoError::InvalidEncoding { index: 0 }));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::array::uniform32(0u8..), 0..8)) {
            let key = BlindingKey::random();
            let _ = reblind_to_tags(&key, &bytes);
        }
    }
}
