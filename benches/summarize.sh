#!/usr/bin/env bash
# Summarizes the `venn bench` lines of benches/results/*.jsonl (as
# benches/record.sh writes them): for each file, the number of runs and the
# median [min–max] of each figure that docs/performance.md quotes.
#
# Usage: benches/summarize.sh [FILE.jsonl ...]   (default: every venn bench file)
# Needs jq.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$#" -eq 0 ]; then
    set -- "$root"/benches/results/*.jsonl
fi
for file in "$@"; do
    # Only venn bench results (they have a wall ratio).
    if ! jq -e 'select(.output.ratio != null)' "$file" >/dev/null 2>&1; then continue; fi
    echo "== ${file#"$root/"}"
    jq -s -r '
      def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
      def fmt(p): if . == null then "-" else (. * pow(10; p) | round) / pow(10; p) | tostring end;
      def stat(f; p): [.[] | f] | "\(median | fmt(p)) [\(min | fmt(p))–\(max | fmt(p))]";
      map(select(.output.ratio != null)) as $runs
      | $runs
      | "runs \(length): \(map(.command) | unique | join(" | "))",
        "  commits            \(map(.commit[0:12]) | unique | join(", "))",
        "  load avg at start  \(stat(.loadavg_start[0]; 2))",
        "  wall ratio         \(stat(.output.ratio; 3))",
        "  CPU ratio          \(stat(.output.cpu_ratio; 3))",
        "  floor rec/s        \(stat(.output.floor_records_per_second; 0))  (median of each run'"'"'s samples)",
        "  floor CPU us/rec   \(stat(.output.floor_cpu_us_per_record_spread.median; 2))",
        "  floor rec/s, all samples of all runs: min \([.[] | .output.floor_samples[].records_per_second] | min | fmt(0)), max \([.[] | .output.floor_samples[].records_per_second] | max | fmt(0))",
        "  end-to-end rec/s   \(stat(.output.end_to_end_records_per_second; 0))",
        "  end-to-end CPU us/rec \(stat(.output.end_to_end_cpu_us_per_record; 2))",
        "  wall s             \(stat(.output.wall_seconds; 1))",
        "  CPU s              \(stat(.output.cpu_seconds; 1))",
        "  peak RSS MiB       \(stat(.output.peak_rss_bytes / 1048576; 1))",
        "  UDP payload B/rec  \(stat(.output.wire_bytes_per_record; 1))",
        "  protocol B/rec     \(stat(.output.payload_bytes_per_record; 1))",
        "  socket rcvbuf      \(map(.output.socket_buffers | "asked \(.requested // "nothing"), kernel reports \(.receive)") | unique | join("; "))",
        (.[0].output.phases | map(.name) | to_entries[] as $p
          | "  phase \($p.value): wall \($runs | stat(.output.phases[$p.key].wall_seconds; 2)), CPU \($runs | stat(.output.phases[$p.key].cpu_seconds; 2))")
    ' "$file"
done
