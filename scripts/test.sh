#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). One build profile: release.
# Stages are timed; the summary at the end says where the time went.
source "$(dirname "$0")/lib.sh"
export BLASPAR_CACHE_DIR="${BLASPAR_CACHE_DIR:-$PWD/target/blaspar-cache}"

stage "build tools" ensure_build_tools
stage "cargo fmt --check" cargo fmt --all -- --check
for p in "${PACKAGES[@]}"; do
    stage "clippy $p" cargo clippy --release --locked -p "$p" --all-targets -- -D warnings
done
stage "clippy root (blis)" cargo clippy --release --locked --all-targets -- -D warnings
stage "clippy root (matrixmultiply)" \
    cargo clippy --release --locked --no-default-features --features matrixmultiply --all-targets -- -D warnings
stage "build front end and engines" scripts/build.sh
for p in "${PACKAGES[@]}"; do
    stage "test $p" cargo test --release --locked -p "$p"
done
stage "bench smoke (blis)" cargo bench --locked -- --test
stage "bench smoke (matrixmultiply)" \
    cargo bench --locked --no-default-features --features matrixmultiply -- --test
stage "front end runs an engine" target/release/blaspar run --strategy threads --tasks 4 --size 128
stage_summary
echo "all tests passed"
