#include "runtime/aot/aot_builder.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <regex>

#include "compiler/aot/aot_api.h"
#include "compiler/backend/cpu/jit.h"
#include "compiler/ir/graph.h"
#include "compiler/ir/share_dir.h"
#include "compiler/ir/sym_dim.h"
#include "compiler/ops/index.h"
#include "compiler/ops/op.h"
#include "compiler/opt/passes.h"
#include "runtime/aot/aot_objects.h"
#include "runtime/batch_independence.h"
#include "runtime/init.h"
#include "runtime/io/file_io.h"
#include "runtime/io/weights_file.h"

namespace fs = std::filesystem;

namespace starc {
namespace {

// Outputs (the header, CMake and pkg-config files) and the sources of the build: written
// as every output is (runtime/io/file_io.h), never half.
void write_text(const fs::path& p, const std::string& text) { write_file_atomic(p.string(), text); }

// Runs a tool (argv[0] found on PATH); its output is shown only when it fails.
void run_tool(const std::vector<std::string>& argv) {
  std::string cmd;
  for (auto& a : argv) cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) throw AotError(fmt::format("cannot run {}", argv[0]));
  std::string output;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  int status = ::pclose(p);
  if (output.size() > 4000) output = output.substr(0, 4000) + "\n...";
  if (status != 0)
    throw AotError(fmt::format("{} failed (exit status {}):\n  {}\n{}", argv[0], WEXITSTATUS(status), cmd, output));
}

std::string tool(const char* env, const char* fallback) {
  const char* v = std::getenv(env);
  return v && *v ? v : fallback;
}

void check_options(const Graph& g, const TensorMap& params, const AotOptions& o) {
  check_c_identifier(g.name);
  if (o.batch < 1) throw AotArgumentError(fmt::format("{} must be at least 1, got {}", param_ref("batch"), o.batch));
  if (o.device == Device::Cuda && o.threads > 1)
    throw AotArgumentError(fmt::format("{} applies to CPU code; a {} cuda library runs on the GPU",
                                       param_ref("threads"), param_ref("device")));
  if (o.train && o.dynamic_batch)
    throw AotArgumentError(fmt::format("{} needs a fixed {} (training sees the whole batch at once)",
                                       param_ref("train_step"), param_ref("batch")));
  for (auto& [name, v] : o.dims) {
    if (std::find(g.symbols.begin(), g.symbols.end(), name) == g.symbols.end() || is_derived_symbol(name))
      throw AotArgumentError(
          fmt::format("{} names {}, which is not a symbolic dim of {}", param_ref("dims"), name, g.name));
    if (v < 1) throw AotArgumentError(fmt::format("{}: {} must be at least 1, got {}", param_ref("dims"), name, v));
  }
  if (std::vector<std::string> need = unbound_length_symbols(g.symbols, o.dims); !need.empty())
    throw AotArgumentError(
        fmt::format("the symbolic dim {} of {} needs a value in {}: a library is compiled for one "
                    "length (the batch alone can be dynamic)",
                    need[0], g.name, param_ref("dims")));
  if (o.dynamic_batch && !o.dims.empty())
    throw AotArgumentError(fmt::format("{} needs a model whose only symbolic dim is the batch; {} also fixes {}",
                                       param_ref("dynamic_batch"), param_ref("dims"), o.dims.begin()->first));
  if (o.dynamic_batch) check_samples_independent(g, params);
  try {
    check_bound_shapes(g, symbol_values(g.symbols, o.batch, o.dims));
  } catch (const std::runtime_error& e) {
    throw AotArgumentError(fmt::format("{} (from {} and {})", e.what(), param_ref("dims"), param_ref("batch")));
  }
}

// The library's C API (compiler/aot/aot_api.h), the object of each of its kernels and
// the tensors of an instance.
struct AotKernels {
  AotModel m;
  std::vector<std::pair<std::string, std::string>> objects;  // file name, bytes
  std::map<std::string, TensorType> table;                   // the instance's tensors, sorted by name
  int64_t largest_gemm = 0;                                  // multiply-adds of the largest matmul call
};

// The index inputs of g among the function's inputs `names` (by name), with a static
// bound (a symbolic one would be the batch, which no index op of a model indexes).
std::vector<AotIndexCheck> index_checks_of(const Graph& g, const std::vector<std::string>& names) {
  std::vector<AotIndexCheck> out;
  for (const InputIndexBound& b : input_index_bounds(g)) {
    auto at = std::find(names.begin(), names.end(), g.input_name(b.input));
    if (at != names.end() && !is_sym(b.bound)) out.push_back({size_t(at - names.begin()), b.bound, b.ignore});
  }
  return out;
}

// The model's C API without its kernels yet.
AotModel api_of(const Graph& g, const AotOptions& o) {
  AotModel m;
  m.name = g.name;
  m.batch = o.dynamic_batch ? 0 : o.batch;
  m.embedded_weights = !o.weights_file;
  if (o.threads > 1) m.omp_library = STARC_LIBOMP_PATH;
  m.threads = o.threads;
  m.cuda = o.device == Device::Cuda;
  for (size_t i = 0; i < g.inputs.size(); ++i) m.input_names.push_back(g.input_name(int(i)));
  m.output_names = g.output_names;
  m.index_checks = index_checks_of(g, m.input_names);
  return m;
}

// The multiply-adds of the largest float matmul of g (all its matrices: one kernel call).
int64_t largest_matmul(const Graph& g) {
  int64_t most = 0;
  for (const Node& n : g.nodes) {
    if (!is_op(n, "matmul") || !is_float(n.type.dtype) || n.inputs.empty() || g.type(n.inputs[0]).rank() < 1) continue;
    const int64_t inner = g.type(n.inputs[0]).shape.back(), outputs = num_elements(n.type.shape);
    most = std::max(most, outputs > 0 && inner > INT64_MAX / outputs ? INT64_MAX : outputs * inner);
  }
  return most;
}

// A kernel's object, through the graph passes and lowering the JIT runs, so the library
// computes what the JIT does. `largest_gemm` grows to its largest matmul.
std::string kernel_object(const AotOptions& o, const std::string& model, const Graph& graph, EntrySignature* sig,
                          const std::string& kernel, int64_t* largest_gemm) {
  CompileOptions co;
  co.device = o.device;
  co.passes = OptOptions({}, o.conv_algo);
  co.object = ObjectOptions{model, kernel, o.target, o.threads > 1, o.device};
  Compilation c = compile(graph, symbol_values(graph.symbols, o.batch, o.dims), co, Stage::Object);
  *sig = c.sig;
  *largest_gemm = std::max(*largest_gemm, largest_matmul(c.optimized));
  return c.object;
}

// A kernel per step of the train plan; `params` gains the steps' optimizer slots and
// state, from their initializers.
void add_train_steps(const TrainPlan& plan, const AotOptions& o, AotKernels& k, TensorMap& params) {
  const std::string& model = k.m.name;
  k.m.metric_names = plan.metric_names;
  for (auto& st : plan.steps) {
    AotStep a;
    a.function = model + (plan.steps.size() == 1 ? "_train_step" : "_train_step_" + st.name);
    a.kernel = a.function + "_kernel";
    a.data_inputs = st.data_inputs;
    a.output_names = st.graph.output_names;
    a.n_metrics = st.n_metrics;
    a.index_checks = index_checks_of(st.graph, a.data_inputs);
    k.objects.emplace_back(a.kernel + ".o", kernel_object(o, model, st.graph, &a.sig, a.kernel, &k.largest_gemm));
    for (size_t i = 0; i < a.sig.param_names.size(); ++i) k.table[a.sig.param_names[i]] = a.sig.param_types[i];
    for (auto& [name, t] : init_params(st.graph, o.seed))
      if (!params.count(name)) params[name] = t;
    k.m.steps.push_back(std::move(a));
  }
}

AotKernels compile_kernels(const Graph& g, const AotOptions& o, TensorMap& params) {
  AotKernels k;
  k.m = api_of(g, o);
  AotOptions forward = o;
  if (o.dynamic_batch) forward.batch = 1;
  k.objects.emplace_back(g.name + "_kernel.o",
                         kernel_object(forward, g.name, g, &k.m.sig, g.name + "_kernel", &k.largest_gemm));
  for (size_t i = 0; i < k.m.sig.param_names.size(); ++i) k.table[k.m.sig.param_names[i]] = k.m.sig.param_types[i];
  if (o.train) add_train_steps(*o.train, o, k, params);
  for (auto& [name, t] : k.table) k.m.param_names.push_back(name), k.m.param_types.push_back(t);
  return k;
}

// The output folder (absolute) and a scratch folder in it for the build, removed with
// this object on every way out.
struct BuildDirs {
  fs::path dir, work;
  explicit BuildDirs(const std::string& out) : dir(out) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw AotError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    dir = fs::absolute(dir);
    fs::path w = dir / fmt::format(".starc-build-{}", ::getpid());
    fs::create_directories(w, ec);
    if (ec) throw AotError(fmt::format("cannot create {}: {}", w.string(), ec.message()));
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

// The weights (DIR/M.weights with weights_file, else a scratch file the assembly
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
    std::string object = bytes;
    retain_constructors(object);  // the link collects garbage sections (link_one_object)
    std::ofstream f(s.objs.back(), std::ios::binary);
    f.write(object.data(), std::streamsize(object.size()));
    if (!f.flush()) throw AotError("cannot write " + s.objs.back());
  }
  return s;
}

// The C API and the embedded weights, compiled with $CC into `objs`.
void compile_api(const AotModel& m, const BuildDirs& d, const fs::path& blob, std::vector<std::string>& objs) {
  std::string cc = tool("CC", "cc");
  objs.push_back((d.work / (m.name + "_api.o")).string());
  // The kernels' folder for starc_npz.h (the .npz reader compiled into the library).
  run_tool({cc, "-std=c11", "-O2", "-fPIC", "-fvisibility=hidden", "-ffunction-sections", "-fdata-sections",
            "-DSTARC_KERNEL_PREFIX=" + m.name + "_", "-I", d.dir.string(), "-I", kernel_sources_dir(), "-c",
            (d.work / (m.name + "_api.c")).string(), "-o", objs.back()});
  if (m.embedded_weights) {
    write_text(d.work / (m.name + "_weights.S"), aot_weights_asm(m, blob.string()));
    objs.push_back((d.work / (m.name + "_weights.o")).string());
    run_tool({cc, "-c", (d.work / (m.name + "_weights.S")).string(), "-o", objs.back()});
  }
}

// What the library's kernels call of the kernel library, and so what it is built from:
// the FFT convolutions (starc_fft_conv.c, FFTW) only if a kernel calls them, GEMMs
// through OpenBLAS (pinned to the target CPU's kernels where it can be) or, when every
// matrix product is small, through starc_gemm.c without OpenBLAS.
struct KernelPlan {
  bool fft = false;
  bool own_gemm = false;
  std::string openblas_core;  // "": OpenBLAS's dispatch over every CPU
};

// Up to this many multiply-adds in a matmul call, starc_gemm.c was as fast as OpenBLAS or
// faster on every shape of a dense layer's forward and gradient products (bench/aot_gemm.c,
// bench/results.md): OpenBLAS's fixed cost per call dominates there. Above it, OpenBLAS
// won on some shapes (4 x 64 x 64: 1.4x).
constexpr int64_t kOwnGemmMaxWork = 8192;

KernelPlan plan_kernels(const AotKernels& k, const AotOptions& o) {
  KernelPlan p;
  const std::string prefix = k.m.name + "_";
  bool conv = false, gemm = false;  // GPU kernels call neither: their GEMMs run on the GPU
  for (auto& [file, bytes] : k.objects)
    for (const std::string& sym : elf_undefined_symbols(bytes)) {
      if (sym.rfind(prefix, 0) != 0) continue;
      std::string f = sym.substr(prefix.size());
      p.fft |= f.find("fft") != std::string::npos;
      conv |= f.rfind("conv", 0) == 0;  // im2col GEMMs: large whatever the batch
      gemm |= f.rfind("conv", 0) == 0 || f.rfind("matmul", 0) == 0;
    }
  // For measurements (bench/README.md): STARC_AOT_GEMM=own|openblas overrides the GEMM,
  // STARC_AOT_OPENBLAS_CORE=all|CPU the OpenBLAS kernels (all: every CPU's, as before).
  std::string force = tool("STARC_AOT_GEMM", ""), core = tool("STARC_AOT_OPENBLAS_CORE", "");
  p.own_gemm = force == "own" || (force != "openblas" && (!gemm || (!conv && k.largest_gemm <= kOwnGemmMaxWork)));
  if (!p.own_gemm) p.openblas_core = core == "all" ? "" : !core.empty() ? core : openblas_core_for(o.target);
  return p;
}

// -march for the small GEMM: the library's --target as the C compiler spells it (host:
// this machine), or none (the compiler's default CPU) when $CC does not know the name.
std::string march_flag(const std::string& target) {
  std::string flag = "-march=" + (target == "host" ? std::string("native") : target);
  try {
    run_tool({tool("CC", "cc"), flag, "-x", "c", "-c", "/dev/null", "-o", "/dev/null"});
    return flag;
  } catch (const AotError&) {
    return "";
  }
}

// The kernel library under this model's prefix, the parts the plan names, compiled into
// `objs` with the flags the JIT's copy is built with (CMakeLists.txt), so that JIT and
// AOT results agree to the bit (the small GEMM aside: for the --target, -march). With
// threads the library links libomp, and the kernels share its pool (-fopenmp: gcc's
// GOMP_* calls, which libomp implements). One section per function, for --gc-sections.
void compile_kernel_library(const AotModel& m, const KernelPlan& plan, const std::string& target, const BuildDirs& d,
                            std::vector<std::string>& objs) {
  const std::string& kernels = kernel_sources_dir();
  if (kernels.empty())
    throw AotError("cannot find the kernel library's sources (share/starc/kernels of the installation)");
  std::vector<std::string> sources = {"starc_kernels", "starc_npz"};
  if (plan.fft) sources.push_back("starc_fft_conv");
  if (plan.own_gemm) sources.push_back("starc_gemm");
  if (m.cuda) sources.push_back("starc_cuda");  // the driver-API runtime of the GPU kernels
  for (const std::string& src : sources) {
    objs.push_back((d.work / (m.name + "_" + src + ".o")).string());
    std::vector<std::string> cmd = {tool("CC", "cc"),
                                    "-std=c11",
                                    "-O3",
                                    "-ffp-contract=fast",
                                    "-fPIC",
                                    "-fvisibility=hidden",
                                    "-ffunction-sections",
                                    "-fdata-sections",
                                    "-DSTARC_KERNEL_PREFIX=" + m.name + "_",
                                    "-I",
                                    STARC_OPENBLAS_INCLUDE};
    if (!m.omp_library.empty()) cmd.push_back("-fopenmp");
    if (plan.own_gemm) cmd.push_back("-DSTARC_KERNELS_OWN_GEMM");
    if (!plan.fft) cmd.push_back("-DSTARC_KERNELS_NO_FFT");
    if (std::string march = src == "starc_gemm" ? march_flag(target) : ""; !march.empty()) cmd.push_back(march);
    cmd.insert(cmd.end(), {"-c", kernels + "/" + src + ".c", "-o", objs.back()});
    run_tool(cmd);
  }
}

// The static archives the plan needs: OpenBLAS (after a copy of its dynamic.o pinned to
// the target's CPU), FFTW (both precisions: the f32 code allocates with fftw_malloc; the
// unused parts go with --gc-sections), zlib (the .npz reader).
std::vector<std::string> static_archives(const KernelPlan& plan, const BuildDirs& d) {
  std::vector<std::string> libs;
  if (!plan.own_gemm) {
    std::optional<std::string> dynamic;
    if (!plan.openblas_core.empty()) dynamic = archive_member(STARC_OPENBLAS_STATIC, "dynamic.o");
    if (dynamic && pin_openblas_core(*dynamic, plan.openblas_core)) {
      libs.push_back((d.work / "openblas_dynamic.o").string());
      write_text(libs.back(), *dynamic);
    }
    libs.push_back(STARC_OPENBLAS_STATIC);
  }
  if (plan.fft) libs.insert(libs.end(), {STARC_FFTW3F_STATIC, STARC_FFTW3_STATIC});
  libs.push_back(STARC_ZLIB_STATIC);
  return libs;
}

// `objs` with the static archives linked in: one relocatable object holding only what
// the functions the header declares reach (--gc-sections from them), in which only they
// stay global. Returns its path.
std::string link_one_object(const std::string& model, const BuildDirs& d, const std::vector<std::string>& objs,
                            const std::string& header, const std::vector<std::string>& archives) {
  std::string all = (d.work / (model + ".o")).string(), keep = (d.work / "api.txt").string();
  std::vector<std::string> api;  // the functions the header declares
  std::regex decl("\\b(" + model + "_[A-Za-z0-9_]+)\\(");
  for (auto it = std::sregex_iterator(header.begin(), header.end(), decl); it != std::sregex_iterator(); ++it)
    api.push_back((*it)[1].str());
  std::vector<std::string> ld_cmd = {tool("LD", "ld"), "-r", "--gc-sections", "-o", all};
  for (const std::string& f : api) ld_cmd.insert(ld_cmd.end(), {"-u", f});
  ld_cmd.insert(ld_cmd.end(), objs.begin(), objs.end());
  ld_cmd.insert(ld_cmd.end(), archives.begin(), archives.end());
  run_tool(ld_cmd);
  std::string list;
  for (const std::string& f : api) list += f + "\n";
  write_text(keep, list);
  run_tool({tool("OBJCOPY", "objcopy"), "--keep-global-symbols=" + keep, all});
  return all;
}

// libM.a and libM.so from the one object, and the CMake and pkg-config files.
void write_libraries(const AotModel& m, const BuildDirs& d, const std::string& all) {
  std::error_code ec;
  fs::path lib_a = d.dir / ("lib" + m.name + ".a"), lib_so = d.dir / ("lib" + m.name + ".so");
  fs::remove(lib_a, ec);  // ar would add to an old archive
  run_tool({tool("AR", "ar"), "rcs", lib_a.string(), all});
  // --no-undefined: every symbol resolved here (libc, libm, libomp), none left to fail at load.
  std::vector<std::string> so_cmd = {tool("CC", "cc"),
                                     "-shared",
                                     "-Wl,--no-undefined",
                                     "-o",
                                     lib_so.string(),
                                     "-Wl,-soname,lib" + m.name + ".so",
                                     all};
  so_cmd.push_back("-lm");
  if (!m.omp_library.empty()) so_cmd.push_back(m.omp_library);
  run_tool(so_cmd);
  write_text(d.dir / (m.name + "Config.cmake"), aot_cmake_config(m));
  write_text(d.dir / (m.name + ".pc"), aot_pkgconfig(m));
}

}  // namespace

AotLibrary build_aot_library(const Graph& forward, TensorMap params, const AotOptions& o) {
  check_options(forward, params, o);
  AotKernels k = compile_kernels(forward, o, params);
  BuildDirs d(o.out_dir);
  Sources s = write_sources(k, params, d);
  compile_api(k.m, d, s.blob, s.objs);
  KernelPlan plan = plan_kernels(k, o);
  compile_kernel_library(k.m, plan, o.target, d, s.objs);
  write_libraries(k.m, d, link_one_object(forward.name, d, s.objs, s.header, static_archives(plan, d)));
  const std::string& m = forward.name;
  AotLibrary lib{d.dir, {"lib" + m + ".a", "lib" + m + ".so", m + ".h", m + "Config.cmake", m + ".pc"}, false};
  if (o.weights_file) lib.files.push_back(m + ".weights");
  lib.cuda_cubin = o.device == Device::Cuda && cuda_assembles_cubins();
  return lib;
}

}  // namespace starc
