# Shared by the scripts: strict mode, stage timing, and the one place that lists which
# package builds which engine. Source it; do not run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The engine registry: each backend crate declares its engines in its Cargo.toml
# ([[package.metadata.blaspar.engines]]); scripts/engines.py reads them (and the workspace
# members) for the scripts, as crates/core/build.rs does for the binaries.
# BUILDS: every engine build, "package|features|backends", one cargo invocation each
# (features must not unify across packages; MKL's seq and iomp builds clash). One build may
# make several engines (OpenBLAS: one binary per Debian build, chosen by run path).
mapfile -t BUILDS < <(python3 scripts/engines.py builds)
# CHECKS: every (package|features) for clippy and tests, one invocation each.
mapfile -t CHECKS < <(python3 scripts/engines.py checks)
if [ ${#BUILDS[@]} -eq 0 ] || [ ${#CHECKS[@]} -eq 0 ]; then
    echo "error: scripts/engines.py read no engines (python3 >= 3.11 with tomllib is needed)" >&2
    exit 1
fi
# Where scripts/setup.sh installs MKL (.cargo/config.toml points MKLROOT here by default).
MKL_PREFIX="${MKLROOT:-$PWD/.deps/mkl}"
# Where scripts/setup.sh installs the scipy-openblas32 wheel (a venv; .cargo/config.toml
# points SCIPY_OPENBLAS_PREFIX here by default).
SCIPY_OPENBLAS_PREFIX="${SCIPY_OPENBLAS_PREFIX:-$PWD/.deps/scipy-openblas}"
scipy_openblas_lib() { # the wheel's library under the prefix, or nothing
    { compgen -G "$SCIPY_OPENBLAS_PREFIX/lib/python3*/site-packages/scipy_openblas32/lib/libscipy_openblas.so" || true; } | head -n 1
}

# Why a backend cannot be built or run here (empty when it can): its registry entry's
# `requires` (scripts/engines.py missing).
backend_missing() {
    MKLROOT="$MKL_PREFIX" SCIPY_OPENBLAS_PREFIX="$SCIPY_OPENBLAS_PREFIX" python3 scripts/engines.py missing | sed -n "s/^$1|//p"
}
openblas_dir() { # the folder of one Debian OpenBLAS build
    echo "$(dirname "$(pkg-config --variable=libdir openblas)")/openblas-$1"
}
# "package|features" for a cargo command line: -p package [--features f]
cargo_args() {
    local package=${1%%|*} features=${1#*|}
    echo "-p $package${features:+ --features $features}"
}

# Every engine that can be built here: "package:backend" (filled by available_engines).
ENGINES=()
available_engines() {
    ENGINES=()
    local entry backend
    for entry in "${BUILDS[@]}"; do
        for backend in ${entry##*|}; do
            [ -z "$(backend_missing "$backend")" ] && ENGINES+=("${entry%%|*}:$backend")
        done
    done
    return 0
}

STAGE_LOG=()
stage() { # stage NAME COMMAND...: run a command, time it, stop on failure
    local name=$1; shift
    local start=$SECONDS
    echo "==> $name"
    "$@"
    local took=$((SECONDS - start))
    STAGE_LOG+=("$(printf '%-40s %4d s' "$name" "$took")")
}
stage_summary() {
    echo "==> stage timings"
    printf '  %s\n' "${STAGE_LOG[@]}"
}

# Debian packages the build needs: gcc and make for BLIS (vendored by blis-src).
ensure_build_tools() {
    local missing=()
    command -v gcc >/dev/null || missing+=(gcc)
    command -v make >/dev/null || missing+=(make)
    command -v perl >/dev/null || missing+=(perl)   # BLIS's configure uses it
    command -v git >/dev/null || missing+=(git)
    if [ ${#missing[@]} -eq 0 ]; then return 0; fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
        return 1
    fi
    echo "installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
