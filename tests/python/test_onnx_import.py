"""`starc import`: PyTorch models exported by torch.onnx.export, imported, and run by starc
must give PyTorch's outputs (docs/onnx.md). The architectures are bench/run's PyTorch side
plus a transformer encoder block, grouped/depthwise 2-D convolutions, a GRU, batch norm
after a dense layer and an embedding."""
import importlib.machinery
import os
import subprocess

import numpy as np
import pytest
import starc
from conftest import ROOT, STARC, run_cli

torch = pytest.importorskip("torch")
nn = torch.nn
onnx = pytest.importorskip("onnx")
import onnx.numpy_helper  # noqa: E402  (from_array, for hand-written models)
BENCH = importlib.machinery.SourceFileLoader("bench_run", os.path.join(ROOT, "bench", "run")).load_module()


class Encoder(nn.Module):  # a transformer encoder block on a sequence of features
    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(6, 32)
        self.enc = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, activation="gelu")
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.enc(self.embed(x)).mean(dim=1))


class Grouped(nn.Module):  # grouped and depthwise 2-D convolutions
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                                  nn.ELU(), nn.Conv2d(8, 16, 3, padding=1, groups=4, bias=False), nn.ReLU(),
                                  nn.ConvTranspose2d(16, 16, 2, stride=2, groups=4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 3), nn.LogSoftmax(dim=1))

    def forward(self, x):
        return self.body(x)


class Gru(nn.Module):  # the last step and the final state of a GRU
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 12, batch_first=True)
        self.head = nn.Linear(12, 1)

    def forward(self, x):
        y, h = self.gru(x)
        return torch.sigmoid(self.head(y[:, -1] + h[0]))


class BatchNormMlp(nn.Module):  # BatchNormalization survives export after a Linear (not fused)
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(7, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Dropout(0.3), nn.Linear(16, 2),
                                  nn.Softmax(dim=-1))

    def forward(self, x):
        return self.body(x)


class Embedding(nn.Module):  # integer tokens through an embedding table
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 8)
        self.head = nn.Linear(8, 2)

    def forward(self, tokens):
        return self.head(self.emb(tokens).mean(dim=1))


class MiscOps(nn.Module):  # Resize, Clip, Pad, padded pools, Where, Concat, ReduceMax, Sqrt, PRelu
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1, stride=2, dilation=1)
        self.prelu = nn.PReLU(6)
        self.head = nn.Linear(6 * 2 + 6, 4)

    def forward(self, x):
        y = nn.functional.relu6(self.conv(x) * 3)
        y = nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        y = nn.functional.pad(y, (1, 0, 2, 1), value=0.5)
        y = nn.functional.max_pool2d(y, 3, stride=2, padding=1)
        y = torch.where(y > 1.0, y, self.prelu(y - 1.0))
        y = nn.functional.avg_pool2d(y, 2)
        pooled = torch.cat([y.amax(dim=(2, 3)), y.mean(dim=(2, 3)), torch.sqrt(y.abs() + 1).sum(dim=(2, 3))], dim=1)
        return self.head(pooled)


# name: (module factory, input shape without the batch, opsets, also on the reference
# backend, batch sizes run: never 2, the exported one, so the batch is seen to stay dynamic)
MODELS = {
    "photoz_mlp": (lambda: BENCH.torch_model("photoz_mlp"), (5,), (13, 17), True, (3, 1)),
    "seed_cnn": (lambda: BENCH.torch_model("seed_cnn"), (1, 4618), (17,), False, (3, 1)),
    "supernova_bilstm": (lambda: BENCH.torch_model("supernova_bilstm"), (40, 13), (13, 17), True, (3, 1)),
    "gw_deepfilter": (lambda: BENCH.torch_model("gw_deepfilter"), (1, 8192), (17,), False, (3,)),
    "star_galaxy": (lambda: BENCH.torch_model("star_galaxy"), (5, 44, 44), (17,), False, (3,)),
    "fnet": (lambda: BENCH.torch_model("fnet"), (1, 4618), (17,), False, (1,)),  # ~40 GFLOP a spectrum
    "grouped_cnn": (Grouped, (4, 12, 12), (13, 17), True, (3, 1)),
    "gru": (Gru, (7, 5), (13, 17), True, (3, 1)),
    "batchnorm_mlp": (BatchNormMlp, (7,), (13, 17), True, (3, 1)),
    "misc_ops": (MiscOps, (3, 8, 8), (13, 17), True, (3, 1)),
}
CASES = [(name, opset) for name, spec in MODELS.items() for opset in spec[2]]


def torch_module(factory):
    torch.manual_seed(0)
    m = factory().eval()
    with torch.no_grad():  # non-trivial running statistics, so that batch norm is checked
        for mod in m.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.running_mean.uniform_(-1, 1)
                mod.running_var.uniform_(0.5, 2)
                mod.weight.uniform_(0.5, 2)
                mod.bias.uniform_(-1, 1)
    return m


def export(m, example, path, opset, dynamic=True):
    axes = {"x": {0: "B"}, "y": {0: "B"}} if dynamic else None
    torch.onnx.export(m, example, path, opset_version=opset, input_names=["x"], output_names=["y"], dynamic_axes=axes)


def import_onnx(path, out_dir, *extra):
    run_cli("import", path, "-o", out_dir, *extra)
    (net,) = [f for f in os.listdir(out_dir) if f.endswith(".net")]
    return os.path.join(out_dir, net), os.path.join(out_dir, "weights.npz")


def assert_close(got, want, what):
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-6)
    assert err < 1e-4, f"{what}: max relative error {err:.3g}"


@pytest.mark.parametrize("name,opset", CASES)
def test_pytorch_models_round_trip(name, opset, tmp_path):
    factory, shape, _, on_ref, batches = MODELS[name]
    m = torch_module(factory)
    path = str(tmp_path / f"{name}.onnx")
    export(m, torch.randn(2, *shape), path, opset)
    net, weights = import_onnx(path, str(tmp_path / "imported"))
    rng = np.random.default_rng(opset)
    for backend in ("jit", "ref") if on_ref else ("jit",):
        s = starc.load(net, backend=backend)
        s.load_weights(weights)
        for batch in batches:
            x = rng.standard_normal((batch, *shape)).astype(np.float32)
            with torch.no_grad():
                want = m(torch.from_numpy(x)).numpy()
            assert_close(s(x), want, f"{name} opset {opset} {backend} batch {batch}")


def test_imported_source_reads_like_a_model(tmp_path):
    m = torch_module(lambda: BENCH.torch_model("seed_cnn"))
    export(m, torch.randn(2, 1, 4618), str(tmp_path / "seed_cnn.onnx"), 17)
    net, _ = import_onnx(str(tmp_path / "seed_cnn.onnx"), str(tmp_path / "out"))
    text = open(net).read()
    assert os.path.basename(net) == "SeedCnn.net" and "model SeedCnn(x: f32[B,1,4618]) -> (y: f32[B,1])" in text
    assert "conv1d(x, out: 16, kernel: 500) as conv1d0  # /0/Conv (Conv)" in text
    assert "maxpool1d(" in text and "flatten(" in text and "dense(" in text and "use std.nn" in text
    params = run_cli("params", net)
    assert "conv1d0.weight" in params and "dense12.bias" in params


def test_a_transformer_block_keeps_a_dynamic_batch(tmp_path):
    m = torch_module(Encoder)
    for opset in (13, 17):
        path = str(tmp_path / f"encoder{opset}.onnx")
        export(m, torch.randn(2, 10, 6), path, opset)
        # torch's attention reshapes [T, B, 32] to [T, B * 4, 8]: imported split as [T, B, 4, 8]
        for extra, batches in (((), (3, 1)), (("--dim", "B=5"), (5,))):
            net, weights = import_onnx(path, str(tmp_path / f"o{opset}{len(extra)}"), *extra)
            s = starc.load(net)
            s.load_weights(weights)
            for batch in batches:
                x = np.random.default_rng(batch).standard_normal((batch, 10, 6)).astype(np.float32)
                with torch.no_grad():
                    want = m(torch.from_numpy(x)).numpy()
                assert_close(s(x), want, f"encoder opset {opset} {extra} batch {batch}")
    text = open(net).read()
    assert "layernorm(" in text and "erf(" in text and "softmax(" in text


def test_a_product_with_the_batch_dim_only_goes_where_it_can_be_split(tmp_path):
    h = onnx.helper
    i64 = lambda name, v: h.make_tensor(name, onnx.TensorProto.INT64, [len(v)], v)
    nodes = [h.make_node("Shape", ["x"], ["s"]), h.make_node("Gather", ["s", "zero"], ["b"], axis=0),
             h.make_node("Mul", ["b", "four"], ["b4"]), h.make_node("Concat", ["b4", "six"], ["t"], axis=0),
             h.make_node("Reshape", ["x", "t"], ["r"], name="merge"),
             h.make_node("ReduceSum", ["r", "zero"], ["y"], keepdims=1, name="sum")]
    path = write_model(tmp_path / "merge.onnx", nodes, [vi("x", ["B", 4, 6])], [vi("y", [1, 6])],
                       [i64("zero", [0]), i64("four", [4]), i64("six", [6])])
    err = import_fails(path, tmp_path)
    assert "node 'sum' (ReduceSum, opset 17): input 0 has a dim that is a product with a symbolic dim" in err, err
    assert "--dim B=N" in err, err


def test_an_embedding_lookup_takes_integer_tokens(tmp_path):
    m = torch_module(Embedding)
    path = str(tmp_path / "embedding.onnx")
    export(m, torch.randint(0, 10, (2, 5)), path, 17)
    net, weights = import_onnx(path, str(tmp_path / "out"))
    s = starc.load(net)
    s.load_weights(weights)
    tokens = np.array([[0, 9, 3, 3, 1], [5, 5, 5, 2, 8], [7, 0, 0, 0, 4]], np.int64)
    with torch.no_grad():
        want = m(torch.from_numpy(tokens)).numpy()
    assert_close(s(tokens), want, "embedding")
    with pytest.raises(starc.DataError, match=r"element \[1, 4\] is 10, outside \[0, 10\)"):
        s(np.array([[0, 1, 2, 3, 4], [5, 6, 7, 8, 10]], np.int64))  # torch: "index out of range in self"


def test_gather_elements_is_take_along_axis(tmp_path):  # torch.gather exported by hand
    h = onnx.helper
    nodes = [h.make_node("GatherElements", ["x", "i"], ["y"], axis=1)]
    i64 = h.make_tensor_value_info("i", onnx.TensorProto.INT64, ["B", 2])
    path = write_model(tmp_path / "gather_elements.onnx", nodes, [vi("x", ["B", 5]), i64], [vi("y", ["B", 2])], [])
    net, weights = import_onnx(path, str(tmp_path / "out"))
    assert "take_along_axis(" in open(net).read()
    x = np.arange(15, dtype=np.float32).reshape(3, 5)
    i = np.array([[4, 0], [1, 1], [3, 2]], np.int64)
    s = starc.load(net)
    assert_close(s(x, i), np.take_along_axis(x, i, axis=1), "GatherElements")


class LstmStates(nn.Module):  # 2 bidirectional layers from given (h0, c0), the final states as outputs
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return y, h, c


class LstmCell(nn.Module):  # zero initial states; only the final cell state (Y_c alone) is used
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 4, batch_first=True)

    def forward(self, x):
        return torch.tanh(self.lstm(x)[1][1][0])


class GruStates(nn.Module):  # a bidirectional GRU from a given h0, its final states as an output
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(5, 3, bidirectional=True, batch_first=True)

    def forward(self, x, h0):
        return self.gru(x, h0)


# name: (module factory, inputs: name -> shape with the batch as "B", output names)
RECURRENT_STATES = {
    "lstm_states": (LstmStates, {"x": ("B", 7, 5), "h0": (4, "B", 6), "c0": (4, "B", 6)}, ["y", "h", "c"]),
    "lstm_cell": (LstmCell, {"x": ("B", 7, 5)}, ["y"]),
    "gru_states": (GruStates, {"x": ("B", 6, 5), "h0": (2, "B", 3)}, ["y", "h"]),
}


@pytest.mark.parametrize("name,opset", [(n, o) for n in RECURRENT_STATES for o in (13, 17)])
def test_recurrent_initial_and_final_states_round_trip(name, opset, tmp_path):
    factory, inputs, outputs = RECURRENT_STATES[name]
    m = torch_module(factory)
    path = str(tmp_path / f"{name}.onnx")
    shape = lambda spec, b: tuple(b if d == "B" else d for d in spec)
    example = tuple(torch.randn(*shape(spec, 2)) for spec in inputs.values())
    axes = {k: {spec.index("B"): "B"} for k, spec in inputs.items()}
    axes.update({o: {0 if o == "y" else 1: "B"} for o in outputs})
    torch.onnx.export(m, example, path, opset_version=opset, input_names=list(inputs), output_names=outputs,
                      dynamic_axes=axes)
    net, weights = import_onnx(path, str(tmp_path / "imported"))
    text = open(net).read()
    assert "return_state: true" in text and ("initial: " in text) == (len(inputs) > 1), text
    rng = np.random.default_rng(opset)
    for backend in ("jit", "ref"):
        s = starc.load(net, backend=backend)
        s.load_weights(weights)
        for batch in (3, 1):
            feed = {k: rng.standard_normal(shape(spec, batch)).astype(np.float32) for k, spec in inputs.items()}
            with torch.no_grad():
                want = m(*[torch.from_numpy(v) for v in feed.values()])
            got = s(**feed)
            want = [want] if len(outputs) == 1 else want
            got = {outputs[0]: got} if len(outputs) == 1 else got
            for o, w in zip(outputs, want):
                assert_close(got[o], w.numpy(), f"{name} {o} opset {opset} {backend} batch {batch}")


class Flips(nn.Module):  # torch.flip exports as Slice with step -1 (end INT64_MIN: past the first element)
    def forward(self, x):
        return torch.flip(x, [1])[:, 1:6:2] * 2 + x.flip(2)[:, 1:4]


def test_a_negative_step_slice_walks_backwards(tmp_path):
    m = Flips()
    path = str(tmp_path / "flips.onnx")
    export(m, torch.randn(2, 7, 5), path, 13)
    net, _ = import_onnx(path, str(tmp_path / "flips"))
    text = open(net).read()
    assert "x[:, 6::-1]" in text and "x[:, :, 4::-1]" in text and "flip(" not in text, text
    x = np.random.default_rng(0).standard_normal((3, 7, 5)).astype(np.float32)
    for backend in ("jit", "ref"):
        assert_close(starc.load(net, backend=backend)(x), m(torch.from_numpy(x)).numpy(), f"flips {backend}")
    # Steps below -1 on several axes, written by hand (torch slices forwards only), against numpy's
    # slicing: ONNX's clamping of start to [0, n - 1] and end to [-1, n - 1] is Python's.
    h = onnx.helper
    consts = {"starts": [-2, 8, 3], "ends": [-100, 0, -9], "axes": [1, 2, -1], "steps": [-2, -3, -1]}
    nodes = [h.make_node("Constant", [], [k], value=h.make_tensor(k, onnx.TensorProto.INT64, [3], v))
             for k, v in consts.items()]
    nodes.append(h.make_node("Slice", ["x", *consts], ["y"], name="slice"))
    path = write_model(tmp_path / "steps.onnx", nodes, [vi("x", ["B", 7, 9, 5])], [vi("y", ["B", 3, 3, 4])])
    net, _ = import_onnx(path, str(tmp_path / "steps"))
    x = np.random.default_rng(1).standard_normal((2, 7, 9, 5)).astype(np.float32)
    want = x[:, -2:-100:-2, 8:0:-3, 3:-9:-1]
    assert want.shape == (2, 3, 3, 4)
    for backend in ("jit", "ref"):
        np.testing.assert_array_equal(starc.load(net, backend=backend)(x), want)
    consts["starts"], consts["ends"] = [0, 0, 0], [3, 3, 3]  # backwards from 0 to 3: nothing
    nodes = [h.make_node("Constant", [], [k], value=h.make_tensor(k, onnx.TensorProto.INT64, [3], v))
             for k, v in consts.items()] + [nodes[-1]]
    path = write_model(tmp_path / "empty.onnx", nodes, [vi("x", ["B", 7, 9, 5])], [vi("y", ["B", 0, 0, 0])])
    assert "node 'slice' (Slice, opset 17): the slice selects nothing" in import_fails(path, tmp_path)


class CumSums(nn.Module):  # torch.cumsum along two axes; the flipped one is a reverse running sum
    def forward(self, x):
        return torch.cumsum(x, 1) + torch.cumsum(x.flip(2), dim=-1).flip(2)


def cumsum_model(tmp_path, name, x, axis, axis_type=onnx.TensorProto.INT64, **flags):
    h = onnx.helper
    dtype = {np.float32: onnx.TensorProto.FLOAT, np.int64: onnx.TensorProto.INT64}[x.dtype.type]
    nodes = [h.make_node("Constant", [], ["axis"], value=h.make_tensor("axis", axis_type, [], [axis])),
             h.make_node("CumSum", ["x", "axis"], ["y"], name="cumsum", **flags)]
    io = [h.make_tensor_value_info(n, dtype, list(x.shape)) for n in ("x", "y")]
    return write_model(tmp_path / f"{name}.onnx", nodes, io[:1], io[1:])


def test_cumsum_is_the_cumsum_op(tmp_path):
    m = CumSums()
    path = str(tmp_path / "cumsum.onnx")
    export(m, torch.randn(2, 7, 5), path, 13)
    net, _ = import_onnx(path, str(tmp_path / "cumsum"))
    assert "cumsum(x, axis: 1)" in open(net).read()
    x = np.random.default_rng(0).standard_normal((3, 7, 5)).astype(np.float32)
    x[1, 2, 3] = np.nan  # NaN (and inf) reach every later sum, as torch's
    x[2, 4, 0] = np.inf
    with torch.no_grad():
        want = m(torch.from_numpy(x)).numpy()
    for backend in ("jit", "ref"):
        np.testing.assert_allclose(starc.load(net, backend=backend)(x), want, rtol=1e-5, atol=1e-5)
    # exclusive and reverse (torch does not write them; ONNX's definition, by numpy), an int32
    # scalar axis, i64 data.
    x = np.random.default_rng(1).standard_normal((2, 6, 3))
    rev = lambda a, ax: np.flip(np.cumsum(np.flip(a, ax), ax), ax)
    cases = {"exclusive": (dict(exclusive=1), lambda a: np.cumsum(a, 1) - a),
             "reverse": (dict(reverse=1), lambda a: rev(a, 1)),
             "both": (dict(exclusive=1, reverse=1), lambda a: rev(a, 1) - a)}
    for name, (flags, want) in cases.items():
        for data in (x.astype(np.float32), np.round(x * 100).astype(np.int64)):
            path = cumsum_model(tmp_path, f"{name}{data.dtype}", data, -2, onnx.TensorProto.INT32, **flags)
            net, _ = import_onnx(path, str(tmp_path / f"{name}{data.dtype}"))
            for backend in ("jit", "ref"):
                got = starc.load(net, backend=backend)(data)
                assert got.dtype == data.dtype, f"{name} {data.dtype} {backend}: {got.dtype}"
                np.testing.assert_allclose(got, want(data), rtol=1e-5, atol=1e-5, err_msg=f"{name} {backend}")
    path = cumsum_model(tmp_path, "axis3", x.astype(np.float32), 3)
    assert "node 'cumsum' (CumSum, opset 17): axis 3 is out of range for rank 3" in import_fails(path, tmp_path)


class TopK(nn.Module):  # the largest along one axis, the smallest along another
    def forward(self, x):
        v, i = torch.topk(x, 3, dim=1)
        w, j = torch.topk(x, 2, largest=False)
        return v, i, w, j


@pytest.mark.parametrize("opset", (13, 17))
def test_topk_is_argsort_slice_and_take_along_axis(opset, tmp_path):
    m = TopK()
    path = str(tmp_path / "topk.onnx")
    outputs = ["v", "i", "w", "j"]
    torch.onnx.export(m, torch.randn(2, 7, 5), path, opset_version=opset, input_names=["x"], output_names=outputs,
                      dynamic_axes={"x": {0: "B"}})
    net, _ = import_onnx(path, str(tmp_path / "topk"))
    assert "argsort(x, axis: 1, descending: true)" in open(net).read()
    rng = np.random.default_rng(opset)
    x = rng.standard_normal((3, 7, 5)).astype(np.float32)
    x[0, 2, 1] = x[1, 4, 4] = np.nan  # NaN is the largest, as torch.topk has it
    ties = np.round(np.nan_to_num(x) * 2) / 2  # many ties: torch leaves their order open, ONNX puts the lower index first
    for backend in ("jit", "ref"):
        s = starc.load(net, backend=backend)
        for data in (x, ties):
            got = s(data)
            with torch.no_grad():
                want = dict(zip(outputs, (t.numpy() for t in m(torch.from_numpy(data)))))
            for o in ("v", "w"):
                np.testing.assert_array_equal(got[o], want[o], err_msg=f"{o} {backend}")
            if data is x:
                for o in ("i", "j"):
                    np.testing.assert_array_equal(got[o], want[o], err_msg=f"{o} {backend}")
            else:  # numpy's stable sort (NaN last) on -x for the largest: the lower index first
                np.testing.assert_array_equal(got["i"], np.argsort(-data, axis=1, kind="stable")[:, :3])
                np.testing.assert_array_equal(got["j"], np.argsort(data, axis=2, kind="stable")[:, :, :2])
    h = onnx.helper
    k = h.make_node("Constant", [], ["k"], value=h.make_tensor("k", onnx.TensorProto.INT64, [1], [6]))
    top = h.make_node("TopK", ["x", "k"], ["v", "i"], name="topk", axis=1)
    i64 = h.make_tensor_value_info("i", onnx.TensorProto.INT64, ["B", 6])
    path = write_model(tmp_path / "k.onnx", [k, top], [vi("x", ["B", 5])], [vi("v", ["B", 6]), i64])
    assert "node 'topk' (TopK, opset 17): k must be one integer in [1, 5] (the axis length), got [6]" in \
        import_fails(path, tmp_path)


def test_an_imported_model_fine_tunes_with_a_train_block(tmp_path):
    m = torch_module(lambda: BENCH.torch_model("photoz_mlp"))
    export(m, torch.randn(2, 5), str(tmp_path / "photoz.onnx"), 17)
    net, weights = import_onnx(str(tmp_path / "photoz.onnx"), str(tmp_path / "out"))
    with open(net, "a") as f:
        f.write("\nuse std.losses\ntrain Photoz(z: f32[B, 1]) {\n    loss = mse(y, z)\n"
                "    optimizer = adam(lr: 1e-3)\n}\n")
    s = starc.load(net)
    s.load_weights(weights)
    rng = np.random.default_rng(0)
    mags = rng.standard_normal((256, 5)).astype(np.float32)
    z = (mags[:, :1] * 0.3 + 0.5).astype(np.float32)
    history = s.fit({"x": mags, "z": z}, epochs=5, batch=32, progress=False)
    assert history[-1]["loss"] < 0.5 * history[0]["loss"], history


# ---------------------------------------------------------------- bad input


def write_model(path, nodes, inputs, outputs, initializers=(), opset=17):
    h = onnx.helper
    graph = h.make_graph(nodes, "g", inputs, outputs, list(initializers))
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    return str(path)


def vi(name, shape):
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)


def import_fails(path, tmp_path):
    out = tmp_path / "never"
    p = subprocess.run([STARC, "import", str(path), "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout + p.stderr
    assert not out.exists(), "a failed import wrote files"
    assert "Traceback" not in p.stderr and "terminate" not in p.stderr
    return p.stderr


def test_bad_files_are_clear_errors_that_write_nothing(tmp_path):
    h = onnx.helper
    relu = [h.make_node("Relu", ["x"], ["y"], name="r")]
    good = write_model(tmp_path / "good.onnx", relu, [vi("x", ["B", 3])], [vi("y", ["B", 3])])
    data = open(good, "rb").read()
    (tmp_path / "truncated.onnx").write_bytes(data[: len(data) // 2])
    assert "truncated or corrupt" in import_fails(tmp_path / "truncated.onnx", tmp_path)
    (tmp_path / "garbage.onnx").write_bytes(b"\xff\x13not a protobuf at all")
    assert "not an ONNX model" in import_fails(tmp_path / "garbage.onnx", tmp_path)
    assert "missing.onnx" in import_fails(tmp_path / "missing.onnx", tmp_path)
    cycle = [h.make_node("Relu", ["b"], ["a"], name="first"), h.make_node("Relu", ["a"], ["b"], name="second")]
    path = write_model(tmp_path / "cycle.onnx", cycle + [h.make_node("Add", ["x", "b"], ["y"])],
                       [vi("x", [3])], [vi("y", [3])])
    assert "cycle" in import_fails(path, tmp_path)
    w = onnx.TensorProto(name="w", data_type=onnx.TensorProto.FLOAT, dims=[3, 4], raw_data=bytes(24))
    path = write_model(tmp_path / "size.onnx", [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
                       [vi("x", ["B", 3])], [vi("y", ["B", 4])], [w])
    assert "initializer 'w': holds 24 bytes of data, but its dims [3,4] of float need 48" in import_fails(path, tmp_path)
    path = write_model(tmp_path / "opset.onnx", relu, [vi("x", [3])], [vi("y", [3])], opset=7)
    assert "opset 7 is not supported: starc imports opsets 11 to 17" in import_fails(path, tmp_path)
    path = write_model(tmp_path / "op.onnx", [h.make_node("Det", ["x"], ["y"], name="det")], [vi("x", [3, 3])],
                       [vi("y", [])])
    assert "node 'det' (Det, opset 17): this operator is not supported" in import_fails(path, tmp_path)
    shapes = [h.make_node("Add", ["x", "z"], ["y"], name="add")]
    path = write_model(tmp_path / "shape.onnx", shapes, [vi("x", [3, 4]), vi("z", [5])], [vi("y", [3, 4])])
    assert "node 'add' (Add, opset 17): add: cannot broadcast f32[3,4] and f32[5]" in import_fails(path, tmp_path)


class BiLstmStates(nn.Module):  # one bidirectional layer: h0 and c0 go to the LSTM node as they are
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 4, bidirectional=True, batch_first=True)

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return y, h, c


def test_an_lstm_given_h0_without_c0_starts_from_a_zero_cell(tmp_path):
    m = torch_module(BiLstmStates)
    path = str(tmp_path / "no_c0.onnx")
    torch.onnx.export(m, (torch.randn(2, 7, 5), torch.randn(2, 2, 4), torch.randn(2, 2, 4)), path, opset_version=17,
                      input_names=["x", "h0", "c0"], output_names=["y", "h", "c"])
    model = onnx.load(path)  # the LSTM's initial_c omitted, as ONNX allows (zeros)
    (lstm,) = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert list(lstm.input)[5:] == ["h0", "c0"]
    lstm.input[6] = ""
    model.graph.input.remove([i for i in model.graph.input if i.name == "c0"][0])
    onnx.save(model, path)
    net, weights = import_onnx(path, str(tmp_path / "imported"))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 5)).astype(np.float32)
    h0 = rng.standard_normal((2, 2, 4)).astype(np.float32)
    with torch.no_grad():
        want = m(torch.from_numpy(x), torch.from_numpy(h0), torch.zeros(2, 2, 4))
    for backend in ("jit", "ref"):
        s = starc.load(net, backend=backend)
        s.load_weights(weights)
        got = s(x=x, h0=h0)
        for o, w in zip(("y", "h", "c"), want):
            assert_close(got[o], w.numpy(), f"no c0 {o} {backend}")


def test_recurrent_states_that_do_not_fit_are_clear_errors(tmp_path):
    h = onnx.helper
    rng = np.random.default_rng(0)
    w = lambda name, *shape: onnx.numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
    lstm = lambda inputs: [h.make_node("LSTM", inputs, ["y", "y_h", "y_c"], name="rnn", hidden_size=4)]
    io = ([vi("x", [5, 2, 3]), vi("h0", [1, 3, 4]), vi("c0", [1, 2, 4])], [vi("y_c", [1, 2, 4])])
    path = write_model(tmp_path / "h0.onnx", lstm(["x", "W", "R", "", "", "h0", "c0"]), *io,
                       [w("W", 1, 16, 3), w("R", 1, 16, 4)])
    assert ("node 'rnn' (LSTM, opset 17): initial state initial_h must be f32[1,2,4], got f32[1,3,4]"
            in import_fails(path, tmp_path))
    f64 = onnx.helper.make_tensor_value_info("c0", onnx.TensorProto.DOUBLE, [1, 2, 4])
    path = write_model(tmp_path / "c0.onnx", lstm(["x", "W", "R", "", "", "", "c0"]), [io[0][0], f64], *io[1:],
                       [w("W", 1, 16, 3), w("R", 1, 16, 4)])
    assert ("node 'rnn' (LSTM, opset 17): initial state initial_c must be f32[1,2,4], got f64[1,2,4]"
            in import_fails(path, tmp_path))
    path = write_model(tmp_path / "p.onnx", lstm(["x", "W", "R", "", "", "", "", "P"]), io[0][:1], io[1],
                       [w("W", 1, 16, 3), w("R", 1, 16, 4), w("P", 1, 12)])
    assert "node 'rnn' (LSTM, opset 17): peephole weights P are not supported" in import_fails(path, tmp_path)


def graph_text(net):
    """`starc graph` without the source locations (the files differ)."""
    return [line.split("  #")[0] for line in run_cli("graph", net).splitlines()]


@pytest.mark.parametrize("name", ["grouped_cnn", "batchnorm_mlp", "supernova_bilstm", "gru"])
def test_import_export_import_is_a_fixed_point(name, tmp_path):
    factory, shape, _, _, _ = MODELS[name]
    m = torch_module(factory)
    export(m, torch.randn(2, *shape), str(tmp_path / "torch.onnx"), 17)
    nets = []
    onnx_file = str(tmp_path / "torch.onnx")
    for generation in range(3):
        net, weights = import_onnx(onnx_file, str(tmp_path / f"g{generation}"), "--name", "M")
        nets.append((net, weights))
        onnx_file = str(tmp_path / f"g{generation}.onnx")
        run_cli("export", net, "-w", weights, "-o", onnx_file)
    assert graph_text(nets[1][0]) == graph_text(nets[2][0])
    w1, w2 = np.load(nets[1][1]), np.load(nets[2][1])
    assert sorted(w1.files) == sorted(w2.files) and all(np.array_equal(w1[k], w2[k]) for k in w1.files)
    s = starc.load(nets[2][0])
    s.load_weights(nets[2][1])
    x = np.random.default_rng(0).standard_normal((3, *shape)).astype(np.float32)
    with torch.no_grad():
        assert_close(s(x), m(torch.from_numpy(x)).numpy(), f"{name} after two round trips")


def test_docs_list_the_operator_table():
    assert run_cli("import", "--ops") in open(os.path.join(ROOT, "docs", "onnx.md")).read()


def doc_block(text, after, fence):
    """The first ```fence block after the line `after` in docs/onnx.md."""
    start = text.index(fence, text.index(after)) + len(fence) + 1
    return text[start:text.index("```", start)]


def test_worked_example_runs_as_written(tmp_path):
    doc = open(os.path.join(ROOT, "docs", "onnx.md")).read()
    section = doc[doc.index("### Worked example: train in PyTorch"):]
    (tmp_path / "train_photoz.py").write_text(doc_block(section, "`train_photoz.py`", "```python"))
    (tmp_path / "predict.c").write_text(doc_block(section, "`predict.c`", "```c"))
    os.symlink(os.path.dirname(os.path.abspath(STARC)), tmp_path / "build")
    outputs = []
    for line in doc_block(section, "The commands:", "```sh").strip().splitlines():
        p = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, f"{line}\n{p.stdout}\n{p.stderr}"
        outputs.append(p.stdout.strip())
    assert len(outputs) == 7 and float(outputs[3]) < 1e-5, outputs  # starc run vs PyTorch
    assert outputs[-1].startswith("z = "), outputs
    x = np.array([[19.2, 18.6, 18.3, 18.1, 18.0]], np.float32) - 18
    s = starc.load(str(tmp_path / "photoz" / "Photoz.net"))
    s.load_weights(str(tmp_path / "photoz" / "weights.npz"))
    assert abs(float(outputs[-1][4:]) - float(s(x)[0, 0])) < 1e-4
    assert "as dense0" in (tmp_path / "photoz" / "Photoz.net").read_text()


def test_python_imports_and_exports_onnx(tmp_path):
    m = torch_module(Grouped)
    export(m, torch.randn(2, 4, 12, 12), str(tmp_path / "g.onnx"), 17)
    s = starc.import_onnx(tmp_path / "g.onnx", tmp_path / "out", name="Grouped", backend="ref")
    assert s.name == "Grouped" and (tmp_path / "out" / "Grouped.net").exists()
    x = np.random.default_rng(1).standard_normal((3, 4, 12, 12)).astype(np.float32)
    with torch.no_grad():
        assert_close(s(x), m(torch.from_numpy(x)).numpy(), "starc.import_onnx")
    s.export_onnx(tmp_path / "again.onnx", batch=3)
    onnx.checker.check_model(onnx.load(str(tmp_path / "again.onnx")), full_check=True)
    again = starc.import_onnx(tmp_path / "again.onnx", tmp_path / "again")
    assert again.inputs[0].shape == (3, 4, 12, 12)
    assert_close(again(x), s(x), "exported with batch=3 and imported again")
    with pytest.raises(starc.DataError, match="not an ONNX model"):
        (tmp_path / "bad.onnx").write_bytes(b"\x00garbage")
        starc.import_onnx(tmp_path / "bad.onnx", tmp_path / "never")
    with pytest.raises(starc.DataError, match="opset"):
        s.export_onnx(tmp_path / "x.onnx", opset=9)


def test_external_data_is_read_from_the_models_folder(tmp_path):
    m = torch_module(lambda: BENCH.torch_model("photoz_mlp"))
    export(m, torch.randn(2, 5), str(tmp_path / "p.onnx"), 17)
    model = onnx.load(str(tmp_path / "p.onnx"))
    (tmp_path / "ext").mkdir()
    onnx.save_model(model, str(tmp_path / "ext" / "p.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "ext" / "weights.bin").stat().st_size > 17000
    s = starc.import_onnx(tmp_path / "ext" / "p.onnx", tmp_path / "out")
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    with torch.no_grad():
        assert_close(s(x), m(torch.from_numpy(x)).numpy(), "external data")
    model = onnx.load(str(tmp_path / "p.onnx"))
    for t in model.graph.initializer:  # data outside the model's folder is refused
        if t.HasField("raw_data"):
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
            del t.external_data[:]
            t.external_data.add(key="location", value="../secret.bin")
    onnx.save_model(model, str(tmp_path / "ext" / "escape.onnx"))
    assert "outside the model's folder" in import_fails(tmp_path / "ext" / "escape.onnx", tmp_path)
