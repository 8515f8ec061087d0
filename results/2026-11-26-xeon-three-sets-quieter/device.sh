#!/usr/bin/env bash
# Issue 14 on the device: find the quietest 2-CPU slice (repeated FMA peaks and one fixed
# run per slice), then three quick sweeps with held-out checks on it. Results tarred to $OUT.
set -u
P=/tmp/devpack4; W=/tmp/w4; mkdir -p $W
t0=$(date +%s); stamp() { echo "[$(( $(date +%s) - t0 )) s] $*" | tee -a $W/log.txt; }
pack() { tar -C $W -cf $OUT/res4.tar . ; }
tar -xJf .devpack/devpack4.tar.xz -C /tmp || { echo unpack failed; exit 1; }
for v in openmp pthread serial; do d=/usr/lib/x86_64-linux-gnu/openblas-$v; mkdir -p $d; rm -f $d/libopenblas.so.0; cp $P/ob/openblas-$v/libopenblas.so.0 $d/; done
export LD_LIBRARY_PATH=$P/lib BLASPAR_HISTORY=off BLASPAR_CACHE_DIR=$W/cache
B=$P/bin/blaspar
{ lscpu; echo; lscpu -e; nproc; uname -a; uptime; cat /proc/loadavg; ps -eo pid,pcpu,comm --sort=-pcpu | head -15; } > $W/machine.txt 2>&1
stamp "commit $(cat $P/commit); $(grep 'Model name' $W/machine.txt)"
$B backends > $W/backends.txt 2>&1; stamp "backends done"
best=""; bestcv=999
for pair in 1,2 4,5 7,8 10,11 13,14; do
  pk=""; for i in 1 2 3 4 5; do taskset -c $pair $B peak --seconds 0.3 --json $W/p.json >/dev/null 2>&1; pk="$pk $(grep -o '"all_cores_gflops":[0-9.]*' $W/p.json | cut -d: -f2)"; done
  rs=""; for i in 1 2 3 4 5 6 7 8; do taskset -c $pair $B run -b mkl-seq -s procs-2 -n 16 --size 1000 --json $W/r.json >/dev/null 2>&1; rs="$rs $(grep -o '"seconds_total":[0-9.]*' $W/r.json | head -1 | cut -d: -f2)"; done
  cv=$(echo $rs | awk '{for(i=1;i<=NF;i++){s+=$i;q+=$i*$i}; m=s/NF; printf "%.4f", sqrt(q/NF-m*m)/m}')
  pcv=$(echo $pk | awk '{for(i=1;i<=NF;i++){s+=$i;q+=$i*$i}; m=s/NF; printf "%.4f", sqrt(q/NF-m*m)/m}')
  stamp "slice $pair: peaks$pk (cv $pcv); runs$rs (cv $cv)"
  if awk "BEGIN{exit !($cv < $bestcv)}"; then best=$pair; bestcv=$cv; fi
done
stamp "quietest slice $best (run cv $bestcv)"; pack
for i in 1 2 3; do
  taskset -c $best $B peak --seconds 0.5 --json $W/peak-before-$i.json >/dev/null 2>&1
  stamp "sweep $i start"; timeout 125 taskset -c $best $B sweep --out $W/sweep-$i > $W/sweep-$i.log 2>&1; stamp "sweep $i rc=$?"
  timeout 40 taskset -c $best $B check $W/sweep-$i --runs 10 > $W/check-$i.log 2>&1; stamp "check $i rc=$?: $(tail -2 $W/check-$i.log | tr '\n' ' ')"
  pack
done
stamp done; pack
