//! The agreement file: what both parties approved in writing before a
//! segment match. Both must hold byte-identical copies; its SHA-256 is
//! compared in the handshake and printed in every report.

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use venn_ids::{LabelScheme, SegmentColumn};
use venn_net::Fingerprint;
use venn_protocol::Role;

use crate::policy_file::PolicySettings;

/// A parsed agreement and its hash.
#[derive(Debug, Clone)]
pub struct Agreement {
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
    /// What the match is for.
    pub purpose: String,
    /// The party that learns the cross-tab.
    pub receiver: Party,
    /// The party that matches and adds up.
    pub aggregator: Party,
    /// Guardrails both approved.
    pub policy: PolicySettings,
}

/// One party in the agreement.
#[derive(Debug, Clone)]
pub struct Party {
    /// Its identity.
    pub fingerprint: Fingerprint,
    /// Its segment columns and values.
    pub segments: LabelScheme,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    purpose: String,
    receiver: PartyFile,
    aggregator: PartyFile,
    #[serde(default)]
    policy: PolicySettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartyFile {
    fingerprint: String,
    #[serde(default)]
    segment: Vec<ColumnFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnFile {
    column: String,
    values: Vec<String>,
}

impl Agreement {
    /// Reads and checks an agreement file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read agreement {}", path.display()))?;
        Self::parse(&bytes).with_context(|| format!("invalid agreement {}", path.display()))
    }

    fn parse(bytes: &[u8]) -> anyhow::Result<Self> {
        let text = std::str::from_utf8(bytes).context("not UTF-8")?;
        let file: File = toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        anyhow::ensure!(file.version == 1, "version {} is not supported (expected 1)", file.version);
        let party = |p: PartyFile, role: &str| -> anyhow::Result<Party> {
            let fingerprint =
                p.fingerprint.parse().with_context(|| format!("the {role}'s fingerprint is not 64 hex digits"))?;
            let columns = p.segment.into_iter().map(|c| SegmentColumn { name: c.column, values: c.values }).collect();
            Ok(Party { fingerprint, segments: LabelScheme::new(columns) })
        };
        let receiver = party(file.receiver, "receiver")?;
        let aggregator = party(file.aggregator, "aggregator")?;
        anyhow::ensure!(receiver.fingerprint != aggregator.fingerprint, "both roles name the same fingerprint");
        Ok(Self {
            sha256: Sha256::digest(bytes).into(),
            purpose: file.purpose,
            receiver,
            aggregator,
            policy: file.policy,
        })
    }

    /// Our role and our party entry, from our fingerprint.
    pub fn role_of(&self, me: &Fingerprint) -> anyhow::Result<(Role, &Party, &Party)> {
        if *me == self.receiver.fingerprint {
            Ok((Role::Receiver, &self.receiver, &self.aggregator))
        } else if *me == self.aggregator.fingerprint {
            Ok((Role::Aggregator, &self.aggregator, &self.receiver))
        } else {
            anyhow::bail!("our fingerprint {me} is not named in the agreement")
        }
    }
}

/// A commented template for `venn agreement init`.
pub fn template(receiver: Option<&Fingerprint>, aggregator: Option<&Fingerprint>) -> String {
    let fp =
        |f: Option<&Fingerprint>| f.map_or_else(|| "<64 hex digits from `venn keygen`>".to_owned(), |f| f.to_hex());
    format!(
        r#"# Venn agreement. Both parties must hold this exact file, byte for byte:
# its SHA-256 is compared when they connect, and printed in both reports,
# so every use of the data is one that both approved in writing.
version = 1
purpose = "Reach of the brand's loyalty tiers among users exposed to the platform's campaigns"

# The receiver learns the cross-tab of the overlap.
[receiver]
fingerprint = "{}"

# Each segment column of the receiver's file, with its agreed values. Any
# other value counts as "other". The labels are all combinations of values
# (with "other"), at most max_labels of them.
[[receiver.segment]]
column = "loyalty_tier"
values = ["bronze", "silver", "gold", "platinum"]

[[receiver.segment]]
column = "recent_buyer"
values = ["yes", "no"]

# The aggregator matches and adds up; it learns the overlap per own label.
[aggregator]
fingerprint = "{}"

[[aggregator.segment]]
column = "campaign"
values = ["none", "a", "b"]

# Guardrails both approved; each party's own policy file can only make them
# stricter.
[policy]
min_set_size = 1000        # refuse lists with fewer distinct identifiers
min_cell = 50              # suppress cross-tab cells below this (exact counts: and whatever
                           # would let the other party recover one by subtraction)
max_labels = 64            # label combinations per side
# Differential privacy. With epsilon set, EACH party adds discrete Laplace noise of
# scale 1/epsilon to every cell the other party receives, so neither can remove it
# all; cells under min_cell are still suppressed (both apply), and both reports say
# the figures are noisy. Smaller epsilon: more noise, more privacy.
# epsilon = 1.0
# Each party's local privacy ledger refuses a session that would take the epsilon
# spent with this peer within epsilon_window_days past max_epsilon_per_peer; the
# refusal reaches the other party as a clear reason.
# max_epsilon_per_peer = 10.0
# epsilon_window_days = 30
"#,
        fp(receiver),
        fp(aggregator)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_once_fingerprints_are_filled_in() {
        let (r, a) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
        let text = template(Some(&r), Some(&a));
        let agreement = Agreement::parse(text.as_bytes()).unwrap();
        assert_eq!(agreement.receiver.segments.count(), 5 * 3);
        assert_eq!(agreement.aggregator.segments.count(), 4);
        assert_eq!(agreement.policy.min_cell, Some(50));
        assert_eq!(agreement.role_of(&a).unwrap().0, Role::Aggregator);
    }

    #[test]
    fn any_byte_changes_the_hash() {
        let text = template(Some(&Fingerprint([1; 32])), Some(&Fingerprint([2; 32])));
        let a = Agreement::parse(text.as_bytes()).unwrap();
        let b = Agreement::parse(format!("{text}\n").as_bytes()).unwrap();
        assert_ne!(a.sha256, b.sha256);
    }

    /// The whole error chain, as `venn` prints it.
    fn refusal(bytes: &[u8]) -> String {
        format!("{:#}", Agreement::parse(bytes).expect_err("the agreement is refused"))
    }

    #[test]
    fn rejects_unknown_fields_and_bad_fingerprints() {
        let err = refusal(b"version = 1\npurpose = \"x\"\nextra = 1\n");
        assert!(err.contains("unknown field `extra`"), "{err}");
        let err = refusal(template(None, None).as_bytes());
        assert!(err.contains("the receiver's fingerprint is not 64 hex digits"), "{err}");
        let (r, a) = (Fingerprint([1; 32]), Fingerprint([2; 32]));
        let err = refusal(template(Some(&r), None).as_bytes());
        assert!(err.contains("the aggregator's fingerprint is not 64 hex digits"), "{err}");
        let err = refusal(template(Some(&r), Some(&r)).as_bytes());
        assert!(err.contains("both roles name the same fingerprint"), "{err}");
        let err = refusal(template(Some(&r), Some(&a)).replace("version = 1", "version = 2").as_bytes());
        assert!(err.contains("version 2 is not supported (expected 1)"), "{err}");
        let err = refusal(b"\xff\xfe");
        assert!(err.contains("not UTF-8"), "{err}");
    }

    #[test]
    fn a_fingerprint_not_in_the_agreement_has_no_role() {
        let (r, a, stranger) = (Fingerprint([1; 32]), Fingerprint([2; 32]), Fingerprint([3; 32]));
        let agreement = Agreement::parse(template(Some(&r), Some(&a)).as_bytes()).unwrap();
        assert_eq!(agreement.role_of(&r).unwrap().0, Role::Receiver);
        let err = agreement.role_of(&stranger).expect_err("a stranger has no role").to_string();
        assert_eq!(err, format!("our fingerprint {stranger} is not named in the agreement"));
    }
}
