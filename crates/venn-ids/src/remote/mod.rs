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
//! | `s3://bucket/audience.csv.gz`          | that object; if there is none, the prefix `audience/` as above |
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

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

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
    /// The key (or prefix, or pattern) within the bucket or container.
    key: String,
    /// The URL ended in `/`: a prefix, never one object.
    prefix_only: bool,
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
        let bad = |detail: String| IdsError::BadUrl { url: text.to_owned(), detail };
        let url = Url::parse(text).map_err(|e| bad(e.to_string()))?;
        if !SCHEMES.contains(&url.scheme()) {
            return Err(bad(format!(
                "{}:// is not a store venn reads; use s3://, gs://, az://, https:// or a local path",
                url.scheme()
            )));
        }
        let (scheme, _) = ObjectStoreScheme::parse(&url).map_err(|e| bad(one_line(&e.to_string())))?;
        // The key as written (percent-decoded): object_store's own path
        // drops a trailing `/`, which is what marks a prefix here.
        let path = match scheme {
            // https://account.blob.core.windows.net/container/key and the
            // like carry their bucket in the path.
            ObjectStoreScheme::MicrosoftAzure | ObjectStoreScheme::AmazonS3 if url.scheme().starts_with("http") => {
                url.path().trim_start_matches('/').split_once('/').map(|(_, k)| k.to_owned()).unwrap_or_default()
            }
            _ => url.path().trim_start_matches('/').to_owned(),
        };
        let key = percent_decode(&path);
        let prefix_only = key.is_empty() || key.ends_with('/');
        if scheme == ObjectStoreScheme::Http && prefix_only {
            return Err(bad("name one file: HTTPS servers do not list a folder's files".into()));
        }
        Ok(RemoteUrl { url, scheme, key: key.trim_end_matches('/').to_owned(), prefix_only })
    }

    /// The URL of the object at `key` in the same bucket.
    fn object_url(&self, key: &ObjectPath) -> String {
        let text = self.url.as_str();
        let base_len = text.len() - self.url.path().len() - self.url.query().map_or(0, |q| q.len() + 1);
        let base = &text[..base_len];
        let bucket = match (&self.scheme, self.url.scheme().starts_with("http")) {
            (ObjectStoreScheme::MicrosoftAzure | ObjectStoreScheme::AmazonS3, true) => {
                self.url.path().trim_start_matches('/').split('/').next().map(|b| format!("/{b}")).unwrap_or_default()
            }
            _ => String::new(),
        };
        format!("{base}{bucket}/{key}")
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
                    let object = Object {
                        store: store.clone(),
                        meta,
                        runtime: runtime.handle().clone(),
                        failure: Arc::new(Mutex::new(None)),
                    };
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
    if !url.prefix_only && !last.contains(['*', '?', '[']) {
        match store.head(&ObjectPath::from(url.key.as_str())).await {
            Ok(meta) => return Ok(vec![meta]),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(failed(e)),
        }
    }
    let pattern = (!url.prefix_only && last.contains(['*', '?', '[']))
        .then(|| {
            glob::Pattern::new(&url.key).map_err(|e| IdsError::BadPattern {
                pattern: url.to_string().into(),
                detail: format!("{} at character {}", e.msg, e.pos + 1),
            })
        })
        .transpose()?;
    let prefix = match &pattern {
        Some(_) => url.key.rsplit_once('/').map(|(dir, _)| dir).unwrap_or_default(),
        None => url.key.as_str(),
    };
    let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
    let mut parts: Vec<ObjectMeta> = store.list(prefix.as_ref()).try_collect().await.map_err(failed)?;
    let depth = prefix.as_ref().map_or(0, |p| p.parts().count());
    parts.retain(|meta| {
        let hidden = meta.location.parts().skip(depth).any(|s| s.as_ref().starts_with(['.', '_']));
        let matches = pattern.as_ref().is_none_or(|p| p.matches(meta.location.as_ref()));
        !hidden && matches && !meta.location.as_ref().ends_with('/')
    });
    if parts.is_empty() {
        let why = if pattern.is_some() { "matches no object" } else { "holds no object (nor is one)" };
        return Err(IdsError::NoParts { spec: url.to_string().into(), why });
    }
    parts.sort_by(|a, b| a.location.cmp(&b.location));
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
            let footer = ObjectChunks::new(object.clone(), Vec::new());
            // Where column chunks end, so that page reads stop there; a
            // footer that does not parse is reported by the reader below.
            let ends = ParquetMetaDataReader::new()
                .parse_and_finish(&footer)
                .map(|meta| {
                    meta.row_groups()
                        .iter()
                        .flat_map(|rg| rg.columns().iter().map(|c| c.byte_range()))
                        .map(|(start, len)| start + len)
                        .collect()
                })
                .unwrap_or_default();
            intake.read_parquet_part(ObjectChunks::new(object.clone(), ends), source)?;
        } else {
            intake.read_part(ObjectStream::open(object), source)?;
        }
        Ok(())
    })();
    // A store error is reported as itself, whatever the decoder made of it.
    let failure = object.failure.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (result, failure) {
        (Err(_), Some(e)) => Err(store_error(url, &name, e)),
        (result, _) => result,
    }
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
