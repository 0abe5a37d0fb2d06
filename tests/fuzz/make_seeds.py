#!/usr/bin/python3
"""Writes the generated seed inputs of the fuzz harnesses into tests/fuzz/corpus/<target>/
(small valid files of every format, kinds the readers handle: dtypes, byte orders, Fortran
order, header versions, compressed npz, FITS images/tables/spectra, CSV quoting) and the
token dictionaries tests/fuzz/<target>.dict. Run with /usr/bin/python3 (numpy, astropy: scripts/setup.sh);
`starc` (optional, argument 1) adds graph texts printed from small stdlib models.
Re-running rewrites the generated seed_* files only; corpus/dsl/seed_features.net is
hand-written, and regression inputs (crash-*, ...) stay."""
import io
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from astropy.io import fits

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def out(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version:
        np.lib.format.write_array(b, a, version=version)
    else:
        np.save(b, a)
    return b.getvalue()


def npy_seeds():
    arrays = {
        "f4_vec": np.arange(4, dtype="<f4"),
        "f8_2x2": np.array([[1.5, -2], [np.inf, np.nan]], dtype="<f8"),
        "be_i2_fortran": np.asfortranarray(np.arange(6, dtype=">i2").reshape(2, 3)),
        "u1": np.arange(5, dtype="u1"),
        "bool": np.array([True, False, True]),
        "f2": np.array([1, 0.5, 65504, -0.0], dtype="<f2"),
        "i8_scalar": np.array(7, dtype="<i8"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "u8_3d": np.arange(8, dtype="<u8").reshape(2, 2, 2),
        "be_f8_fortran3d": np.asfortranarray(np.arange(12, dtype=">f8").reshape(2, 3, 2)),
    }
    for k, a in arrays.items():
        out("npy", k + ".npy", npy_bytes(a))
    out("npy", "v2.npy", npy_bytes(np.arange(3, dtype="<i4"), version=(2, 0)))
    out("npy", "v3.npy", npy_bytes(np.arange(3, dtype="<f4"), version=(3, 0)))
    return arrays


def npz_seeds(arrays):
    b = io.BytesIO()
    np.savez(b, x=arrays["f4_vec"], **{"conv1d0.weight": arrays["f8_2x2"]})
    out("npz", "stored.npz", b.getvalue())
    b = io.BytesIO()
    np.savez_compressed(b, flux=arrays["be_i2_fortran"], mask=arrays["bool"], e=arrays["empty"])
    out("npz", "deflated.npz", b.getvalue())
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:  # a directory entry and a name without .npy
        z.writestr("dir/", b"")
        z.writestr("raw", npy_bytes(arrays["u1"]))
    out("npz", "dir_entry.npz", b.getvalue())


def fits_bytes(hdus):
    b = io.BytesIO()
    fits.HDUList(hdus).writeto(b)
    return b.getvalue()


def fits_seeds():
    img = np.arange(12, dtype=">f4").reshape(3, 4)
    out("fits", "image_f32.fits", fits_bytes([fits.PrimaryHDU(img)]))
    h = fits.PrimaryHDU(np.array([[1, -32768], [3, 4]], dtype=">i2"))
    h.header["BSCALE"], h.header["BZERO"], h.header["BLANK"] = 2.0, 10.0, -32768
    out("fits", "image_i16_scaled.fits", fits_bytes([h]))
    loglam = np.linspace(3.58, 3.6, 8)
    cols = fits.ColDefs([
        fits.Column(name="loglam", format="E", array=loglam),
        fits.Column(name="flux", format="E", array=np.linspace(1, 2, 8)),
        fits.Column(name="ivar", format="E", array=np.ones(8)),
    ])
    out("fits", "spectrum_table.fits", fits_bytes([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols, name="COADD")]))
    spec = fits.PrimaryHDU(np.linspace(0, 1, 6, dtype=">f4"))
    spec.header["COEFF0"], spec.header["COEFF1"] = 3.58, 1e-4
    out("fits", "spectrum_coeff.fits", fits_bytes([spec]))
    spec = fits.PrimaryHDU(np.linspace(0, 1, 6, dtype=">f8").reshape(1, 6))
    spec.header["CRVAL1"], spec.header["CDELT1"], spec.header["CRPIX1"] = 4000.0, 2.0, 1.0
    out("fits", "spectrum_crval.fits", fits_bytes([spec]))
    vec = fits.ColDefs([
        fits.Column(name="flux", format="6D", dim="(3,2)", array=np.arange(12.0).reshape(2, 2, 3)),
        fits.Column(name="z", format="K", array=np.array([1, 2])),
        fits.Column(name="ok", format="L", array=np.array([True, False])),
        fits.Column(name="wave", format="D", array=np.array([4000.0, 4001.0])),
    ])
    out("fits", "vector_table.fits", fits_bytes([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(vec)]))
    ascii_cols = fits.ColDefs([fits.Column(name="flux", format="F8.3", array=np.array([1.5, 2.25]))])
    out("fits", "ascii_table.fits", fits_bytes([fits.PrimaryHDU(), fits.TableHDU.from_columns(ascii_cols)]))


def survey_seeds():
    """Small SDSS spec and DESI coadd files (runtime/io/survey_spectra.cpp), the layout
    `starc simulate spectra --format sdss|desi` writes, a few pixels each."""
    n = 8
    loglam = (3.6 + 1e-4 * np.arange(n)).astype(">f4")
    primary = fits.PrimaryHDU()
    primary.header["PLATEID"] = 4000
    primary.header["COEFF0"] = 3.6
    primary.header["COEFF1"] = 1e-4
    coadd = fits.BinTableHDU.from_columns([
        fits.Column(name="flux", format="E", array=np.linspace(1, 2, n)),
        fits.Column(name="loglam", format="E", array=loglam),
        fits.Column(name="ivar", format="E", array=np.r_[np.ones(n - 1), 0]),
        fits.Column(name="and_mask", format="J", array=np.r_[0, 1 << 23, np.zeros(n - 2, int)]),
    ], name="COADD")
    spall = fits.BinTableHDU.from_columns([
        fits.Column(name="PLATE", format="J", array=[4000]), fits.Column(name="MJD", format="J", array=[55500]),
        fits.Column(name="FIBERID", format="J", array=[1]), fits.Column(name="CLASS", format="6A", array=["QSO"]),
        fits.Column(name="Z", format="E", array=[2.5])], name="SPALL")
    out("fits", "sdss_spec.fits", fits_bytes([primary, coadd, spall]))
    rows = 2
    hdus = [fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="TARGETID", format="K", array=[39627000010000000, 39627000010000001])], name="FIBERMAP")]
    for arm, start in (("B", 3600.0), ("R", 3603.2)):  # 6 pixels each, 2 shared
        hdus.append(fits.ImageHDU(start + 0.8 * np.arange(6), name=arm + "_WAVELENGTH"))
        hdus.append(fits.ImageHDU(np.ones((rows, 6), ">f4"), name=arm + "_FLUX"))
        hdus.append(fits.ImageHDU(np.ones((rows, 6), ">f4"), name=arm + "_IVAR"))
        hdus.append(fits.ImageHDU(np.zeros((rows, 6), np.uint32), name=arm + "_MASK"))
    hdus.append(fits.BinTableHDU.from_columns([
        fits.Column(name="TARGETID", format="K", array=[39627000010000000, 39627000010000001]),
        fits.Column(name="Z", format="D", array=[0.5, 1.5]),
        fits.Column(name="SPECTYPE", format="6A", array=["GALAXY", "QSO"])], name="REDSHIFTS"))
    out("fits", "desi_coadd.fits", fits_bytes(hdus))


def csv_seeds():
    out("csv", "plain.csv", b"flux,z,name\n1.5,0.1,a\n2,3e-2,b\n-inf,nan,c\n")
    out("csv", "quoted.csv", b'# comment\n"flux","z, red"\n\n"1",2\n  3 , "4"\r\n')
    out("csv", "ints.csv", b"id,class\n1,0\n2,1\n3,2\n")
    out("csv", "bom.csv", b"\xef\xbb\xbfflux,z\n1,2\n")
    out("csv", "ragged.csv", b"a,b\n1,2\n3\n")
    out("csv", "light_curves.csv", b"object_id,mjd,band,flux,flux_err,ra,decl\n7,59000.1,g,1.5,0.2,1,0.5\n"
        b"7,59000.2,r,2,0.3,1,0.5\n7,59003,lsstg,2.5,0.2,1,0.5\n8,59001,3,4,1,2,0.1\n")


def weights_bytes(tensors):
    codes = {np.dtype("<f4"): 0, np.dtype("<f8"): 1, np.dtype("<i8"): 2, np.dtype("bool"): 3}
    b = b"STARCWT1" + struct.pack("<Q", len(tensors))
    for name, a in tensors:
        n = name.encode()
        b += struct.pack("<Q", len(n)) + n + struct.pack("<II", codes[a.dtype], a.ndim)
        b += b"".join(struct.pack("<q", d) for d in a.shape)
        data = a.tobytes()
        b += struct.pack("<Q", len(data)) + data
    return b


def weights_seeds():
    out("weights", "two.bin", weights_bytes([("dense0.weight", np.arange(6, dtype="<f4").reshape(2, 3)),
                                             ("dense0.bias", np.zeros(3, dtype="<f8"))]))
    out("weights", "int_bool_scalar.bin", weights_bytes([("step", np.array(5, dtype="<i8")),
                                                         ("mask", np.array([True, False]))]))
    out("weights", "empty.bin", weights_bytes([]))


GRAPH_TEXT = """graph tiny(%0: f32[B,3] "x") symbols(B) {
  %1 = param {dtype=f32, init="zeros", name="w", shape=[3,2], trainable=true} : f32[3,2]
  %2 = matmul(%0, %1) : f32[B,2]  # tiny.net:2:7
  %3 = constant {value=tensor<f32[2]>[0.5,-inf]} : f32[2]
  return %2 "y"
}
"""


def jit_cache_seeds():
    # Objects, not entries: the harness's mutator wraps them in valid entries (BLAKE3).
    out("jit_cache", "elf_like.bin", b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 2)
    out("jit_cache", "header_only.bin", b"STARCJIT\x01" + bytes(87))


def graph_seeds(starc):
    out("graph_text", "handwritten.txt", GRAPH_TEXT.encode())
    if not starc:
        return
    # Small models, the forward graph and its gradient (scan bodies: the LSTM).
    for model, name in [("photoz", ""), ("flare_svm", ""), ("supernova_lstm", "SupernovaGRU"),
                        ("transit_cnn", ""), ("redshift", "")]:
        for emit in ["graph", "grad"]:
            r = subprocess.run([starc, "graph", os.path.join(SRC, "stdlib", "astro", model + ".net"), "--emit", emit]
                               + (["--model", name] if name else []), capture_output=True)
            if r.returncode == 0 and len(r.stdout) < 64 << 10:
                out("graph_text", f"{model}_{emit}.txt", r.stdout)


def onnx_seeds():
    """Small ONNX models that exercise the importer's patterns: built with onnx.helper
    (python3-onnx), so no PyTorch is needed."""
    try:
        import onnx
        from onnx import TensorProto, helper as h
    except ImportError:
        print("make_seeds: python3-onnx is missing, no onnx seeds")
        return

    def init(name, shape, seed=0):
        a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
        return h.make_tensor(name, TensorProto.FLOAT, shape, a.tobytes(), raw=True)

    def model(name, nodes, inputs, outputs, inits, opset=17):
        g = h.make_graph(nodes, name, inputs, outputs, inits)
        out("onnx", name + ".onnx", h.make_model(g, opset_imports=[h.make_opsetid("", opset)]).SerializeToString())

    vi = h.make_tensor_value_info
    f = TensorProto.FLOAT
    model("mlp", [h.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], transB=1, name="/fc/Gemm"),
                  h.make_node("Relu", ["h"], ["r"]), h.make_node("MatMul", ["r", "w2"], ["m"]),
                  h.make_node("Add", ["m", "b2"], ["y"])],
          [vi("x", f, ["B", 5])], [vi("y", f, ["B", 2])],
          [init("fc.weight", [8, 5]), init("fc.bias", [8]), init("w2", [8, 2]), init("b2", [2])])
    shape = [h.make_node("Shape", ["p"], ["s"]), h.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             h.make_node("Unsqueeze", ["n", "zero1"], ["n1"]), h.make_node("Concat", ["n1", "minus1"], ["t"], axis=0),
             h.make_node("Reshape", ["p", "t"], ["y"])]
    ints = lambda name, v: h.make_tensor(name, TensorProto.INT64, [len(v)] if isinstance(v, list) else [], v if isinstance(v, list) else [v])
    model("cnn", [h.make_node("Conv", ["x", "c.weight", "c.bias"], ["c"], pads=[1, 1], strides=[1], name="/c/Conv"),
                  h.make_node("BatchNormalization", ["c", "bn.w", "bn.b", "bn.m", "bn.v"], ["n"], epsilon=1e-5),
                  h.make_node("MaxPool", ["n"], ["p"], kernel_shape=[2], strides=[2])] + shape,
          [vi("x", f, ["B", 2, 8])], [vi("y", f, ["B", 16])],
          [init("c.weight", [4, 2, 3]), init("c.bias", [4]), init("bn.w", [4]), init("bn.b", [4]), init("bn.m", [4]),
           init("bn.v", [4], 1), ints("zero", 0), ints("zero1", [0]), ints("minus1", [-1])])
    model("lstm", [h.make_node("LSTM", ["x", "W", "R", "Bias"], ["y", "h"], hidden_size=3, direction="bidirectional")],
          [vi("x", f, [4, "B", 2])], [vi("y", f, [4, 2, "B", 3])],
          [init("W", [2, 12, 2]), init("R", [2, 12, 3]), init("Bias", [2, 24])], opset=13)
    model("ops", [h.make_node("Softmax", ["x"], ["s"], axis=-1), h.make_node("Slice", ["s", "st", "en", "ax"], ["sl"]),
                  h.make_node("Pad", ["sl", "pads"], ["pd"]), h.make_node("Clip", ["pd", "lo", "hi"], ["y"])],
          [vi("x", f, [2, 6])], [vi("y", f, [2, 5])],
          [ints("st", [1]), ints("en", [4]), ints("ax", [1]), ints("pads", [0, 1, 0, 1]),
           h.make_tensor("lo", f, [], [0.1]), h.make_tensor("hi", f, [], [0.9])])


def dict_file(name, words):
    with open(os.path.join(HERE, name + ".dict"), "w") as f:
        f.write(f"# libFuzzer dictionary of the {name} harness (tests/fuzz/make_seeds.py writes it)\n")
        for w in sorted(set(words)):
            f.write('"' + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c) for c in w) + '"\n')


def dicts(starc):
    lexer = open(os.path.join(SRC, "dsl", "lexer.cpp")).read()
    keywords = re.findall(r'\{"(\w+)", Tok::Kw', lexer)
    punct = re.findall(r"\"'([^'\w]+)'\"", lexer)
    idents = {}
    for root, _, files in os.walk(os.path.join(SRC, "stdlib")):
        for f in files:
            for w in re.findall(r"[A-Za-z_]\w*", open(os.path.join(root, f)).read()):
                idents[w] = idents.get(w, 0) + 1
    common = [w for w, n in idents.items() if n >= 3 and len(w) > 1]
    dict_file("dsl", keywords + punct + common + ["9223372036854775807", "1e308", "0.5", '"', "#", "\n    "])
    ops = []
    if starc:
        r = subprocess.run([starc, "ops"], capture_output=True, text=True)
        ops = re.findall(r"^\| `(\w+)`", r.stdout, re.M)
        ops += [a + "=" for a in re.findall(r"[|;] (\w+): ", r.stdout)]
    dict_file("graph_text", ops + ["graph", "symbols", "return", "param", "input", "f32[", "f64[", "i64[", "bool[",
                                   "tensor<", "null", "inf", "-inf", "nan", "true", "false", "%0", "?0", "{", "}",
                                   "name=", "shape=", "dtype=", "body=", "# x.net:1:1", "\\x00", "9223372036854775807"])
    dict_file("npy", ["\x93NUMPY", "'descr': ", "'fortran_order': ", "'shape': ", "True", "False", "<f4", ">f8", "|b1",
                      "<i8", "<u2", "<f2", "|u1", "(", ")", ",", "{", "}", "9223372036854775807"])
    dict_file("fits", ["SIMPLE  =                    T", "BITPIX  = ", "NAXIS   = ", "NAXIS1  = ", "NAXIS2  = ",
                       "XTENSION= 'BINTABLE'", "XTENSION= 'IMAGE   '", "XTENSION= 'TABLE   '", "PCOUNT  = ",
                       "GCOUNT  = ", "TFIELDS = ", "TTYPE1  = ", "TFORM1  = ", "TDIM1   = ", "BSCALE  = ",
                       "BZERO   = ", "BLANK   = ", "COEFF0  = ", "COEFF1  = ", "CRVAL1  = ", "CDELT1  = ",
                       "CRPIX1  = ", "CTYPE1  = ", "END     ", "'loglam  '", "'flux    '", "'1PE(3)  '", "ZIMAGE  = "])
    dict_file("csv", [",", '"', '""', "#", "\r\n", "nan", "inf", "-inf", "1e308", "\xef\xbb\xbf"])


def main():
    starc = sys.argv[1] if len(sys.argv) > 1 else None
    arrays = npy_seeds()
    npz_seeds(arrays)
    fits_seeds()
    survey_seeds()
    csv_seeds()
    weights_seeds()
    jit_cache_seeds()
    graph_seeds(starc)
    onnx_seeds()
    dicts(starc)


if __name__ == "__main__":
    main()
