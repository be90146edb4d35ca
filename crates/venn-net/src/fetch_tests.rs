//! The index download over loopback QUIC: a full fetch, a cached one, a
//! resumed one, a damaged cached part fetched again, and each bound on what
//! a hostile peer may send, refused by name.

use std::{path::Path, sync::Arc};

use venn_index::{publish, Cache, Header, HeaderFields, PartBuilder};
use venn_protocol::{codec, AbortReason, Message};

use crate::{
    connect,
    fetch::{check_header, fetch_index, serve_fetch, FetchError, FetchStream, ServeOptions, MAX_HEADER_MESSAGE},
    framing::{read_frame, write_frame, Frame},
    tests::quick,
    Fingerprint, Identity, Mode, PeerConnection, PeerPins, Server,
};

const NOW: u64 = 1_700_000_000;

/// A two-part index of `platform` in `dir`.
fn index(dir: &Path, platform: Fingerprint, expires_at: u64) -> Header {
    std::fs::create_dir_all(dir).unwrap();
    let mut entries = Vec::new();
    for shard in 0..2u32 {
        let mut b = PartBuilder::new(shard, 2).unwrap();
        b.extend((0..3000u64).filter(|k| k % 2 == u64::from(shard)).map(|k| k * 7919 + 1));
        entries.push(b.write(dir).unwrap().entry);
    }
    let fields = HeaderFields {
        epoch_id: 7,
        epoch_label: "test".into(),
        expires_at,
        epoch_key: [0; 32],
        platform_fingerprint: platform.0,
    };
    publish(dir, fields, entries).unwrap()
}

struct Setup {
    server: Arc<Server>,
    client: Identity,
    platform: Fingerprint,
    dir: tempfile::TempDir,
    header: Header,
}

fn setup() -> Setup {
    let (server_id, client) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let platform = server_id.fingerprint();
    let pins = PeerPins::new([client.fingerprint()]);
    let server = Server::bind_mode("127.0.0.1:0".parse().unwrap(), server_id, pins, quick(), Mode::Index).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let header = index(&dir.path().join("index"), platform, NOW + 1000);
    Setup { server: Arc::new(server), client, platform, dir, header }
}

impl Setup {
    async fn dial(&self) -> PeerConnection {
        let addr = self.server.local_addr().unwrap();
        let conn = connect(addr, &self.client, PeerPins::new([self.platform]), quick()).await.unwrap();
        assert_eq!(conn.mode(), Mode::Index, "the server's ALPN says index mode");
        conn
    }

    fn cache(&self) -> Cache {
        Cache::new(self.dir.path().join("cache"))
    }

    /// Serves one brand's download; returns the part bytes sent or the error.
    fn serve_once(&self, options: ServeOptions) -> tokio::task::JoinHandle<Result<u64, FetchError>> {
        let (dir, header, server) = (self.dir.path().join("index"), self.header.clone(), self.server.clone());
        tokio::spawn(async move {
            let conn = server.accept().await.unwrap();
            let mut stream = FetchStream::accept(&conn, &quick()).await?;
            serve_fetch(&mut stream, &dir, &header, options).await
        })
    }

    /// One download with a fresh connection.
    async fn fetch(&self) -> (Result<crate::fetch::Fetched, FetchError>, Result<u64, FetchError>) {
        let served = self.serve_once(ServeOptions { chunk_bytes: 4096, ..ServeOptions::default() });
        let conn = self.dial().await;
        let mut stream = FetchStream::open(&conn, &quick()).await.unwrap();
        let fetched = fetch_index(&mut stream, &self.cache(), &self.platform, NOW).await;
        let served = served.await.unwrap();
        conn.quinn().close(0u32.into(), b"done");
        (fetched, served)
    }

    fn part_len(&self, i: usize) -> u64 {
        self.header.parts()[i].byte_len
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_once_then_reuses_the_cache() {
    let s = setup();
    let (fetched, served) = s.fetch().await;
    let fetched = fetched.unwrap();
    assert_eq!(fetched.part_bytes, s.header.total_part_bytes());
    assert_eq!(served.unwrap(), s.header.total_part_bytes());
    assert_eq!(fetched.index.len(), 3000);
    assert!(fetched.index.contains(7919 * 10 + 1));
    assert!(fetched.refetched.is_empty());

    let (again, served) = s.fetch().await;
    assert_eq!(again.unwrap().part_bytes, 0, "a later session in the epoch downloads only the header");
    assert_eq!(served.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_a_partial_part_from_its_offset() {
    let s = setup();
    let cache = s.cache();
    let entry = s.header.parts()[1].clone();
    cache.put_header(&s.platform.0, 7, &s.header.to_bytes().unwrap()).unwrap();
    let bytes = std::fs::read(s.dir.path().join("index").join(entry.file_name())).unwrap();
    cache.put_part(&s.platform.0, 7, &entry, 0, &bytes[..1000]).unwrap();
    let (fetched, _) = s.fetch().await;
    assert_eq!(fetched.unwrap().part_bytes, s.part_len(0) + s.part_len(1) - 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_cached_part_is_refused_by_name_and_fetched_again() {
    let s = setup();
    s.fetch().await.0.unwrap();
    let name = s.header.parts()[0].file_name();
    let path = s.cache().path_for(&s.platform.0, 7).join(&name);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let (fetched, _) = s.fetch().await;
    let fetched = fetched.unwrap();
    assert_eq!(fetched.refetched, vec![name]);
    assert_eq!(fetched.part_bytes, s.part_len(0));
}

/// A hand-driven brand: sends `ask`, returns the platform's answer and its
/// error.
async fn ask_platform(s: &Setup, ask: Message) -> (Message, FetchError) {
    let served = s.serve_once(ServeOptions::default());
    let conn = s.dial().await;
    let (mut send, mut recv) = conn.quinn().open_bi().await.unwrap();
    write_frame(&mut send, &codec::encode(&ask)).await.unwrap();
    let Frame::Message(bytes) = read_frame(&mut recv).await.unwrap() else { panic!("an answer") };
    let err = served.await.unwrap().unwrap_err();
    (codec::decode(&bytes).unwrap(), err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_out_of_range_is_refused() {
    let s = setup();
    let (answer, err) = ask_platform(&s, Message::FetchPart { part: 2, offset: 0 }).await;
    assert_eq!(answer, Message::Abort(AbortReason::ProtocolViolation));
    assert!(matches!(err, FetchError::PartOutOfRange { part: 2, parts: 2 }), "{err}");
    let (_, err) = ask_platform(&s, Message::FetchPart { part: u32::MAX, offset: 0 }).await;
    assert!(matches!(err, FetchError::PartOutOfRange { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_past_the_end_is_refused() {
    let s = setup();
    let len = s.part_len(1);
    let (answer, err) = ask_platform(&s, Message::FetchPart { part: 1, offset: len }).await;
    assert_eq!(answer, Message::Abort(AbortReason::ProtocolViolation));
    assert!(matches!(err, FetchError::OffsetOutOfRange { part: 1, offset, len: l } if offset == len && l == len));
    let (_, err) = ask_platform(&s, Message::FetchPart { part: 0, offset: u64::MAX }).await;
    assert!(matches!(err, FetchError::OffsetOutOfRange { .. }), "{err}");
}

/// A hand-driven platform: answers the brand's first message with what
/// `answers` gives for this setup, returns the brand's error.
async fn brand_against(answers: impl FnOnce(&Setup) -> Vec<Message>) -> FetchError {
    let s = setup();
    let answers = answers(&s);
    let server = s.server.clone();
    let platform = tokio::spawn(async move {
        let conn = server.accept().await.unwrap();
        let (mut send, mut recv) = conn.quinn().accept_bi().await.unwrap();
        let _ = read_frame(&mut recv).await.unwrap();
        for m in answers {
            write_frame(&mut send, &codec::encode(&m)).await.unwrap();
        }
        // The brand's last message: its Abort, when it sends one.
        let mut last = None;
        while let Ok(Frame::Message(bytes)) = read_frame(&mut recv).await {
            last = codec::decode(&bytes).ok();
        }
        last
    });
    let conn = s.dial().await;
    let mut stream = FetchStream::open(&conn, &quick()).await.unwrap();
    let err = fetch_index(&mut stream, &s.cache(), &s.platform, NOW).await.unwrap_err();
    let told = platform.await.unwrap();
    conn.quinn().close(0u32.into(), b"done");
    assert_eq!(told, Some(Message::Abort(AbortReason::ProtocolViolation)), "the platform is told why: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_header_length_is_refused_before_parsing() {
    let err = brand_against(|_| vec![Message::IndexHeader(vec![0; MAX_HEADER_MESSAGE + 1])]).await;
    assert!(matches!(err, FetchError::HeaderTooLarge { len, .. } if len == MAX_HEADER_MESSAGE + 1), "{err}");
    let err = brand_against(|_| vec![Message::IndexHeader(b"VENNHDR\0garbage".to_vec())]).await;
    assert!(matches!(err, FetchError::BadHeader(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_out_of_place_or_of_bad_length_are_refused() {
    let header = |s: &Setup| Message::IndexHeader(s.header.to_bytes().unwrap());
    let err = brand_against(|s| vec![header(s), Message::PartChunk { part: 0, offset: 5, bytes: vec![1; 10] }]).await;
    assert!(matches!(err, FetchError::ChunkOutOfPlace { part: 0, offset: 5, expected_offset: 0, .. }), "{err}");
    let err = brand_against(|s| vec![header(s), Message::PartChunk { part: 1, offset: 0, bytes: vec![1; 10] }]).await;
    assert!(matches!(err, FetchError::ChunkOutOfPlace { part: 1, expected_part: 0, .. }), "{err}");
    let err = brand_against(|s| vec![header(s), Message::PartChunk { part: 0, offset: 0, bytes: vec![] }]).await;
    assert!(matches!(err, FetchError::BadChunkLength { len: 0, .. }), "{err}");
    let err = brand_against(|s| vec![header(s), Message::FetchDone]).await;
    assert!(matches!(err, FetchError::Unexpected { message: "FetchDone", .. }), "{err}");
}

#[test]
fn headers_of_another_platform_expired_or_malformed_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let platform = Fingerprint([5; 32]);
    let bytes = index(dir.path(), platform, NOW + 10).to_bytes().unwrap();
    assert!(check_header(&bytes, &platform, NOW).is_ok());
    let err = check_header(&bytes, &Fingerprint([6; 32]), NOW).unwrap_err();
    assert!(matches!(err, FetchError::WrongPlatform { .. }), "{err}");
    let err = check_header(&bytes, &platform, NOW + 10).unwrap_err();
    assert!(matches!(err, FetchError::Expired { expires_at, .. } if expires_at == NOW + 10), "{err}");
    assert!(err.to_string().contains("must publish a new epoch"), "{err}");
    let err = check_header(&bytes[..bytes.len() - 1], &platform, NOW).unwrap_err();
    assert!(matches!(err, FetchError::BadHeader(_)), "{err}");
}
