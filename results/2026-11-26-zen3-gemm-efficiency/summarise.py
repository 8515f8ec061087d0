"""summary.md for run.sh: single-thread GEMM against the one-core peak measured just before
it, round by round, and 30 x 2000^2 against its limit, from runs/."""
import json, pathlib, statistics, sys

here = pathlib.Path(sys.argv[1])
runs = here / "runs"
rounds = sorted(int(p.stem.split("-")[1]) for p in runs.glob("peak-*.json"))
peaks = {i: json.loads((runs / f"peak-{i}.json").read_text()) for i in rounds}
libs = ["openblas-scipy", "openblas-pthread", "blis", "mkl-seq"]
first = json.loads((runs / f"single-{libs[0]}-{rounds[0]}.json").read_text())
numpy = (here / "numpy-version.txt").read_text().strip()

def multiply_rate(r):
    return 2.0 * r["size"] ** 3 * r["tasks"] / r["time"]["task_seconds"]["multiply"] / 1e9

rates = {lib: {} for lib in libs + ["numpy"]}
kernels = {}
for i in rounds:
    for lib in libs:
        r = json.loads((runs / f"single-{lib}-{i}.json").read_text())
        rates[lib][i] = multiply_rate(r)
        kernels[lib] = f"{r['backend_version'].split(' (')[0]}, {r['kernel']}"
    rates["numpy"][i] = float((runs / f"single-numpy-{i}.txt").read_text())
kernels["numpy"] = f"{numpy} (its own OpenBLAS, `a @ b`)"

print("# Single-thread GEMM against the one-core peak, round by round (issue 16)\n")
print(f"Commit {first['commit']}; command: `results/{here.name}/run.sh` ({len(rounds)} rounds). "
      "Each round: `blaspar peak --seconds 0.5`, then `blaspar run -b LIB -s sequential --tasks 4 "
      "--size 2000` per library (multiply phase), then NumPy on four 2000^2 products at one thread.\n")
print("## One-core FMA peak and GEMM, GFLOP/s, per round\n")
print("| round | one-core peak | " + " | ".join(libs + ["numpy"]) + " |")
print("|---:|---:|" + "---:|" * (len(libs) + 1))
for i in rounds:
    one = peaks[i]["one_core_gflops"]
    cells = " | ".join(f"{rates[l][i]:.1f} ({100 * rates[l][i] / one:.0f}%)" for l in libs + ["numpy"])
    print(f"| {i} | {one:.1f} | {cells} |")
print("\n## Share of the round's one-core peak\n")
print("| library | kernel | lowest | median | highest |\n|---|---|---:|---:|---:|")
for l in libs + ["numpy"]:
    s = [rates[l][i] / peaks[i]["one_core_gflops"] for i in rounds]
    print(f"| {l} | {kernels[l]} | {100 * min(s):.0f}% | {100 * statistics.median(s):.0f}% | {100 * max(s):.0f}% |")
pk = [peaks[i]["one_core_gflops"] for i in rounds]
print(f"\nThe one-core peak itself: {min(pk):.1f} to {max(pk):.1f} GFLOP/s over the rounds.\n")

big = sorted(runs.glob("big-*.json"))
if big:
    print("## 30 x 2000^2, threads-2 on openblas-scipy, against its limit\n")
    print("Limit: the FLOPs over the round's all-core peak, plus the run's generation CPU time shared "
          "over the cores (limit B of `../2026-11-26-zen3-kernels`).\n")
    print("| round | all-core peak | seconds | GFLOP/s | multiply GFLOP/s (per core) | limit (s) | over the limit |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for p in big:
        i = int(p.stem.split("-")[1])
        r = json.loads(p.read_text())
        allc, cores = peaks[i]["all_cores_gflops"], peaks[i]["threads"]
        fl = 2.0 * r["size"] ** 3 * r["tasks"]
        limit = fl / (allc * 1e9) + r["time"]["task_seconds"]["generate"] / cores
        per_core = fl / r["time"]["task_seconds"]["multiply"] / 1e9
        print(f"| {i} | {allc:.1f} | {r['seconds_total']:.3f} | {r['gflops']:.1f} | {per_core:.1f} | {limit:.3f} | {r['seconds_total'] / limit:.2f} |")
