#!/usr/bin/python3
"""Weights archives for the .npz tests of AOT libraries (tests/unit/aot_test.cpp), made
from a starc weights file W.npz of the photo-z MLP: usage make_npz.py W.npz OUT_DIR.

Good: stored.npz (numpy.savez) and compressed.npz (numpy.savez_compressed), each with
other values than W.npz. Bad, one fault each: corrupt (flipped bytes in deflated data),
truncated, shape (a transposed weight), dtype (float64), extra (an array the model lacks),
missing (a weight left out), fortran (a Fortran-ordered weight), bomb (a deflated entry
that declares 64 MiB), overlong (an entry whose data runs past the size it declares),
notzip (a zip signature, then garbage), empty (no arrays)."""
import io
import os
import struct
import sys
import zipfile
import zlib

import numpy as np


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def patch_sizes(raw, name, size):
    """Sets the uncompressed size of entry `name` to `size` in its local and central headers."""
    raw = bytearray(raw)
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = raw.find(sig)
        while pos >= 0:
            name_at = pos + (30 if sig == b"PK\x03\x04" else 46)
            n = struct.unpack_from("<H", raw, pos + (26 if sig == b"PK\x03\x04" else 28))[0]
            if raw[name_at:name_at + n] == name.encode():
                struct.pack_into("<I", raw, pos + at, size)
            pos = raw.find(sig, pos + 4)
    return bytes(raw)


def main():
    src, out = sys.argv[1], sys.argv[2]
    w = dict(np.load(src))
    path = lambda name: os.path.join(out, name)
    np.savez(path("stored.npz"), **{k: (v * 1.5).astype(np.float32) for k, v in w.items()})
    np.savez_compressed(path("compressed.npz"), **{k: (v * 0.5 + 0.01).astype(np.float32) for k, v in w.items()})

    raw = open(src, "rb").read()
    with zipfile.ZipFile(src) as z:
        info = max(z.infolist(), key=lambda i: i.compress_size)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    corrupt = bytearray(raw)
    for i in range(start + info.compress_size // 2, start + info.compress_size // 2 + 8):
        corrupt[i] ^= 0x5A
    open(path("corrupt.npz"), "wb").write(bytes(corrupt))
    comp = open(path("compressed.npz"), "rb").read()
    open(path("truncated.npz"), "wb").write(comp[: len(comp) // 2])

    np.savez(path("shape.npz"), **{k: (v.T.copy() if k == "dense0.weight" else v) for k, v in w.items()})
    np.savez(path("dtype.npz"), **{k: v.astype(np.float64) for k, v in w.items()})
    np.savez(path("extra.npz"), **w, **{"extra.thing": np.zeros(3, np.float32)})
    np.savez(path("missing.npz"), **{k: v for k, v in w.items() if k != "dense2.bias"})
    np.savez(path("fortran.npz"), **{k: (np.asfortranarray(v) if k == "dense1.weight" else v) for k, v in w.items()})
    np.savez(path("empty.npz"))

    # A zip bomb: dense0.weight's header, then 64 MiB of zeros, deflated to about 64 KiB.
    header = npy_bytes(w["dense0.weight"])[: -w["dense0.weight"].nbytes]
    with zipfile.ZipFile(path("bomb.npz"), "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in w.items():
            z.writestr(k + ".npy", header + bytes(64 << 20) if k == "dense0.weight" else npy_bytes(v))
    # An entry that declares the right size but whose deflated data holds 1000 bytes more.
    good = npy_bytes(w["dense0.weight"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in w.items():
            z.writestr(k + ".npy", good + bytes(1000) if k == "dense0.weight" else npy_bytes(v))
    open(path("overlong.npz"), "wb").write(patch_sizes(buf.getvalue(), "dense0.weight.npy", len(good)))
    open(path("notzip.npz"), "wb").write(b"PK\x03\x04" + np.random.default_rng(1).bytes(1 << 20))


if __name__ == "__main__":
    main()
