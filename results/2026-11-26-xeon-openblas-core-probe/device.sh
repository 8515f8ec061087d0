#!/usr/bin/env bash
# Device check of OpenBLAS's core probe: Debian's 0.3.21 falls back to Prescott on this Xeon.
set -u
P=/tmp/devpack2; W=/tmp/w2; mkdir -p $W
tar -xJf .devpack/devpack2.tar.xz -C /tmp || exit 1
for v in pthread openmp; do d=/usr/lib/x86_64-linux-gnu/openblas-$v; mkdir -p $d; rm -f $d/libopenblas.so.0; cp $P/ob/openblas-$v/libopenblas.so.0 $d/; done
export LD_LIBRARY_PATH=$P/lib BLASPAR_HISTORY=off BLASPAR_CACHE_DIR=$W/cache
B=$P/bin/blaspar
{ lscpu | grep -E 'Model name|^Model:|CPU\(s\)'; } > $W/cpu.txt
( time $B backends ) > $W/backends.txt 2>&1; cat $W/backends.txt
for b in openblas-pthread openblas-openmp openblas-scipy; do
  for k in default auto default auto; do
    taskset -c 1 $B run -b $b -s sequential -n 4 --size 1000 --kernel $k --json $W/seq-$b-$k-$RANDOM.json > $W/seq-$b-$k.txt 2>&1
    echo "$b --kernel $k rc=$?: $(tail -1 $W/seq-$b-$k.txt | cut -c1-150)"
  done
done
taskset -c 1,2 $B run -b openblas-pthread -s procs-2 -n 8 --size 1000 --json $W/procs-pthread.json > $W/procs-pthread.txt 2>&1; echo "procs-2 rc=$?"
taskset -c 1,2 $B run -b openblas-pthread -s threads-2 -n 8 --size 1000 --json $W/threads-pthread.json > $W/threads-pthread.txt 2>&1; echo "threads-2 rc=$?"
cat $W/cache/openblas-core-*.json | head -80
tar -C $W -cf $OUT/res2.tar .
