#!/usr/bin/env bash
# Criterion baselines named after commits: the second view of `blaspar compare`.
#
#   scripts/bench-baseline.sh save               # bench this checkout, saved as baseline <short HEAD>
#   scripts/bench-baseline.sh compare REV        # bench this checkout against REV's saved baseline
#   scripts/bench-baseline.sh list               # baselines saved so far
#
# Typical use: `git checkout A && scripts/bench-baseline.sh save`, then
# `git checkout B && scripts/bench-baseline.sh compare A`. The suite measures every built
# backend (and always BLIS; see README, "Benchmarks"), so one baseline holds them all, each
# backend x strategy compared only with itself. Criterion keeps each baseline in
# target/criterion/<group>/<backend>/<strategy>/<short sha>/ and its HTML report in
# target/criterion/report/index.html (the report of the last run: see README, "Criterion's view").
# BLASPAR_BENCH_WORKLOAD picks the workload, BENCH_FILTER a criterion filter (a regular
# expression on <group>/<backend>/<strategy>: BENCH_FILTER=mkl, BENCH_FILTER='blis/threads').
source "$(dirname "$0")/lib.sh"

usage() { echo "usage: scripts/bench-baseline.sh save | compare REV | list" >&2; exit 2; }
short() { git rev-parse --verify --quiet --short=10 "$1^{commit}"; }
dirty() { [ -n "$(git status --porcelain --untracked-files=no)" ]; }
# shellcheck disable=SC2086 # BENCH_FILTER may be empty (no filter)
bench() { cargo bench --locked --bench strategies -- ${BENCH_FILTER:-} "$@"; }

[ $# -ge 1 ] || usage
case $1 in
    save)
        [ $# -eq 1 ] || usage
        name=$(short HEAD)
        if dirty; then
            echo "error: the working tree has uncommitted changes: a baseline named after $name would not measure $name; commit or stash first" >&2
            exit 1
        fi
        echo "saving criterion baseline '$name'"
        bench --save-baseline "$name"
        echo "baseline '$name' saved; compare a later commit with: scripts/bench-baseline.sh compare $name" ;;
    compare)
        [ $# -eq 2 ] || usage
        name=$(short "$2") || { echo "error: '$2' is not a commit" >&2; exit 2; }
        if ! compgen -G "target/criterion/*/*/*/$name" >/dev/null; then
            echo "error: no criterion baseline '$name' in target/criterion: check out $2 and run scripts/bench-baseline.sh save" >&2
            exit 1
        fi
        here=$(short HEAD)$(dirty && echo "-dirty" || true)
        echo "comparing this checkout ($here) with criterion baseline '$name'"
        bench --baseline "$name" ;;
    list)
        find target/criterion -mindepth 4 -maxdepth 4 -type d 2>/dev/null \
            | sed 's|.*/||' | grep -Ev '^(base|new|change|report)$' | sort -u || true ;;
    *) usage ;;
esac
