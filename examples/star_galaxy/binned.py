#!/usr/bin/env python3
"""Held-out star/galaxy accuracy and AUC binned by r magnitude and by S/N.

    binned.py PRED.npy LABEL.npy R_MAG.npy SNR.npy

PRED: the model's scores f32[N,2] (`starc run ... --out pred.npy`); LABEL: i64[N] (0 star,
1 galaxy); R_MAG, SNR: f32[N,1] from `starc simulate star_galaxy`. Standard library only
(no numpy), so it runs wherever the examples do. Prints one table row per bin: the
comparison with Kim & Brunner (2017)'s accuracy falling at faint magnitudes
(docs/simulators.md, "Difficulty"; docs/results.md).
"""
import ast
import struct
import sys

MAG_BINS = [(0, 19), (19, 20), (20, 21), (21, 21.5), (21.5, 22), (22, 99)]
SNR_BINS = [(0, 5), (5, 10), (10, 20), (20, 50), (50, 99999)]


def read_npy(path):
    """The values of a little-endian f32 / i64 / f64 .npy file as a flat list, and its shape."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise SystemExit(f"error: {path}: not a .npy file")
    major = data[6]
    header_len = struct.unpack("<H" if major == 1 else "<I", data[8:10] if major == 1 else data[8:12])[0]
    start = 10 if major == 1 else 12
    header = ast.literal_eval(data[start : start + header_len].decode("latin1"))
    codes = {"<f4": "f", "<i8": "q", "<f8": "d"}
    if header["descr"] not in codes or header["fortran_order"]:
        raise SystemExit(f"error: {path}: dtype {header['descr']} not supported")
    count = 1
    for d in header["shape"]:
        count *= d
    values = struct.unpack(f"<{count}{codes[header['descr']]}", data[start + header_len :])
    return list(values), header["shape"]


def auc(scores, labels):
    """Area under the ROC curve (galaxy = positive) by ranks; None with one class only."""
    pos = sum(labels)
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, i = 0.0, 0
    while i < len(order):  # tied scores share their mean rank
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mean_rank = (i + j) / 2 + 1
        rank_sum += sum(mean_rank for k in range(i, j + 1) if labels[order[k]])
        i = j + 1
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


def table(title, key, bins, rows):
    print(f"{title:>12} {'N':>6} {'stars':>6} {'accuracy':>9} {'AUC':>7}")
    for lo, hi in bins:
        sel = [r for r in rows if lo <= r[key] < hi]
        if not sel:
            continue
        acc = sum(r["right"] for r in sel) / len(sel)
        a = auc([r["score"] for r in sel], [r["label"] for r in sel])
        stars = sum(1 for r in sel if r["label"] == 0)
        name = f"< {hi:g}" if lo == bins[0][0] else f">= {lo:g}" if hi == bins[-1][1] else f"{lo:g}-{hi:g}"
        auc_text = "-" if a is None else f"{a:.3f}"
        print(f"{name:>12} {len(sel):>6} {stars:>6} {100 * acc:>8.1f}% {auc_text:>7}")


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    pred, shape = read_npy(sys.argv[1])
    labels, _ = read_npy(sys.argv[2])
    mags, _ = read_npy(sys.argv[3])
    snrs, _ = read_npy(sys.argv[4])
    n = len(labels)
    if tuple(shape) != (n, 2) or len(mags) != n or len(snrs) != n:
        raise SystemExit(f"error: expected scores [{n}, 2] and {n} magnitudes and S/N values")
    rows = []
    for i in range(n):
        s0, s1 = pred[2 * i], pred[2 * i + 1]
        rows.append({"label": labels[i], "mag": mags[i], "snr": snrs[i], "score": s1 - s0,
                     "right": (s1 > s0) == (labels[i] == 1)})
    overall = sum(r["right"] for r in rows) / n
    print(f"held out: {n} cut-outs, accuracy {100 * overall:.1f}%, "
          f"AUC {auc([r['score'] for r in rows], [r['label'] for r in rows]):.4f}")
    table("r mag", "mag", MAG_BINS, rows)
    table("S/N", "snr", SNR_BINS, rows)


if __name__ == "__main__":
    main()
