#!/usr/bin/env bash
# Builds the front end `blaspar` and every engine binary whose library is installed into
# target/release, and says which are missing and why (scripts/setup.sh installs them).
# Each (package, features) is its own cargo invocation: Cargo unifies features across one
# build, and one binary must link exactly one BLAS library.
source "$(dirname "$0")/lib.sh"
ensure_build_tools
cargo build --release --locked -p blaspar-cli --bin blaspar
built=() missing=()
for entry in "${BUILDS[@]}"; do
    bins=() features=${entry#*|}; features=${features%%|*}
    for backend in ${entry##*|}; do
        why=$(backend_missing "$backend")
        if [ -n "$why" ]; then missing+=("$backend: $why"); else bins+=(--bin "blaspar-engine-$backend"); built+=("$backend"); fi
    done
    [ ${#bins[@]} -eq 0 ] && continue
    cargo build --release --locked -p "${entry%%|*}" ${features:+--features "$features"} "${bins[@]}"
done
echo "built: target/release/blaspar and engines ${built[*]}"
for m in "${missing[@]}"; do echo "not built: $m"; done
exit 0
