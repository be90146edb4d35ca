//! The result of a match: a human summary for stdout and a versioned JSON
//! document for `--report`, written atomically and only after success.
//!
//! JSON schema `venn.report/v1` (documented in `docs/report.md`).

use std::{io::Write, path::Path, time::Duration};

use anyhow::Context;
use serde::Serialize;
use venn_net::SessionReport;
use venn_protocol::PROTOCOL_VERSION;

use crate::input::InputStats;

/// Identifies the JSON layout; bumped on any incompatible change.
pub const SCHEMA: &str = "venn.report/v1";

/// Everything a party learns and did in one session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The protocol version spoken.
    pub protocol_version: u16,
    /// The session id (same on both sides).
    pub session_id: String,
    /// `serve` or `connect`.
    pub role: &'static str,
    /// `count`, `segments` or `index`.
    pub mode: &'static str,
    /// Our fingerprint.
    pub own_fingerprint: String,
    /// The peer's fingerprint.
    pub peer_fingerprint: String,
    /// How our input was read.
    pub input: InputStats,
    /// Our distinct identifiers.
    pub own_size: u64,
    /// The peer's distinct identifiers.
    pub peer_size: u64,
    /// Identifiers in both sets: exact in a count and in an exact segment
    /// match; in a segment match with noise, the released (noisy) total,
    /// the same figure in both parties' reports.
    pub overlap: u64,
    /// Whether `overlap` is exact (false: it carries differential-privacy
    /// noise).
    pub overlap_exact: bool,
    /// `overlap / own_size`.
    pub match_rate_own: f64,
    /// `overlap / peer_size`.
    pub match_rate_peer: f64,
    /// The merged policy the session ran under.
    pub policy: PolicyReport,
    /// Seconds from start (reading included) to confirmed result.
    pub wall_time_seconds: f64,
    /// Traffic.
    pub bytes: Traffic,
    /// Unix time of completion, seconds.
    pub finished_at_unix: u64,
    /// The segment breakdown, in segment mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<SegmentsReport>,
    /// Index mode's details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<IndexReport>,
}

/// Index mode: the epoch, and what the download cost (brand) or whether
/// the overlap is the brand's word (platform).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IndexReport {
    /// The index's epoch id.
    pub epoch: u64,
    /// Its label (start date and length).
    pub epoch_label: String,
    /// Elements in the index (the platform's audience).
    pub elements: u64,
    /// Brand: index part bytes downloaded in this session (0 when the
    /// cache held the epoch's index already).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downloaded_bytes: Option<u64>,
    /// Brand: index parts refused by verification and fetched again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refetched_parts: Option<Vec<String>>,
    /// Brand: the number of false matches the filter is expected to add to
    /// the overlap (own size × false-positive rate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_false_matches: Option<f64>,
    /// Platform: part bytes served in this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_bytes: Option<u64>,
    /// Platform: whether the brand shared its overlap (`--share-result`).
    /// When false, the report's `overlap` and match rates are `null`: the
    /// platform does not learn the overlap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap_reported_by_brand: Option<bool>,
}

/// The overlap broken down by both parties' segments, as released.
///
/// Rows are the receiver's label combinations, columns the aggregator's.
/// `None` marks a suppressed figure (below `min_cell`, or suppressed so that
/// another cannot be recovered by subtraction).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentsReport {
    /// `receiver` or `aggregator`: our role.
    pub role: String,
    /// SHA-256 of the agreement both parties hold.
    pub agreement_sha256: String,
    /// The purpose both approved in the agreement.
    pub purpose: String,
    /// Name of each receiver label combination, e.g. `loyalty_tier=gold, recent_buyer=yes`.
    pub receiver_labels: Vec<String>,
    /// Name of each aggregator label combination.
    pub aggregator_labels: Vec<String>,
    /// `cells[r][a]`: common identifiers with receiver label `r` and aggregator label `a`.
    pub cells: Vec<Vec<Option<i64>>>,
    /// Per receiver label.
    pub receiver_totals: Vec<Option<i64>>,
    /// Per aggregator label.
    pub aggregator_totals: Vec<Option<i64>>,
    /// All cells.
    pub total: Option<i64>,
    /// The overlap for every segment value of either side.
    pub per_value: Vec<ValueCount>,
    /// Cells below this were suppressed.
    pub min_cell: u64,
    /// ε of the discrete Laplace noise on every cell, if noise was on.
    pub epsilon: Option<f64>,
    /// Whether the aggregator's label groups travelled unpadded (the
    /// receiver then learned their exact sizes).
    pub reveal_segment_sizes: bool,
    /// Aggregator only: its exact overlap per own label, which it learns
    /// by matching (before noise and thresholds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aggregator_exact_totals: Option<Vec<u64>>,
}

impl SegmentsReport {
    /// The tables printed after the summary.
    pub fn human(&self) -> String {
        let cell = |v: &Option<i64>| v.map_or_else(|| "suppressed".to_owned(), signed_group);
        let mut out = String::new();
        let noise = self.epsilon.map_or_else(
            || "exact counts".to_owned(),
            |e| format!("noisy counts: discrete Laplace noise of ε = {e} drawn by each party, negatives shown as 0"),
        );
        out += &format!(
            "\nSegments (we are the {}; agreement {}; cells under {} suppressed; {})\n",
            self.role,
            &self.agreement_sha256[..16],
            self.min_cell,
            noise
        );
        out += &format!("Purpose: {}\n", self.purpose);
        out += "\nOverlap by segment value\n";
        for v in &self.per_value {
            out += &format!("  {:<10} {:<16} {:<12} {:>12}\n", v.side, v.column, v.value, cell(&v.overlap));
        }
        let width = self.receiver_labels.iter().map(String::len).max().unwrap_or(0).max(8);
        out += "\nCross-tab: receiver's labels (rows) by aggregator's labels (columns)\n";
        for (i, name) in self.aggregator_labels.iter().enumerate() {
            out += &format!("  c{:<3} {}\n", i + 1, name);
        }
        out += &format!("  {:<width$}", "");
        for i in 0..self.aggregator_labels.len() {
            out += &format!(" {:>11}", format!("c{}", i + 1));
        }
        out += &format!(" {:>11}\n", "total");
        for (r, name) in self.receiver_labels.iter().enumerate() {
            out += &format!("  {name:<width$}");
            for v in &self.cells[r] {
                out += &format!(" {:>11}", cell(v));
            }
            out += &format!(" {:>11}\n", cell(&self.receiver_totals[r]));
        }
        out += &format!("  {:<width$}", "total");
        for v in &self.aggregator_totals {
            out += &format!(" {:>11}", cell(v));
        }
        out += &format!(" {:>11}\n", cell(&self.total));
        if let Some(exact) = &self.aggregator_exact_totals {
            let shown: Vec<String> = exact.iter().map(|n| group(*n)).collect();
            out += &format!("  our exact overlap per own label (known to us only): {}\n", shown.join(", "));
        }
        out
    }
}

fn signed_group(n: i64) -> String {
    if n < 0 {
        format!("-{}", group(n.unsigned_abs()))
    } else {
        group(n as u64)
    }
}

/// The overlap of one segment value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ValueCount {
    /// `receiver` or `aggregator`.
    pub side: String,
    /// The segment column.
    pub column: String,
    /// The value (`other` for values outside the agreed list).
    pub value: String,
    /// Common identifiers with this value; `None` if suppressed.
    pub overlap: Option<i64>,
}

/// The merged policy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PolicyReport {
    /// Smallest set allowed.
    pub min_set_size: u64,
    /// Largest set allowed.
    pub max_set_size: u64,
}

/// Bytes sent and received.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Traffic {
    /// UDP payload sent (QUIC and TLS included).
    pub sent: u64,
    /// UDP payload received.
    pub received: u64,
    /// Protocol messages sent, before framing and encryption.
    pub payload_sent: u64,
    /// Protocol messages received.
    pub payload_received: u64,
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

impl Report {
    /// Builds the report of a finished session.
    pub fn new(
        role: &'static str,
        own_fingerprint: String,
        input: InputStats,
        session: &SessionReport,
        wall: Duration,
    ) -> Self {
        let o = &session.outcome;
        Self {
            schema: SCHEMA,
            protocol_version: PROTOCOL_VERSION,
            session_id: o.session_id.to_hex(),
            role,
            mode: if o.index.is_some() {
                "index"
            } else if o.segments.is_some() {
                "segments"
            } else {
                "count"
            },
            own_fingerprint,
            peer_fingerprint: session.peer.to_hex(),
            input,
            own_size: o.own_size,
            peer_size: o.peer_size,
            overlap: o.overlap,
            overlap_exact: o.segments.as_ref().is_none_or(|s| !s.noisy),
            match_rate_own: rate(o.overlap, o.own_size),
            match_rate_peer: rate(o.overlap, o.peer_size),
            policy: PolicyReport { min_set_size: o.policy.min_set_size, max_set_size: o.policy.max_set_size },
            wall_time_seconds: wall.as_secs_f64(),
            bytes: Traffic {
                sent: session.wire_bytes_sent,
                received: session.wire_bytes_received,
                payload_sent: session.payload_bytes_sent,
                payload_received: session.payload_bytes_received,
            },
            finished_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            segments: None,
            index: None,
        }
    }

    /// Whether the overlap is unknown to us: a platform in index mode whose
    /// brand did not share it.
    pub fn overlap_withheld(&self) -> bool {
        self.index.as_ref().and_then(|i| i.overlap_reported_by_brand) == Some(false)
    }

    /// The summary printed on stdout.
    pub fn human(&self) -> String {
        let i = &self.input;
        let skipped: u64 = i.skipped.values().sum();
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        let kind = match self.segments.as_ref().and_then(|s| s.epsilon) {
            Some(epsilon) if !self.overlap_exact => {
                format!("noisy: differentially private, ε = {epsilon} from each party; the peer's report says the same")
            }
            _ => "exact".to_owned(),
        };
        if self.overlap_withheld() {
            line("Overlap            not shared by the brand (it learns the overlap; we learn its list size)".into());
            line(format!("Our index          {:>12}", group(self.own_size)));
            line(format!("Brand's list       {:>12}", group(self.peer_size)));
        } else {
            let kind = match &self.index {
                Some(i) if i.overlap_reported_by_brand == Some(true) => "reported by the brand".to_owned(),
                Some(i) => match i.expected_false_matches {
                    Some(f) => format!("exact up to the filter's expected {f:.2e} false matches"),
                    None => kind,
                },
                None => kind,
            };
            line(format!("Overlap            {:>12}   ({kind})", group(self.overlap)));
            line(format!(
                "Our list           {:>12}   match rate {:>6.2}%",
                group(self.own_size),
                100.0 * self.match_rate_own
            ));
            line(format!(
                "Peer's list        {:>12}   match rate {:>6.2}%",
                group(self.peer_size),
                100.0 * self.match_rate_peer
            ));
        }
        if let Some(i) = &self.index {
            let mut what = format!("epoch {} ({}), {} elements", i.epoch, i.epoch_label, group(i.elements));
            if let Some(d) = i.downloaded_bytes {
                what += &format!("; downloaded {}", bytes(d));
            }
            if let Some(d) = i.served_bytes {
                what += &format!("; served {}", bytes(d));
            }
            line(format!("Index              {what}"));
        }
        line(format!(
            "Input              {} rows read, {} valid, {} duplicates, {} skipped ({})",
            group(i.rows_read),
            group(i.valid),
            group(i.duplicates),
            group(skipped),
            i.path
        ));
        for (reason, n) in i.skipped.iter().filter(|(_, &n)| n > 0) {
            line(format!("  skipped {reason:<16} {:>10}", group(*n)));
        }
        line(format!("Session            {} (protocol v{})", self.session_id, self.protocol_version));
        line(format!("Peer               {}", self.peer_fingerprint));
        line(format!(
            "Policy             set sizes {}..={}",
            group(self.policy.min_set_size),
            group(self.policy.max_set_size)
        ));
        line(format!(
            "Wall time          {:.2} s; sent {}, received {}",
            self.wall_time_seconds,
            bytes(self.bytes.sent),
            bytes(self.bytes.received)
        ));
        if let Some(s) = &self.segments {
            out.push_str(&s.human());
        }
        out
    }

    /// Writes the JSON report atomically: a temporary file in the same
    /// directory, synced, then renamed over `path`. A reader sees either no
    /// file or the whole report.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("cannot create the report in {}", dir.display()))?;
        let mut value = serde_json::to_value(self).context("cannot encode the report")?;
        if self.overlap_withheld() {
            for field in ["overlap", "match_rate_own", "match_rate_peer"] {
                value[field] = serde_json::Value::Null;
            }
        }
        serde_json::to_writer_pretty(&mut tmp, &value).context("cannot encode the report")?;
        tmp.write_all(b"\n")?;
        tmp.as_file().sync_all().with_context(|| format!("cannot write the report {}", path.display()))?;
        tmp.persist(path).with_context(|| format!("cannot write the report {}", path.display()))?;
        Ok(())
    }
}

/// `1234567` as `1,234,567`.
pub fn group(n: u64) -> String {
    venn_ids::group_digits(n)
}

/// `3145728` as `3.0 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
    }

    #[test]
    fn formats_bytes() {
        assert_eq!(bytes(512), "512.0 B");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }

    #[test]
    fn rate_of_empty_set_is_zero() {
        assert_eq!(rate(0, 0), 0.0);
        assert_eq!(rate(1, 4), 0.25);
    }
}
