#!/usr/bin/env bash
# Installs what every backend needs, and nothing when it is all there (quiet then):
#   - Debian packages: gcc, make, perl, git, pkg-config (BLIS build), libopenblas-dev and
#     the openmp and serial builds of OpenBLAS, libflame-dev (LAPACK over BLIS),
#     python3-venv (for the MKL prefix);
#   - Intel MKL from PyPI (mkl-static, mkl-include, mkl-devel, mkl, intel-openmp) into a
#     virtual-environment prefix, $MKLROOT or .deps/mkl (ignored by git). Never
#     `pip install --target`: it drops lib/.
#   - the current OpenBLAS that NumPy and SciPy ship (PyPI wheel scipy-openblas32: LP64, every
#     symbol prefixed scipy_) into a virtual-environment prefix, $SCIPY_OPENBLAS_PREFIX or
#     .deps/scipy-openblas (ignored by git).
# Exits non-zero, saying what is missing, when something cannot be installed (not root, no
# registry); the backends that are installed still build and run.
source "$(dirname "$0")/lib.sh"
failed=()

apt_packages=(gcc make perl git pkg-config libopenblas-dev libopenblas0-pthread
    libopenblas0-openmp libopenblas0-serial libflame-dev python3-venv)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        failed+=("Debian packages ${missing[*]}: not root; run as root or: apt-get install ${missing[*]}")
    else
        echo "setup: installing ${missing[*]} with apt-get"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
            failed+=("Debian packages ${missing[*]}: apt-get failed (no network or no such package?)")
        elif [[ " ${missing[*]} " == *" libflame-dev "* ]]; then
            # The BLIS crate's build script looks for libflame once; make it look again.
            cargo clean --release -p blaspar-blis >/dev/null 2>&1 || true
        fi
    fi
fi

mkl_wheels=(mkl-static mkl-include mkl-devel mkl intel-openmp)
if [ ! -f "$MKL_PREFIX/lib/libmkl_core.a" ] || [ ! -f "$MKL_PREFIX/lib/libiomp5.so" ] \
    || [ ! -f "$MKL_PREFIX/include/mkl.h" ]; then
    echo "setup: installing Intel MKL (${mkl_wheels[*]}, ~500 MB from PyPI) into $MKL_PREFIX"
    if ! command -v python3 >/dev/null; then
        failed+=("Intel MKL: python3 is missing")
    elif ! { [ -x "$MKL_PREFIX/bin/pip" ] || python3 -m venv "$MKL_PREFIX"; } \
        || ! "$MKL_PREFIX/bin/pip" install -q --disable-pip-version-check --no-deps "${mkl_wheels[@]}"; then
        failed+=("Intel MKL: pip could not install ${mkl_wheels[*]} into $MKL_PREFIX (no network?)")
    elif [ ! -f "$MKL_PREFIX/lib/libmkl_core.a" ]; then
        failed+=("Intel MKL: the wheels installed but $MKL_PREFIX/lib/libmkl_core.a is missing")
    else
        # intel-mkl-src's build script does not re-run when MKL appears after a build that
        # did not find it; its stale output would end in undefined symbols.
        cargo clean --release -p intel-mkl-src >/dev/null 2>&1 || true
    fi
fi

if [ -z "$(scipy_openblas_lib)" ]; then
    echo "setup: installing scipy-openblas32 (~8 MB from PyPI) into $SCIPY_OPENBLAS_PREFIX"
    if ! command -v python3 >/dev/null; then
        failed+=("scipy-openblas32: python3 is missing")
    elif ! { [ -x "$SCIPY_OPENBLAS_PREFIX/bin/pip" ] || python3 -m venv "$SCIPY_OPENBLAS_PREFIX"; }; then
        failed+=("scipy-openblas32: python3 -m venv could not create $SCIPY_OPENBLAS_PREFIX (not writable, or python3-venv missing?)")
    elif ! "$SCIPY_OPENBLAS_PREFIX/bin/pip" install -q --disable-pip-version-check --no-deps scipy-openblas32; then
        failed+=("scipy-openblas32: pip could not install it into $SCIPY_OPENBLAS_PREFIX (no network?)")
    elif [ -z "$(scipy_openblas_lib)" ]; then
        failed+=("scipy-openblas32: the wheel installed but no libscipy_openblas.so is under $SCIPY_OPENBLAS_PREFIX")
    fi
fi

if [ ${#failed[@]} -gt 0 ]; then
    for f in "${failed[@]}"; do echo "setup: error: $f" >&2; done
    exit 1
fi
