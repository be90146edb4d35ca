//! Guardrails that both parties announce in the handshake.
//!
//! Each side brings its own [`Policy`]; the session runs under the stricter
//! of the two ([`Policy::merge`]) and refuses, before any identifier is
//! blinded, if either announced set size falls outside it.

use serde::{Deserialize, Serialize};

/// Limits a party places on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Smallest set either side may bring. Small sets make the overlap count
    /// close to a per-person answer (with one record, the count says whether
    /// that person is in the other list). By default, 1,000.
    pub min_set_size: u64,
    /// Largest set either side may bring; bounds the memory a peer can make
    /// this party spend (16 bytes per peer record). By default, 100,000,000.
    pub max_set_size: u64,
    /// Segment mode: cross-tab cells below this are suppressed. By default, 50.
    pub min_cell: u64,
    /// Segment mode: each released cell gets discrete Laplace noise of scale
    /// 1/ε, with ε in millionths (exact and canonical on the wire). `None`
    /// (the default) means no noise.
    pub epsilon_micros: Option<u64>,
    /// Segment mode: most label combinations per side. By default, 64.
    pub max_labels: u16,
}

impl Default for Policy {
    fn default() -> Self {
        Self { min_set_size: 1_000, max_set_size: 100_000_000, min_cell: 50, epsilon_micros: None, max_labels: 64 }
    }
}

/// Which side's set a policy refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// This party's own set.
    Own,
    /// The peer's set.
    Peer,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Side::Own => "our",
            Side::Peer => "the peer's",
        })
    }
}

/// A count as a person reads it: `1234567` shows as `1,234,567`.
struct Thousands(u64);

impl std::fmt::Display for Thousands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let digits = self.0.to_string();
        let head = digits.len() % 3;
        f.write_str(&digits[..head])?;
        for (i, chunk) in digits.as_bytes()[head..].chunks(3).enumerate() {
            if head > 0 || i > 0 {
                f.write_str(",")?;
            }
            f.write_str(std::str::from_utf8(chunk).map_err(|_| std::fmt::Error)?)?;
        }
        Ok(())
    }
}

/// A set size outside the merged policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Below `min_set_size`.
    #[error("{side} set has {} identifiers, below the minimum of {}", Thousands(*.size), Thousands(*.min))]
    TooSmall {
        /// Whose set.
        side: Side,
        /// Its announced size.
        size: u64,
        /// The merged minimum.
        min: u64,
    },
    /// Above `max_set_size`.
    #[error("{side} set has {} identifiers, above the maximum of {}", Thousands(*.size), Thousands(*.max))]
    TooLarge {
        /// Whose set.
        side: Side,
        /// Its announced size.
        size: u64,
        /// The merged maximum.
        max: u64,
    },
}

impl Policy {
    /// A policy without size limits, for tests and benchmarks of tiny sets.
    pub fn permissive() -> Self {
        Self { min_set_size: 0, max_set_size: u64::MAX, min_cell: 0, epsilon_micros: None, max_labels: 128 }
    }

    /// The stricter of two policies: the larger minimums, the smaller
    /// maximums, and the smaller ε (more noise) if either asks for noise.
    pub fn merge(&self, other: &Policy) -> Policy {
        let epsilon_micros = match (self.epsilon_micros, other.epsilon_micros) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Policy {
            min_set_size: self.min_set_size.max(other.min_set_size),
            max_set_size: self.max_set_size.min(other.max_set_size),
            min_cell: self.min_cell.max(other.min_cell),
            epsilon_micros,
            max_labels: self.max_labels.min(other.max_labels),
        }
    }

    /// ε as a number, if noise is on.
    pub fn epsilon(&self) -> Option<f64> {
        self.epsilon_micros.map(|e| e as f64 / 1e6)
    }

    /// Checks one side's announced size.
    pub fn check(&self, side: Side, size: u64) -> Result<(), PolicyViolation> {
        if size < self.min_set_size {
            return Err(PolicyViolation::TooSmall { side, size, min: self.min_set_size });
        }
        if size > self.max_set_size {
            return Err(PolicyViolation::TooLarge { side, size, max: self.max_set_size });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_takes_the_stricter_bounds() {
        let a = Policy { min_set_size: 10, max_set_size: 1_000, min_cell: 5, epsilon_micros: None, max_labels: 8 };
        let b = Policy {
            min_set_size: 100,
            max_set_size: 10_000,
            min_cell: 2,
            epsilon_micros: Some(500_000),
            max_labels: 64,
        };
        let merged = Policy {
            min_set_size: 100,
            max_set_size: 1_000,
            min_cell: 5,
            epsilon_micros: Some(500_000),
            max_labels: 8,
        };
        assert_eq!(a.merge(&b), merged);
        assert_eq!(a.merge(&b), b.merge(&a));
        let c = Policy { epsilon_micros: Some(100_000), ..b };
        assert_eq!(b.merge(&c).epsilon_micros, Some(100_000));
    }

    #[test]
    fn check_reports_side_and_bound() {
        let p = Policy { min_set_size: 10, max_set_size: 20, ..Policy::default() };
        assert_eq!(p.check(Side::Own, 15), Ok(()));
        assert_eq!(p.check(Side::Peer, 9), Err(PolicyViolation::TooSmall { side: Side::Peer, size: 9, min: 10 }));
        assert_eq!(p.check(Side::Own, 21), Err(PolicyViolation::TooLarge { side: Side::Own, size: 21, max: 20 }));
    }

    #[test]
    fn sizes_read_with_separators() {
        for (n, shown) in [(0, "0"), (999, "999"), (1_000, "1,000"), (123_456, "123,456"), (1_234_567, "1,234,567")] {
            assert_eq!(Thousands(n).to_string(), shown);
        }
        let refusal = PolicyViolation::TooSmall { side: Side::Own, size: 999, min: 1_000 };
        assert_eq!(refusal.to_string(), "our set has 999 identifiers, below the minimum of 1,000");
    }
}
