#!/usr/bin/env bash
# Issue 15's results: the answer for a mixed workload file and for a folder of .npy files on
# this machine, and whether pinning and parallel loading pay (2026-11-26, AMD EPYC Zen 3,
# 2 vCPUs):
#   scripts/setup.sh && scripts/build.sh && results/2026-11-26-zen3-user-workloads/run.sh
# Writes mixed/ and npy/ (each a sweep folder: summary.md, recommendation.json, runs.jsonl,
# pin.jsonl, plots) next to this script. The .npy folder (98 MB) is written by make-npy.py
# into target/, not committed. Every run is verified by its workers.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export BLASPAR_HISTORY=off
b=target/release/blaspar
rm -rf "$here/mixed" "$here/npy"
# 1. A mixed workload file (rectangular products, SVDs, Cholesky factorisations), every
#    built backend, then pinning around each backend's best.
$b sweep --workload examples/mixed.toml --pin cores,spread --budget 240 --out "$here/mixed"
# 2. A folder of .npy files (12 pairs of 800x600 / 600x800, 4 lone 1000x300: 16 products),
#    then loading in the parent against each worker loading its own, and pinning.
python3 "$here/make-npy.py" target/npy-frames
$b sweep --input target/npy-frames --loading workers,parent --pin cores,spread --budget 240 \
    --out "$here/npy"
