//! The local privacy ledger: how much ε this party has spent with each
//! peer. A session that would take a peer past its budget within the
//! window is refused before any data leaves.
//!
//! Each entry is ε that *our* noise spent on *our* data released to that
//! peer (in a segment match each party adds its own noise to every figure
//! the other receives, so each side's ledger counts its own direction).
//!
//! Several `venn` processes may hold sessions with the same peer at once.
//! [`Ledger::reserve`] therefore takes an exclusive lock on a lock file
//! beside the ledger, re-reads the ledger under it, checks the budget and
//! appends the spend before it unlocks: two sessions cannot both pass a
//! budget that has room for one, and no entry is lost. The spend is
//! reserved before the session connects, at our own policy's ε (the merged
//! ε can only be smaller), and is kept even if the session then fails: an
//! overcount, never an undercount.

use std::{
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use venn_net::Fingerprint;

/// A session refused because the privacy budget with its peer is spent.
#[derive(Debug, thiserror::Error)]
#[error(
    "privacy budget exceeded: ε {spent} already spent with peer {peer} in the last {window_days} days; \
     this session would add {epsilon}, over the maximum of {budget} (ledger {ledger})"
)]
pub struct BudgetExceeded {
    peer: String,
    spent: f64,
    epsilon: f64,
    budget: f64,
    window_days: u64,
    ledger: String,
}

/// One spend.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// The peer's fingerprint, hex.
    pub peer: String,
    /// ε released to or by that peer.
    pub epsilon: f64,
    /// When, Unix seconds.
    pub at_unix: u64,
    /// What the spend was for: the session, or a reservation made before
    /// connecting (with the time and our process id).
    pub session_id: String,
}

/// The ledger file.
#[derive(Debug, Clone)]
pub struct Ledger {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// `$XDG_DATA_HOME/venn/ledger.json`, else `~/.local/share/venn/ledger.json`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("venn").join("ledger.json")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Ledger {
    /// Opens the ledger (an absent file is an empty ledger).
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let entries = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("privacy ledger {} is damaged; fix or move it", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read privacy ledger {}", path.display())),
        };
        Ok(Self { path: path.to_path_buf(), entries })
    }

    /// ε spent with `peer` in the last `window_days`.
    pub fn spent(&self, peer: &Fingerprint, window_days: u64) -> f64 {
        let since = now().saturating_sub(window_days * 86_400);
        let peer = peer.to_hex();
        self.entries.iter().filter(|e| e.peer == peer && e.at_unix >= since).map(|e| e.epsilon).sum()
    }

    /// Refuses if spending `epsilon` more would pass `budget`.
    pub fn check(&self, peer: &Fingerprint, epsilon: f64, budget: f64, window_days: u64) -> Result<(), BudgetExceeded> {
        let spent = self.spent(peer, window_days);
        if spent + epsilon > budget + 1e-9 {
            return Err(BudgetExceeded {
                peer: peer.short(),
                spent,
                epsilon,
                budget,
                window_days,
                ledger: self.path.display().to_string(),
            });
        }
        Ok(())
    }

    /// Under an exclusive lock: re-reads the ledger, refuses with
    /// [`BudgetExceeded`] if spending `epsilon` more with `peer` would pass
    /// `budget` within `window_days`, else appends the spend and saves.
    pub fn reserve(
        &mut self,
        peer: &Fingerprint,
        epsilon: f64,
        budget: f64,
        window_days: u64,
        note: String,
    ) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        *self = Self::open(&self.path)?;
        self.check(peer, epsilon, budget, window_days)?;
        self.record(peer, epsilon, note)
    }

    /// An exclusive lock on `<ledger>.lock`, released when dropped.
    fn lock(&self) -> anyhow::Result<std::fs::File> {
        lock_beside(&self.path)
    }

    /// Records a spend and saves the ledger atomically (callers hold the lock).
    fn record(&mut self, peer: &Fingerprint, epsilon: f64, session_id: String) -> anyhow::Result<()> {
        self.entries.push(Entry { peer: peer.to_hex(), epsilon, at_unix: now(), session_id });
        write_json_atomic(&self.path, &self.entries)
    }
}

fn parent(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// An exclusive lock on `<path>.lock` (created with its directory if
/// needed), released when the file is dropped. The privacy ledger and the
/// index ledger both update under it.
pub fn lock_beside(path: &Path) -> anyhow::Result<std::fs::File> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .with_context(|| format!("cannot open the ledger's lock file {}", Path::new(&name).display()))?;
    file.lock().with_context(|| format!("cannot lock the ledger {}", path.display()))?;
    Ok(file)
}

/// Writes `value` as JSON to `path` atomically (a synced temporary file in
/// the same directory, renamed over it). Callers hold the lock.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer_pretty(&mut tmp, value)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("cannot write ledger {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_session_over_budget_and_counts_only_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let peer = Fingerprint([7; 32]);
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.reserve(&peer, 1.0, 3.0, 30, "s1".into()).unwrap();
        ledger.reserve(&peer, 1.5, 3.0, 30, "s2".into()).unwrap();
        let mut ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.spent(&peer, 30), 2.5);
        assert!(ledger.check(&peer, 0.5, 3.0, 30).is_ok());
        let err = ledger.reserve(&peer, 1.0, 3.0, 30, "s3".into()).unwrap_err();
        assert!(err.downcast_ref::<BudgetExceeded>().is_some(), "{err}");
        assert!(err.to_string().contains("privacy budget exceeded"), "{err}");
        assert_eq!(Ledger::open(&path).unwrap().entries.len(), 2, "a refused reservation records nothing");
        assert_eq!(ledger.spent(&Fingerprint([8; 32]), 30), 0.0);
    }

    #[test]
    fn semi_honest_concurrent_sessions_cannot_pass_the_budget_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let peer = Fingerprint([7; 32]);
        // Sixteen threads, each with a ledger opened before any reserves (a
        // stale view), race to spend 1.0 of a budget of 5.0.
        let ledgers: Vec<Ledger> = (0..16).map(|_| Ledger::open(&path).unwrap()).collect();
        let granted: usize = std::thread::scope(|s| {
            let handles: Vec<_> = ledgers
                .into_iter()
                .enumerate()
                .map(|(i, mut l)| s.spawn(move || l.reserve(&peer, 1.0, 5.0, 30, format!("t{i}")).is_ok()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).filter(|&ok| ok).count()
        });
        assert_eq!(granted, 5, "exactly the budget's worth of sessions pass");
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.entries.len(), 5, "no entry lost");
        assert_eq!(ledger.spent(&peer, 30), 5.0);
    }

    #[test]
    fn old_spends_leave_the_window() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        let old = vec![Entry { peer: Fingerprint([7; 32]).to_hex(), epsilon: 5.0, at_unix: 1, session_id: "x".into() }];
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(Ledger::open(&path).unwrap().spent(&Fingerprint([7; 32]), 30), 0.0);
    }

    #[test]
    fn damaged_ledger_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(Ledger::open(&path).is_err());
    }
}
