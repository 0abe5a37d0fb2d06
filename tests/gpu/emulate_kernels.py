#!/usr/bin/env python3
"""Rewrites the GPU kernel library text (compiler/backend/gpu/gpu_kernels.cpp, as
gpu_kernels_gen prints it) into a plain MLIR module that runs on the CPU, so that CI,
which has no GPU, still checks the kernels' index arithmetic against the C kernels
(tests/gpu/emulate_kernels.sh drives it; see there).

  emulate_kernels.py LIBRARY.mlir [--grid-yz-limit N] > emulated.mlir

The emulation keeps every op of the kernels as written and replaces only the gpu
dialect around them:
  * gpu.func @K -> func.func @emu_thread_K(%ctx, %tid): one GPU thread. Its arguments,
    block ids and grid/block sizes are 8-byte slots of %ctx (the layout below); the
    thread ids are %tid's digits in the block's shape; gpu.barrier calls emu_barrier()
    and gpu.return returns. Workgroup (shared) buffers become memref.globals (blocks run
    one after another), filled with NaN before each block by @emu_poison_K, so that a
    read of shared memory no thread of the block wrote shows in the result.
  * gpu.launch_func -> the arguments stored into a %ctx array and a call of
    emu_launch(kernel id, ctx, grid, block) (tests/gpu/emulate_runtime.c), which runs
    every block's threads as coroutines, switching at each barrier, and calls them back
    through @emu_dispatch.
  * The host functions (the starc_* kernel-library names) are kept and made public, so
    that the test calls them as it calls the C kernels.
--grid-yz-limit N replaces the grid's y/z limit (the constant 65535) by N, which makes
the grid-stride loops run with small sizes; emu_launch then also rejects a launch whose
grid y or z exceeds N (@emu_grid_yz_limit).

Anything this script does not understand (another gpu op, another argument type, a
launch whose arguments do not match the kernel) is an error, not a guess.
"""
import re
import sys

# %ctx slots: block id x y z (written by emu_launch per block), grid size x y z, block
# size x y z (written by emu_launch), then the kernel's arguments in order.
SLOT_BLOCK_ID, SLOT_GRID_DIM, SLOT_BLOCK_DIM, SLOT_ARGS = 0, 3, 6, 9
CUDA_GRID_YZ_LIMIT = 65535
ARG_TYPES = ("index", "i64", "!llvm.ptr")


def fail(msg):
    sys.stderr.write(f"emulate_kernels.py: {msg}\n")
    sys.exit(2)


def split_top(s):
    """Splits 'a: t, b: memref<2x3xf32>, c: (x, y)' at the commas outside brackets."""
    out, depth, cur = [], 0, ""
    for i, ch in enumerate(s):
        if ch in "<([{":
            depth += 1
        elif ch in ")]}" or (ch == ">" and s[i - 1 : i] != "-"):  # not the '>' of '->'
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_params(s):
    params = []
    for p in split_top(s):
        m = re.fullmatch(r"(%[\w$.]+)\s*:\s*(.+?)(\s*\{[^}]*\})?", p)
        if not m:
            fail(f"cannot parse kernel parameter '{p}'")
        name, ty = m.group(1), m.group(2).strip()
        if ty not in ARG_TYPES:
            fail(f"kernel parameter {name} has type {ty}: only {', '.join(ARG_TYPES)} are emulated")
        params.append((name, ty))
    return params


FUNC_RE = re.compile(r"^(\s*)gpu\.func @(\w+)\((.*?)\)\s*(workgroup\((.*?)\))?\s*kernel\s+attributes\s*\{(.*)\}\s*\{\s*$")
LAUNCH_RE = re.compile(
    r"^(\s*)gpu\.launch_func\s+@(\w+)::@(\w+)\s+blocks in \(([^)]*)\)\s+threads in \(([^)]*)\)\s+args\((.*)\)\s*$")
ID_RE = re.compile(r"^(\s*)(%[\w$.]+) = gpu\.(thread_id|block_id|grid_dim|block_dim) ([xyz])\b(.*)$")
NAN = {"f32": "0x7FC00000", "f64": "0x7FF8000000000000", "f16": "0x7E00", "bf16": "0x7FC0"}


def main():
    args = sys.argv[1:]
    limit = None
    if "--grid-yz-limit" in args:
        i = args.index("--grid-yz-limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        fail("usage: emulate_kernels.py LIBRARY.mlir [--grid-yz-limit N]")
    src = open(args[0]).read()
    if limit is not None:
        cap = f"arith.constant {CUDA_GRID_YZ_LIMIT} : index"
        if cap not in src:
            fail(f"--grid-yz-limit: the library has no '{cap}' to replace")
        src = src.replace(cap, f"arith.constant {limit} : index")
    lines = src.split("\n")

    # Pass 1: the kernels, their ids and parameters.
    kernels = {}
    for line in lines:
        m = FUNC_RE.match(line)
        if m:
            kernels[m.group(2)] = {"id": len(kernels), "params": parse_params(m.group(3))}
        elif "gpu.func" in line:
            fail(f"cannot parse kernel header: {line.strip()[:200]}")
    if not kernels:
        fail("no gpu.func in the library")

    out, tail = [], []
    counter = [0]

    def fresh(tag):
        counter[0] += 1
        return f"%emu_{tag}{counter[0]}"

    in_module, module_indent, kernel = False, None, None
    for line in lines:
        s = line.strip()
        if kernel is not None and line.rstrip() == kernel["indent"] + "}":
            out.append(line)
            kernel = None
            continue
        if kernel is None and in_module and line.rstrip() == module_indent + "}":
            in_module = False
            continue
        if s.startswith("gpu.module"):
            if in_module:
                fail("nested gpu.module")
            in_module, module_indent = True, line[: len(line) - len(line.lstrip())]
            continue
        m = FUNC_RE.match(line)
        if m:
            indent, name, _, _, wg, attrs = m.groups()
            bs = re.search(r"known_block_size = array<i32: (\d+), (\d+), (\d+)>", attrs)
            if not bs:
                fail(f"kernel {name} has no known_block_size")
            if re.search(r"\bprivate\(", line):
                fail(f"kernel {name}: private attributions are not emulated")
            kernel = {"indent": indent, "name": name}
            k = kernels[name]
            buffers = []
            for b in split_top(wg or ""):
                bm = re.fullmatch(r"(%[\w$.]+)\s*:\s*memref<(.*), #gpu\.address_space<workgroup>>", b)
                if not bm:
                    fail(f"kernel {name}: cannot parse workgroup buffer '{b}'")
                shape = bm.group(2).split("x")
                if not all(d.isdigit() for d in shape[:-1]) or shape[-1] not in NAN:
                    fail(f"kernel {name}: workgroup buffer {b} is not a static float memref")
                buffers.append((bm.group(1), [int(d) for d in shape[:-1]], shape[-1], "memref<" + bm.group(2) + ">"))
            k["buffers"] = buffers
            for bname, _, _, ty in buffers:
                out.append(f'  memref.global "private" @emu_wg_{name}_{bname[1:]} : {ty} = uninitialized')
            # The poison function: NaN into every workgroup buffer.
            out.append(f"  func.func @emu_poison_{name}() {{")
            out.append("    %c0 = arith.constant 0 : index\n    %c1 = arith.constant 1 : index")
            for bname, dims, et, ty in buffers:
                g, nan = fresh("g"), fresh("nan")
                out.append(f"    {g} = memref.get_global @emu_wg_{name}_{bname[1:]} : {ty}")
                out.append(f"    {nan} = arith.constant {NAN[et]} : {et}")
                ivs = []
                for d in dims:
                    iv, ub = fresh("i"), fresh("ub")
                    out.append(f"    {ub} = arith.constant {d} : index")
                    out.append(f"    scf.for {iv} = %c0 to {ub} step %c1 {{")
                    ivs.append(iv)
                out.append(f"    memref.store {nan}, {g}[{', '.join(ivs)}] : {ty}")
                out.extend(["    }"] * len(dims))
            out.append("    func.return\n  }")
            # The thread function.
            out.append(f"{indent}func.func @emu_thread_{name}(%emu_ctx: !llvm.ptr, %emu_tid: index) {{")
            ind = indent + "  "

            def slot(i, ty, dst):
                p = fresh("p")
                out.append(f"{ind}{p} = llvm.getelementptr %emu_ctx[{i}] : (!llvm.ptr) -> !llvm.ptr, i64")
                if ty == "index":
                    v = fresh("v")
                    out.append(f"{ind}{v} = llvm.load {p} : !llvm.ptr -> i64")
                    out.append(f"{ind}{dst} = arith.index_cast {v} : i64 to index")
                else:
                    out.append(f"{ind}{dst} = llvm.load {p} : !llvm.ptr -> {ty}")

            for base, what in ((SLOT_BLOCK_ID, "bid"), (SLOT_GRID_DIM, "gdim"), (SLOT_BLOCK_DIM, "bdim")):
                for j, d in enumerate("xyz"):
                    slot(base + j, "index", f"%emu_{what}_{d}")
            for j, (pname, ty) in enumerate(k["params"]):
                slot(SLOT_ARGS + j, ty, pname)
            # known_block_size is a promise: a launch with another block size is an error.
            for j, d in enumerate("xyz"):
                c, bad = fresh("c"), fresh("bad")
                out.append(f"{ind}{c} = arith.constant {bs.group(j + 1)} : index")
                out.append(f"{ind}{bad} = arith.cmpi ne, %emu_bdim_{d}, {c} : index")
                out.append(f"{ind}scf.if {bad} {{\n{ind}  func.call @emu_bad_block_size() : () -> ()\n{ind}}}")
            out.append(f"{ind}%emu_c0 = arith.constant 0 : index")
            out.append(f"{ind}%emu_tid_x = arith.remui %emu_tid, %emu_bdim_x : index")
            out.append(f"{ind}%emu_tid_yz = arith.divui %emu_tid, %emu_bdim_x : index")
            out.append(f"{ind}%emu_tid_y = arith.remui %emu_tid_yz, %emu_bdim_y : index")
            out.append(f"{ind}%emu_tid_z = arith.divui %emu_tid_yz, %emu_bdim_y : index")
            for bname, _, _, ty in buffers:
                out.append(f"{ind}{bname} = memref.get_global @emu_wg_{name}_{bname[1:]} : {ty}")
            continue
        if kernel is not None:
            line = line.replace(", #gpu.address_space<workgroup>>", ">")
            m = ID_RE.match(line)
            if m:
                ind, dst, op, d, rest = m.groups()
                if rest.strip() and not rest.strip().startswith("upper_bound"):
                    fail(f"cannot emulate '{s}'")
                src_val = {"thread_id": "tid", "block_id": "bid", "grid_dim": "gdim", "block_dim": "bdim"}[op]
                out.append(f"{ind}{dst} = arith.addi %emu_{src_val}_{d}, %emu_c0 : index")
                continue
            if s == "gpu.barrier":
                out.append(line.replace("gpu.barrier", "func.call @emu_barrier() : () -> ()"))
                continue
            if s == "gpu.return":
                out.append(line.replace("gpu.return", "func.return"))
                continue
        m = LAUNCH_RE.match(line)
        if m:
            ind, mod, name, grid, block, largs = m.groups()
            if name not in kernels:
                fail(f"launch of unknown kernel @{mod}::@{name}")
            grid, block = split_top(grid), split_top(block)
            if len(grid) != 3 or len(block) != 3:
                fail(f"cannot parse launch: {s[:200]}")
            vals = []
            for a in split_top(largs):
                am = re.fullmatch(r"(%[\w$.#]+)\s*:\s*(.+)", a)
                if not am:
                    fail(f"cannot parse launch argument '{a}'")
                vals.append((am.group(1), am.group(2).strip()))
            want = [t for _, t in kernels[name]["params"]]
            if [t for _, t in vals] != want:
                fail(f"launch of @{name} passes ({', '.join(t for _, t in vals)}), the kernel takes ({', '.join(want)})")
            n, ctx, kid = fresh("n"), fresh("ctx"), fresh("kid")
            out.append(f"{ind}{n} = llvm.mlir.constant({SLOT_ARGS + len(vals)} : i64) : i64")
            out.append(f"{ind}{ctx} = llvm.alloca {n} x i64 : (i64) -> !llvm.ptr")
            for j, (v, ty) in enumerate(vals):
                p = fresh("p")
                out.append(f"{ind}{p} = llvm.getelementptr {ctx}[{SLOT_ARGS + j}] : (!llvm.ptr) -> !llvm.ptr, i64")
                if ty == "index":
                    v64 = fresh("v")
                    out.append(f"{ind}{v64} = arith.index_cast {v} : index to i64")
                    v, ty = v64, "i64"
                out.append(f"{ind}llvm.store {v}, {p} : {ty}, !llvm.ptr")
            out.append(f"{ind}{kid} = arith.constant {kernels[name]['id']} : i64")
            out.append(f"{ind}func.call @emu_launch({kid}, {ctx}, {', '.join(grid + block)}) : "
                       "(i64, !llvm.ptr, index, index, index, index, index, index) -> ()")
            continue
        if re.search(r"\bgpu\.", line.replace("#gpu.address_space", "")):
            fail(f"cannot emulate: {s[:200]}")
        if kernel is None and re.match(r"\s*func\.func private @\w+\(.*\{\s*$", line):
            line = line.replace("func.func private @", "func.func @", 1)  # a definition: export it
        out.append(line)
    if in_module or kernel is not None:
        fail("unterminated gpu.module or gpu.func")

    # The dispatcher emu_launch calls back: one thread of kernel `kid`, or (tid < 0) the
    # kernel's poison function.
    tail.append("  func.func @emu_dispatch(%kid: i64, %ctx: !llvm.ptr, %tid: i64) {")
    tail.append("    %k = arith.index_cast %kid : i64 to index\n    %t = arith.index_cast %tid : i64 to index")
    tail.append("    %zero = arith.constant 0 : i64\n    %poison = arith.cmpi slt, %tid, %zero : i64")
    tail.append("    scf.index_switch %k")
    for name, k in kernels.items():
        tail.append(f"    case {k['id']} {{\n      scf.if %poison {{\n        func.call @emu_poison_{name}() : () -> ()")
        tail.append(f"      }} else {{\n        func.call @emu_thread_{name}(%ctx, %t) : (!llvm.ptr, index) -> ()\n      }}")
        tail.append("      scf.yield\n    }")
    tail.append("    default {\n      func.call @emu_bad_kernel_id() : () -> ()\n      scf.yield\n    }")
    tail.append("    func.return\n  }")
    tail.append(f"  func.func @emu_grid_yz_limit() -> i64 {{\n"
                f"    %l = arith.constant {limit if limit is not None else CUDA_GRID_YZ_LIMIT} : i64\n"
                f"    func.return %l : i64\n  }}")
    names = {k["id"]: n for n, k in kernels.items()}
    tail.append(f"  // kernel ids: {', '.join(f'{i} {names[i]}' for i in sorted(names))}")
    tail.append("  func.func private @emu_launch(i64, !llvm.ptr, index, index, index, index, index, index)")
    tail.append("  func.func private @emu_barrier()\n  func.func private @emu_bad_block_size()")
    tail.append("  func.func private @emu_bad_kernel_id()")

    sys.stdout.write("module {\n" + "\n".join(out).rstrip() + "\n" + "\n".join(tail) + "\n}\n")


if __name__ == "__main__":
    main()
