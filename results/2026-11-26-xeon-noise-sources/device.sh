#!/usr/bin/env bash
# Where does the run-to-run noise of the device's 2-CPU slice come from? 15 interleaved rounds
# of: one worker on one CPU (sequential, taskset -c 1), threads-2 and procs-2 on CPUs 1,2
# unpinned, threads-2 pinned (--pin cores). Seconds and multiply task-seconds per run.
set -u
P=/tmp/devpack4; W=/tmp/w5; mkdir -p $W
tar -xJf .devpack/devpack4.tar.xz -C /tmp || { echo unpack failed; exit 1; }
export LD_LIBRARY_PATH=$P/lib BLASPAR_HISTORY=off BLASPAR_CACHE_DIR=$W/cache
B=$P/bin/blaspar
$B backends > $W/backends.txt 2>&1
one() { # label cpus args...
  local l=$1 c=$2; shift 2
  taskset -c $c $B run -b mkl-seq --size 1000 "$@" --json $W/r.json >/dev/null 2>>$W/err.txt || { echo "$l failed"; return; }
  echo "$l $(grep -o '"seconds_total": *[0-9.]*' $W/r.json | head -1 | grep -o '[0-9.]*$') $(grep -o '"multiply": *[0-9.]*' $W/r.json | sed -n 2p | grep -o '[0-9.]*$')" >> $W/runs.txt
}
for i in $(seq 1 15); do
  one single 1 -s sequential -n 8
  one threads-2 1,2 -s threads-2 -n 16
  one threads-2-pinned 1,2 -s threads-2 -n 16 --pin cores
  one procs-2 1,2 -s procs-2 -n 16
done
for i in 1 2 3 4 5; do taskset -c 1,2 $B peak --seconds 0.5 | tail -1 >> $W/peaks.txt; done
awk '{s[$1]+=$3; q[$1]+=$3*$3; n[$1]++} END {for (k in s) {m=s[k]/n[k]; printf "%-18s n=%d multiply mean %.4f cv %.3f\n", k, n[k], m, sqrt(q[k]/n[k]-m*m)/m}}' $W/runs.txt
cat $W/peaks.txt; cp $W/runs.txt $W/peaks.txt $OUT/
