// tools/starc: `starc compile FILE.net --model M [--weights W.npz] -o DIR`: ahead-of-time
// compilation into a static and a shared library with a C header (docs/aot.md). The
// forward graph is specialised to --batch, lowered to one PIC object (jit.h
// compile_object), wrapped in the generated C API (compiler/aot/aot_api.h) and built
// with the system C compiler and archiver ($CC / $AR, default cc / ar).
#include "tools/starc/compile_cmd.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>

#include "compiler/driver/driver.h"
#include "compiler/train/train_plan.h"
#include "compiler/aot/aot_api.h"
#include "compiler/backend/cpu/jit.h"
#include "compiler/opt/passes.h"
#include "runtime/batch_independence.h"
#include "runtime/init.h"
#include "runtime/io/npy.h"
#include "runtime/io/weights_file.h"
#include "runtime/io/file_io.h"
#include "tools/starc/cli_common.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

using cli::CliError;

struct Options {
  std::string file, model, weights, out, target = "host", batch = "1", entries = "forward";
  ConvAlgo conv_algo = ConvAlgo::Auto;
  Device device = Device::Cpu;
  uint64_t seed = 0;
  int threads = 1;
  bool weights_file = false;
};

// Outputs (the header, CMake and pkg-config files) and the sources of the build: written
// as every output is (runtime/io/file_io.h), never half.
void write_text(const fs::path& p, const std::string& text) { write_file_atomic(p.string(), text); }

// Runs a tool (argv[0] found on PATH); its output is shown only when it fails.
void run_tool(const std::vector<std::string>& argv) {
  std::string cmd;
  for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + cli::shell_quote(a);
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw CliError(fmt::format("cannot run {}", argv[0]));
  std::string output;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  int status = ::pclose(p);
  if (output.size() > 4000) output = output.substr(0, 4000) + "\n...";
  if (status != 0)
    throw CliError(fmt::format("{} failed (exit status {}):\n  {}\n{}", argv[0], WEXITSTATUS(status), cmd, output));
}

std::string tool(const char* env, const char* fallback) {
  const char* v = std::getenv(env);
  return v && *v ? v : fallback;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t comma; (comma = s.find(',', at)) != std::string::npos; at = comma + 1)
    out.push_back(s.substr(at, comma - at));
  out.push_back(s.substr(at));
  return out;
}

// --batch dynamic runs a one-sample kernel per sample, which is right only when the model
// treats the samples of a batch independently (runtime/batch_independence.h).
void check_dynamic_batch(const Graph& g, const TensorMap& params) {
  try {
    check_samples_independent(g, params);
  } catch (const SampleDependenceError& e) {
    throw CliError(cli::error_text(e) + "; compile for a fixed --batch N");
  }
}

// What the library is built for: --batch and --entry.
struct Entries {
  bool dynamic = false;  // --batch dynamic
  int64_t batch = 1;     // the kernel's batch; a dynamic library runs the batch-1 kernel per sample
  bool train = false;    // --entry train_step
};

Entries parse_entries(const Options& o) {
  Entries e;
  e.dynamic = o.batch == "dynamic";
  for (auto& name : split_list(o.entries)) {
    if (name == "train_step")
      e.train = true;
    else if (name != "forward")
      throw CliError(fmt::format("--entry {}: expected forward and/or train_step", name));
  }
  if (!e.dynamic) try {
      size_t used = 0;
      e.batch = std::stoll(o.batch, &used);
      if (used != o.batch.size() || e.batch < 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw CliError(fmt::format("--batch {}: expected a positive integer or 'dynamic'", o.batch));
    }
  if (e.train && e.dynamic)
    throw CliError("--entry train_step needs a fixed --batch (training sees the whole batch at once)");
  return e;
}

// The library's C API (compiler/aot/aot_api.h), the object of each of its kernels and
// the tensors of an instance.
struct AotKernels {
  AotModel m;
  std::vector<std::pair<std::string, std::string>> objects;  // file name, bytes
  std::map<std::string, TensorType> table;                   // the instance's tensors, sorted by name
};

// The model's C API without its kernels yet.
AotModel api_of(const Options& o, const std::string& model, const Graph& g, const Entries& e) {
  AotModel m;
  m.name = model;
  m.batch = e.dynamic ? 0 : e.batch;
  m.embedded_weights = !o.weights_file;
  if (o.threads > 1) m.omp_library = STARC_LIBOMP_PATH;
  m.threads = o.threads;
  m.cuda = o.device == Device::Cuda;
  for (size_t i = 0; i < g.inputs.size(); ++i) m.input_names.push_back(g.input_name(int(i)));
  m.output_names = g.output_names;
  return m;
}

// A kernel's object, through the graph passes and lowering the JIT runs, so the library
// computes what `starc run` does.
std::string kernel_object(const Options& o, const std::string& model, int64_t batch, const Graph& graph,
                          EntrySignature* sig, const std::string& kernel) {
  CompileOptions co;
  co.device = o.device;
  co.passes = OptOptions({}, o.conv_algo);
  co.object = ObjectOptions{model, kernel, o.target, o.threads > 1, o.device};
  Compilation c = compile(graph, std::vector<Dim>(graph.symbols.size(), batch), co, Stage::Object);
  *sig = c.sig;
  return c.object;
}

// --entry train_step: a kernel per step of the model's train block; `params` gains the
// steps' optimizer slots and state, from their initializers.
void add_train_steps(cli::Loaded& l, const Options& o, const std::string& model, int64_t batch, AotKernels& k,
                     TensorMap& params) {
  std::optional<TrainPlan> plan = l.prog.build_train(model);
  if (!plan) cli::fail_with_diags(l.diags);
  k.m.metric_names = plan->metric_names;
  for (auto& st : plan->steps) {
    AotStep a;
    a.function = model + (plan->steps.size() == 1 ? "_train_step" : "_train_step_" + st.name);
    a.kernel = a.function + "_kernel";
    a.data_inputs = st.data_inputs;
    a.output_names = st.graph.output_names;
    a.n_metrics = st.n_metrics;
    k.objects.emplace_back(a.kernel + ".o", kernel_object(o, model, batch, st.graph, &a.sig, a.kernel));
    for (size_t i = 0; i < a.sig.param_names.size(); ++i) k.table[a.sig.param_names[i]] = a.sig.param_types[i];
    for (auto& [name, t] : init_params(st.graph, o.seed))
      if (!params.count(name)) params[name] = t;
    k.m.steps.push_back(std::move(a));
  }
}

AotKernels compile_kernels(cli::Loaded& l, const Options& o, const std::string& model, const Graph& g, const Entries& e,
                           TensorMap& params) {
  AotKernels k;
  k.m = api_of(o, model, g, e);
  k.objects.emplace_back(model + "_kernel.o", kernel_object(o, model, e.batch, g, &k.m.sig, model + "_kernel"));
  for (size_t i = 0; i < k.m.sig.param_names.size(); ++i) k.table[k.m.sig.param_names[i]] = k.m.sig.param_types[i];
  if (e.train) add_train_steps(l, o, model, e.batch, k, params);
  for (auto& [name, t] : k.table) k.m.param_names.push_back(name), k.m.param_types.push_back(t);
  return k;
}

// The output folder (absolute) and a scratch folder in it for the build, removed with
// this object on every way out.
struct BuildDirs {
  fs::path dir, work;
  BuildDirs(const std::string& out) : dir(out) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw CliError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    dir = fs::absolute(dir);
    fs::path w = dir / fmt::format(".starc-build-{}", ::getpid());
    fs::create_directories(w, ec);
    if (ec) throw CliError(fmt::format("cannot create {}: {}", w.string(), ec.message()));
    work = w;
  }
  BuildDirs(const BuildDirs&) = delete;
  ~BuildDirs() {
    std::error_code e;
    if (!work.empty()) fs::remove_all(work, e);
  }
};

// The files a build starts from.
struct Sources {
  fs::path blob;                  // the weights
  std::string header;             // DIR/M.h
  std::vector<std::string> objs;  // the objects to link, the kernels' so far
};

// The weights (DIR/M.weights with --weights-file, else a scratch file the assembly
// embeds), the header, the API's C source and the kernels' objects.
Sources write_sources(const AotKernels& k, const TensorMap& params, const BuildDirs& d) {
  const std::string& model = k.m.name;
  Sources s;
  NamedTensors weights;
  for (auto& name : k.m.param_names) weights.emplace_back(name, params.at(name));
  s.blob = k.m.embedded_weights ? d.work / (model + ".weights") : d.dir / (model + ".weights");
  write_weights_file(s.blob.string(), weights);
  s.header = aot_header(k.m);
  write_text(d.dir / (model + ".h"), s.header);
  write_text(d.work / (model + "_api.c"), aot_source(k.m));
  for (auto& [file, bytes] : k.objects) {
    s.objs.push_back((d.work / file).string());
    std::ofstream f(s.objs.back(), std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
    if (!f.flush()) throw CliError("cannot write " + s.objs.back());
  }
  return s;
}

// The C API and the embedded weights, compiled with $CC into `objs`.
void compile_api(const AotModel& m, const BuildDirs& d, const fs::path& blob, std::vector<std::string>& objs) {
  std::string cc = tool("CC", "cc");
  objs.push_back((d.work / (m.name + "_api.o")).string());
  run_tool({cc, "-std=c11", "-O2", "-fPIC", "-fvisibility=hidden", "-I", d.dir.string(), "-c",
            (d.work / (m.name + "_api.c")).string(), "-o", objs.back()});
  if (m.embedded_weights) {
    write_text(d.work / (m.name + "_weights.S"), aot_weights_asm(m, blob.string()));
    objs.push_back((d.work / (m.name + "_weights.o")).string());
    run_tool({cc, "-c", (d.work / (m.name + "_weights.S")).string(), "-o", objs.back()});
  }
}

// The kernel library (matmul, convolutions) under this model's prefix, compiled into
// `objs`. With --threads the library links libomp, and the kernels share its pool
// (-fopenmp: gcc's GOMP_* calls, which libomp implements); without, they run on one thread.
void compile_kernel_library(const AotModel& m, const BuildDirs& d, std::vector<std::string>& objs) {
  std::vector<std::string> kernel_sources = {"starc_kernels", "starc_fft_conv"};
  if (m.cuda) kernel_sources.push_back("starc_cuda");  // the driver-API runtime of the GPU kernels
  for (const std::string& src : kernel_sources) {
    objs.push_back((d.work / (m.name + "_" + src + ".o")).string());
    std::vector<std::string> cmd = {tool("CC", "cc"),
                                    "-std=c11",
                                    "-O3",
                                    "-ffp-contract=fast",
                                    "-fPIC",
                                    "-fvisibility=hidden",
                                    "-DSTARC_KERNEL_PREFIX=" + m.name + "_",
                                    "-I",
                                    STARC_OPENBLAS_INCLUDE,
                                    "-c",
                                    std::string(STARC_KERNELS_DIR) + "/" + src + ".c",
                                    "-o",
                                    objs.back()};
    if (!m.omp_library.empty()) cmd.insert(cmd.begin() + 1, "-fopenmp");
    run_tool(cmd);
  }
}

// `objs` with OpenBLAS and FFTW linked in statically: one relocatable object in which
// only the functions the header declares stay global. Returns its path.
std::string link_one_object(const std::string& model, const BuildDirs& d, const std::vector<std::string>& objs,
                            const std::string& header) {
  std::string all = (d.work / (model + ".o")).string(), keep = (d.work / "api.txt").string();
  std::vector<std::string> ld_cmd = {tool("LD", "ld"), "-r", "-o", all};
  ld_cmd.insert(ld_cmd.end(), objs.begin(), objs.end());
  for (const char* lib : {STARC_OPENBLAS_STATIC, STARC_FFTW3F_STATIC, STARC_FFTW3_STATIC}) ld_cmd.push_back(lib);
  run_tool(ld_cmd);
  std::string api;  // the functions the header declares
  std::regex decl("\\b(" + model + "_[A-Za-z0-9_]+)\\(");
  for (auto it = std::sregex_iterator(header.begin(), header.end(), decl); it != std::sregex_iterator(); ++it)
    api += (*it)[1].str() + "\n";
  write_text(keep, api);
  run_tool({tool("OBJCOPY", "objcopy"), "--keep-global-symbols=" + keep, all});
  return all;
}

// libM.a and libM.so from the one object, and the CMake and pkg-config files.
void write_libraries(const AotModel& m, const BuildDirs& d, const std::string& all) {
  std::error_code ec;
  fs::path lib_a = d.dir / ("lib" + m.name + ".a"), lib_so = d.dir / ("lib" + m.name + ".so");
  fs::remove(lib_a, ec);  // ar would add to an old archive
  run_tool({tool("AR", "ar"), "rcs", lib_a.string(), all});
  std::vector<std::string> so_cmd = {
      tool("CC", "cc"), "-shared", "-o", lib_so.string(), "-Wl,-soname,lib" + m.name + ".so", all};
  so_cmd.push_back("-lm");
  if (!m.omp_library.empty()) so_cmd.push_back(m.omp_library);
  run_tool(so_cmd);
  write_text(d.dir / (m.name + "Config.cmake"), aot_cmake_config(m));
  write_text(d.dir / (m.name + ".pc"), aot_pkgconfig(m, d.dir.string()));
}

void print_summary(const Options& o, const std::string& model, const Entries& e, const BuildDirs& d) {
  fmt::print("compiled {} (batch {}, target {}{}) into {}:\n  lib{}.a, lib{}.so, {}.h, {}Config.cmake, {}.pc{}\n",
             model, e.dynamic ? std::string("dynamic") : std::to_string(e.batch), o.target,
             o.device == Device::Cuda
                 ? fmt::format(", CUDA: PTX for sm_90{}",
                               cuda_assembles_cubins() ? " and its cubin" : ", JIT-compiled by the driver")
             : o.threads > 1 ? ", OpenMP"
                             : "",
             d.dir.string(), model, model, model, model, model,
             o.weights_file ? fmt::format(", {}.weights", model) : std::string(" (weights embedded)"));
}

int run(const Options& o) {
  auto l = cli::load_program(o.file);
  std::string model = cli::pick_model(*l, o.file, o.model);
  check_c_identifier(model);
  Graph g = cli::build_graph(*l, model);
  const Entries e = parse_entries(o);
  TensorMap params = cli::weights_or_init(g, o.weights, o.seed);
  if (o.device == Device::Cuda && o.threads > 1)
    throw CliError("--threads applies to CPU code; a --device cuda library runs on the GPU");
  if (e.dynamic) check_dynamic_batch(g, params);

  AotKernels k = compile_kernels(*l, o, model, g, e, params);
  BuildDirs d(o.out);
  Sources s = write_sources(k, params, d);
  compile_api(k.m, d, s.blob, s.objs);
  compile_kernel_library(k.m, d, s.objs);
  write_libraries(k.m, d, link_one_object(model, d, s.objs, s.header));
  print_summary(o, model, e, d);
  return 0;
}

}  // namespace

CompileCommand add_compile_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  CompileCommand c;
  c.app = app.add_subcommand("compile", "Compile a model ahead of time into a static and a shared C library");
  c.app->add_option("file", o->file, "the .net file")->required()->check(CLI::ExistingFile);
  c.app->add_option("--model,-m", o->model,
                    "the model (default: the only model in the file); it prefixes every symbol");
  c.app->add_option("--weights,-w", o->weights, "weights .npz to build in (default: initialise with --seed)");
  c.app->add_option("--seed", o->seed, "seed for initial weights when --weights is not given (default 0)");
  c.app->add_option("--batch", o->batch,
                    "the batch size the library is compiled for (default 1), or dynamic (given per call)");
  c.app->add_option("--target", o->target,
                    "CPU to generate code for: host (default) or an LLVM CPU name (x86-64-v3, ...)");
  cli::add_conv_algo_option(c.app, &o->conv_algo);
  cli::add_device_option(c.app, &o->device);
  cli::check_int_range(c.app->add_option("--threads", o->threads,
                                         "> 1: parallel loops on OpenMP (the library then needs libomp; default 1)"),
                       1, cli::kMaxThreads);
  c.app->add_option("--entry", o->entries,
                    "forward (default) and/or train_step, comma-separated: M_train_step runs the train block");
  c.app->add_flag("--weights-file", o->weights_file, "write the weights to DIR/M.weights instead of embedding them");
  c.app->add_option("-o,--out", o->out, "output folder")->required();
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
