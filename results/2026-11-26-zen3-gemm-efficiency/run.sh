#!/usr/bin/env bash
# Issue 16: how near the one-core FMA peak single-thread GEMM gets on this VM, and how much
# that moves from minute to minute. Ten rounds; each measures the peak, then every library's
# single-thread 4 x 2000^2 run, then NumPy's own OpenBLAS on the same products, so that each
# rate is set against a peak measured seconds before it. Five rounds also run the best
# configuration of 30 x 2000^2 (threads-2 on openblas-scipy) after an all-core peak.
#   scripts/setup.sh && scripts/build.sh && results/2026-11-26-zen3-gemm-efficiency/run.sh
# NumPy comes from PyPI into a venv (python3 -m venv; pip install numpy).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export BLASPAR_HISTORY=off
b=target/release/blaspar
out="$here/runs"; rm -rf "$out"; mkdir -p "$out"
venv=${NUMPY_VENV:-/tmp/blaspar-numpy}
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" -q install numpy; }
"$venv/bin/python" -c 'import numpy; print("numpy", numpy.__version__)' > "$here/numpy-version.txt"
numpy_rate() { # GFLOP/s of 4 products of 2000^2 at one thread, NumPy's own OpenBLAS
    OPENBLAS_NUM_THREADS=1 "$venv/bin/python" - <<'PY'
import numpy as np, time
rng = np.random.default_rng(0)
pairs = [(rng.random((2000, 2000)), rng.random((2000, 2000))) for _ in range(4)]
pairs[0][0] @ pairs[0][1]
t = time.perf_counter()
for a, b in pairs:
    a @ b
print(4 * 2 * 2000**3 / (time.perf_counter() - t) / 1e9)
PY
}
for i in $(seq 1 10); do
    echo "== round $i" >&2
    "$b" peak --seconds 0.5 --json "$out/peak-$i.json" >/dev/null
    for lib in openblas-scipy openblas-pthread blis mkl-seq; do
        "$b" run -b "$lib" -s sequential --tasks 4 --size 2000 --json "$out/single-$lib-$i.json" >/dev/null
    done
    numpy_rate > "$out/single-numpy-$i.txt"
    if [ "$i" -le 5 ]; then
        "$b" run -b openblas-scipy -s threads-2 --tasks 30 --size 2000 --json "$out/big-$i.json" >/dev/null
    fi
done
python3 "$here/summarise.py" "$here" > "$here/summary.md"
cat "$here/summary.md"
