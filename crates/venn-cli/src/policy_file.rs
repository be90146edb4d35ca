//! Policy settings in TOML: a party's own file and the agreement's section
//! share this shape. The session runs under the stricter of every source.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use venn_protocol::Policy;

/// Guardrails as written in a file; absent fields leave the default.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Smallest list allowed.
    pub min_set_size: Option<u64>,
    /// Largest list allowed.
    pub max_set_size: Option<u64>,
    /// Cells below this are suppressed.
    pub min_cell: Option<u64>,
    /// Noise: ε of the discrete Laplace on each cell.
    pub epsilon: Option<f64>,
    /// Most label combinations per side.
    pub max_labels: Option<u16>,
    /// Most ε spent with one peer within the window.
    pub max_epsilon_per_peer: Option<f64>,
    /// The window, in days. By default, 30.
    pub epsilon_window_days: Option<u64>,
}

impl PolicySettings {
    /// Reads a policy file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read policy {}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid policy {}: {}", path.display(), e.message()))
    }

    /// `base` with every field these settings give replaced: how the
    /// agreement's policy sets the starting point.
    pub fn overlay(&self, base: Policy) -> anyhow::Result<Policy> {
        let epsilon_micros = match self.epsilon {
            None => None,
            Some(e) if e.is_finite() && e > 0.0 && e <= 1_000.0 => Some((e * 1e6).round().max(1.0) as u64),
            Some(e) => anyhow::bail!("epsilon must be a positive number up to 1000, got {e}"),
        };
        Ok(Policy {
            min_set_size: self.min_set_size.unwrap_or(base.min_set_size),
            max_set_size: self.max_set_size.unwrap_or(base.max_set_size),
            min_cell: self.min_cell.unwrap_or(base.min_cell),
            epsilon_micros: epsilon_micros.or(base.epsilon_micros),
            max_labels: self.max_labels.unwrap_or(base.max_labels),
        })
    }

    /// The stricter of `base` and these settings: how a party's own file
    /// applies on top of an agreement it cannot loosen.
    pub fn apply(&self, base: Policy) -> anyhow::Result<Policy> {
        Ok(base.merge(&self.overlay(base)?))
    }
}

/// The merged policy, as both parties print it before any data leaves.
pub fn describe(p: &Policy) -> String {
    let noise = p.epsilon().map_or_else(|| "off".to_owned(), |e| format!("ε = {e}"));
    format!(
        "set sizes {}..={}, min cell {}, noise {}, at most {} labels per side",
        crate::report::group(p.min_set_size),
        crate::report::group(p.max_set_size),
        p.min_cell,
        noise,
        p.max_labels
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_only_tighten() {
        let base = Policy { min_cell: 80, ..Policy::default() };
        let s =
            PolicySettings { min_cell: Some(10), min_set_size: Some(5_000), epsilon: Some(0.5), ..Default::default() };
        let p = s.apply(base).unwrap();
        assert_eq!(p.min_cell, 80);
        assert_eq!(p.min_set_size, 5_000);
        assert_eq!(p.epsilon_micros, Some(500_000));
    }

    #[test]
    fn rejects_nonsense_epsilon_and_unknown_keys() {
        let s = PolicySettings { epsilon: Some(-1.0), ..Default::default() };
        assert!(s.apply(Policy::default()).is_err());
        assert!(toml::from_str::<PolicySettings>("min_cells = 3").is_err());
    }
}
