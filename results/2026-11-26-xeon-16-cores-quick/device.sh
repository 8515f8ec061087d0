#!/usr/bin/env bash
# A quick sweep over all 16 cores of the device's Xeon, six libraries (OpenBLAS cores probed).
set -u
P=/tmp/devpack3; W=/tmp/w3; mkdir -p $W
t0=$(date +%s)
tar -xJf .devpack/devpack3.tar.xz -C /tmp || exit 1
d=/usr/lib/x86_64-linux-gnu/openblas-pthread; mkdir -p $d; rm -f $d/libopenblas.so.0; cp $P/ob/openblas-pthread/libopenblas.so.0 $d/
export LD_LIBRARY_PATH=$P/lib BLASPAR_HISTORY=off BLASPAR_CACHE_DIR=$W/cache
B=$P/bin/blaspar
{ lscpu; nproc; uptime; } > $W/machine.txt 2>&1
$B backends > $W/backends.txt 2>&1
timeout 165 $B sweep --backends blis,openblas-pthread,openblas-scipy,mkl-seq,mkl-iomp,faer --budget 90 --out $W/sweep-16 > $W/sweep.log 2>&1
echo "sweep rc=$? after $(( $(date +%s) - t0 )) s" | tee -a $W/sweep.log
tar -C $W -cf $OUT/res3.tar .
tail -5 $W/sweep.log
