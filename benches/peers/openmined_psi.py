#!/usr/bin/env python3
"""Peer benchmark: OpenMined PSI (ECDH-PSI) in cardinality-only mode.

Runs both roles in one process, one after the other, on synthetic e-mail
addresses (`user{i}@example.com`), and prints one JSON line with the wall
and CPU time of the whole run and of each phase.

Both sides hold N items; K = round(N * overlap) of them are shared. The
client's items are user0..user{N-1}; the server's are user{N-K}..user{2N-K-1}.

Data structure: RAW by default (the server sends every encrypted item, so the
count is exact and the script asserts equality). With --ds gcs or --ds bloom
the setup message is a probabilistic filter sized for --fpr; the count may
then exceed K by false positives, and the check is K <= reported <= K + slack.

Usage: python openmined_psi.py --rows 100000 [--overlap 0.25] [--ds raw|gcs|bloom]
"""

import argparse
import json
import math
import os
import platform
import sys
import time

import private_set_intersection.python as psi


def make_items(n: int, overlap_fraction: float):
    k = round(n * overlap_fraction)
    client_items = [f"user{i}@example.com" for i in range(n)]
    server_items = [f"user{i}@example.com" for i in range(n - k, 2 * n - k)]
    return client_items, server_items, k


class Phases:
    """Collects wall and CPU seconds per named phase."""

    def __init__(self):
        self.data = {}

    def run(self, name, fn, *args):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args)
        w1, c1 = time.perf_counter(), time.process_time()
        self.data[name] = {"wall_s": round(w1 - w0, 4), "cpu_s": round(c1 - c0, 4)}
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="items per side (N)")
    ap.add_argument("--overlap", type=float, default=0.25,
                    help="fraction of N shared by both sides (default 0.25)")
    ap.add_argument("--ds", choices=["raw", "gcs", "bloom"], default="raw",
                    help="server setup data structure (default raw: exact count)")
    ap.add_argument("--fpr", type=float, default=1e-9,
                    help="false-positive rate for gcs/bloom (default 1e-9)")
    args = ap.parse_args(argv)

    if args.rows <= 0 or not (0.0 <= args.overlap <= 1.0):
        ap.error("--rows must be > 0 and --overlap within [0, 1]")

    ds = {"raw": psi.DataStructure.RAW,
          "gcs": psi.DataStructure.GCS,
          "bloom": psi.DataStructure.BLOOM_FILTER}[args.ds]

    # Item generation is not part of the measured run.
    client_items, server_items, k = make_items(args.rows, args.overlap)

    ph = Phases()
    w_start, c_start = time.perf_counter(), time.process_time()

    def keygen():
        return (psi.client.CreateWithNewKey(False),   # cardinality only
                psi.server.CreateWithNewKey(False))

    client, server = ph.run("keygen", keygen)
    # Server: encrypt its set under its key and build the setup message.
    setup = ph.run("server_setup", server.CreateSetupMessage,
                   args.fpr, len(client_items), server_items, ds)
    # Client: encrypt its set under its key.
    request = ph.run("client_request", client.CreateRequest, client_items)
    # Server: re-encrypt the client's items under its key (shuffled, since
    # reveal_intersection is False).
    response = ph.run("server_process", server.ProcessRequest, request)
    # Client: strip its key from the response and match against the setup.
    reported = ph.run("client_intersection_size",
                      client.GetIntersectionSize, setup, response)

    wall = time.perf_counter() - w_start
    cpu = time.process_time() - c_start

    setup_b = setup.ByteSize()
    request_b = request.ByteSize()
    response_b = response.ByteSize()

    if args.ds == "raw":
        ok = reported == k
        check = "exact"
    else:
        # The library sizes the filter so that the whole query of
        # num_client_inputs items has a false positive with probability
        # about fpr; allow a small slack (at least 1) before failing.
        slack = max(1, math.ceil(10 * args.fpr))
        ok = k <= reported <= k + slack
        check = f"k <= reported <= k + {slack}"

    result = {
        "tool": "openmined-psi",
        "version": psi.__version__,
        "rows_per_side": args.rows,
        "overlap": k,
        "reported_overlap": reported,
        "wall_s": round(wall, 4),
        "cpu_s": round(cpu, 4),
        "phases": ph.data,
        "data_structure": args.ds,
        "fpr": args.fpr if args.ds != "raw" else None,
        "bytes": {"setup": setup_b, "request": request_b, "response": response_b,
                  "total": setup_b + request_b + response_b},
        "check": check,
        "python": platform.python_version(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(json.dumps(result), flush=True)

    if not ok:
        print(f"openmined_psi.py: wrong count: reported {reported}, expected {k} ({check})",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
