#!/usr/bin/env bash
# Side-by-side run: OpenMined PSI (cardinality mode) and, if $VENN is set,
# `venn bench`, on the same sizes and machine. One JSON line per run on stdout;
# notes go to stderr.
#
# Usage: benches/peers/run.sh [N ...]            (default: 100000)
#
# Environment:
#   VENV         virtualenv to create/use        (default /tmp/venn-peers-venv)
#   PSI_VERSION  openmined-psi version to pin    (default 2.0.6)
#   OVERLAP      shared fraction of N            (default 0.25)
#   DS           raw | gcs | bloom               (default raw: exact count)
#   PIN_CPU      if set (e.g. 0), run every measured command under
#                `taskset -c $PIN_CPU`
#   VENN         path to a venn binary (e.g. target/release/venn); if set,
#                `$VENN bench --rows N --json` runs for each N as well
#
# Touches nothing outside $VENV and this folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${VENV:-/tmp/venn-peers-venv}"
PSI_VERSION="${PSI_VERSION:-2.0.6}"
OVERLAP="${OVERLAP:-0.25}"
DS="${DS:-raw}"
PIN_CPU="${PIN_CPU:-}"
VENN="${VENN:-}"

if [ "$#" -eq 0 ]; then
    set -- 100000
fi

# --- virtualenv with openmined-psi -------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    echo "run.sh: creating virtualenv $VENV" >&2
    python3 -m venv "$VENV"
fi
installed="$("$VENV/bin/python" -c \
    'import private_set_intersection.python as p; print(p.__version__)' 2>/dev/null || true)"
if [ "$installed" != "$PSI_VERSION" ]; then
    echo "run.sh: installing openmined-psi==$PSI_VERSION into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "openmined-psi==$PSI_VERSION"
fi

# --- optional CPU pinning ----------------------------------------------------
pin=()
if [ -n "$PIN_CPU" ]; then
    if command -v taskset >/dev/null 2>&1; then
        pin=(taskset -c "$PIN_CPU")
    else
        echo "run.sh: PIN_CPU=$PIN_CPU but taskset is not available; running unpinned" >&2
    fi
fi

echo "run.sh: machine: $(nproc) CPUs available," \
     "$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //')," \
     "pin=${PIN_CPU:-none}" >&2

# --- runs --------------------------------------------------------------------
for n in "$@"; do
    "${pin[@]}" "$VENV/bin/python" "$here/openmined_psi.py" \
        --rows "$n" --overlap "$OVERLAP" --ds "$DS"

    if [ -n "$VENN" ]; then
        if [ ! -x "$VENN" ]; then
            echo "run.sh: note: VENN=$VENN is not an executable; skipping venn for N=$n" >&2
        elif ! "${pin[@]}" "$VENN" bench --rows "$n" --json; then
            echo "run.sh: note: '$VENN bench --rows $n --json' failed" \
                 "(command may not exist yet); continuing" >&2
        fi
    fi
done
