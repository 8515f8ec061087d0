# Shared by the scripts: strict mode, stage timing, and the one place that lists which
# package builds which engine. Source it; do not run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Every engine build: "package|features|backends". One cargo invocation each (features must
# not unify across packages; MKL's seq and iomp builds clash). One build may make several
# engines (OpenBLAS: one binary per Debian build, chosen by run path).
BUILDS=(
    "blaspar-blis||blis"
    "blaspar-openblas||openblas-pthread openblas-openmp openblas-serial"
    "blaspar-mkl|seq|mkl-seq"
    "blaspar-mkl|iomp|mkl-iomp"
    "blaspar-faer||faer"
    "blaspar-matrixmultiply||matrixmultiply"
)
# Every (package|features) for clippy and tests, one invocation each.
CHECKS=(
    "blaspar-core|" "blaspar-engine|" "blaspar-lab|" "blaspar-cli|" "blaspar-testkit|" "blaspar-cblas|" "blaspar-matrixmultiply|" "blaspar-faer|"
    "blaspar-blis|" "blaspar-openblas|" "blaspar-mkl|seq" "blaspar-mkl|iomp"
)
# Where scripts/setup.sh installs MKL (.cargo/config.toml points MKLROOT here by default).
MKL_PREFIX="${MKLROOT:-$PWD/.deps/mkl}"
OPENBLAS_VARIANTS=(pthread openmp serial)

# Why a backend cannot be built or run here (empty when it can).
backend_missing() {
    case $1 in
        openblas-*)
            if ! pkg-config --exists openblas 2>/dev/null; then
                echo "OpenBLAS is not installed (libopenblas-dev; run scripts/setup.sh)"
            elif [ ! -e "$(openblas_dir "${1#openblas-}")/libopenblas.so.0" ]; then
                echo "Debian's libopenblas0-${1#openblas-} is not installed (run scripts/setup.sh)"
            fi ;;
        mkl-*)
            if [ ! -f "$MKL_PREFIX/lib/libmkl_core.a" ]; then
                echo "Intel MKL is not installed in $MKL_PREFIX (run scripts/setup.sh)"
            elif [ "$1" = mkl-iomp ] && [ ! -f "$MKL_PREFIX/lib/libiomp5.so" ]; then
                echo "Intel OpenMP (libiomp5.so) is not installed in $MKL_PREFIX (run scripts/setup.sh)"
            fi ;;
    esac
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
