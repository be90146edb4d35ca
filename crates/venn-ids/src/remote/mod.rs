//! Lists that live in object storage: `s3://`, `gs://`, `az://` and
//! `https://` inputs, through the `object_store` crate.
//!
//! Platforms keep audiences as Parquet part files under a prefix of a
//! bucket; `--input s3://bucket/audience/` reads them where they are:
//!
//! | `--input`                              | read                                                     |
//! |----------------------------------------|----------------------------------------------------------|
//! | `s3://bucket/audience/` (ends in `/`)  | every object under the prefix, at any depth (Hive-style `date=…/` folders too), sorted by key; keys with a segment starting `.` or `_` (`_SUCCESS`, `_temporary/…`) are left out |
//! | `s3://bucket/audience/part-*.parquet`  | the objects whose keys match the pattern (`*?[` in the last segment), sorted |
//! | `s3://bucket/audience` (no `/`)        | that object; if there is none, the prefix `audience/` as above |
//! | `https://host/path/file.csv.gz`        | that file (HTTPS has no listing)                         |
//!
//! Each part is then read as a local one is: compression and Parquet told
//! by its first bytes, counted per part under its full URL. Parquet parts
//! are read by ranges (the footer, then only the wanted columns' pages);
//! text parts are streamed. Every request is pinned to the version that was
//! listed ([`reader`]), so a part rewritten during the read fails it with
//! [`IdsError::RemoteChanged`]. Credentials come from each cloud's standard
//! chain ([`store`]). No identifier is sent anywhere: the store is only read.
//!
//! The `object_store` client is asynchronous: a read runs on a thread of
//! its own with a one-worker Tokio runtime, so that it can be called from
//! anywhere, inside another runtime's blocking task too.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, ObjectStoreScheme};
use parquet::file::metadata::ParquetMetaDataReader;
use url::Url;

use crate::error::IdsError;
use crate::read::Intake;
use crate::source::Compression;

mod reader;
mod store;

#[cfg(test)]
mod tests;

use reader::{Object, ObjectChunks, ObjectStream};
pub use store::install_crypto_provider;

/// An `--input` that names objects in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    url: Url,
    scheme: ObjectStoreScheme,
    /// The key (or prefix, or pattern) within the bucket or container,
    /// decoded, without a trailing `/`.
    key: String,
    /// `key` as the store's path.
    path: ObjectPath,
    /// The URL ended in `/`: a prefix, never one object.
    prefix_only: bool,
    /// What part names start with: the URL up to the key (scheme, host and,
    /// where the bucket is in the path, the bucket).
    base: String,
}

/// URL schemes read as object stores.
const SCHEMES: [&str; 10] = ["s3", "s3a", "gs", "az", "azure", "abfs", "abfss", "adl", "https", "http"];

impl RemoteUrl {
    /// `Some` if `text` is a URL of a supported store (`s3://`, `gs://`,
    /// `az://`, `https://`, ...); `None` if it is not a URL at all (a local
    /// path); an error for a URL that cannot be read.
    pub fn parse(text: &str) -> Option<Result<RemoteUrl, IdsError>> {
        let (scheme, _) = text.split_once("://")?;
        if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) {
            return None;
        }
        Some(Self::parse_url(text))
    }

    fn parse_url(text: &str) -> Result<RemoteUrl, IdsError> {
        let bad = |detail: String| IdsError::BadUrl { url: redacted(text), detail };
        let url = Url::parse(text).map_err(|e| bad(e.to_string()))?;
        if !SCHEMES.contains(&url.scheme()) {
            return Err(bad(format!(
                "{}:// is not a store venn reads; use s3://, gs://, az://, https:// or a local path",
                url.scheme()
            )));
        }
        // Secrets never sit in a URL that venn prints, reports or logs.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in a URL are not read: give them through the environment".into()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "a URL with a query (a pre-signed or SAS URL) is not read: name the object without it and give \
                 credentials through the environment"
                    .into(),
            ));
        }
        let (scheme, path) = ObjectStoreScheme::parse(&url).map_err(|e| bad(one_line(&e.to_string())))?;
        let key = path.as_ref().to_owned();
        let prefix_only = key.is_empty() || url.path().ends_with('/');
        if scheme == ObjectStoreScheme::Http && prefix_only {
            return Err(bad("name one file: HTTPS servers do not list a folder's files".into()));
        }
        // The path as written, decoded: what precedes the key in it is the
        // bucket (https://s3.REGION.amazonaws.com/BUCKET/key and the like).
        let written = percent_decode(url.path().trim_matches('/'));
        let bucket = written.strip_suffix(key.as_str()).unwrap_or_default().trim_end_matches('/');
        let origin = &url[..url::Position::BeforePath];
        let base = if bucket.is_empty() { origin.to_owned() } else { format!("{origin}/{bucket}") };
        Ok(RemoteUrl { scheme, key, path, prefix_only, base, url })
    }

    /// The URL of the object at `key` in the same bucket.
    fn object_url(&self, key: &ObjectPath) -> String {
        format!("{}/{key}", self.base)
    }

    /// What to check when the store refuses or cannot be reached.
    fn credential_hint(&self) -> &'static str {
        match self.scheme {
            ObjectStoreScheme::AmazonS3 => {
                "check the URL and the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or \
                 the instance role), and AWS_ENDPOINT_URL for an S3-compatible store"
            }
            ObjectStoreScheme::GoogleCloudStorage => {
                "check the URL and the credentials (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth \
                 application-default login`, or the instance's service account)"
            }
            ObjectStoreScheme::MicrosoftAzure => {
                "check the URL and the credentials (AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or \
                 a SAS token, or a managed identity)"
            }
            _ => "check the URL and that the server is reachable",
        }
    }
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

/// `text` without what may hold a secret (user, password, query,
/// fragment), for an error message about a URL that is refused.
fn redacted(text: &str) -> String {
    match Url::parse(text) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => text.split(['?', '#', '@']).next().unwrap_or_default().to_owned(),
    }
}

/// `%xx` escapes of a URL path decoded (lossily, for a key that is not UTF-8).
fn percent_decode(path: &str) -> String {
    url::form_urlencoded::parse(format!("k={}", path.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The first line of a message, at most 300 characters.
pub(crate) fn one_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().chars().take(300).collect()
}

/// Reads every part `url` names into `intake`, in key order.
///
/// Errors: [`IdsError::BadUrl`] for a store that cannot be configured;
/// [`IdsError::NoParts`] when nothing is there; [`IdsError::Remote`] when
/// the store refuses or cannot be reached (naming the part);
/// [`IdsError::RemoteChanged`] for a part rewritten during the read; and
/// those of reading a local part.
pub fn read_remote(url: &RemoteUrl, intake: &mut Intake<'_>) -> Result<(), IdsError> {
    let store = store::connect(url)?;
    read_from(url, store, intake)
}

/// [`read_remote`] from a given store (tests pass an in-memory one).
pub(crate) fn read_from(url: &RemoteUrl, store: Arc<dyn ObjectStore>, intake: &mut Intake<'_>) -> Result<(), IdsError> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("venn-object-store".into())
            .spawn_scoped(scope, || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("venn-object-store-io")
                    .enable_all()
                    .build()
                    .map_err(|e| remote_error(url, &url.to_string(), &e.to_string()))?;
                let parts = runtime.block_on(list(url, store.as_ref()))?;
                for meta in parts {
                    let object = Object::new(store.clone(), meta, runtime.handle().clone());
                    read_object(url, &object, intake)?;
                }
                Ok(())
            })
            .map_err(|e| remote_error(url, &url.to_string(), &e.to_string()))?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The objects `url` names, sorted by key.
async fn list(url: &RemoteUrl, store: &dyn ObjectStore) -> Result<Vec<ObjectMeta>, IdsError> {
    let failed = |e: object_store::Error| store_error(url, &url.to_string(), e);
    let last = url.key.rsplit('/').next().unwrap_or_default();
    let is_pattern = !url.prefix_only && last.contains(['*', '?', '[']);
    if !url.prefix_only && !is_pattern {
        match store.head(&url.path).await {
            Ok(meta) => return Ok(vec![meta]),
            // HTTPS has no listing to fall back on.
            Err(e @ object_store::Error::NotFound { .. }) if url.scheme == ObjectStoreScheme::Http => {
                return Err(failed(e))
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(failed(e)),
        }
    }
    let pattern = is_pattern
        .then(|| {
            glob::Pattern::new(&url.key).map_err(|e| IdsError::BadPattern {
                pattern: url.to_string().into(),
                detail: format!("{} at character {}", e.msg, e.pos + 1),
            })
        })
        .transpose()?;
    let prefix = match &pattern {
        Some(_) => {
            let dir = url.key.rsplit_once('/').map(|(dir, _)| dir).unwrap_or_default();
            ObjectPath::parse(dir)
                .map_err(|e| IdsError::BadUrl { url: url.to_string(), detail: one_line(&e.to_string()) })?
        }
        None => url.path.clone(),
    };
    let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
    let mut parts: Vec<ObjectMeta> = store.list(prefix.as_ref()).try_collect().await.map_err(failed)?;
    let depth = prefix.as_ref().map_or(0, |p| p.parts().count());
    // `*` stops at `/`, as in a local glob: the pattern is of the last segment.
    let options = glob::MatchOptions { require_literal_separator: true, ..glob::MatchOptions::new() };
    parts.retain(|meta| {
        let hidden = meta.location.parts().skip(depth).any(|s| s.as_ref().starts_with(['.', '_']));
        let matches = pattern.as_ref().is_none_or(|p| p.matches_with(meta.location.as_ref(), options));
        !hidden && matches
    });
    parts.sort_by(|a, b| a.location.cmp(&b.location));
    // Empty "folder" objects that consoles create (`audience/`, listed
    // without their `/`) are not parts: the prefix itself, or an empty
    // object whose key is a folder of another key.
    let folders: HashSet<&str> = parts
        .iter()
        .flat_map(|m| {
            let key = m.location.as_ref();
            key.match_indices('/').map(move |(i, _)| &key[..i])
        })
        .collect();
    let is_folder =
        |m: &ObjectMeta| m.size == 0 && (prefix.as_ref() == Some(&m.location) || folders.contains(m.location.as_ref()));
    let parts: Vec<ObjectMeta> = parts.iter().filter(|m| !is_folder(m)).cloned().collect();
    if parts.is_empty() {
        let why = if pattern.is_some() { "matches no object" } else { "holds no object (nor is one)" };
        return Err(IdsError::NoParts { spec: url.to_string().into(), why });
    }
    Ok(parts)
}

/// Reads one object as one part of `intake`.
fn read_object(url: &RemoteUrl, object: &Object, intake: &mut Intake<'_>) -> Result<(), IdsError> {
    let name = url.object_url(&object.meta.location);
    let source = Path::new(&name);
    let result = (|| {
        // An empty object has no range to ask for (stores refuse `0..0`).
        let prefix = match object.size() {
            0 => bytes::Bytes::new(),
            size => object.fetch(0..size.min(4)).map_err(|e| IdsError::Open { path: source.into(), source: e })?,
        };
        if Compression::detect(&prefix) == Compression::Parquet {
            let chunks = ObjectChunks::new(object.clone());
            chunks.set_chunk_ends(column_chunk_ends(&chunks));
            intake.read_parquet_part(chunks, source)?;
        } else {
            intake.read_part(ObjectStream::open(object), source)?;
        }
        Ok(())
    })();
    // A store error is reported as itself, whatever the decoder made of it.
    match (result, object.take_failure()) {
        (Err(_), Some(e)) => Err(store_error(url, &name, e)),
        (result, _) => result,
    }
}

/// Where the column chunks of a Parquet part end, from its footer (read
/// through `chunks`' cache, which then serves the reader too), so that page
/// reads stop there. Empty for a footer that does not parse: the reader
/// reports that itself. Offsets are checked, never trusted: a malformed
/// footer can hold negative ones.
fn column_chunk_ends(chunks: &ObjectChunks) -> Vec<u64> {
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ParquetMetaDataReader::new().parse_and_finish(chunks).ok()
    }));
    let Ok(Some(meta)) = parsed else { return Vec::new() };
    meta.row_groups()
        .iter()
        .flat_map(|rg| rg.columns())
        .filter_map(|c| {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let start = u64::try_from(start).ok()?;
            start.checked_add(u64::try_from(c.compressed_size()).ok()?)
        })
        .collect()
}

fn store_error(url: &RemoteUrl, name: &str, e: object_store::Error) -> IdsError {
    match e {
        object_store::Error::Precondition { .. } => IdsError::RemoteChanged { url: name.to_owned() },
        object_store::Error::NotFound { .. } => {
            IdsError::Remote { url: name.to_owned(), detail: "no such object".into(), hint: url.credential_hint() }
        }
        other => remote_error(url, name, &describe(&other)),
    }
}

/// What a store's error says, on one line: the HTTP status and the store's
/// error code (`NoSuchBucket`, `AccessDenied`, ...) when it answered,
/// rather than the request line and the start of an XML body.
fn describe(e: &object_store::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push('\n');
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    let status = text.split("status code: ").nth(1).map(|rest| rest.split(':').next().unwrap_or(rest).trim());
    let code = text.split("<Code>").nth(1).and_then(|rest| rest.split("</Code>").next());
    match (status, code) {
        (Some(status), Some(code)) => format!("the store answered {status} ({code})"),
        (Some(status), None) => format!("the store answered {status}"),
        _ => one_line(&e.to_string()),
    }
}

fn remote_error(url: &RemoteUrl, name: &str, detail: &str) -> IdsError {
    IdsError::Remote { url: name.to_owned(), detail: one_line(detail), hint: url.credential_hint() }
}
