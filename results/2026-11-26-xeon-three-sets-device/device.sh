#!/usr/bin/env bash
# Device run for issue 14: three quick sweeps on a 2-CPU slice, each with its held-out check,
# then one quick sweep over all 16 cores. Everything is tarred into $OUT after each step.
set -u
R=$PWD; P=/tmp/devpack; W=/tmp/w; mkdir -p $W
t0=$(date +%s); stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a $W/log.txt; }
pack() { tar -C $W -cf $OUT/res.tar . ; }
tar -xJf .devpack/devpack.tar.xz -C /tmp || { echo unpack failed; exit 1; }
for v in openmp pthread serial; do d=/usr/lib/x86_64-linux-gnu/openblas-$v; mkdir -p $d
  [ -e $d/libopenblas.so.0 ] && stamp "replacing existing $d/libopenblas.so.0"; cp -f $P/ob/openblas-$v/libopenblas.so.0 $d/; done
export LD_LIBRARY_PATH=$P/lib BLASPAR_HISTORY=off BLASPAR_CACHE_DIR=$W/cache
B=$P/bin/blaspar
{ lscpu; echo; nproc; uname -a; cat /etc/os-release | head -3; free -g; uptime; } > $W/machine.txt 2>&1
stamp "machine: $(grep 'Model name' $W/machine.txt)"
$B backends > $W/backends.txt 2>&1; cat $W/backends.txt
for b in blis openblas-pthread openblas-openmp openblas-serial openblas-scipy mkl-seq mkl-iomp faer matrixmultiply; do
  timeout 60 taskset -c 1,2 $B run -b $b -s procs-2 -n 4 --size 300 > $W/smoke-$b.txt 2>&1; stamp "smoke $b rc=$?: $(tail -1 $W/smoke-$b.txt)"; done
pack
for i in 1 2 3; do
  stamp "sweep $i start"; timeout 130 taskset -c 1,2 $B sweep --out $W/sweep-$i > $W/sweep-$i.log 2>&1; stamp "sweep $i rc=$?"
  timeout 60 taskset -c 1,2 $B check $W/sweep-$i --runs 10 > $W/check-$i.log 2>&1; stamp "check $i rc=$?: $(tail -2 $W/check-$i.log | tr '\n' ' ')"
  pack
done
stamp "sweep-16 start"; timeout 125 $B sweep --out $W/sweep-16 > $W/sweep-16.log 2>&1; stamp "sweep-16 rc=$?"
pack; stamp done; pack
