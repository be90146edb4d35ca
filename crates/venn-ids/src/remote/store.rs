//! Connecting to an object store with its cloud's standard credentials.
//!
//! Each cloud is reached through the `object_store` crate's builder for it,
//! configured from the environment first, as that cloud's own tools are:
//!
//! | scheme                 | credentials, in the order tried                                                        |
//! |------------------------|----------------------------------------------------------------------------------------|
//! | `s3://bucket/key`      | `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (`AWS_SESSION_TOKEN`); the profile `AWS_PROFILE` (or `default`) of `~/.aws/credentials`; web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`, EKS); the container endpoint (ECS); the instance metadata service (EC2) |
//! | `gs://bucket/key`      | `GOOGLE_SERVICE_ACCOUNT`/`GOOGLE_APPLICATION_CREDENTIALS`; gcloud's application default credentials; the metadata server (GCE, GKE) |
//! | `az://container/key`   | `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, a SAS token or a client secret; workload identity; managed identity |
//! | `https://host/path`    | none: a public file                                                                    |
//!
//! Only static keys are read from a profile (`aws_access_key_id`,
//! `aws_secret_access_key`, `aws_session_token`); a profile that assumes a
//! role, uses SSO or a `credential_process` gives no keys here, so the chain
//! goes on to the roles of the machine. The region comes from `AWS_REGION` (or `AWS_DEFAULT_REGION`), else from
//! the profile in `~/.aws/config`. An S3-compatible store (MinIO, Ceph,
//! R2, a test server) is named by `AWS_ENDPOINT_URL`; a plain-`http://`
//! endpoint must be allowed with `AWS_ALLOW_HTTP=true`, so that keys never
//! travel in the clear by accident.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::http::HttpBuilder;
use object_store::{ClientConfigKey, ClientOptions, ObjectStore, ObjectStoreScheme, RetryConfig};

use super::RemoteUrl;
use crate::error::IdsError;

/// Retries of a failed request (with backoff), and the time they may take
/// together: a store that is down fails the read within a minute, not
/// after object_store's default of three. Timeouts, proxies and the other
/// client settings are object_store's, or what the environment sets
/// (`AWS_TIMEOUT`, `AWS_PROXY_URL`, ...): each request is a range of at
/// most [`super::reader::CHUNK`] bytes, well within the default 30 s.
fn retry() -> RetryConfig {
    RetryConfig { max_retries: 4, retry_timeout: Duration::from_secs(60), ..RetryConfig::default() }
}

/// Installs ring as the process's TLS crypto provider (reqwest is built
/// without one, so that the binary carries one provider, the one QUIC uses).
/// A provider already installed is kept. Call it before building an
/// `object_store` client of one's own (tests do).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The store that holds `url`, with credentials from the environment.
pub(super) fn connect(url: &RemoteUrl) -> Result<Arc<dyn ObjectStore>, IdsError> {
    install_crypto_provider();
    let failed = |e: object_store::Error| IdsError::Remote {
        url: url.to_string(),
        detail: super::one_line(&e.to_string()),
        hint: url.credential_hint(),
    };
    let text = url.url.as_str();
    let store: Arc<dyn ObjectStore> = match url.scheme {
        ObjectStoreScheme::AmazonS3 => Arc::new(s3_builder(url)?.with_url(text).build().map_err(failed)?),
        ObjectStoreScheme::GoogleCloudStorage => {
            Arc::new(GoogleCloudStorageBuilder::from_env().with_url(text).with_retry(retry()).build().map_err(failed)?)
        }
        ObjectStoreScheme::MicrosoftAzure => {
            Arc::new(MicrosoftAzureBuilder::from_env().with_url(text).with_retry(retry()).build().map_err(failed)?)
        }
        ObjectStoreScheme::Http => {
            let origin = url.url.origin().ascii_serialization();
            Arc::new(
                HttpBuilder::new()
                    .with_url(origin)
                    .with_retry(retry())
                    .with_client_options(ClientOptions::new().with_allow_http(url.url.scheme() == "http"))
                    .build()
                    .map_err(failed)?,
            )
        }
        ObjectStoreScheme::Local | ObjectStoreScheme::Memory => {
            return Err(IdsError::BadUrl { url: url.to_string(), detail: "give a local file as a plain path".into() })
        }
        _ => {
            return Err(IdsError::BadUrl { url: url.to_string(), detail: "this kind of store is not supported".into() })
        }
    };
    Ok(store)
}

/// S3 from the environment, then the shared profile files for what the
/// environment leaves out; instance roles are object_store's own fallback.
fn s3_builder(url: &RemoteUrl) -> Result<AmazonS3Builder, IdsError> {
    let mut builder = AmazonS3Builder::from_env();
    let profile_name = std::env::var("AWS_PROFILE").ok().filter(|v| !v.is_empty()).unwrap_or_else(|| "default".into());
    if builder.get_config_value(&AmazonS3ConfigKey::AccessKeyId).is_none() {
        if let Some(keys) = profile_keys(&profile_name) {
            builder = builder.with_access_key_id(keys.access_key_id).with_secret_access_key(keys.secret_access_key);
            if let Some(token) = keys.session_token {
                builder = builder.with_token(token);
            }
        }
    }
    if builder.get_config_value(&AmazonS3ConfigKey::Region).is_none() {
        if let Some(region) = profile_region(&profile_name) {
            builder = builder.with_region(region);
        }
    }
    // AWS_ALLOW_HTTP as object_store parses it (true, 1, yes, on, y).
    let allow_http =
        builder.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp)).is_some_and(|v| v == "true");
    for key in [AmazonS3ConfigKey::Endpoint, AmazonS3ConfigKey::S3Endpoint] {
        let endpoint = builder.get_config_value(&key).unwrap_or_default();
        if endpoint.starts_with("http://") && !allow_http {
            return Err(IdsError::BadUrl {
                url: url.to_string(),
                detail: format!(
                    "the endpoint {endpoint} (AWS_ENDPOINT_URL) is plain HTTP; set AWS_ALLOW_HTTP=true to send \
                     credentials and data over it"
                ),
            });
        }
    }
    Ok(builder.with_retry(retry()))
}

/// Static keys of one profile of the shared credentials file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ProfileKeys {
    pub(super) access_key_id: String,
    pub(super) secret_access_key: String,
    pub(super) session_token: Option<String>,
}

/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
fn credentials_file() -> Option<PathBuf> {
    std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws/credentials")))
}

/// `AWS_CONFIG_FILE`, else `~/.aws/config`.
fn config_file() -> Option<PathBuf> {
    std::env::var_os("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws/config")))
}

fn profile_keys(profile: &str) -> Option<ProfileKeys> {
    let text = std::fs::read_to_string(credentials_file()?).ok()?;
    keys_in(&text, profile)
}

fn profile_region(profile: &str) -> Option<String> {
    let text = std::fs::read_to_string(config_file()?).ok()?;
    region_in(&text, profile)
}

/// The keys of `[profile]` in the text of a shared credentials file.
pub(super) fn keys_in(text: &str, profile: &str) -> Option<ProfileKeys> {
    let ini = ini::Ini::load_from_str(text).ok()?;
    let section = ini.section(Some(profile))?;
    Some(ProfileKeys {
        access_key_id: section.get("aws_access_key_id")?.to_owned(),
        secret_access_key: section.get("aws_secret_access_key")?.to_owned(),
        session_token: section.get("aws_session_token").map(str::to_owned),
    })
}

/// The region of a profile in the text of a shared config file, where a
/// profile other than `default` is written `[profile NAME]`.
pub(super) fn region_in(text: &str, profile: &str) -> Option<String> {
    let ini = ini::Ini::load_from_str(text).ok()?;
    let name = if profile == "default" { "default".to_owned() } else { format!("profile {profile}") };
    ini.section(Some(name)).and_then(|s| s.get("region")).map(str::to_owned)
}
