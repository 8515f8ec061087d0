#!/usr/bin/env bash
# Fan-out overhead of worker processes: procs-P against threads-P (same P, 1 BLAS thread,
# same work, products in the same shared-memory store), interleaved so that machine drift
# spreads evenly over both. Prints the ratio procs/threads of the timed run per repeat,
# its median and spread, and the measured breakdown (start-up, hand-out, transfer, idle).
#
#   scripts/overhead.sh [OUT_DIR]
#   env: REPEATS (default 5), PRESET (seed), BACKEND (blis), WORKERS (physical cores)
source "$(dirname "$0")/lib.sh"
repeats="${REPEATS:-5}"
preset="${PRESET:-seed}"
backend="${BACKEND:-blis}"
out="${1:-target/blaspar-overhead/$(date +%Y%m%d-%H%M%S)}"
blaspar=target/release/blaspar
[ -x "$blaspar" ] || { echo "error: $blaspar is not built: run scripts/build.sh" >&2; exit 1; }
workers="${WORKERS:-$("$blaspar" machine | sed -n 's/.*"default_parallelism": \([0-9]*\).*/\1/p')}"
mkdir -p "$out"
echo "procs-$workers vs threads-$workers on $backend, preset $preset, $repeats interleaved repeats -> $out"
for r in $(seq 1 "$repeats"); do
    # Alternate which goes first, so neither always follows the other.
    if (( r % 2 )); then order=(threads procs); else order=(procs threads); fi
    for kind in "${order[@]}"; do
        echo "repeat $r/$repeats: $kind-$workers"
        "$blaspar" run --backend "$backend" --preset "$preset" --strategy "$kind-$workers" \
            --json "$out/$kind-$r.json" | tail -n 2 | head -n 1
    done
done
python3 - "$out" "$repeats" <<'EOF'
import json, statistics, sys
out, repeats = sys.argv[1], int(sys.argv[2])
rec = {(k, r): json.load(open(f"{out}/{k}-{r}.json")) for k in ("threads", "procs") for r in range(1, repeats + 1)}
ratios = [rec["procs", r]["seconds_total"] / rec["threads", r]["seconds_total"] for r in range(1, repeats + 1)]
def med(kind, f):
    return statistics.median(f(rec[kind, r]) for r in range(1, repeats + 1))
print()
print("repeat  threads s  procs s  ratio")
for r in range(1, repeats + 1):
    print(f"{r:>6}  {rec['threads', r]['seconds_total']:>9.3f}  {rec['procs', r]['seconds_total']:>7.3f}  {ratios[r-1]:.4f}")
m = statistics.median(ratios)
print(f"ratio procs/threads: median {m:.4f} ({(m - 1) * 100:+.2f}%), min {min(ratios):.4f}, max {max(ratios):.4f}")
print()
print("medians             threads      procs")
rows = [
    ("timed run, s", lambda x: x["seconds_total"]),
    ("start-up, s (apart)", lambda x: x["time"]["wall"]["startup"]),
    ("setup, s", lambda x: x["time"]["wall"]["setup"]),
    ("generate, task-s", lambda x: x["time"]["task_seconds"]["generate"]),
    ("multiply, task-s", lambda x: x["time"]["task_seconds"]["multiply"]),
    ("transfer, task-s", lambda x: x["time"]["task_seconds"]["transfer"]),
    ("idle, task-s", lambda x: x["time"]["task_seconds"]["idle"]),
    ("GFLOP/s", lambda x: x["gflops"]),
    ("CPUs busy", lambda x: x["cpu_utilisation"]),
]
for name, f in rows:
    print(f"{name:<20} {med('threads', f):>8.4f} {med('procs', f):>10.4f}")
assert all(rec[k]["results_verified"] for k in rec), "a run failed verification"
EOF
