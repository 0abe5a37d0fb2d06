#!/usr/bin/env python3
"""Held-out accuracy of a supernova classifier, overall and binned by each light curve's
peak S/N (largest flux / error over its epochs and bands) and by its host photo-z
(feature 12): what docs/results.md reports for `--difficulty realistic`.

usage: binned_accuracy.py LC.npy LABEL.npy LOGITS.npy
"""
import sys

import numpy as np


def peak_snr(lc):
    flux, err = lc[:, :, 1:5], lc[:, :, 5:9]
    snr = np.where(err > 0, flux / np.where(err > 0, err, 1), 0)
    return snr.max(axis=(1, 2))


def report(name, values, edges, right):
    print(f"by {name}:")
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (values >= lo) & (values < hi)
        if sel.any():
            print(f"  {lo:g}-{hi:g}: {100 * right[sel].mean():5.1f} % of {sel.sum()}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip())
    lc, label, logits = (np.load(p) for p in sys.argv[1:4])
    right = logits.argmax(axis=1) == label
    print(f"accuracy {100 * right.mean():.1f} % of {len(label)}")
    for c, name in enumerate(["Ia", "II", "Ibc"]):
        print(f"  recall {name}: {100 * right[label == c].mean():.1f} %")
    report("peak S/N", peak_snr(lc), [0, 10, 20, 50, np.inf], right)
    report("host photo-z", lc[:, 0, 12], [0, 0.2, 0.4, 0.6, 0.8, np.inf], right)


if __name__ == "__main__":
    main()
