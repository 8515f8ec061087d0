#!/usr/bin/env python3
"""Writes a folder of float64 .npy files (no NumPy needed): the input of `sweep --input`.

    python3 make-npy.py DIR

12 pairs A (800 x 600), B (600 x 800), named so that each A is followed by its B (gemm
multiplies them: 12 tasks of 800x600x800), then 4 lone 1000 x 300 matrices (no file after
them has 300 rows: each is multiplied by its own transpose, 1000x300x1000), and a README
that the run ignores. Values: a fixed-seed uniform [0, 1) stream per file.
"""
import array, os, random, sys

def write_npy(path, rows, cols, seed):
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    rng = random.Random(seed)
    data = array.array("d", (rng.random() for _ in range(rows * cols)))
    if sys.byteorder != "little":
        data.byteswap()
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        data.tofile(f)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for i in range(12):
    write_npy(os.path.join(out, "frame-%02d-a.npy" % i), 800, 600, 2 * i)
    write_npy(os.path.join(out, "frame-%02d-b.npy" % i), 600, 800, 2 * i + 1)
for i in range(4):
    write_npy(os.path.join(out, "scan-%02d.npy" % i), 1000, 300, 100 + i)
with open(os.path.join(out, "README.txt"), "w") as f:
    f.write("written by make-npy.py\n")
