#!/usr/bin/env python3
"""Held-out QSO/galaxy accuracy in bins of the simulator's per-object S/N.

    snr_bins.py PRED.npy LABEL.npy SNR.npy [EDGES]

PRED.npy is `starc run`'s output of stdlib/astro/qso_galaxy.net ([N, 2] log-probabilities:
galaxy, quasar), LABEL.npy and SNR.npy the test set's `label` and `snr` files of
`starc simulate spectra` (SNR: median per-pixel S/N of each spectrum). EDGES are the bin
edges, comma-separated (default 2,5,10). Prints one line per bin and the total.
Plain Python (no numpy): the .npy files are little-endian f4 / i8, C order.
"""
import ast
import struct
import sys


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"error: {path} is not a .npy file")
    major = data[6]
    header_len = struct.unpack("<H" if major == 1 else "<I", data[8:10] if major == 1 else data[8:12])[0]
    start = (10 if major == 1 else 12) + header_len
    header = ast.literal_eval(data[(10 if major == 1 else 12) : start].decode("latin1"))
    if header["fortran_order"]:
        sys.exit(f"error: {path}: Fortran order is not read here")
    codes = {"<f4": "f", "<i8": "q", "<f8": "d"}
    if header["descr"] not in codes:
        sys.exit(f"error: {path}: dtype {header['descr']} (expected <f4, <f8 or <i8)")
    count = 1
    for d in header["shape"]:
        count *= d
    values = struct.unpack(f"<{count}{codes[header['descr']]}", data[start : start + count * struct.calcsize(codes[header['descr']])])
    return list(values), header["shape"]


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__)
    pred, pshape = read_npy(sys.argv[1])
    labels, _ = read_npy(sys.argv[2])
    snr, _ = read_npy(sys.argv[3])
    edges = [float(e) for e in (sys.argv[4] if len(sys.argv) == 5 else "2,5,10").split(",")]
    n = len(labels)
    if len(pshape) != 2 or pshape[0] != n or pshape[1] != 2 or len(snr) != n:
        sys.exit(f"error: shapes differ: pred {pshape}, {n} labels, {len(snr)} S/N values (expected [N,2], N, N)")
    bounds = [0.0] + edges + [float("inf")]
    print(f"{'S/N bin':>12} {'objects':>8} {'accuracy':>9} {'quasars':>8} {'galaxies':>9}")
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = [i for i in range(n) if lo <= snr[i] < hi]
        right = [int(pred[2 * i + 1] > pred[2 * i]) == labels[i] for i in idx]
        q = [r for i, r in zip(idx, right) if labels[i] == 1]
        g = [r for i, r in zip(idx, right) if labels[i] == 0]
        name = f"< {hi:g}" if lo == 0 else (f"> {lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}")
        pct = lambda xs: f"{100 * sum(xs) / len(xs):.1f} %" if xs else "-"
        print(f"{name:>12} {len(idx):>8} {pct(right):>9} {pct(q):>8} {pct(g):>9}")
    right = [int(pred[2 * i + 1] > pred[2 * i]) == labels[i] for i in range(n)]
    print(f"{'all':>12} {n:>8} {100 * sum(right) / n:.1f} %")


if __name__ == "__main__":
    main()
