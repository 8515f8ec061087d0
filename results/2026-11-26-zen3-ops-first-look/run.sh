#!/usr/bin/env bash
# A first look at issue 13's question before `sweep --ops` exists: for each operation, the
# four basic answers (sequential, BLAS threads only, task threads, worker processes) on
# openblas-scipy, one run each (so single measurements: read differences under ~10% as
# noise on this VM). Sizes chosen so that a task costs about what a 1000^2 gemm does.
#   scripts/setup.sh && scripts/build.sh && results/2026-11-26-zen3-ops-first-look/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
export BLASPAR_HISTORY=off
out="$here/runs"; rm -rf "$out"; mkdir -p "$out"
for spec in gemm:1000 solve:1400 cholesky:1800 qr:1150 eigh:600 svd:460; do
    op=${spec%%:*}; n=${spec##*:}
    for s in sequential blas-2 threads-2 procs-2; do
        target/release/blaspar run -b openblas-scipy -s "$s" --op "$op" --tasks 8 --size "$n" \
            --json "$out/$op-$s.json" >/dev/null
    done
done
python3 - "$here" > "$here/summary.md" <<'PY'
import json, pathlib, sys
here = pathlib.Path(sys.argv[1])
recs = [json.loads(p.read_text()) for p in sorted((here / "runs").glob("*.json"))]
print(f"# Operations, a first look (openblas-scipy, 8 tasks, one run each)\n")
print(f"Commit {recs[0]['commit']}; command `results/{here.name}/run.sh`. GFLOP/s from each operation's FLOP count "
      "(LAWN 41; nominal for eigh and svd), generation included; every result verified.\n")
print("| operation | n | sequential | blas-2 | threads-2 | procs-2 | best |\n|---|---:|---:|---:|---:|---:|---|")
ops = ["gemm", "solve", "cholesky", "qr", "eigh", "svd"]
for op in ops:
    row = {r["strategy"]: r for r in recs if r["operation"] == op}
    cells = [f"{row[s]['gflops']:.1f}" for s in ["sequential", "blas-2", "threads-2", "procs-2"]]
    best = max(row.values(), key=lambda r: r["gflops"])
    blas, task = row["blas-2"]["gflops"], max(row["threads-2"]["gflops"], row["procs-2"]["gflops"])
    print(f"| {op} | {best['size']} | " + " | ".join(cells) + f" | {best['strategy']} (task / BLAS threads: {task / blas:.2f}x) |")
PY
cat "$here/summary.md"
