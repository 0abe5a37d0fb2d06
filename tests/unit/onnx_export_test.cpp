// `starc export` (runtime/onnx/onnx_export.h, docs/onnx.md): every stdlib model and a
// model of the ops the stdlib does not use, exported, checked by onnx.checker (one
// python3 process) and run by ONNX Runtime (onnxruntime-node, one node process:
// tests/onnx/ort_run.js) against starc's JIT run of the same weights and inputs; a
// dynamic batch at two sizes; refusals (unknown model, an op without an ONNX equivalent,
// a bad opset or batch) exit 1 without writing a file; the op table in docs/onnx.md.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "compiler/ops/op.h"
#include "runtime/api/starc.h"
#include "runtime/io/npy.h"
#include "runtime/onnx/onnx_export.h"
#include "tests/unit/shell_util.h"

namespace starc::test {
namespace {

namespace fs = std::filesystem;

// ONNX Runtime as scripts/setup.sh installs it (build/ort beside the starc binary), or
// the reason it cannot run.
std::string ort_missing() {
  fs::path pkg = fs::path(STARC_BINARY).parent_path() / "ort" / "node_modules" / "onnxruntime-node";
  if (sh("node --version").code != 0) return "node is not installed (scripts/setup.sh installs it)";
  if (!fs::exists(pkg / "package.json"))
    return pkg.string() + " is missing: scripts/setup.sh installs onnxruntime-node there";
  return "";
}

std::string ort_command(const std::string& jobs) {
  fs::path modules = fs::path(STARC_BINARY).parent_path() / "ort" / "node_modules";
  return "NODE_PATH=" + quote(modules.string()) + " node " +
         quote(std::string(STARC_SOURCE_DIR) + "/tests/onnx/ort_run.js") + " " + quote(jobs);
}

// Deterministic inputs: floats in [-1, 1]; integers in [-1, 5] (one_hot's labels out of
// range included).
Tensor make_input(const api::TensorSpec& s, int64_t batch, int salt) {
  Shape shape;
  for (const std::string& d : s.dims) shape.push_back(std::isdigit(d[0]) ? std::stoll(d) : batch);
  Tensor t(s.dtype, shape);
  for (int64_t i = 0; i < t.size(); ++i)
    t.set(i, is_float(s.dtype) ? std::sin(0.37 * double(i) + salt) : double((i * 5 + salt) % 7 - 1));
  return t;
}

bool is_random(const Node& n) {
  const std::string& op = n.op->name;
  if (op == "random_normal" || op == "random_uniform" || op == "dropout") return true;
  if (op != "scan") return false;
  for (const Node& b : attr_graph(n.attrs, "body").nodes)
    if (is_random(b)) return true;
  return false;
}

// Per output: whether it depends on a random op (ONNX Runtime then draws other numbers).
std::vector<bool> random_outputs(const Graph& g) {
  std::vector<bool> dep(g.nodes.size());
  for (size_t id = 0; id < g.nodes.size(); ++id) {
    dep[id] = is_random(g.nodes[id]);
    for (int in : g.nodes[id].inputs) dep[id] = dep[id] || dep[size_t(in)];
  }
  std::vector<bool> out;
  for (int o : g.outputs) out.push_back(dep[size_t(o)]);
  return out;
}

// max |a - b| / max |a|: the error relative to the output's scale.
double relative_error(const Tensor& a, const Tensor& b) {
  double diff = 0, scale = 1e-30;
  for (int64_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a.get(i) - b.get(i)));
    scale = std::max(scale, std::abs(a.get(i)));
  }
  return diff / scale;
}

// One model run by starc and queued for ONNX Runtime at one batch size.
struct Case {
  std::string label, onnx;
  std::vector<std::string> outputs;  // names
  std::vector<Tensor> expected;
  std::vector<bool> random;
};

class Batch {
 public:
  explicit Batch(const ScratchDir& dir) : dir_(dir) {}

  // Runs `m` (weights set) at `batch` on the JIT and queues the same inputs for `onnx`.
  void add(api::Model& m, const std::string& onnx, int64_t batch) {
    Case c{fmt::format("{} B={}", m.name(), batch), onnx, {}, {}, random_outputs(m.graph())};
    std::vector<Tensor> inputs;
    std::string job = onnx;  // words split at spaces: scratch paths have none
    std::vector<api::TensorSpec> specs = m.inputs();
    for (size_t i = 0; i < specs.size(); ++i) {
      inputs.push_back(make_input(specs[i], batch, int(i)));
      std::string file = dir_.at(fmt::format("{}_{}_in{}.npy", m.name(), batch, i));
      write_npy(file, inputs.back());
      job += " " + specs[i].name + "=" + file;
    }
    c.expected = m.run(inputs);
    job += " --";
    for (const api::TensorSpec& s : m.outputs()) {
      c.outputs.push_back(s.name);
      job += " " + s.name + "=" + out_file(c, s.name);
    }
    jobs_ += job + "\n";
    cases_.push_back(std::move(c));
  }

  // Runs every queued job in one node process and compares; returns the largest error.
  double check() {
    std::ofstream(dir_.at("jobs.txt")) << jobs_;
    ShellResult r = sh(ort_command(dir_.at("jobs.txt")));
    EXPECT_EQ(r.code, 0) << r.out;
    if (r.code != 0) return 1;
    double worst = 0;
    int compared = 0;
    for (const Case& c : cases_) {
      for (size_t i = 0; i < c.outputs.size(); ++i) {
        Tensor got = read_npy(out_file(c, c.outputs[i]));
        EXPECT_EQ(got.shape(), c.expected[i].shape()) << c.label << " " << c.outputs[i];
        if (c.random[i] || got.shape() != c.expected[i].shape())
          continue;  // other random numbers: only the shape can agree
        double err = relative_error(c.expected[i], got);
        EXPECT_LE(err, 1e-4) << c.label << " output " << c.outputs[i];
        worst = std::max(worst, err);
        ++compared;
      }
    }
    std::cout << compared << " outputs of " << cases_.size() << " runs compared; largest relative error " << worst
              << "\n";
    return worst;
  }

 private:
  std::string out_file(const Case& c, const std::string& name) const {
    std::string label = c.label;
    for (char& ch : label) ch = ch == ' ' || ch == '=' ? '_' : ch;
    return dir_.at(label + "_ort_" + name + ".npy");
  }
  const ScratchDir& dir_;
  std::string jobs_;
  std::vector<Case> cases_;
};

// onnx.checker on every file, in one process; "" when all pass.
std::string checker_failures(const std::vector<std::string>& files) {
  std::string cmd = std::string(kPython) + " -c " +
                    quote(
                        "import onnx, sys\nfor f in sys.argv[1:]: onnx.checker.check_model(onnx.load(f), "
                        "full_check=True)");
  for (const std::string& f : files) cmd += " " + quote(f);
  ShellResult r = sh(cmd);
  return r.code == 0 ? "" : r.out;
}

OnnxExportOptions dynamic_batch(bool random_ops = false) {
  OnnxExportOptions o;
  o.random_ops = random_ops;
  return o;
}

// Models whose graphs read the batch at run time (reshape, full inside a Scan body,
// ConstantOfShape): run again at another batch from the same dynamic export.
const std::set<std::string> kSecondBatch = {"PhotozMLP", "SupernovaGRU", "GalaxyUNet", "DeepHiTS"};

TEST(OnnxExport, EveryStdlibModelMatchesOnnxRuntime) {
  if (std::string why = ort_missing(); !why.empty()) GTEST_SKIP() << why;
  if (ShellResult r = python_imports("onnx"); r.code != 0) GTEST_SKIP() << "python3-onnx: " << r.out;
  ScratchDir dir("onnx_export_stdlib");
  Batch batch(dir);
  std::vector<std::string> files;
  std::vector<std::string> dirs;
  for (const auto& e : fs::directory_iterator(std::string(STARC_SOURCE_DIR) + "/stdlib/astro"))
    dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  int models = 0;
  for (const std::string& file : dirs) {
    api::Program p = api::Program::from_file(file);
    for (const std::string& name : p.models()) {
      api::Model m = p.model(name);
      m.init(0);
      std::string onnx = dir.at(name + ".onnx");
      std::vector<bool> drawn = random_outputs(m.graph());
      bool random = std::find(drawn.begin(), drawn.end(), true) != drawn.end();
      if (random) {  // refused by default, naming the op and its line
        try {
          export_onnx(m.graph(), m.weights(), dynamic_batch());
          ADD_FAILURE() << name << ": a model drawing random numbers was exported without random_ops";
        } catch (const OnnxExportError& e) {
          EXPECT_NE(std::string(e.what()).find("random_"), std::string::npos) << e.what();
          EXPECT_NE(std::string(e.what()).find(".net:"), std::string::npos) << e.what();
        }
      }
      export_onnx_file(onnx, m.graph(), m.weights(), dynamic_batch(random));
      files.push_back(onnx);
      batch.add(m, onnx, 2);
      if (kSecondBatch.count(name)) batch.add(m, onnx, 3);
      ++models;
    }
  }
  EXPECT_EQ(models, 24);
  EXPECT_EQ(checker_failures(files), "");
  batch.check();
}

// The ops the stdlib models do not use, in f32 and f64 (ONNX Runtime has f64 kernels for
// these), and integers with starc's rules (x / 0 = 0, one_hot of an out-of-range label).
const char* kOpsSource = R"(use std.nn
model Elementwise(x: f32[B, 6], y: f32[B, 6], k: i64[B, 6]) -> (a: f32[B, 6], b: f32[B, 6], c: f32[B, 6], d: f32[B, 6], e: f32[B, 6]) {
    let a = gelu(x) + gelu(y, approximate: "tanh") + elu(x, alpha: 0.5) + softplus(y) + erf(x) + sin(x) * cos(y)
    let b = rsqrt(abs(x) + 1.0) + sign(y) + pow(abs(x) + 0.5, y) + minimum(x, y) + square(x) + exp(y) - log(abs(y) + 1.0)
    let m = where(x > y, x, y) + cast(x >= y, f32) + cast(x < y, f32) * 2.0 + cast(x <= y, f32) + cast(x == x, f32) + cast(x != y, f32)
    let q = cast(k / (k - 2), f32) + cast(maximum(k, k * 2), f32)
    let s = softmax(x, axis: 1) + layer_norm(y, axes: [-1]) + leaky_relu(x, alpha: 0.2) + neg(sigmoid(y))
    return (a, b, m, q, s)
}
model Reductions(x: f32[B, 4, 6], k: i64[B, 3]) -> (a: f32[B, 4], b: f32[B], c: f32[B, 6], d: f32[B, 3, 5], e: f32[B, 4, 1]) {
    let a = sum(x, axes: [2]) + max(x, axes: [-1]) + min(x, axes: [2]) + logsumexp(x, axes: [2])
    let b = mean(x, axes: [1, 2]) + cast(argmax(sum(x, axes: [1]), axis: 1), f32)
    let c = log_softmax(mean(x, axes: [1]), axis: 1)
    return (a, b, c, one_hot(k, depth: 5), sum(x, axes: [2], keepdims: true))
}
model Shapes(x: f32[B, 2, 6, 6]) -> (a: f32[B, 2, 12, 12], b: f32[B, 2, 6, 6], c: f32[B, 2, 6, 6], d: f32[B, 2, 8, 9], e: f32[B, 3, 3, 2], f: f32[B, 2, 3, 3]) {
    let a = upsample(x, scale: [2])
    let b = rot90(x, k: 1) + rot90(x, k: 2) + rot90(x, k: 3, axes: [2, 3])
    let c = flip(x, axes: [1, 3]) + broadcast_to(reshape(x[:, :, 0:1, :], [B, 2, 1, 6]), [B, 2, 6, 6])
    let d = pad(x, pads: [0, 0, 0, 0, 1, 1, 2, 1], value: 0.5)
    let e = transpose(prim.avgpool2d(x, kernel: [2], padding: [1])[:, :, 0:3, 0:3], perm: [0, 2, 3, 1])[:, :, :, 0:2]
    let f = prim.maxpool2d(x, kernel: [2]) + prim.avgpool2d(x, kernel: [2])
    return (a, b, c, d, e, f)
}
model Seq(x: f32[B, 3, 10]) -> (a: f32[B, 4, 20], b: f32[B, 3, 5], c: f32[B, 3, 10]) {
    param w: [3, 4, 3] = glorot_uniform
    let a = prim.conv_transpose1d(x, w, stride: [2], padding: [1], output_padding: [1])
    let b = prim.avgpool1d(x, kernel: [2]) + prim.maxpool1d(x, kernel: [3], stride: [2], padding: [1])
    let c = batch_norm(x, ones([3]), zeros([3]), zeros([3]) + 0.1, ones([3]) * 2.0, eps: 0.001)
    return (a, b, c)
}
model Grouped(x: f32[B, 4, 6, 6]) -> (a: f32[B, 8, 6, 6], b: f32[B, 4, 12, 12]) {
    let a = x |> depthwise_conv2d(kernel: 3, padding: 1, multiplier: 2) |> conv2d(out: 8, kernel: 3, padding: 1, groups: 4)
    return (a, x |> conv_transpose2d(out: 4, kernel: 2, stride: 2, groups: 2))
}
model Recurrent(x: f32[B, 5, 4]) -> (f: f32[B, 5, 4], r: f32[B, 5, 4]) {
    return (x |> lstm(4) , x |> gru(4, reverse: true))
}
model Scans(x: f32[B, 7]) -> (a: f32[B, 7], b: f32[B, 7], c: f32[B, 3], d: f32[B, 7]) {
    return (cumsum(x, axis: 1), cumsum(x, axis: -1, reverse: true, exclusive: true), x[:, 6:0:-2], x[:, ::-1])
}
model Mlp64(x: f64[B, 5]) -> (y: f64[B, 2]) {
    return x |> dense(8) |> tanh |> dense(2) |> softmax
}
)";

TEST(OnnxExport, OpsOutsideTheStdlibMatchOnnxRuntime) {
  if (std::string why = ort_missing(); !why.empty()) GTEST_SKIP() << why;
  ScratchDir dir("onnx_export_ops");
  api::Program p = api::Program::from_source(kOpsSource, dir.at("ops.net"));
  Batch batch(dir);
  for (const std::string& name : p.models()) {
    api::Model m = p.model(name);
    m.init(1);
    std::string onnx = dir.at(name + ".onnx");
    export_onnx_file(onnx, m.graph(), m.weights(), dynamic_batch());
    batch.add(m, onnx, 3);
  }
  batch.check();
}

// A model over a symbolic length (docs/language.md, "Symbolic lengths") exports with L
// as a dim_param, and ONNX Runtime runs the one file at several lengths as starc does.
TEST(OnnxExport, ASymbolicLengthRunsAtEveryLength) {
  if (std::string why = ort_missing(); !why.empty()) GTEST_SKIP() << why;
  ScratchDir dir("onnx_export_length");
  api::Program p = api::Program::from_source(R"(use std.nn
model Seq(x: f32[B, 2, L]) -> f32[B, 3] {
    h = x |> conv1d(out: 8, kernel: 5, stride: 2) |> relu |> maxpool1d(2)
    return global_avgpool(h) |> dense(3)
}
)",
                                             dir.at("seq.net"));
  api::Model m = p.model();
  m.init(1);
  OnnxExportResult res = export_onnx(m.graph(), m.weights(), dynamic_batch());
  EXPECT_EQ(res.inputs, std::vector<std::string>{"x: f32[B,2,L]"});
  std::ofstream(dir.at("seq.onnx"), std::ios::binary) << res.bytes;
  std::string jobs;
  std::vector<Tensor> expected;
  for (int64_t L : {17, 40}) {
    Tensor x(DType::F32, {3, 2, L});
    for (int64_t i = 0; i < x.size(); ++i) x.set(i, std::sin(0.37 * double(i) + double(L)));
    std::string in = dir.at(fmt::format("x{}.npy", L)), out = dir.at(fmt::format("y{}.npy", L));
    write_npy(in, x);
    jobs += dir.at("seq.onnx") + " x=" + in + " -- output=" + out + "\n";
    expected.push_back(m.run({x})[0]);
  }
  std::ofstream(dir.at("jobs.txt")) << jobs;
  ShellResult r = sh(ort_command(dir.at("jobs.txt")));
  ASSERT_EQ(r.code, 0) << r.out;
  for (int64_t L : {17, 40}) {
    Tensor got = read_npy(dir.at(fmt::format("y{}.npy", L)));
    EXPECT_LE(relative_error(expected[L == 17 ? 0 : 1], got), 1e-5) << "L = " << L;
  }
}

// Refusals exit 1 with the reason and write no file.
TEST(OnnxExport, CliRefusesBadRequestsWithoutWritingAFile) {
  ScratchDir dir("onnx_export_cli");
  const std::string astro = quote(std::string(STARC_SOURCE_DIR) + "/stdlib/astro/");
  const std::string out = " -o " + quote(dir.at("m.onnx"));
  expect_starc_error(dir.path, "export " + astro + "photoz.net -m Nope" + out, "no model 'Nope'");
  expect_starc_error(dir.path, "export " + astro + "galaxy_dcgan.net" + out,
                     "random_normal, " + std::string(STARC_SOURCE_DIR) + "/stdlib/astro/galaxy_dcgan.net:83:13)");
  expect_starc_error(dir.path, "export " + astro + "galaxy_dcgan.net" + out, "with --allow-random it becomes");
  expect_starc_error(dir.path, "export " + astro + "photoz.net --opset 18" + out,
                     "--opset must be between 13 and 17 (ONNX 1.12), got 18");
  expect_starc_error(dir.path, "export " + astro + "photoz.net --opset 12" + out, "got 12");
  expect_starc_error(dir.path, "export " + astro + "photoz.net --batch 0" + out, "--batch 0: expected");
  expect_starc_error(dir.path, "export " + astro + "photoz.net", "-o MODEL.onnx");
  EXPECT_FALSE(fs::exists(dir.at("m.onnx")));
}

// --batch N: every dim static in the file; the ONNX checker's shape inference agrees.
TEST(OnnxExport, FixedBatchHasStaticShapes) {
  ScratchDir dir("onnx_export_fixed");
  ShellResult r =
      run_starc(dir.path.string(), "export " + quote(std::string(STARC_SOURCE_DIR) + "/stdlib/astro/supernova.net") +
                                       " --batch 4 -o sn.onnx");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("input  lc: f32[4,40,13]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("output output: f32[4,3]"), std::string::npos) << r.out;
  api::Program p = api::Program::from_file(std::string(STARC_SOURCE_DIR) + "/stdlib/astro/supernova.net");
  api::Model m = p.model();
  m.init(0);
  OnnxExportOptions o;
  o.batch = 4;
  o.opset = 13;
  OnnxExportResult res = export_onnx(m.graph(), m.weights(), o);
  EXPECT_EQ(res.inputs, std::vector<std::string>{"lc: f32[4,40,13]"});
  EXPECT_GT(res.initializers, 10);
  if (python_imports("onnx").code != 0) GTEST_SKIP() << "python3-onnx is missing: " << python_imports("onnx").out;
  std::ofstream(dir.at("sn13.onnx"), std::ios::binary) << res.bytes;
  EXPECT_EQ(checker_failures({dir.at("sn.onnx"), dir.at("sn13.onnx")}), "");
}

// Every op of `starc ops` is mapped or refused with a reason, and docs/onnx.md holds the
// table as `starc export --ops` prints it.
TEST(OnnxExport, DocsListTheOpTable) {
  std::vector<OnnxOpMapping> table = onnx_op_table();
  EXPECT_GE(table.size(), 70u);
  for (const OnnxOpMapping& m : table) EXPECT_TRUE(!m.onnx.empty() || !m.refused.empty()) << m.op;
  std::ifstream in(std::string(STARC_SOURCE_DIR) + "/docs/onnx.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(onnx_op_table_markdown()), std::string::npos)
      << "docs/onnx.md's op table differs from `starc export --ops`:\n"
      << onnx_op_table_markdown();
}

// docs/onnx.md's "train in starc, serve with ONNX Runtime" lines, as written, in a folder
// that sees the tree's build/, stdlib/ and tests/ (python3: the tests' Python, which has
// numpy).
TEST(OnnxExport, WorkedExampleRunsAsWritten) {
  if (std::string why = ort_missing(); !why.empty()) GTEST_SKIP() << why;
  std::ifstream in(std::string(STARC_SOURCE_DIR) + "/docs/onnx.md");
  std::vector<std::string> commands;
  bool in_block = false;
  for (std::string line; std::getline(in, line);) {
    in_block = in_block || line.rfind("build/starc simulate photoz", 0) == 0;
    if (!in_block) continue;
    if (line.rfind("```", 0) == 0) break;
    commands.push_back(line.rfind("python3 ", 0) == 0 ? std::string(kPython) + line.substr(7) : line);
  }
  ASSERT_EQ(commands.size(), 6u) << "docs/onnx.md's worked example was not found";
  ScratchDir dir("onnx_export_example");
  fs::create_directory_symlink(fs::path(STARC_BINARY).parent_path(), dir.path / "build");
  for (const char* d : {"stdlib", "tests"}) fs::create_directory_symlink(fs::path(STARC_SOURCE_DIR) / d, dir.path / d);
  std::string all;
  for (const std::string& c : commands) {
    ShellResult r = sh("cd " + quote(dir.path.string()) + " && timeout 120 " + c);
    ASSERT_EQ(r.code, 0) << c << "\n" << r.out;
    all += r.out;
  }
  EXPECT_NE(all.find("wrote photoz.onnx: model PhotozMLP, opset 17, 12 nodes, 6 initializers (18.0 KiB)"),
            std::string::npos)
      << all;
  Tensor a = read_npy(dir.at("z_starc.npy")), b = read_npy(dir.at("z_ort.npy"));
  ASSERT_EQ(a.shape(), (Shape{256, 1}));
  ASSERT_EQ(b.shape(), a.shape());
  EXPECT_LE(relative_error(a, b), 1e-4);
}

}  // namespace
}  // namespace starc::test
