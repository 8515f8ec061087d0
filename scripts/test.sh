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
for c in "${CHECKS[@]}"; do
    # shellcheck disable=SC2046 # cargo_args prints separate words on purpose
    stage "clippy ${c%|}" cargo clippy --release --locked $(cargo_args "$c") --all-targets -- -D warnings
done
stage "clippy root (blis)" cargo clippy --release --locked --all-targets -- -D warnings
stage "clippy root (matrixmultiply)" \
    cargo clippy --release --locked --no-default-features --features matrixmultiply --all-targets -- -D warnings
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
stage "bench smoke (blis)" cargo bench --locked -- --test
stage "bench smoke (matrixmultiply)" \
    cargo bench --locked --no-default-features --features matrixmultiply -- --test
available_engines
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
