# Shared by the scripts: strict mode, stage timing, and the one place that lists which
# package builds which engine. Source it; do not run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Every engine: "package:backend". One cargo invocation each (features must not unify).
ENGINES=("blaspar-blis:blis" "blaspar-matrixmultiply:matrixmultiply")
# Every package for clippy and tests, one invocation each.
PACKAGES=(blaspar-core blaspar-runner blaspar-matrixmultiply blaspar-blis)

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
