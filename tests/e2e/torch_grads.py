#!/usr/bin/env python3
"""Reference gradients for tests/unit/grad_conv_test.cpp (GradConv.MatchesPyTorch).

Usage: torch_grads.py DIR. DIR/cases.txt has one case per line: an op name and its
arguments (comma-separated per spatial dim):
  conv1d|conv2d            stride padding dilation 0 [groups]
  conv_transpose1d|2d      stride padding dilation output_padding [groups]
  maxpool1d|2d|avgpool1d|2d kernel stride padding
Case k reads DIR/c{k}_in{i}.npy (the op's inputs, then dy last) and writes
DIR/c{k}_grad{i}.npy, the gradient of sum(op(inputs) * dy) w.r.t. input i, in float64,
and after them (i = the number of inputs) the op's output itself.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def ints(s):
    v = [int(t) for t in s.split(",")]
    return v[0] if len(v) == 1 else tuple(v)


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "cases.txt")) as f:
        lines = [l.split() for l in f if l.strip()]
    for k, (op, *args) in enumerate(lines):
        ins = []
        i = 0
        while os.path.exists(os.path.join(d, f"c{k}_in{i}.npy")):
            ins.append(torch.from_numpy(np.load(os.path.join(d, f"c{k}_in{i}.npy"))).double())
            i += 1
        *xs, dy = ins
        for x in xs:
            x.requires_grad_(True)
        a = [ints(s) for s in args]
        groups = a[4] if len(a) > 4 else 1
        if op in ("conv1d", "conv2d"):
            y = getattr(F, op)(xs[0], xs[1], stride=a[0], padding=a[1], dilation=a[2], groups=groups)
        elif op in ("conv_transpose1d", "conv_transpose2d"):
            y = getattr(F, op)(xs[0], xs[1], stride=a[0], padding=a[1], dilation=a[2], output_padding=a[3],
                               groups=groups)
        elif op in ("maxpool1d", "maxpool2d"):
            fn = F.max_pool1d if op == "maxpool1d" else F.max_pool2d
            y = fn(xs[0], a[0], stride=a[1], padding=a[2])
        elif op in ("avgpool1d", "avgpool2d"):
            fn = F.avg_pool1d if op == "avgpool1d" else F.avg_pool2d
            y = fn(xs[0], a[0], stride=a[1], padding=a[2], count_include_pad=True)
        else:
            raise SystemExit(f"unknown op {op}")
        grads = torch.autograd.grad((y * dy).sum(), xs)
        for i, g in enumerate(grads):
            np.save(os.path.join(d, f"c{k}_grad{i}.npy"), g.detach().numpy())
        np.save(os.path.join(d, f"c{k}_grad{len(grads)}.npy"), y.detach().numpy())
        print(f"ok   {op} {' '.join(args)}")


if __name__ == "__main__":
    main()
