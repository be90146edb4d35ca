#!/usr/bin/env bash
# Runs one `venn bench ... --json` and appends one JSON line to
# benches/results/NAME.jsonl, so every figure in docs/performance.md and the
# README can be traced to a raw result and the command that made it.
#
# Usage: benches/record.sh NAME [venn bench flags ...]
#   e.g. benches/record.sh count-100k --rows 100000
#
# The line is
#   {"recorded_at": UTC time, "command": the bench command as run,
#    "commit": `git rev-parse HEAD`, "worktree_clean": no tracked file changed,
#    "machine": {"cpu_model", "cpus", "memory_kib", "kernel"},
#    "loadavg_start": [1, 5, 15 min], "loadavg_end": [...],
#    "bench": the JSON object `venn bench --json` printed}
#
# Environment: VENN, the binary (default target/release/venn; build it with
# `cargo build --release` first). RAYON_NUM_THREADS and VENN_SOCKET_BUFFER
# pass through to it and show in the recorded command. Needs jq.
set -euo pipefail

if [ "$#" -lt 1 ]; then
    echo "usage: $0 NAME [venn bench flags ...]" >&2
    exit 2
fi
name="$1"
shift
case "$name" in
    *[!A-Za-z0-9._-]*|'') echo "record.sh: NAME may hold only letters, digits, '.', '_' and '-'" >&2; exit 2 ;;
esac
command -v jq >/dev/null || { echo "record.sh: needs jq" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venn="${VENN:-$root/target/release/venn}"
[ -x "$venn" ] || { echo "record.sh: no binary at $venn (cargo build --release)" >&2; exit 2; }
out="$root/benches/results/$name.jsonl"
mkdir -p "$(dirname "$out")"

loadavg() { cut -d' ' -f1-3 /proc/loadavg | jq -R 'split(" ") | map(tonumber)'; }

env_prefix=""
for var in RAYON_NUM_THREADS VENN_SOCKET_BUFFER; do
    if [ -n "${!var+x}" ]; then env_prefix+="$var=${!var} "; fi
done
command_line="${env_prefix}${venn#"$root/"} bench $* --json"

load_start="$(loadavg)"
bench="$("$venn" bench "$@" --json)"
load_end="$(loadavg)"

commit="$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)"
if [ "$commit" = unknown ]; then
    clean=null
elif [ -z "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    clean=true
else
    clean=false
fi

jq -c -n \
    --arg recorded_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg command "$command_line" \
    --arg commit "$commit" \
    --argjson worktree_clean "$clean" \
    --arg cpu_model "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    --argjson cpus "$(nproc)" \
    --argjson memory_kib "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
    --arg kernel "$(uname -r)" \
    --argjson loadavg_start "$load_start" \
    --argjson loadavg_end "$load_end" \
    --argjson bench "$bench" \
    '{recorded_at: $recorded_at, command: $command, commit: $commit, worktree_clean: $worktree_clean,
      machine: {cpu_model: $cpu_model, cpus: $cpus, memory_kib: $memory_kib, kernel: $kernel},
      loadavg_start: $loadavg_start, loadavg_end: $loadavg_end, bench: $bench}' >> "$out"
echo "record.sh: appended to ${out#"$root/"}: wall ratio $(jq -r .ratio <<<"$bench"), CPU ratio $(jq -r .cpu_ratio <<<"$bench")" >&2
