//! Index mode on the wire: `venn serve --index` (the platform) and the index
//! branch of `venn connect` (the brand), which takes it when the platform's
//! TLS handshake says `venn-index/1` (ALPN).
//!
//! Per brand, on one pinned connection: the brand opens the fetch stream
//! and downloads what its cache lacks of the platform's index
//! ([`venn_net::fetch`]), then both run an [`IndexSession`]. The platform's
//! guardrails, per brand and epoch:
//!
//! - **Sessions** (`--max-sessions-per-brand`, 10): checked before the
//!   download (a brand that has used them downloads nothing and is told
//!   `IndexBudgetSpent`), and charged at the handshake.
//! - **Queried identifiers** (`--max-queries-per-brand`, 50,000,000): the
//!   brand's list size, checked and charged at the handshake, before any of
//!   its points is evaluated ([`venn_protocol::IndexAdmission`]).
//! - **Expiry**: `serve` refuses to start on an expired index (exit 3); an
//!   epoch that ends while a service runs refuses each later brand with
//!   `IndexExpired` (exit 4 on both sides).
//!
//! Both counts live in a small JSON ledger ([`IndexLedger`]), re-read,
//! checked and written under an exclusive file lock, so that concurrent
//! sessions (or several processes) cannot pass a budget together. A session
//! is charged when admitted, even if it fails later: an overcount, never an
//! undercount. A ledger that cannot be read or written refuses the session
//! (the brand is told its budget is spent; our log says why).

use std::{
    future::Future,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use venn_index::{Cache, Header, Index};
use venn_net::{
    fetch::{fetch_index, refuse_fetch, serve_fetch, FetchStream, ServeOptions},
    run_machine, run_machine_until, Fingerprint, PeerConnection,
};
use venn_protocol::{ElementSet, Event, IndexEpoch, IndexParty, IndexSession, ProtocolError, Refusal, SessionConfig};

use crate::{
    epoch_key,
    index_build::unix_now,
    input::InputStats,
    party::SessionParams,
    report::{IndexReport, Report},
};

/// Test hook: `venn serve --index` stops sending index bytes after this
/// many (and waits), as a platform that hangs mid-download would; used to
/// test that a brand resumes. Never set in production.
pub const PAUSE_ENV: &str = "VENN_TEST_FETCH_PAUSE_AFTER_BYTES";

/// Why `venn serve --index` cannot serve the index (exit code 3).
#[derive(Debug, thiserror::Error)]
pub enum ServeIndexError {
    /// The index names another platform.
    #[error(
        "index {} belongs to platform {found}, not this identity ({own}); serve it with the identity that built it",
        dir.display()
    )]
    NotOurs {
        /// The index directory.
        dir: PathBuf,
        /// The header's platform (short form).
        found: String,
        /// Ours (short form).
        own: String,
    },
    /// The epoch key beside the identity is not the index's `K`.
    #[error(
        "index {} was built with another epoch key than {}; serve it with the identity directory it was built with, \
         or rebuild it",
        dir.display(),
        key.display()
    )]
    WrongKey {
        /// The index directory.
        dir: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The index's epoch is over.
    #[error(
        "index {} is for epoch {epoch} ({label}), which expired at unix time {expires_at}; build this epoch's \
         index with `venn index build`",
        dir.display()
    )]
    Expired {
        /// The index directory.
        dir: PathBuf,
        /// Epoch id.
        epoch: u64,
        /// Its label.
        label: String,
        /// Its expiry.
        expires_at: u64,
    },
}

/// The per-brand, per-epoch limits.
#[derive(Debug, Clone, Copy)]
pub struct BrandLimits {
    /// Sessions per brand and epoch.
    pub max_sessions: u64,
    /// Queried identifiers per brand and epoch.
    pub max_queries: u64,
}

/// What the platform serves.
pub struct PlatformIndex {
    dir: PathBuf,
    identity_dir: PathBuf,
    header: Header,
    epoch: IndexEpoch,
    limits: BrandLimits,
    ledger: IndexLedger,
    options: ServeOptions,
}

/// The protocol's view of an index header: its epoch, key, hash and size.
pub fn index_epoch(header: &Header) -> anyhow::Result<IndexEpoch> {
    let bytes = header.to_bytes().context("cannot encode the index header")?;
    Ok(IndexEpoch {
        id: header.epoch_id(),
        public_key: *header.epoch_key(),
        header_sha256: Sha256::digest(&bytes).into(),
        elements: header.total_elements(),
    })
}

impl PlatformIndex {
    /// Opens and checks the index in `dir` for the identity in
    /// `identity_dir` (fingerprint `own`) at `now`: its parts verify, it is
    /// ours, its epoch key is beside the identity, and it has not expired.
    pub fn load(
        dir: &Path,
        identity_dir: &Path,
        own: Fingerprint,
        limits: BrandLimits,
        ledger: PathBuf,
        now: u64,
    ) -> anyhow::Result<Self> {
        let index = Index::open(dir).with_context(|| format!("cannot serve the index {}", dir.display()))?;
        let header = index.header().clone();
        let f = header.fields();
        if f.platform_fingerprint != own.0 {
            let found = Fingerprint(f.platform_fingerprint).short();
            return Err(ServeIndexError::NotOurs { dir: dir.to_owned(), found, own: own.short() }.into());
        }
        if now >= f.expires_at {
            return Err(ServeIndexError::Expired {
                dir: dir.to_owned(),
                epoch: f.epoch_id,
                label: f.epoch_label.clone(),
                expires_at: f.expires_at,
            }
            .into());
        }
        let key = epoch_key::load(identity_dir, f.epoch_id)?;
        if key.public_key().to_bytes() != f.epoch_key {
            let key = epoch_key::key_path(identity_dir, f.epoch_id);
            return Err(ServeIndexError::WrongKey { dir: dir.to_owned(), key }.into());
        }
        let pause_after_bytes = std::env::var(PAUSE_ENV).ok().and_then(|v| v.trim().parse().ok());
        Ok(Self {
            dir: dir.to_owned(),
            identity_dir: identity_dir.to_owned(),
            epoch: index_epoch(&header)?,
            header,
            limits,
            ledger: IndexLedger::new(ledger),
            options: ServeOptions { pause_after_bytes, ..ServeOptions::default() },
        })
    }

    /// The header served.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// What a platform report says about its input: the index.
    fn stats(&self) -> InputStats {
        let n = self.header.total_elements();
        InputStats {
            path: self.dir.display().to_string(),
            id_column: String::new(),
            id_type: "index".to_owned(),
            rows_read: n,
            valid: n,
            skipped: Default::default(),
            duplicates: 0,
            distinct: n,
            parts: Vec::new(),
        }
    }
}

/// Serves one brand on an accepted connection: its download, then its
/// session, cancelled if `stop` completes first.
pub async fn platform_session(
    conn: PeerConnection,
    own: Fingerprint,
    p: &PlatformIndex,
    params: &SessionParams,
    stop: impl Future<Output = ()> + Send,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let brand = conn.peer();
    let epoch = p.epoch.id;
    let mut stream = FetchStream::accept(&conn, &params.net).await?;
    let refusal = if unix_now()? >= p.header.fields().expires_at {
        Some((Refusal::IndexExpired, format!("our index epoch {epoch} has expired; publish this epoch's index")))
    } else if !p.ledger.sessions_left(&brand, epoch, p.limits.max_sessions)? {
        let why = format!(
            "brand {} has used its {} sessions for epoch {epoch} (--max-sessions-per-brand; ledger {})",
            brand.short(),
            p.limits.max_sessions,
            p.ledger.path.display()
        );
        Some((Refusal::IndexBudgetSpent, why))
    } else {
        None
    };
    if let Some((refusal, why)) = refusal {
        let _ = refuse_fetch(&mut stream, refusal.abort_reason()).await;
        return Err(anyhow::Error::new(ProtocolError::Refused(refusal)).context(format!("{why}; the brand was told")));
    }
    let served = serve_fetch(&mut stream, &p.dir, &p.header, p.options).await?;
    let key = epoch_key::load(&p.identity_dir, epoch)?;
    let (ledger, limits) = (p.ledger.clone(), p.limits);
    let admission = Box::new(move |size: u64| match ledger.admit(&brand, epoch, size, limits) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => {
            eprintln!("venn: refused brand {}: {why}", brand.short());
            Err(Refusal::IndexBudgetSpent)
        }
        Err(e) => {
            eprintln!("venn: refused brand {}: the index ledger failed ({e:#})", brand.short());
            Err(Refusal::IndexBudgetSpent)
        }
    });
    let config = SessionConfig { batch_size: params.batch_size, ..SessionConfig::new(params.policy, vec![]) };
    let start = move |binding| {
        IndexSession::new(SessionConfig { channel_binding: binding, ..config }, p.epoch, {
            IndexParty::Platform { key, admission }
        })
    };
    let session = run_machine_until(conn, start, &params.net, stop, |_| {}).await?;
    let shared = session.outcome.index.is_some_and(|i| i.shared_by_brand);
    let mut report = Report::new("serve", own.to_hex(), p.stats(), &session, started.elapsed());
    report.index = Some(IndexReport {
        epoch,
        epoch_label: p.header.fields().epoch_label.clone(),
        elements: p.header.total_elements(),
        downloaded_bytes: None,
        refetched_parts: None,
        expected_false_matches: None,
        served_bytes: Some(served),
        overlap_reported_by_brand: Some(shared),
    });
    Ok(report)
}

/// The brand's side of index mode.
#[derive(Debug, Clone)]
pub struct BrandPlan {
    /// The download cache's root.
    pub cache: PathBuf,
    /// Send the overlap to the platform.
    pub share_result: bool,
}

/// `$XDG_CACHE_HOME/venn/index`, else `~/.cache/venn/index`.
pub fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("venn").join("index")
}

/// Runs the brand's download and session on a connection whose server
/// serves an index.
#[allow(clippy::too_many_arguments)]
pub async fn brand_session<O: FnMut(&Event) + Send>(
    conn: PeerConnection,
    own: Fingerprint,
    set: ElementSet,
    stats: InputStats,
    params: &SessionParams,
    plan: &BrandPlan,
    started: Instant,
    watch: O,
) -> anyhow::Result<Report> {
    let platform = conn.peer();
    let now = unix_now()?;
    let cache = Cache::new(&plan.cache);
    if let Err(e) = cache.remove_expired(now) {
        tracing::warn!(error = %e, "could not clean expired indexes from the cache");
    }
    eprintln!("venn: {} serves an index; fetching what {} lacks of it", platform.short(), plan.cache.display());
    let mut stream = FetchStream::open(&conn, &params.net).await?;
    let fetched = fetch_index(&mut stream, &cache, &platform, now)
        .await
        .with_context(|| format!("cannot get the index of {}", platform.short()))?;
    let header = fetched.index.header().clone();
    eprintln!(
        "venn: index epoch {} ({} elements): downloaded {} part bytes",
        header.epoch_id(),
        crate::report::group(header.total_elements()),
        crate::report::group(fetched.part_bytes)
    );
    let epoch = index_epoch(&header)?;
    let own_size = set.len() as u64;
    let expected_false_matches = fetched.index.expected_false_matches(own_size);
    let index = fetched.index;
    let share_result = plan.share_result;
    let config = SessionConfig { batch_size: params.batch_size, ..SessionConfig::new(params.policy, vec![]) };
    let start = move |binding| {
        let lookup = Box::new(move |key: u64| index.contains(key));
        IndexSession::new(SessionConfig { channel_binding: binding, ..config }, epoch, {
            IndexParty::Brand { set, index: lookup, share_result }
        })
    };
    let session = run_machine(conn, start, &params.net, watch).await?;
    let mut report = Report::new("connect", own.to_hex(), stats, &session, started.elapsed());
    report.index = Some(IndexReport {
        epoch: header.epoch_id(),
        epoch_label: header.fields().epoch_label.clone(),
        elements: header.total_elements(),
        downloaded_bytes: Some(fetched.part_bytes),
        refetched_parts: Some(fetched.refetched),
        expected_false_matches: Some(expected_false_matches),
        served_bytes: None,
        overlap_reported_by_brand: None,
    });
    Ok(report)
}

/// Sessions and queried identifiers per brand and epoch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Usage {
    /// The brand's fingerprint, hex.
    brand: String,
    /// The index epoch.
    epoch: u64,
    /// Sessions admitted.
    sessions: u64,
    /// Identifiers queried in them.
    queries: u64,
}

/// The index ledger: one [`Usage`] per brand and epoch, in a JSON file
/// updated under an exclusive lock on `<ledger>.lock`.
#[derive(Debug, Clone)]
pub struct IndexLedger {
    path: PathBuf,
}

/// `$XDG_DATA_HOME/venn/index-ledger.json`, else
/// `~/.local/share/venn/index-ledger.json`.
pub fn default_ledger() -> PathBuf {
    crate::ledger::default_path().with_file_name("index-ledger.json")
}

impl IndexLedger {
    /// The ledger at `path` (an absent file is an empty ledger).
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn read(&self) -> anyhow::Result<Vec<Usage>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("index ledger {} is damaged; fix or move it", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read index ledger {}", self.path.display())),
        }
    }

    fn lock(&self) -> anyhow::Result<std::fs::File> {
        crate::ledger::lock_beside(&self.path)
    }

    /// Whether `brand` may start another session in `epoch`.
    pub fn sessions_left(&self, brand: &Fingerprint, epoch: u64, max_sessions: u64) -> anyhow::Result<bool> {
        let _lock = self.lock()?;
        let brand = brand.to_hex();
        let used = self.read()?.into_iter().find(|u| u.brand == brand && u.epoch == epoch).unwrap_or_default();
        Ok(used.sessions < max_sessions)
    }

    /// Under the lock: admits a session of `size` identifiers for `brand`
    /// in `epoch` and charges it, or says why not (`Ok(Err(why))`).
    pub fn admit(
        &self,
        brand: &Fingerprint,
        epoch: u64,
        size: u64,
        limits: BrandLimits,
    ) -> anyhow::Result<Result<(), String>> {
        let _lock = self.lock()?;
        let mut all = self.read()?;
        let hex = brand.to_hex();
        let at = match all.iter().position(|u| u.brand == hex && u.epoch == epoch) {
            Some(at) => at,
            None => {
                all.push(Usage { brand: hex, epoch, sessions: 0, queries: 0 });
                all.len() - 1
            }
        };
        let used = &mut all[at];
        if used.sessions >= limits.max_sessions {
            return Ok(Err(format!(
                "it has used its {} sessions for epoch {epoch} (--max-sessions-per-brand)",
                limits.max_sessions
            )));
        }
        if used.queries.saturating_add(size) > limits.max_queries {
            return Ok(Err(format!(
                "{} identifiers queried in epoch {epoch} plus {size} now would pass the {} allowed \
                 (--max-queries-per-brand)",
                used.queries, limits.max_queries
            )));
        }
        used.sessions += 1;
        used.queries += size;
        crate::ledger::write_json_atomic(&self.path, &all)?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use venn_protocol::AbortReason;

    #[test]
    fn the_ledger_counts_sessions_and_queries_per_brand_and_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = IndexLedger::new(dir.path().join("l.json"));
        let (a, b) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
        let limits = BrandLimits { max_sessions: 2, max_queries: 1000 };
        assert_eq!(ledger.admit(&a, 5, 600, limits).unwrap(), Ok(()));
        let over = ledger.admit(&a, 5, 401, limits).unwrap().unwrap_err();
        assert!(over.contains("--max-queries-per-brand"), "{over}");
        assert_eq!(ledger.admit(&a, 5, 400, limits).unwrap(), Ok(()));
        assert!(!ledger.sessions_left(&a, 5, 2).unwrap());
        let spent = ledger.admit(&a, 5, 1, limits).unwrap().unwrap_err();
        assert!(spent.contains("--max-sessions-per-brand"), "{spent}");
        assert!(ledger.sessions_left(&a, 6, 2).unwrap(), "another epoch starts afresh");
        assert!(ledger.sessions_left(&b, 5, 2).unwrap(), "another brand has its own budget");
        assert_eq!(ledger.admit(&b, 5, 1000, limits).unwrap(), Ok(()));
    }

    #[test]
    fn concurrent_admissions_cannot_pass_the_budget_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.json");
        let brand = Fingerprint([7; 32]);
        let limits = BrandLimits { max_sessions: 100, max_queries: 5 };
        let granted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..12)
                .map(|_| {
                    let ledger = IndexLedger::new(path.clone());
                    s.spawn(move || ledger.admit(&brand, 1, 1, limits).unwrap().is_ok())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).filter(|&ok| ok).count()
        });
        assert_eq!(granted, 5);
    }

    #[test]
    fn a_refusal_names_its_abort_reason() {
        assert_eq!(Refusal::IndexBudgetSpent.abort_reason(), AbortReason::IndexBudgetSpent);
        assert_eq!(Refusal::IndexExpired.abort_reason(), AbortReason::IndexExpired);
    }
}
