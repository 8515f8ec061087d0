#!/usr/bin/env bash
# Issue 16's figures, measured side by side in one run (2026-11-26, AMD EPYC Zen 3, 2 vCPUs):
#   scripts/setup.sh && scripts/build.sh && results/2026-11-26-zen3-kernels/run.sh
# Writes runs/*.json (one record per run), peak.json and summary.md next to this script.
# Every run is verified by the engine (a failed check fails the script).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export BLASPAR_HISTORY=off
out="$here/runs"; rm -rf "$out"; mkdir -p "$out"
b="target/release/blaspar"
run() { # name, then run arguments
    local name=$1; shift
    echo "== $name: blaspar run $*" >&2
    "$b" run "$@" --json "$out/$name.json" >/dev/null
}
"$b" peak --seconds 1 --json "$here/peak.json" >/dev/null
# 1. Single-thread GEMM per library, 4 x 2000^2 (multiply phase over the one-core peak).
for lib in openblas-scipy openblas-pthread blis mkl-seq; do
    run "single-$lib" -b "$lib" -s sequential --tasks 4 --size 2000
done
# 2. Kept (result store) against dropped (checked by the worker), 2000 x 200^2.
for s in sequential threads-2 procs-2; do
    for r in matrices fingerprints; do
        run "keep-$s-$r" -b openblas-scipy -s "$s" --tasks 2000 --size 200 --results "$r"
    done
done
# 3. The candidates for the best configuration of 30 x 2000^2 and of 2000 x 200^2.
for lib in openblas-scipy blis; do
    for s in threads-2 procs-2 blas-2; do
        for g in serial overlapped; do
            run "big-$lib-$s-$g" -b "$lib" -s "$s" --tasks 30 --size 2000 --generation "$g"
            run "small-$lib-$s-$g" -b "$lib" -s "$s" --tasks 2000 --size 200 --generation "$g"
        done
    done
done
python3 "$here/summarise.py" "$here" > "$here/summary.md"
cat "$here/summary.md"
