//! `venn index build` and `venn index publish` end to end (issue 11): one
//! whole build and four shard processes run at once give indexes that agree
//! with each other and with the platform's list, identifier by identifier;
//! and each refusal exits with its code and says what to do.

mod cli_support;

use std::{
    collections::HashSet,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use cli_support::{generate_pair, keygen, text, venn, VENN};
use venn_crypto::{epoch_tags, EpochKey};
use venn_ids::{read_identifiers, IdType, ReadOptions};
use venn_index::Index;
use venn_protocol::{index_domain, Element};

const BRAND_ROWS: usize = 3_000;
const PLATFORM_ROWS: usize = 2_000;
const OVERLAP: usize = 700;

/// A platform identity and two generated lists: the brand's messy plain
/// emails and the platform's SHA-256 column.
struct Setup {
    dir: tempfile::TempDir,
    fingerprint: String,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fingerprint = keygen(&dir.path().join("platform-id"));
        generate_pair(dir.path(), BRAND_ROWS, PLATFORM_ROWS, OVERLAP, 11);
        Self { dir, fingerprint }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn identity(&self) -> String {
        path_str(&self.path("platform-id"))
    }

    /// `venn index build` arguments for the platform list into `out`.
    fn build_args(&self, out: &str) -> Vec<String> {
        [
            "index",
            "build",
            "--identity",
            &self.identity(),
            "--input",
            &path_str(&self.path("platform.csv")),
            "--id-column",
            "email_sha256",
            "--id-type",
            "email-sha256",
            "--out",
            &path_str(&self.path(out)),
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn build(&self, out: &str, extra: &[&str]) -> std::process::Output {
        let mut args = self.build_args(out);
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        venn(&args)
    }

    /// Four `venn index build --shard i/4` processes started together, then
    /// `venn index publish`.
    fn build_sharded(&self, out: &str) {
        let children: Vec<_> = (0..4)
            .map(|i| {
                Command::new(VENN)
                    .args(self.build_args(out))
                    .args(["--shard", &format!("{i}/4")])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("venn starts")
            })
            .collect();
        for (i, child) in children.into_iter().enumerate() {
            let done = child.wait_with_output().unwrap();
            assert!(done.status.success(), "shard {i}/4: {}", text(&done.stderr));
            let stdout = text(&done.stdout);
            assert!(stdout.contains(&format!("part-{i}-of-4.vidx")), "{stdout}");
            assert!(stdout.contains("venn index publish"), "says what to run next: {stdout}");
        }
        let published =
            venn(&["index", "publish", "--identity", &self.identity(), "--out", &path_str(&self.path(out))]);
        assert!(published.status.success(), "{}", text(&published.stderr));
        assert!(text(&published.stdout).contains("in 4 parts"), "{}", text(&published.stdout));
    }

    /// The distinct identifier digests of a generated file.
    fn digests(&self, file: &str, column: &str, id_type: IdType) -> Vec<Element> {
        let outcome = read_identifiers(&self.path(file), &ReadOptions::new(column, id_type)).unwrap();
        outcome.digests.into_iter().map(Element).collect()
    }
}

fn path_str(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// The epoch key the build wrote beside the identity.
fn epoch_key(identity: &Path, epoch: u64) -> Box<EpochKey> {
    let path = identity.join(format!("epoch-{epoch}.key"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the epoch key is readable by its owner alone");
    let hex_text = std::fs::read_to_string(&path).unwrap();
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex_text[2 * i..2 * i + 2], 16).unwrap();
    }
    EpochKey::from_secret_bytes(bytes).unwrap()
}

#[test]
fn four_concurrent_shards_give_the_same_index_as_one_build() {
    let s = Setup::new();

    // (a) one build, published at once.
    let whole = s.build("whole", &[]);
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    let stdout = text(&whole.stdout);
    for said in ["elements,", "bytes per element", "elements per second", "Published", "created (mode 0600"] {
        assert!(stdout.contains(said), "{said:?} in {stdout}");
    }
    assert!(stdout.contains(&format!("{} elements", grouped(PLATFORM_ROWS as u64))), "{stdout}");

    // (b) four shards at once, then publish: the key is loaded, not made again.
    s.build_sharded("sharded");

    let whole = Index::open(&s.path("whole")).unwrap();
    let sharded = Index::open(&s.path("sharded")).unwrap();
    let (hw, hs) = (whole.header(), sharded.header());
    assert_eq!(hw.fields(), hs.fields(), "same epoch id, label, expiry, K and fingerprint");
    assert_eq!(hex_of(hw.platform_fingerprint()), s.fingerprint);
    assert_eq!(hw.parts().len(), 1);
    assert_eq!(hs.parts().len(), 4);
    let label = &hw.fields().epoch_label;
    assert!(label.ends_with("+30d") && label.len() == "YYYY-MM-DD+30d".len(), "{label}");

    let platform = s.digests("platform.csv", "email_sha256", IdType::EmailSha256);
    let brand = s.digests("brand.csv", "email", IdType::Email);
    assert_eq!(platform.len(), PLATFORM_ROWS);
    assert_eq!(whole.len(), platform.len() as u64, "element count is the distinct count");
    assert_eq!(sharded.len(), platform.len() as u64);
    assert!(hs.parts().iter().all(|p| p.elements > 0), "every shard got a slice");

    let epoch = hw.epoch_id();
    let key = epoch_key(&s.path("platform-id"), epoch);
    assert_eq!(&key.public_key().to_bytes(), hw.epoch_key(), "the header's K is the stored key's");
    let domain = index_domain(epoch);
    let members: HashSet<Element> = platform.iter().copied().collect();
    for (list, members_expected) in [(&platform, PLATFORM_ROWS), (&brand, OVERLAP)] {
        let tags = epoch_tags(&key, &domain, list);
        let mut found = 0;
        for (element, tag) in list.iter().zip(tags) {
            let expected = members.contains(element);
            assert_eq!(whole.contains(tag), expected, "one build");
            assert_eq!(sharded.contains(tag), expected, "four shards");
            found += usize::from(expected);
        }
        assert_eq!(found, members_expected, "the platform's list, and the brand's generated overlap");
    }

    // A rebuild of one shard in the same epoch reuses the key: identical bytes.
    let before = std::fs::read(s.path("sharded/part-2-of-4.vidx")).unwrap();
    let again = s.build("sharded", &["--shard", "2/4"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("loaded"), "{}", text(&again.stdout));
    assert_eq!(std::fs::read(s.path("sharded/part-2-of-4.vidx")).unwrap(), before);
}

#[test]
fn refusals_exit_with_their_code_and_say_what_to_do() {
    let s = Setup::new();
    let code = |out: &std::process::Output| out.status.code();

    // A shard out of range is a usage error.
    let out = s.build("idx", &["--shard", "4/4"]);
    assert_eq!(code(&out), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("use 0 to 3"), "{}", text(&out.stderr));

    // No identity: make one with keygen.
    let mut args = s.build_args("idx");
    args[3] = path_str(&s.path("nobody"));
    let out = venn(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&out), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("venn keygen --out"), "{}", text(&out.stderr));

    // Three of four parts: publish names the missing one and writes nothing.
    for i in [0, 1, 3] {
        let out = s.build("idx", &["--shard", &format!("{i}/4")]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let publish = || venn(&["index", "publish", "--identity", &s.identity(), "--out", &path_str(&s.path("idx"))]);
    let out = publish();
    assert_eq!(code(&out), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1 of 4 parts missing") && stderr.contains("part-2-of-4.vidx"), "{stderr}");
    assert!(!s.path("idx/header.bin").exists());

    // An epoch key others can read is refused, by build and publish alike.
    let key = std::fs::read_dir(s.path("platform-id"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("epoch-"))
        .expect("the build wrote the epoch key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = s.build("idx", &["--shard", "2/4"]);
    assert_eq!(code(&out), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("chmod 600"), "{}", text(&out.stderr));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let out = s.build("idx", &["--shard", "2/4"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = publish();
    assert!(out.status.success(), "{}", text(&out.stderr));

    // Publishing with another identity's key is refused.
    keygen(&s.path("other-id"));
    let out =
        venn(&["index", "publish", "--identity", &path_str(&s.path("other-id")), "--out", &path_str(&s.path("idx"))]);
    assert_eq!(code(&out), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no epoch key"), "{}", text(&out.stderr));

    // Nothing secret is ever printed.
    let secret = std::fs::read_to_string(&key).unwrap();
    let all = [s.build("idx", &[]), publish()];
    for out in &all {
        assert!(!text(&out.stdout).contains(secret.trim()) && !text(&out.stderr).contains(secret.trim()));
    }
}

#[test]
fn help_has_an_example_for_each_subcommand() {
    for sub in ["build", "publish"] {
        let out = venn(&["index", sub, "--help"]);
        assert!(out.status.success());
        let help = text(&out.stdout);
        assert!(help.contains(&format!("venn index {sub} --identity ~/.venn/platform")), "{help}");
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `2000` as `2,000`, as venn prints counts.
fn grouped(n: u64) -> String {
    venn_ids::group_digits(n)
}
