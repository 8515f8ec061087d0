#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this): installs every backend's library
# (scripts/setup.sh), then checks and tests every (package, features), one cargo invocation
# each. One build profile: release; one target dir. Stages are timed; the summary at the
# end says where the time went.
source "$(dirname "$0")/lib.sh"
export BLASPAR_CACHE_DIR="${BLASPAR_CACHE_DIR:-$PWD/target/blaspar-cache}"
# Test runs must not add to results/history.jsonl (runs started through cargo already write
# to target/ by .cargo/config.toml; this covers the front-end runs below).
export BLASPAR_HISTORY="${BLASPAR_HISTORY:-$PWD/target/test-history.jsonl}"

stage "setup (apt, MKL wheels)" scripts/setup.sh
stage "build tools" ensure_build_tools
stage "cargo fmt --check" cargo fmt --all -- --check
stage "no module circle (scripts/module-graph.py)" python3 scripts/module-graph.py
engines_link_no_lab() { # an engine binary links its backend and the engine, never the lab or the plots
    local entry package
    for entry in "${BUILDS[@]}"; do
        package=${entry%%|*}
        if cargo tree --locked -p "$package" -e normal --prefix none | grep -E '^(blaspar-lab|blaspar-plot|plotters) '; then
            echo "error: $package (an engine) depends on the lab, the plots or plotters" >&2
            return 1
        fi
    done
}
stage "engines link no lab (cargo tree)" engines_link_no_lab
bench_links_no_blas() { # the criterion suite measures engines; it links no BLAS library itself
    if cargo tree --locked -p blaspar-bench -e normal,dev --prefix none \
        | grep -E '^(blaspar-(blis|openblas|scipy-openblas|mkl|faer|matrixmultiply|cblas)|blis-src|openblas-src|intel-mkl-src|cblas-sys) '; then
        echo "error: the root package (the criterion suite) depends on a backend" >&2
        return 1
    fi
}
stage "bench links no BLAS (cargo tree)" bench_links_no_blas
for c in "${CHECKS[@]}"; do
    # shellcheck disable=SC2046 # cargo_args prints separate words on purpose
    stage "clippy ${c%|}" cargo clippy --release --locked $(cargo_args "$c") --all-targets -- -D warnings
done
stage "clippy root (criterion suite)" cargo clippy --release --locked --all-targets -- -D warnings
stage "build front end and engines" scripts/build.sh
for c in "${CHECKS[@]}"; do
    # shellcheck disable=SC2046
    stage "test ${c%|}" cargo test --release --locked $(cargo_args "$c")
done
# The conformance tests again on the other two Debian builds of OpenBLAS (the loader picks
# the build; the test checks it got the one it was told).
for v in openmp serial; do
    stage "conformance openblas-$v" env BLASPAR_OPENBLAS_VARIANT="$v" \
        LD_LIBRARY_PATH="$(openblas_dir "$v")" \
        cargo test --release --locked -p blaspar-openblas --test conformance
done
available_engines
bench_smoke() { # every strategy of every built engine once, through the criterion suite
    local log=target/bench-smoke.log entry
    cargo bench --locked -- --test 2>&1 | tee "$log"
    for entry in "${ENGINES[@]}"; do # each engine that can be built here was benched
        if ! grep -q "^Testing [^/]*/${entry##*:}/" "$log"; then
            echo "error: cargo bench did not bench ${entry##*:} (see $log)" >&2
            return 1
        fi
    done
}
stage "bench smoke (every engine, cargo bench -- --test)" bench_smoke
bench_smoke_op() { # an operation beyond gemm through the criterion suite: its own group
    local log=target/bench-smoke-op.log
    BLASPAR_BENCH_OP=svd BLASPAR_BENCH_WORKLOAD=4x64 \
        cargo bench --locked -- --test '/(threads|procs)-[0-9]+$' 2>&1 | tee "$log"
    grep -q "^Testing svd-4x64/" "$log" || { echo "error: no svd-4x64 group (see $log)" >&2; return 1; }
    # A workload file (mixed operations and shapes) through the suite, on BLIS.
    BLASPAR_BENCH_WORKLOAD=examples/mixed.toml \
        cargo bench --locked -- --test 'blis/(threads|procs)-[0-9]+$' 2>&1 | tee "$log"
    grep -q "^Testing file-mixed-[0-9a-f]*/blis/procs-2" "$log" \
        || { echo "error: no file-mixed group (see $log)" >&2; return 1; }
}
stage "bench smoke (svd and a workload file, the threads and procs strategies)" bench_smoke_op
every_engine() { # a refusal (exit status 4: the backend cannot run it honestly) is an answer
    local entry status
    for entry in "${ENGINES[@]}"; do
        target/release/blaspar run --backend "${entry##*:}" --strategy procs --tasks 4 --size 128
        status=0
        target/release/blaspar run --backend "${entry##*:}" --strategy threads --tasks 4 --size 128 || status=$?
        if [ "$status" -ne 0 ] && [ "$status" -ne 4 ]; then return "$status"; fi
    done
}
stage "front end runs every engine" every_engine
stage_summary
echo "all tests passed"
