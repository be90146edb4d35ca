//! Where a list lives: one file, a directory or glob of part files, or
//! standard input; plain, gzip or zstd.
//!
//! Brands export gzip'd CSV from their CRM and platforms write a table as
//! many part files, so `--input` names any of them:
//!
//! | `--input`               | read                                                        |
//! |-------------------------|-------------------------------------------------------------|
//! | `-`                     | standard input                                              |
//! | `s3://`, `gs://`, `az://`, `https://` URLs | objects in a store ([`crate::remote`])       |
//! | a directory             | its files, sorted by path; names starting `.` or `_` (`_SUCCESS`, `.part-0.crc`) are left out |
//! | a pattern with `*?[`    | the files it matches, sorted by path (when no file has that very name) |
//! | anything else           | that file                                                   |
//!
//! Each part holds its own header row. Compression is recognised from the
//! first bytes of each part, never from its name: gzip (`1f 8b`, several
//! members one after another too, as `cat a.gz b.gz` and parallel gzip
//! write them) and zstd (`28 b5 2f fd`, several frames too); a part that
//! starts with `PAR1` is a Parquet file, read by its columns; anything else
//! is read as plain text. A stream that is truncated or damaged stops the
//! read with [`IdsError::Corrupt`], naming the part.
//!
//! Everything is streamed: a part is decompressed and parsed in buffers of
//! a fixed size, so memory does not grow with the size of a file.

use std::fmt;
use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};

use crate::error::IdsError;
use crate::remote::RemoteUrl;

/// The `--input` value that means standard input.
pub const STDIN: &str = "-";

/// Size of the buffer between a file and its decompressor, and of each
/// chunk a read-ahead thread hands over.
const BUFFER: usize = 256 * 1024;

/// Chunks a read-ahead thread may hold ready beyond the one being parsed:
/// memory is bounded by `(READ_AHEAD_CHUNKS + 2) × BUFFER` per part.
const READ_AHEAD_CHUNKS: usize = 4;

/// How a part's bytes are compressed, as told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No known magic number: read as it is.
    Plain,
    /// Starts with the gzip magic `1f 8b`.
    Gzip,
    /// Starts with the zstd frame magic `28 b5 2f fd`.
    Zstd,
    /// A Parquet file: starts with `PAR1`. Not a compression but a format
    /// (whose pages carry their own codecs); read column by column.
    Parquet,
}

/// The gzip magic number (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The zstd frame magic number, 0xFD2FB528 little-endian (RFC 8878, section 3.1.1).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The magic number that starts (and ends) a Parquet file.
const PARQUET_MAGIC: [u8; 4] = *b"PAR1";

impl Compression {
    /// The compression whose magic number `prefix` starts with; `Plain` if
    /// none (a text file never starts with these bytes: `0x1f` and `0x28
    /// 0xb5` are not the start of UTF-8 text a CSV header holds).
    ///
    /// ```
    /// use venn_ids::Compression;
    /// assert_eq!(Compression::detect(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    /// assert_eq!(Compression::detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
    /// assert_eq!(Compression::detect(b"PAR1\x15\x04"), Compression::Parquet);
    /// assert_eq!(Compression::detect(b"email\n"), Compression::Plain);
    /// ```
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(&GZIP_MAGIC) {
            Compression::Gzip
        } else if prefix.starts_with(&ZSTD_MAGIC) {
            Compression::Zstd
        } else if prefix.starts_with(&PARQUET_MAGIC) {
            Compression::Parquet
        } else {
            Compression::Plain
        }
    }

    /// `plain`, `gzip`, `zstd` or `parquet`, as reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Plain => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Parquet => "parquet",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What `--input` names, resolved into the parts to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// Standard input (`-`).
    Stdin,
    /// One file.
    File(PathBuf),
    /// Objects in a store: one, or those under a prefix or matching a
    /// pattern ([`crate::remote`]); listed when they are read.
    Remote(RemoteUrl),
    /// Part files of a directory or a glob pattern, sorted by path.
    Parts {
        /// The directory or pattern as given.
        spec: PathBuf,
        /// The files, sorted by path; never empty.
        parts: Vec<PathBuf>,
    },
}

impl InputSource {
    /// Resolves an `--input` value (see the [module docs](self) for the
    /// rules). Only directories and patterns are looked at here; a single
    /// file is opened when it is read, so a missing one fails then, with
    /// [`IdsError::Open`].
    ///
    /// Errors: [`IdsError::Open`] if a directory cannot be listed;
    /// [`IdsError::BadPattern`] for a pattern `glob` rejects;
    /// [`IdsError::NoParts`] for a directory or pattern with no file.
    pub fn resolve(spec: &Path) -> Result<InputSource, IdsError> {
        if spec.as_os_str() == STDIN {
            return Ok(InputSource::Stdin);
        }
        if let Some(url) = spec.to_str().and_then(RemoteUrl::parse) {
            return Ok(InputSource::Remote(url?));
        }
        if spec.is_dir() {
            return Self::directory(spec);
        }
        let text = spec.to_string_lossy();
        if !spec.exists() && text.contains(['*', '?', '[']) {
            return Self::pattern(spec, &text);
        }
        Ok(InputSource::File(spec.to_path_buf()))
    }

    fn directory(dir: &Path) -> Result<InputSource, IdsError> {
        let open_error = |source| IdsError::Open { path: dir.to_path_buf(), source };
        let mut parts = Vec::new();
        for entry in fs::read_dir(dir).map_err(open_error)? {
            let entry = entry.map_err(open_error)?;
            let hidden = entry.file_name().to_string_lossy().starts_with(['.', '_']);
            // Follows symbolic links: a link to a part file is a part.
            if !hidden && entry.path().is_file() {
                parts.push(entry.path());
            }
        }
        Self::parts(dir, parts, "holds no part files (names starting with . or _ are left out)")
    }

    fn pattern(spec: &Path, text: &str) -> Result<InputSource, IdsError> {
        let paths = glob::glob(text).map_err(|e| IdsError::BadPattern {
            pattern: spec.to_path_buf(),
            detail: format!("{} at character {}", e.msg, e.pos + 1),
        })?;
        let mut parts = Vec::new();
        for path in paths {
            let path = path.map_err(|e| IdsError::Open { path: e.path().to_path_buf(), source: e.into() })?;
            if path.is_file() {
                parts.push(path);
            }
        }
        Self::parts(spec, parts, "matches no file")
    }

    fn parts(spec: &Path, mut parts: Vec<PathBuf>, why: &'static str) -> Result<InputSource, IdsError> {
        if parts.is_empty() {
            return Err(IdsError::NoParts { spec: spec.to_path_buf(), why });
        }
        parts.sort();
        Ok(InputSource::Parts { spec: spec.to_path_buf(), parts })
    }

    /// The paths to read, in order; `-` for standard input.
    pub fn paths(&self) -> Vec<PathBuf> {
        match self {
            InputSource::Stdin => vec![PathBuf::from(STDIN)],
            InputSource::File(path) => vec![path.clone()],
            InputSource::Remote(url) => vec![PathBuf::from(url.to_string())],
            InputSource::Parts { parts, .. } => parts.clone(),
        }
    }

    /// Whether this is standard input.
    pub fn is_stdin(&self) -> bool {
        matches!(self, InputSource::Stdin)
    }
}

/// Marks an I/O error of the underlying file or pipe as it passes through
/// a decompressor, so that it is not mistaken for damaged data.
#[derive(Debug)]
struct SourceIoError(io::Error);

impl fmt::Display for SourceIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceIoError {}

/// A compressed stream that could not be decoded, as carried inside an
/// [`io::Error`] to the CSV reader and turned into [`IdsError::Corrupt`].
#[derive(Debug)]
pub(crate) struct CorruptStream {
    pub(crate) compression: Compression,
    pub(crate) detail: String,
}

impl fmt::Display for CorruptStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "damaged {} stream: {}", self.compression, self.detail)
    }
}

impl std::error::Error for CorruptStream {}

/// The raw bytes below a decompressor: marks their errors as the source's.
struct Raw<R>(R);

impl<R: Read> Read for Raw<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                e
            } else {
                io::Error::new(e.kind(), SourceIoError(e))
            }
        })
    }
}

/// A decompressor whose own errors become [`CorruptStream`] and whose
/// source's errors come out as they went in.
struct Decoded<D> {
    inner: D,
    compression: Compression,
}

impl<D: Read> Read for Decoded<D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            if e.get_ref().is_some_and(|inner| inner.is::<SourceIoError>()) {
                let kind = e.kind();
                return match e.into_inner().map(|inner| inner.downcast::<SourceIoError>()) {
                    Some(Ok(source)) => source.0,
                    _ => io::Error::from(kind),
                };
            }
            let detail = if e.kind() == io::ErrorKind::UnexpectedEof {
                "the stream ends early".to_owned()
            } else {
                e.to_string()
            };
            io::Error::new(io::ErrorKind::InvalidData, CorruptStream { compression: self.compression, detail })
        })
    }
}

/// Reads up to `buf.len()` bytes, fewer only at end of input.
pub(crate) fn read_prefix<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A part's bytes after decompression.
pub(crate) type DecodedReader<'a> = Box<dyn Read + Send + 'a>;

/// Looks at the first bytes of `input` and returns its decompressed bytes
/// with the compression found. Errors are those of reading the first bytes.
pub(crate) fn decode<'a, R: Read + Send + 'a>(mut input: R) -> io::Result<(Compression, DecodedReader<'a>)> {
    let mut prefix = [0u8; ZSTD_MAGIC.len()];
    let n = read_prefix(&mut input, &mut prefix)?;
    let compression = Compression::detect(&prefix[..n]);
    let whole = io::Cursor::new(prefix).take(n as u64).chain(input);
    let reader: DecodedReader<'a> = match compression {
        // Parquet is read by its own reader, from these bytes as they are.
        Compression::Plain | Compression::Parquet => Box::new(whole),
        Compression::Gzip => Box::new(Decoded {
            inner: flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(BUFFER, Raw(whole))),
            compression,
        }),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(BUFFER, Raw(whole)))
                .map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, CorruptStream { compression, detail: e.to_string() })
                })?;
            Box::new(Decoded { inner: decoder, compression })
        }
    };
    Ok((compression, reader))
}

/// Runs `consume` on a reader of `inner`'s bytes that a thread of its own
/// reads, [`BUFFER`] bytes at a time, up to [`READ_AHEAD_CHUNKS`] chunks
/// ahead: decompression then runs beside parsing and normalization, on
/// another core, with bounded memory.
///
/// When `consume` returns early (an error while parsing), its reader is
/// dropped, which closes the channel, and the thread stops after the chunk
/// it is reading. Errors: only a thread that cannot be started.
pub(crate) fn with_read_ahead<R: Read + Send, T>(inner: R, consume: impl FnOnce(ChunkReader) -> T) -> io::Result<T> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(READ_AHEAD_CHUNKS);
        let mut inner = inner;
        std::thread::Builder::new().name("venn-read-ahead".into()).spawn_scoped(scope, move || loop {
            let mut chunk = vec![0u8; BUFFER];
            let result = read_prefix(&mut inner, &mut chunk).map(|n| {
                chunk.truncate(n);
                chunk
            });
            let last = !matches!(&result, Ok(c) if !c.is_empty());
            if tx.send(result).is_err() || last {
                return;
            }
        })?;
        Ok(consume(ChunkReader { chunks: rx, current: Vec::new(), at: 0, done: false }))
    })
}

/// The reading end of [`with_read_ahead`].
pub(crate) struct ChunkReader {
    chunks: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.done = chunk.is_empty();
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other("the read-ahead thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_magic_and_nothing_else() {
        assert_eq!(Compression::detect(&[0x1f, 0x8b]), Compression::Gzip);
        assert_eq!(Compression::detect(&ZSTD_MAGIC), Compression::Zstd);
        assert_eq!(Compression::detect(&[0x1f]), Compression::Plain, "half a magic");
        assert_eq!(Compression::detect(&[0x28, 0xb5, 0x2f]), Compression::Plain);
        assert_eq!(Compression::detect(b""), Compression::Plain);
        assert_eq!(Compression::detect(b"\xef\xbb\xbfemail"), Compression::Plain, "a BOM is text");
    }

    #[test]
    fn decode_keeps_a_short_plain_input_whole() {
        for input in [&b""[..], b"e", b"em", b"email\nx@y.co\n"] {
            let (compression, mut reader) = decode(input).unwrap();
            assert_eq!(compression, Compression::Plain);
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            assert_eq!(out, input);
        }
    }

    #[test]
    fn read_ahead_passes_every_byte_in_order() {
        let data: Vec<u8> = (0..3 * BUFFER + 17).map(|i| (i % 251) as u8).collect();
        let out = with_read_ahead(data.as_slice(), |mut reader| {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).map(|_| out)
        });
        assert_eq!(out.unwrap().unwrap(), data);
    }

    #[test]
    fn read_ahead_stops_when_its_reader_is_dropped_early() {
        let data = vec![b'x'; 20 * BUFFER];
        let first = with_read_ahead(data.as_slice(), |mut reader| {
            let mut first = [0u8; 10];
            reader.read_exact(&mut first).map(|_| first)
        });
        // Returning at all means the thread stopped: the scope joins it.
        assert_eq!(first.unwrap().unwrap(), [b'x'; 10]);
    }

    #[test]
    fn read_ahead_passes_a_read_error_on() {
        let out = with_read_ahead(io::Cursor::new(b"abc".to_vec()).chain(FailingRead), |mut reader| {
            let mut out = Vec::new();
            reader.read_to_end(&mut out)
        });
        assert_eq!(out.unwrap().unwrap_err().to_string(), "device gone");
    }

    struct FailingRead;
    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("device gone"))
        }
    }

    #[test]
    fn the_source_errors_pass_through_a_decoder_unchanged() {
        let gz_start = io::Cursor::new(vec![0x1f, 0x8b, 8, 0]).chain(FailingRead);
        let (compression, mut reader) = decode(gz_start).unwrap();
        assert_eq!(compression, Compression::Gzip);
        let err = reader.read(&mut [0u8; 64]).unwrap_err();
        assert_eq!(err.to_string(), "device gone");
        assert!(err.get_ref().is_none_or(|e| !e.is::<CorruptStream>()), "{err:?}");
    }
}
