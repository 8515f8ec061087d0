#!/usr/bin/env bash
# Builds the front end `blaspar` and every engine binary into target/release.
# Each engine is its own cargo invocation: Cargo unifies features across one build, and
# one binary must link exactly one BLAS library.
source "$(dirname "$0")/lib.sh"
ensure_build_tools
cargo build --release --locked -p blaspar-runner --bin blaspar
for entry in "${ENGINES[@]}"; do
    cargo build --release --locked -p "${entry%%:*}" --bin "blaspar-engine-${entry##*:}"
done
echo "built: target/release/blaspar and engines $(printf '%s ' "${ENGINES[@]##*:}")"
