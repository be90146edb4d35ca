//! `venn demo` and `venn bench` end to end, small: the built binary runs a
//! whole match on this machine, and its JSON (and HTML) output is checked
//! against the generator's overlap. A few seconds each in a debug build.
//!
//! What is exact: a plain count (`--no-segments`) finds the generator's
//! overlap on both sides; so does the platform (the aggregator) in a
//! segment match, which `venn demo` checks itself and turns into its exit
//! code. The brand's (the receiver's) figures in a segment match carry
//! discrete Laplace noise (ε = 1 on 60 cells), so for them the test checks
//! what noise cannot change: the totals add up the same way every time,
//! no released cell is under `min_cell`, and the overlap is near the true one.

mod cli_support;

use std::{path::Path, time::Duration};

use cli_support::{assert_self_contained, overlap_text, text, Running};

/// A guard against a hang, never a measurement.
const LIMIT: Duration = Duration::from_secs(300);

const ROWS_A: u64 = 3_000;
const ROWS_B: u64 = 2_000;
const OVERLAP: u64 = 700;

/// Runs `venn demo` on the test's sizes with `extra` flags, writing its
/// reports into `dir`; returns the JSON report and the HTML page.
fn demo(dir: &Path, extra: &[&str]) -> (serde_json::Value, String) {
    let (json, html) = (dir.join("demo.json"), dir.join("demo.html"));
    let (rows_a, rows_b, overlap) = (ROWS_A.to_string(), ROWS_B.to_string(), OVERLAP.to_string());
    let mut args = vec!["demo", "--rows-a", &rows_a, "--rows-b", &rows_b, "--overlap", &overlap];
    args.extend(["--report", json.to_str().unwrap(), "--report-html", html.to_str().unwrap()]);
    args.extend(extra);
    let (out, _) = Running::start(&args).wait(LIMIT);
    // The demo fails (exit 1) if the platform's count is not the generator's.
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));
    let report = serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON report written")).unwrap();
    (report, std::fs::read_to_string(&html).expect("HTML report written"))
}

/// The fields every report has, with the demo's sizes.
fn assert_common_fields(r: &serde_json::Value) {
    assert_eq!(r["schema"], "venn.report/v1");
    assert_eq!(r["own_size"], ROWS_A);
    assert_eq!(r["peer_size"], ROWS_B);
    assert_eq!(r["input"]["rows_read"], ROWS_A);
    assert_eq!(r["input"]["valid"], ROWS_A);
    assert_eq!(r["input"]["distinct"], ROWS_A);
    assert_eq!(r["session_id"].as_str().map(str::len), Some(64), "{}", r["session_id"]);
    assert_eq!(r["own_fingerprint"].as_str().map(str::len), Some(64));
    assert_eq!(r["peer_fingerprint"].as_str().map(str::len), Some(64));
    assert_ne!(r["own_fingerprint"], r["peer_fingerprint"]);
    assert!(r["bytes"]["sent"].as_u64().unwrap() > 0 && r["bytes"]["received"].as_u64().unwrap() > 0);
    assert!(r["wall_time_seconds"].as_f64().unwrap() > 0.0);
}

fn sum(values: &serde_json::Value) -> i64 {
    values.as_array().expect("an array").iter().map(|v| v.as_i64().expect("a released number")).sum()
}

#[test]
fn demo_without_segments_finds_the_exact_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (r, html) = demo(dir.path(), &["--no-segments"]);
    assert_common_fields(&r);
    assert_eq!(r["overlap"], OVERLAP);
    let rate = r["match_rate_own"].as_f64().unwrap();
    assert!((rate - OVERLAP as f64 / ROWS_A as f64).abs() < 1e-12, "{rate}");
    let rate = r["match_rate_peer"].as_f64().unwrap();
    assert!((rate - OVERLAP as f64 / ROWS_B as f64).abs() < 1e-12, "{rate}");
    assert!(r.get("segments").is_none(), "a plain count has no segments: {}", r["segments"]);

    assert_eq!(overlap_text(&html), "700");
    assert!(html.contains("<title>Venn overlap report</title>"));
    assert!(!html.contains("class=\"crosstab\""), "no cross-tab in a plain count");
    assert_self_contained(&html);
}

#[test]
fn demo_with_segments_releases_a_consistent_noisy_cross_tab_near_the_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let (r, html) = demo(dir.path(), &[]);
    assert_common_fields(&r);
    let s = &r["segments"];
    assert_eq!(s["role"], "receiver");
    assert_eq!(s["epsilon"], 1.0);
    assert_eq!(s["min_cell"], 50);
    assert!(s.get("aggregator_exact_totals").is_none(), "the receiver never sees the aggregator's exact marginal");
    let (rows, columns) =
        (s["receiver_labels"].as_array().unwrap().len(), s["aggregator_labels"].as_array().unwrap().len());
    assert_eq!((rows, columns), (15, 4), "the template agreement's label combinations");

    // With noise every total is released, and all of them add up to the
    // same overlap: the receiver's is the sum of its noisy cells.
    let overlap = r["overlap"].as_i64().unwrap();
    assert_eq!(s["total"].as_i64(), Some(overlap));
    assert_eq!(sum(&s["receiver_totals"]), overlap);
    assert_eq!(sum(&s["aggregator_totals"]), overlap);
    assert_eq!(s["receiver_totals"].as_array().unwrap().len(), rows);
    assert_eq!(s["aggregator_totals"].as_array().unwrap().len(), columns);
    for column in ["loyalty_tier", "recent_buyer", "campaign"] {
        let values: Vec<i64> = s["per_value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["column"] == column)
            .map(|v| v["overlap"].as_i64().expect("released"))
            .collect();
        assert!(values.len() >= 3, "{column}: {values:?}");
        assert_eq!(values.iter().sum::<i64>(), overlap, "the values of {column} split the overlap");
    }
    // A cell is suppressed, at least min_cell (noise included), or a known
    // zero: a label no record on its side has (the generator writes no
    // value outside the agreed lists, so every `other` label is empty).
    let cells = s["cells"].as_array().unwrap();
    let names = |key: &str| -> Vec<String> {
        s[key].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect()
    };
    let (row_names, column_names) = (names("receiver_labels"), names("aggregator_labels"));
    assert_eq!(cells.len(), rows);
    for (r, row) in cells.iter().enumerate() {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), columns);
        for (a, cell) in row.iter().enumerate() {
            let empty_label = row_names[r].contains("=other") || column_names[a].contains("=other");
            let ok = cell.is_null() || cell.as_i64().is_some_and(|c| c >= 50 || (c == 0 && empty_label));
            assert!(ok, "released cell ({}, {}) = {cell}", row_names[r], column_names[a]);
        }
    }
    // The noise on 60 cells has a standard deviation of about 10.5: 150 is
    // over 14 of them.
    assert!((overlap - OVERLAP as i64).abs() <= 150, "noisy overlap {overlap}, true {OVERLAP}");

    assert_eq!(overlap_text(&html), overlap.to_string());
    assert!(html.contains("<title>Venn overlap report</title>"));
    assert!(html.contains("class=\"crosstab\""), "the cross-tab is in the page");
    assert_self_contained(&html);
}

#[test]
fn bench_json_reports_the_generated_overlap_and_sane_figures() {
    let (out, _) = Running::start(&["bench", "--rows", "2000", "--json"]).wait(LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object on stdout");
    // --overlap is a fraction, 0.25 by default.
    assert_eq!(r["rows_per_side"], 2_000);
    assert_eq!(r["overlap"], 500);
    assert_eq!(r["overlap_found"], 500);
    assert_eq!(r["segments"], serde_json::Value::Null);
    let number = |field: &str| r[field].as_f64().unwrap_or_else(|| panic!("{field} is not a number: {r}"));
    for field in ["ratio", "end_to_end_records_per_second", "floor_records_per_second", "wall_seconds"] {
        let value = number(field);
        assert!(value.is_finite() && value > 0.0, "{field} = {value}");
    }
    // Both parties live in the bench process: some MiB, under its budget.
    let peak = r["peak_rss_bytes"].as_u64().unwrap();
    assert!(peak > 1 << 20 && peak <= r["memory_budget_bytes"].as_u64().unwrap(), "peak RSS {peak}");
    // Each record's owner sends a 32-byte point and the peer returns a
    // 16-byte tag (docs/protocol.md): 48 bytes of payload, plus framing; the
    // wire adds QUIC, the handshake spread over 4,000 records, and maybe a
    // few retransmissions.
    let payload = number("payload_bytes_per_record");
    let wire = number("wire_bytes_per_record");
    assert!((48.0..50.0).contains(&payload), "payload {payload} bytes per record");
    assert!(wire > payload && wire < 80.0, "wire {wire} bytes per record");
}
