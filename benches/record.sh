#!/usr/bin/env bash
# Runs one benchmark command that prints one JSON object on stdout, and
# appends one JSON line to benches/results/NAME.jsonl, so that every figure
# in docs/performance.md and the README traces back to a raw result and the
# command that made it.
#
# Usage, from anywhere (the command runs in the repository root):
#   benches/record.sh NAME COMMAND [ARG ...]
#   benches/record.sh count-100k target/release/venn bench --rows 100000 --json
#   VENN_SOCKET_BUFFER=0 benches/record.sh count-100k-kernel-buffer \
#       target/release/venn bench --rows 100000 --json
#   benches/record.sh openmined-100k /tmp/venn-peers-venv/bin/python \
#       benches/peers/openmined_psi.py --rows 100000
#
# The line is
#   {"recorded_at": UTC time, "command": the command as run, with
#    RAYON_NUM_THREADS / VENN_SOCKET_BUFFER in front when set,
#    "commit": `git rev-parse HEAD`, "worktree_clean": no tracked file differs,
#    "machine": {"cpu_model", "cpus", "memory_kib", "kernel", "rmem_max", "rmem_default"},
#    "loadavg_start": [1, 5, 15 min], "loadavg_end": [...],
#    "output": the JSON object the command printed}
#
# Build first (`cargo build --release`). Needs jq. Appends nothing if the
# command fails or prints something that is not one JSON object.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 NAME COMMAND [ARG ...]" >&2
    exit 2
fi
name="$1"
shift
# shellcheck source=benches/recording.sh
. "$(dirname "${BASH_SOURCE[0]}")/recording.sh"
check_name "$name"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="benches/results/$name.jsonl"
mkdir -p benches/results

command_line=""
for var in RAYON_NUM_THREADS VENN_SOCKET_BUFFER; do
    if [ -n "${!var+x}" ]; then command_line+="$var=${!var} "; fi
done
command_line+="$*"

load_start="$(loadavg)"
output="$("$@")"
load_end="$(loadavg)"
jq -e 'type == "object"' <<<"$output" >/dev/null || {
    echo "record.sh: the command did not print one JSON object; nothing recorded" >&2
    exit 1
}

commit_and_clean

jq -c -n \
    --arg recorded_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg command "$command_line" \
    --arg commit "$commit" \
    --argjson worktree_clean "$clean" \
    --argjson machine "$(machine_json)" \
    --argjson loadavg_start "$load_start" \
    --argjson loadavg_end "$load_end" \
    --argjson output "$output" \
    '{recorded_at: $recorded_at, command: $command, commit: $commit, worktree_clean: $worktree_clean,
      machine: $machine, loadavg_start: $loadavg_start, loadavg_end: $loadavg_end, output: $output}' >> "$out"
echo "record.sh: appended a line to $out" >&2
