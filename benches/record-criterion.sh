#!/usr/bin/env bash
# Runs one criterion bench of this repository and appends one JSON line per
# measured bench to benches/results/NAME.jsonl: criterion's own estimates
# (target/criterion/<id>/new/estimates.json) with the machine, the commit,
# the command and the load average, like benches/record.sh.
#
# Usage: benches/record-criterion.sh NAME BENCH [FILTER]
#   e.g. benches/record-criterion.sh criterion-protocol protocol
#        benches/record-criterion.sh criterion-labels protocol protocol/labels
# A bench of a member crate: PACKAGE=venn-crypto benches/record-criterion.sh \
#        criterion-one-hot-proof one_hot_proof
#
# Each line: {"recorded_at", "command", "commit", "worktree_clean", "machine",
#   "loadavg_start", "loadavg_end", "bench": criterion's id, "elements": the
#   throughput's elements per iteration, "median_ns" and "mean_ns" per
#   iteration with their 95 % confidence bounds, "median_ns_per_element"}.
# Needs jq.
set -euo pipefail
if [ "$#" -lt 2 ]; then
    echo "usage: $0 NAME BENCH [FILTER]" >&2
    exit 2
fi
name="$1" bench="$2" filter="${3:-}"
# shellcheck source=benches/recording.sh
. "$(dirname "${BASH_SOURCE[0]}")/recording.sh"
check_name "$name"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="benches/results/$name.jsonl"
mkdir -p benches/results
target="${CARGO_TARGET_DIR:-target}"

command_line=""
if [ -n "${RAYON_NUM_THREADS+x}" ]; then command_line+="RAYON_NUM_THREADS=$RAYON_NUM_THREADS "; fi
command_line+="cargo bench ${PACKAGE:+-p $PACKAGE }--bench $bench${filter:+ -- '$filter'}"

package=(${PACKAGE:+-p "$PACKAGE"})
cargo bench "${package[@]}" --bench "$bench" --no-run >/dev/null 2>&1
marker="$(mktemp)"
load_start="$(loadavg)"
cargo bench "${package[@]}" --bench "$bench" ${filter:+-- "$filter"} >&2
load_end="$(loadavg)"

commit_and_clean
recorded_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
machine="$(machine_json)"

count=0
while IFS= read -r benchmark; do
    dir="$(dirname "$benchmark")"
    jq -c -n \
        --arg recorded_at "$recorded_at" --arg command "$command_line" --arg commit "$commit" \
        --argjson worktree_clean "$clean" --argjson machine "$machine" \
        --argjson loadavg_start "$load_start" --argjson loadavg_end "$load_end" \
        --slurpfile b "$benchmark" --slurpfile e "$dir/estimates.json" \
        '($b[0].throughput.Elements // 1) as $n
         | {recorded_at: $recorded_at, command: $command, commit: $commit, worktree_clean: $worktree_clean,
            machine: $machine, loadavg_start: $loadavg_start, loadavg_end: $loadavg_end,
            bench: $b[0].full_id, elements: $n,
            median_ns: $e[0].median.point_estimate,
            median_ns_95: [$e[0].median.confidence_interval.lower_bound, $e[0].median.confidence_interval.upper_bound],
            mean_ns: $e[0].mean.point_estimate,
            mean_ns_95: [$e[0].mean.confidence_interval.lower_bound, $e[0].mean.confidence_interval.upper_bound],
            median_ns_per_element: ($e[0].median.point_estimate / $n)}' >> "$out"
    count=$((count + 1))
done < <(find "$target/criterion" -path '*/new/benchmark.json' -newer "$marker" | sort)
rm -f "$marker"
echo "record-criterion.sh: appended $count lines to $out" >&2
