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
}

impl Default for Policy {
    fn default() -> Self {
        Self { min_set_size: 1_000, max_set_size: 100_000_000 }
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

/// A set size outside the merged policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// Below `min_set_size`.
    #[error("{side} set has {size} identifiers, below the minimum of {min}")]
    TooSmall {
        /// Whose set.
        side: Side,
        /// Its announced size.
        size: u64,
        /// The merged minimum.
        min: u64,
    },
    /// Above `max_set_size`.
    #[error("{side} set has {size} identifiers, above the maximum of {max}")]
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
        Self { min_set_size: 0, max_set_size: u64::MAX }
    }

    /// The stricter of two policies: the larger minimum, the smaller maximum.
    pub fn merge(&self, other: &Policy) -> Policy {
        Policy {
            min_set_size: self.min_set_size.max(other.min_set_size),
            max_set_size: self.max_set_size.min(other.max_set_size),
        }
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
        let a = Policy { min_set_size: 10, max_set_size: 1_000 };
        let b = Policy { min_set_size: 100, max_set_size: 10_000 };
        assert_eq!(a.merge(&b), Policy { min_set_size: 100, max_set_size: 1_000 });
        assert_eq!(a.merge(&b), b.merge(&a));
    }

    #[test]
    fn check_reports_side_and_bound() {
        let p = Policy { min_set_size: 10, max_set_size: 20 };
        assert_eq!(p.check(Side::Own, 15), Ok(()));
        assert_eq!(p.check(Side::Peer, 9), Err(PolicyViolation::TooSmall { side: Side::Peer, size: 9, min: 10 }));
        assert_eq!(p.check(Side::Own, 21), Err(PolicyViolation::TooLarge { side: Side::Own, size: 21, max: 20 }));
    }
}
