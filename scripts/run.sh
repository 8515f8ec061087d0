#!/usr/bin/env bash
# The main job: install what is missing (scripts/setup.sh; a failure there only narrows the
# backends), build, run every strategy on every available backend through the
# runner (verified; JSON records in target/blaspar-runs/), say which backends are missing and
# why, then the criterion suite on every built backend (one report: target/criterion).
# PRESET=seed for the tutorial's workload.
source "$(dirname "$0")/lib.sh"
preset="${PRESET:-quick}"
scripts/setup.sh || echo "setup incomplete (see above): running the backends that are available"
scripts/build.sh
available_engines
cpus=$(target/release/blaspar machine | sed -n 's/.*"default_parallelism": \([0-9]*\).*/\1/p')
half=$(( cpus / 2 > 0 ? cpus / 2 : 1 ))
strategies=(sequential blas-default "blas-$cpus" "threads-$cpus" "procs-$cpus"
            "hybrid-threads-${half}x2" "hybrid-procs-${half}x2" "batched-$cpus")
out="target/blaspar-runs/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
target/release/blaspar backends
for entry in "${ENGINES[@]}"; do
    backend=${entry##*:}
    for s in "${strategies[@]}"; do
        # A strategy a backend cannot run honestly is reported and skipped, not faked.
        target/release/blaspar run --backend "$backend" --strategy "$s" --preset "$preset" \
            --json "$out/$backend-$s.json" || echo "($backend $s: not run, see the line above)"
    done
done
echo "records: $out"
for entry in "${BUILDS[@]}"; do
    for backend in ${entry##*|}; do
        why=$(backend_missing "$backend")
        [ -n "$why" ] && echo "missing backend $backend: $why"
    done
done
BLASPAR_BENCH_WORKLOAD="$preset" cargo bench --locked
echo "criterion report: target/criterion/report/index.html"
