//! Tests across modules: build, publish, open, look up, corrupt, cache.

use std::path::Path;
use std::sync::OnceLock;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use xorf::{BinaryFuse32, Filter};

use crate::header::tests::fields;
use crate::write::build_filter;
use crate::*;

fn random_keys(seed: u64, n: usize) -> Vec<u64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen()).collect()
}

/// Builds shards of `keys` (key goes to shard `key % n`) into `dir` and
/// publishes them.
fn build_index(dir: &Path, keys: &[u64], n: u32) -> Header {
    let mut entries = Vec::new();
    for shard in 0..n {
        let mut b = PartBuilder::new(shard, n).unwrap();
        b.extend(keys.iter().copied().filter(|k| k % u64::from(n) == u64::from(shard)));
        entries.push(b.write(dir).unwrap().entry);
    }
    entries.reverse(); // publish sorts
    publish(dir, fields(), entries).unwrap()
}

struct Million {
    _dir: tempfile::TempDir,
    keys: Vec<u64>,
    index: Index,
    xorf: BinaryFuse32,
    offset: u64,
}

/// One index over 1,000,000 random keys, shared by the tests that need it.
fn million() -> &'static Million {
    static M: OnceLock<Million> = OnceLock::new();
    M.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let keys = random_keys(1, 1_000_000);
        build_index(dir.path(), &keys, 1);
        let index = Index::open(dir.path()).unwrap();
        let mut sorted = keys.clone();
        let (built, dups) = build_filter(0, 1, &mut sorted).unwrap();
        assert_eq!(dups, 0);
        Million { _dir: dir, keys, index, xorf: built.filter, offset: built.offset }
    })
}

#[test]
fn lookups_equal_xorf_for_members_and_random_non_members() {
    let m = million();
    let part = &m.index.parts()[0];
    // The stored parameters are xorf's, with the seed shifted by the offset.
    let d = &m.xorf.descriptor;
    assert_eq!(part.params().seed, d.seed.wrapping_add(m.offset));
    assert_eq!(part.params().segment_length, d.segment_length);
    assert_eq!(part.params().segment_count_length, d.segment_count_length);
    assert_eq!(part.params().array_len as usize, m.xorf.fingerprints.len());
    for &k in &m.keys {
        assert!(m.xorf.contains(&k.wrapping_add(m.offset)));
        assert!(m.index.contains(k), "member {k} missing");
    }
    let mut rng = StdRng::seed_from_u64(99);
    let mut false_positives = 0u64;
    for _ in 0..1_000_000 {
        let k: u64 = rng.gen();
        let ours = m.index.contains(k);
        assert_eq!(ours, m.xorf.contains(&k.wrapping_add(m.offset)), "key {k}");
        false_positives += u64::from(ours);
    }
    // Expected 10^6 × 2^-32 ≈ 0.00023 (random keys are members with
    // probability 10^6 / 2^64, negligible). P(≥ 2) ≈ 3·10^-8.
    assert!(false_positives <= 1, "{false_positives} false positives");
    assert!((m.index.false_positive_rate() - 2f64.powi(-32)).abs() < 1e-20);
    assert!((m.index.expected_false_matches(1_000_000) - 1e6 * 2f64.powi(-32)).abs() < 1e-12);
}

#[cfg(target_endian = "little")]
#[test]
fn lookups_equal_xorf_ref_over_the_same_bytes() {
    use xorf::{DmaSerializable, FilterRef};
    let m = million();
    let bytes = std::fs::read(m.index.dir().join("part-0-of-1.vidx")).unwrap();
    // A Vec<u32> copy gives xorf the alignment it asserts.
    let words: Vec<u32> =
        bytes[PART_PREFIX_LEN..].chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let wbytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let aligned: Vec<u32> = wbytes.chunks_exact(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut descriptor = [0u8; BinaryFuse32::DESCRIPTOR_LEN];
    m.xorf.dma_copy_descriptor_to(&mut descriptor);
    let fbytes = {
        let f = BinaryFuse32 { descriptor: m.xorf.descriptor.clone(), fingerprints: aligned.into_boxed_slice() };
        f.dma_fingerprints().to_vec()
    };
    assert_eq!(fbytes, bytes[PART_PREFIX_LEN..]);
    let mut rng = StdRng::seed_from_u64(5);
    let probe: Vec<u64> = m.keys[..1000].iter().copied().chain((0..100_000).map(|_| rng.gen())).collect();
    let owned = BinaryFuse32 { descriptor: m.xorf.descriptor.clone(), fingerprints: words.into_boxed_slice() };
    let r = xorf::BinaryFuse32Ref::from_dma(&descriptor, owned.dma_fingerprints());
    for k in probe {
        assert_eq!(m.index.contains(k), r.contains(&k.wrapping_add(m.offset)));
    }
}

#[test]
fn bits_per_element_at_most_40_on_a_million_keys() {
    let m = million();
    let bits = m.index.bytes_per_element() * 8.0;
    assert!(bits <= 40.0, "{bits} bits per element");
    assert!(bits > 32.0, "{bits} bits per element is implausibly small");
    assert_eq!(m.index.len(), 1_000_000);
}

#[test]
fn four_shards_answer_like_one_build() {
    let keys = random_keys(2, 200_000);
    let one = tempfile::tempdir().unwrap();
    let four = tempfile::tempdir().unwrap();
    build_index(one.path(), &keys, 1);
    build_index(four.path(), &keys, 4);
    let one = Index::open(one.path()).unwrap();
    let four = Index::open(four.path()).unwrap();
    assert_eq!(four.parts().len(), 4);
    assert_eq!(one.len(), four.len());
    assert_eq!(four.parts().iter().map(Part::len).sum::<u64>(), 200_000);
    // A key is a member iff some shard holds it: every key in its own shard.
    for &k in &keys {
        assert!(one.contains(k));
        assert!(four.parts()[(k % 4) as usize].contains(k));
        assert!(four.contains(k));
    }
    let mut rng = StdRng::seed_from_u64(3);
    let probe: Vec<u64> = (0..200_000).map(|_| rng.gen()).collect();
    assert_eq!(one.count_members(probe.iter().copied()), four.count_members(probe.iter().copied()));
    assert_eq!(four.count_members(keys[..5000].iter().copied()), 5000);
    assert!((four.false_positive_rate() - 4.0 * 2f64.powi(-32)).abs() < 1e-20);
}

#[test]
fn builds_are_byte_identical_whatever_the_order_and_duplicates() {
    let keys = random_keys(4, 50_000);
    let mut shuffled = keys.clone();
    shuffled.extend_from_slice(&keys[..1000]);
    shuffled.shuffle(&mut StdRng::seed_from_u64(5));
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut pa = PartBuilder::new(1, 3).unwrap();
    pa.extend(keys.iter().copied());
    let ea = pa.write(a.path()).unwrap();
    let mut pb = PartBuilder::with_capacity(1, 3, shuffled.len()).unwrap();
    for k in &shuffled {
        pb.push(*k);
    }
    assert_eq!(pb.pushed(), 51_000);
    let eb = pb.write(b.path()).unwrap();
    assert_eq!(eb.duplicates, 1000);
    assert_eq!(ea.entry, eb.entry);
    let fa = std::fs::read(a.path().join("part-1-of-3.vidx")).unwrap();
    let fb = std::fs::read(b.path().join("part-1-of-3.vidx")).unwrap();
    assert_eq!(fa, fb);
    assert_eq!(read_part_entry(&ea.path).unwrap(), ea.entry);
    // Another shard number gives another seed.
    assert_ne!(part_seed(0, 3, &keys), part_seed(1, 3, &keys));
}

#[test]
fn empty_and_tiny_parts_work() {
    let dir = tempfile::tempdir().unwrap();
    let e0 = PartBuilder::new(0, 2).unwrap().write(dir.path()).unwrap().entry;
    let mut b = PartBuilder::new(1, 2).unwrap();
    b.push(5);
    let e1 = b.write(dir.path()).unwrap().entry;
    publish(dir.path(), fields(), vec![e1, e0]).unwrap();
    let index = Index::open(dir.path()).unwrap();
    assert_eq!(index.len(), 1);
    assert!(index.contains(5));
    assert!(!index.parts()[0].contains(5) || index.parts()[0].is_empty());
    assert_eq!(index.count_members(0..10_000), 1);
}

#[test]
fn builder_refuses_bad_shards() {
    assert!(matches!(PartBuilder::new(0, 0), Err(Error::BadShard { .. })));
    assert!(matches!(PartBuilder::new(3, 3), Err(Error::BadShard { shard: 3, shards: 3 })));
}

fn two_part_index() -> (tempfile::TempDir, Header) {
    let dir = tempfile::tempdir().unwrap();
    let h = build_index(dir.path(), &random_keys(6, 20_000), 2);
    (dir, h)
}

#[test]
fn a_part_with_one_flipped_byte_is_refused_by_name() {
    let (dir, _) = two_part_index();
    let path = dir.path().join("part-1-of-2.vidx");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let err = Index::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Part { part, source: PartError::HashMismatch } if part == "part-1-of-2.vidx"),
        "{err}"
    );
    assert!(err.to_string().contains("part-1-of-2.vidx"), "{err}");
}

#[test]
fn a_truncated_part_is_refused_by_name() {
    let (dir, _) = two_part_index();
    let path = dir.path().join("part-0-of-2.vidx");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let err = Index::open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Part { part, source: PartError::LengthMismatch { .. } } if part == "part-0-of-2.vidx"),
        "{err}"
    );
}

#[test]
fn a_missing_part_is_refused_by_name() {
    let (dir, _) = two_part_index();
    std::fs::remove_file(dir.path().join("part-1-of-2.vidx")).unwrap();
    let err = Index::open(dir.path()).unwrap_err();
    assert!(matches!(&err, Error::MissingPart { part, missing: 1, parts: 2 } if part == "part-1-of-2.vidx"), "{err}");
}

#[test]
fn a_part_swapped_from_another_index_is_refused() {
    let (a, _) = two_part_index();
    let b = tempfile::tempdir().unwrap();
    build_index(b.path(), &random_keys(7, 20_000), 2);
    std::fs::copy(b.path().join("part-0-of-2.vidx"), a.path().join("part-0-of-2.vidx")).unwrap();
    let err = Index::open(a.path()).unwrap_err();
    assert!(matches!(err, Error::Part { .. }), "{err}");
}

#[test]
fn publish_refuses_missing_duplicate_and_corrupt_parts() {
    let dir = tempfile::tempdir().unwrap();
    let keys = random_keys(8, 3000);
    let mut entries = Vec::new();
    for shard in 0..3 {
        let mut b = PartBuilder::new(shard, 3).unwrap();
        b.extend(keys.iter().copied().filter(|k| k % 3 == u64::from(shard)));
        entries.push(b.write(dir.path()).unwrap().entry);
    }
    let only_two = entries[..2].to_vec();
    assert!(matches!(
        publish(dir.path(), fields(), only_two),
        Err(Error::Header { source: HeaderError::PartCountMismatch { .. }, .. })
    ));
    let dup = vec![entries[0].clone(), entries[0].clone(), entries[2].clone()];
    assert!(matches!(
        publish(dir.path(), fields(), dup),
        Err(Error::Header { source: HeaderError::ShardOutOfPlace { position: 1, shard: 0 }, .. })
    ));
    let mut wrong = entries.clone();
    wrong[2].sha256[0] ^= 1;
    assert!(matches!(publish(dir.path(), fields(), wrong), Err(Error::Part { source: PartError::HashMismatch, .. })));
    assert!(!dir.path().join(HEADER_FILE).exists(), "nothing written on refusal");
    // Entries recomputed from the files publish the same header.
    let from_files: Vec<PartEntry> =
        (0..3).map(|i| read_part_entry(&dir.path().join(part_file_name(i, 3))).unwrap()).collect();
    assert_eq!(from_files, entries);
    let h = publish(dir.path(), fields(), from_files).unwrap();
    assert_eq!(read_header(dir.path()).unwrap(), h);
    assert_eq!(h.total_elements(), 3000);
}

// ----- cache -----

const FP: [u8; 32] = [9; 32];

fn source_index() -> (tempfile::TempDir, Header, Vec<u8>) {
    let (dir, header) = two_part_index();
    let bytes = header.to_bytes().unwrap();
    (dir, header, bytes)
}

#[test]
fn cache_resumes_from_an_offset_and_completes() {
    let (src, header, hbytes) = source_index();
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::new(root.path());
    let epoch = header.epoch_id();
    assert!(matches!(cache.complete(&FP, epoch), Err(Error::NoHeader { .. })));
    cache.put_header(&FP, epoch, &hbytes).unwrap();
    let e0 = &header.parts()[0];
    let e1 = &header.parts()[1];
    let p0 = std::fs::read(src.path().join(e0.file_name())).unwrap();
    let p1 = std::fs::read(src.path().join(e1.file_name())).unwrap();

    // First session: part 0 whole, part 1 cut off after 1000 bytes.
    assert_eq!(cache.put_part(&FP, epoch, e0, 0, &p0).unwrap(), PartState::Complete);
    assert_eq!(cache.put_part(&FP, epoch, e1, 0, &p1[..1000]).unwrap(), PartState::Resume { offset: 1000 });
    assert!(matches!(cache.complete(&FP, epoch), Err(Error::MissingPart { missing: 1, .. })));

    // Second session, on a fresh Cache value: resume where it stopped.
    let cache = Cache::new(root.path());
    assert_eq!(cache.part_state(&FP, epoch, e0).unwrap(), PartState::Complete);
    let PartState::Resume { offset } = cache.part_state(&FP, epoch, e1).unwrap() else {
        panic!("part 1 should be resumable");
    };
    assert_eq!(offset, 1000);
    assert!(matches!(
        cache.put_part(&FP, epoch, e1, 2000, &p1[2000..]),
        Err(Error::OffsetGap { offset: 2000, have: 1000, .. })
    ));
    // A chunk sent again from an earlier offset overwrites from there.
    assert_eq!(cache.put_part(&FP, epoch, e1, 500, &p1[500..3000]).unwrap(), PartState::Resume { offset: 3000 });
    assert_eq!(cache.put_part(&FP, epoch, e1, 3000, &p1[3000..]).unwrap(), PartState::Complete);
    let index = cache.complete(&FP, epoch).unwrap();
    assert_eq!(index.len(), header.total_elements());
    assert!(!cache.partial_dir(&FP, epoch).exists());
    assert_eq!(index.dir(), cache.path_for(&FP, epoch));
    // A later session in the same epoch downloads nothing.
    for e in header.parts() {
        assert_eq!(cache.part_state(&FP, epoch, e).unwrap(), PartState::Complete);
    }
}

#[test]
fn cache_deletes_and_refuses_a_corrupt_download() {
    let (src, header, hbytes) = source_index();
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::new(root.path());
    let epoch = header.epoch_id();
    cache.put_header(&FP, epoch, &hbytes).unwrap();
    let e0 = &header.parts()[0];
    let mut p0 = std::fs::read(src.path().join(e0.file_name())).unwrap();
    p0[100] ^= 0x80;
    let err = cache.put_part(&FP, epoch, e0, 0, &p0).unwrap_err();
    assert!(
        matches!(&err, Error::PartDeleted { part, source: PartError::HashMismatch } if part == "part-0-of-2.vidx"),
        "{err}"
    );
    assert_eq!(cache.part_state(&FP, epoch, e0).unwrap(), PartState::Resume { offset: 0 });
    // Too many bytes: refused and deleted too.
    p0[100] ^= 0x80;
    p0.push(0);
    assert!(matches!(
        cache.put_part(&FP, epoch, e0, 0, &p0),
        Err(Error::PartDeleted { source: PartError::TrailingBytes { .. }, .. })
    ));
    assert_eq!(cache.part_state(&FP, epoch, e0).unwrap(), PartState::Resume { offset: 0 });
    // A part corrupted after it was stored is deleted by `complete`.
    p0.pop();
    cache.put_part(&FP, epoch, e0, 0, &p0).unwrap();
    let e1 = &header.parts()[1];
    let p1 = std::fs::read(src.path().join(e1.file_name())).unwrap();
    cache.put_part(&FP, epoch, e1, 0, &p1).unwrap();
    let stored = cache.path_for(&FP, epoch).join(e1.file_name());
    let mut bad = p1.clone();
    bad[PART_PREFIX_LEN + 8] ^= 1;
    std::fs::write(&stored, &bad).unwrap();
    assert!(matches!(cache.complete(&FP, epoch), Err(Error::PartDeleted { source: PartError::HashMismatch, .. })));
    assert!(!stored.exists());
    assert_eq!(cache.part_state(&FP, epoch, e1).unwrap(), PartState::Resume { offset: 0 });
    cache.put_part(&FP, epoch, e1, 0, &p1).unwrap();
    assert!(cache.complete(&FP, epoch).is_ok());
}

#[test]
fn cache_refuses_a_header_of_another_platform_or_epoch() {
    let (_src, header, hbytes) = source_index();
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::new(root.path());
    assert!(matches!(cache.put_header(&[1; 32], header.epoch_id(), &hbytes), Err(Error::WrongPlatform { .. })));
    assert!(matches!(cache.put_header(&FP, header.epoch_id() + 1, &hbytes), Err(Error::WrongEpoch { .. })));
    assert!(matches!(
        cache.put_header(&FP, header.epoch_id(), &hbytes[..20]),
        Err(Error::Header { source: HeaderError::Truncated { .. }, .. })
    ));
}

#[test]
fn cache_removes_expired_epochs_only() {
    let (_src, header, hbytes) = source_index();
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::new(root.path());
    let epoch = header.epoch_id();
    cache.put_header(&FP, epoch, &hbytes).unwrap();
    // A later epoch that expires later.
    let mut f = header.fields().clone();
    f.epoch_id = epoch + 1;
    f.expires_at += 1000;
    let later = Header::new(f, header.parts().to_vec()).unwrap();
    cache.put_header(&FP, epoch + 1, &later.to_bytes().unwrap()).unwrap();
    // Someone else's file in the root is left alone.
    std::fs::write(root.path().join("notes.txt"), b"keep").unwrap();
    let expires = header.fields().expires_at;
    assert!(cache.remove_expired(expires - 1).unwrap().is_empty());
    let removed = cache.remove_expired(expires).unwrap();
    assert_eq!(removed, vec![cache.path_for(&FP, epoch)]);
    assert!(cache.header(&FP, epoch).unwrap().is_none());
    assert!(cache.header(&FP, epoch + 1).unwrap().is_some());
    assert!(root.path().join("notes.txt").exists());
    assert_eq!(cache.remove_expired(expires + 1000).unwrap().len(), 1);
}
