//! The local privacy ledger: how much ε this party has spent with each
//! peer. A session that would take a peer past its budget within the
//! window is refused before any data leaves.

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
    /// The session, hex.
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

    /// Records a spend and saves the ledger atomically.
    pub fn record(&mut self, peer: &Fingerprint, epsilon: f64, session_id: String) -> anyhow::Result<()> {
        self.entries.push(Entry { peer: peer.to_hex(), epsilon, at_unix: now(), session_id });
        let dir = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        serde_json::to_writer_pretty(&mut tmp, &self.entries)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).with_context(|| format!("cannot write privacy ledger {}", self.path.display()))?;
        Ok(())
    }
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
        ledger.record(&peer, 1.0, "s1".into()).unwrap();
        ledger.record(&peer, 1.5, "s2".into()).unwrap();
        let ledger = Ledger::open(&path).unwrap();
        assert_eq!(ledger.spent(&peer, 30), 2.5);
        assert!(ledger.check(&peer, 0.5, 3.0, 30).is_ok());
        let err = ledger.check(&peer, 1.0, 3.0, 30).unwrap_err().to_string();
        assert!(err.contains("privacy budget exceeded"), "{err}");
        assert_eq!(ledger.spent(&Fingerprint([8; 32]), 30), 0.0);
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
