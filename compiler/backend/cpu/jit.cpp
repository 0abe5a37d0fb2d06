#include "compiler/backend/cpu/jit.h"

#include <chrono>
#include <map>
#include <set>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "llvm/Config/llvm-config.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"

#include "compiler/backend/cpu/buffer_lifetimes.h"
#include "compiler/backend/cpu/fuse_shared_producers.h"
#include "compiler/backend/cpu/outline_loops.h"
#include "compiler/backend/gpu/gpu_pipeline.h"
#include "compiler/backend/cpu/parallel_loops.h"
#include "compiler/backend/kernels/starc_cuda.h"
#include "compiler/backend/kernels/starc_kernels.h"

namespace starc {
namespace {

// The CPU pipeline (measured recipe, docs/toolchain.md), in two parts. Function
// arguments are memrefs with static shapes passed as bare pointers. With threads, the
// parallel dimensions of each linalg op become scf.parallel loops; between the parts,
// shape_parallel_loops (parallel_loops.h) decides which of them stay parallel, and the
// second part makes those OpenMP work-sharing loops.
std::string cpu_pipeline_to_loops(bool threads) {
  // loop-invariant-code-motion: ops of a scan step that depend on no carry or x_t (an
  // LSTM's weight transposes) run once, before the loop. eliminate-empty-tensors: the op
  // that makes an output writes the caller's buffer instead of a copy made afterwards.
  return std::string(
             "func.func(linalg-fuse-elementwise-ops,loop-invariant-code-motion),"
             "eliminate-empty-tensors,one-shot-bufferize,"
             "buffer-deallocation-pipeline,convert-bufferization-to-memref,") +
         (threads ? "func.func(convert-linalg-to-parallel-loops)" : "func.func(convert-linalg-to-loops)");
}
std::string cpu_pipeline_to_llvm(bool threads) {
  return std::string(threads ? "convert-scf-to-openmp," : "") +
         // memref before scf-to-cf: the OpenMP lowering wraps loop bodies in
         // memref.alloca_scope, which must be lowered while it is still one block
         "convert-vector-to-scf,expand-strided-metadata,lower-affine,finalize-memref-to-llvm,"
         "convert-scf-to-cf,convert-vector-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
         "convert-arith-to-llvm,convert-cf-to-llvm,"
         "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1}," +
         // after the function conversion: it would otherwise convert the entry's
         // signature itself, without bare pointers
         std::string(threads ? "convert-openmp-to-llvm," : "") +
         "convert-index-to-llvm,convert-ub-to-llvm,reconcile-unrealized-casts";
}

// f32 exp, expm1, log1p and tanh become MLIR's polynomial approximations (plain
// arithmetic, within 2 ulp, infinities and NaN kept) instead of scalar libm calls: a
// call in a loop body stops LLVM's vectoriser, and the BiLSTM's sigmoids and tanhs spent
// 70 % of its inference in expf/tanhf (5x faster without). log stays libm: its
// approximation clamps denormal inputs (log(1e-45) gave -87.3, not -103.3). f64 keeps
// libm throughout, bit for bit the reference. Test: JitOps.F32Transcendentals*.
void approximate_f32_math(mlir::Operation* root) {
  mlir::RewritePatternSet patterns(root->getContext());
  mlir::populateMathPolynomialApproximationPatterns(patterns, [](llvm::StringRef op) {
    return op == "math.exp" || op == "math.expm1" || op == "math.log1p" || op == "math.tanh";
  });
  (void)mlir::applyPatternsGreedily(root, std::move(patterns));
}

void init_once() {
  static bool done = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    mlir::registerAllPasses();
    return true;
  }();
  (void)done;
}

std::unique_ptr<mlir::MLIRContext> make_context() {
  init_once();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  mlir::registerOpenMPDialectTranslation(registry);
  mlir::registerGPUDialectTranslation(registry);  // the GPU target (gpu_pipeline.h)
  mlir::registerNVVMDialectTranslation(registry);
  mlir::NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  auto ctx = std::make_unique<mlir::MLIRContext>(registry);
  ctx->disableMultithreading();  // compile on the calling thread; the generated code is what runs in parallel
  return ctx;
}

// Collects MLIR diagnostics into a string while alive.
struct DiagCollector {
  explicit DiagCollector(mlir::MLIRContext& ctx)
      : handler(ctx.getDiagEngine().registerHandler([this](mlir::Diagnostic& d) {
          std::string s;
          llvm::raw_string_ostream os(s);
          os << d.getLocation() << ": " << d;
          for (auto& note : d.getNotes()) os << "\n  note: " << note.getLocation() << ": " << note;
          if (!text.empty()) text += "\n";
          text += s;
          return mlir::success();
        })),
        ctx(ctx) {}
  ~DiagCollector() { ctx.getDiagEngine().eraseHandler(handler); }
  mlir::DiagnosticEngine::HandlerID handler;
  mlir::MLIRContext& ctx;
  std::string text;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void run_pipeline(mlir::MLIRContext& ctx, mlir::ModuleOp module, const std::string& pipeline,
                  const DiagCollector& diags) {
  mlir::PassManager pm(&ctx);
  std::string err;
  llvm::raw_string_ostream err_os(err);
  if (mlir::failed(mlir::parsePassPipeline(pipeline, pm, err_os)))
    throw LowerError("internal: bad pass pipeline: " + err);
  if (mlir::failed(pm.run(module))) throw LowerError("lowering to LLVM failed:\n" + diags.text);
}

mlir::OwningOpRef<mlir::ModuleOp> parse_module(mlir::MLIRContext& ctx, const std::string& text,
                                               const DiagCollector& diags) {
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  if (!module) throw LowerError("the generated MLIR does not parse or verify:\n" + diags.text);
  return module;
}

// Linalg on tensors -> loops on buffers, with our own steps between MLIR's passes.
void lower_cpu_to_loops(mlir::MLIRContext& ctx, mlir::ModuleOp module, bool threads, const DiagCollector& diags) {
  // MLIR's fusion first (single-reader chains), then shared producers into their first
  // reader; the pipeline's own fusion pass then takes in what that left single-reader.
  run_pipeline(ctx, module, "func.func(linalg-fuse-elementwise-ops)", diags);
  fuse_shared_producers(module.getOperation());
  run_pipeline(ctx, module, cpu_pipeline_to_loops(threads), diags);
  free_buffers_after_last_use(module.getOperation());
  approximate_f32_math(module.getOperation());
  if (threads) shape_parallel_loops(module.getOperation());
}

// Parses and lowers to the LLVM dialect; throws LowerError with MLIR's diagnostics.
mlir::OwningOpRef<mlir::ModuleOp> parse_and_lower(mlir::MLIRContext& ctx, const std::string& text, JitTimings* t,
                                                  bool threads, Device device = Device::Cpu, bool fatbin = false) {
  DiagCollector diags(ctx);
  auto t0 = std::chrono::steady_clock::now();
  mlir::OwningOpRef<mlir::ModuleOp> module = parse_module(ctx, text, diags);
  if (t) t->parse = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  if (device == Device::Cuda) {
    std::string why;
    if (!lower_gpu_module(*module, &why, fatbin)) throw LowerError(why + ":\n" + diags.text);
    if (t) t->passes = seconds_since(t0);
    return module;
  }
  lower_cpu_to_loops(ctx, *module, threads, diags);
  MemoryPlan plan = plan_memory(module->getOperation());
  outline_loop_nests(module->getOperation());  // after the plan: it reads one function in program order
  run_pipeline(ctx, *module, cpu_pipeline_to_llvm(threads), diags);
  check_allocations(module->getOperation(), plan);
  if (t) t->passes = seconds_since(t0);
  return module;
}

// memref.copy between memrefs that are not both contiguous (a strided slice, an
// insert_slice into the middle of a tensor, a scan step stacked along axis 1) lowers to
// a call to `memrefCopy` from MLIR's C runner utils. This is that function (same
// signature: element size, then two unranked descriptors {rank, {allocated, aligned,
// offset, sizes[rank], strides[rank]}}), registered with every JIT so the generated code
// needs no runtime library.
struct UnrankedDesc {
  int64_t rank;
  int64_t* desc;
};

void memref_copy(int64_t elem_size, UnrankedDesc* src, UnrankedDesc* dst) {
  int64_t rank = src->rank;
  auto* sp = reinterpret_cast<char*>(src->desc[1]) + src->desc[2] * elem_size;
  auto* dp = reinterpret_cast<char*>(dst->desc[1]) + dst->desc[2] * elem_size;
  const int64_t* sizes = src->desc + 3;
  const int64_t *ss = src->desc + 3 + rank, *ds = dst->desc + 3 + rank;
  for (int64_t i = 0; i < rank; ++i)
    if (sizes[i] == 0) return;
  std::vector<int64_t> idx(size_t(rank), 0);
  int64_t inner = rank ? sizes[rank - 1] : 1, sin = rank ? ss[rank - 1] : 0, din = rank ? ds[rank - 1] : 0;
  for (;;) {
    if (sin == 1 && din == 1)  // contiguous rows (a slice or stacking along an outer axis)
      std::memcpy(dp, sp, size_t(inner * elem_size));
    else
      for (int64_t j = 0; j < inner; ++j)
        std::memcpy(dp + j * din * elem_size, sp + j * sin * elem_size, size_t(elem_size));
    int64_t d = rank - 2;  // odometer over the outer dims
    for (; d >= 0; --d) {
      sp += ss[d] * elem_size, dp += ds[d] * elem_size;
      if (++idx[size_t(d)] < sizes[d]) break;
      sp -= ss[d] * sizes[d] * elem_size, dp -= ds[d] * sizes[d] * elem_size;
      idx[size_t(d)] = 0;
    }
    if (d < 0) return;
  }
}

// The GPU target's runtime (kernels/starc_cuda.h): MLIR's mgpu* ABI and the managed
// allocator of generated code.
template <class Add>
void add_cuda_runtime(Add& add) {
  add("_mlir_memref_to_llvm_alloc", &starc_cuda_memref_alloc);
  add("_mlir_memref_to_llvm_free", &starc_cuda_memref_free);
  add("mgpuModuleLoad", &starc_mgpuModuleLoad);
  add("mgpuModuleLoadJIT", &starc_mgpuModuleLoadJIT);
  add("mgpuModuleUnload", &starc_mgpuModuleUnload);
  add("mgpuModuleGetFunction", &starc_mgpuModuleGetFunction);
  add("mgpuLaunchKernel", &starc_mgpuLaunchKernel);
  add("mgpuStreamCreate", &starc_mgpuStreamCreate);
  add("mgpuStreamDestroy", &starc_mgpuStreamDestroy);
  add("mgpuStreamSynchronize", &starc_mgpuStreamSynchronize);
  add("mgpuStreamWaitEvent", &starc_mgpuStreamWaitEvent);
  add("mgpuEventCreate", &starc_mgpuEventCreate);
  add("mgpuEventDestroy", &starc_mgpuEventDestroy);
  add("mgpuEventSynchronize", &starc_mgpuEventSynchronize);
  add("mgpuEventRecord", &starc_mgpuEventRecord);
  add("mgpuMemAlloc", &starc_mgpuMemAlloc);
  add("mgpuMemFree", &starc_mgpuMemFree);
  add("mgpuMemcpy", &starc_mgpuMemcpy);
  add("mgpuMemset32", &starc_mgpuMemset32);
  add("mgpuMemset16", &starc_mgpuMemset16);
  add("mgpuSetDefaultDevice", &starc_mgpuSetDefaultDevice);
}

// The symbols generated code may call. On the GPU the module defines the kernel-library
// functions itself (gpu_kernels.h), so the CPU kernels must not be defined twice.
llvm::orc::SymbolMap runtime_symbols(llvm::orc::MangleAndInterner interner, Device device) {
  llvm::orc::SymbolMap m;
  auto add = [&](const char* name, auto* fn) {
    m[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(fn), llvm::JITSymbolFlags::Exported};
  };
  add("memrefCopy", &memref_copy);
  if (device == Device::Cuda) {
    add_cuda_runtime(add);
    return m;
  }
  // The checked allocations of generated code (buffer_lifetimes.h), and the kernel library
  // (kernels/starc_kernels.h) that matmul and conv lowerings call.
  add("starc_mem_alloc", &starc_mem_alloc);
  add("starc_mem_free", &starc_mem_free);
  add("starc_mem_failed", &starc_mem_failed);
  add("starc_matmul_f32", &starc_matmul_f32);
  add("starc_matmul_f64", &starc_matmul_f64);
  add("starc_conv_f32", &starc_conv_f32);
  add("starc_conv_f64", &starc_conv_f64);
  add("starc_conv_adjoint_f32", &starc_conv_adjoint_f32);
  add("starc_conv_adjoint_f64", &starc_conv_adjoint_f64);
  add("starc_conv_weight_grad_f32", &starc_conv_weight_grad_f32);
  add("starc_conv_weight_grad_f64", &starc_conv_weight_grad_f64);
  add("starc_conv_fft_f32", &starc_conv_fft_f32);
  add("starc_conv_fft_f64", &starc_conv_fft_f64);
  add("starc_conv_adjoint_fft_f32", &starc_conv_adjoint_fft_f32);
  add("starc_conv_adjoint_fft_f64", &starc_conv_adjoint_fft_f64);
  add("starc_conv_weight_grad_fft_f32", &starc_conv_weight_grad_fft_f32);
  add("starc_conv_weight_grad_fft_f64", &starc_conv_weight_grad_fft_f64);
  return m;
}

}  // namespace

namespace {

// The object code `engine` generated (its object cache, enableObjectDump), or "" where it
// cannot be had. ExecutionEngine offers it only as dumpToObjectFile(path), whose
// raw_fd_ostream calls report_fatal_error ("LLVM ERROR: IO failure") when a write fails:
// on a full disk every run would abort. So it writes into a memfd, memory that no disk
// limits, through its /proc/self/fd name, and the bytes are read back from there; the
// cache file itself is written by runtime/jit_cache.cpp, whose failures are warnings.
std::string captured_object(mlir::ExecutionEngine& engine) {
  // A memfd's writes count against RLIMIT_FSIZE too (`ulimit -f`): past it, LLVM's write
  // fails, fatally. The soft limit is raised to the hard one for the dump; under a finite
  // hard limit nothing is captured (the run goes on, uncached).
  struct rlimit fsize{};
  if (::getrlimit(RLIMIT_FSIZE, &fsize) != 0 || fsize.rlim_max != RLIM_INFINITY) return "";
  struct RestoreLimit {
    struct rlimit saved;
    ~RestoreLimit() { ::setrlimit(RLIMIT_FSIZE, &saved); }
  } restore{fsize};
  struct rlimit raised = fsize;
  raised.rlim_cur = RLIM_INFINITY;
  if (fsize.rlim_cur != RLIM_INFINITY && ::setrlimit(RLIMIT_FSIZE, &raised) != 0) return "";
  int fd = ::memfd_create("starc-jit-object", MFD_CLOEXEC);
  if (fd < 0) return "";
  std::string out;
  std::string name = "/proc/self/fd/" + std::to_string(fd);
  int probe = ::open(name.c_str(), O_WRONLY | O_CLOEXEC);  // no /proc: LLVM would print an error
  if (probe >= 0) {
    ::close(probe);
    engine.dumpToObjectFile(name);
    struct stat st{};
    if (::fstat(fd, &st) == 0 && st.st_size > 0) {
      out.resize(size_t(st.st_size));
      for (size_t done = 0; done < out.size();) {
        ssize_t n = ::pread(fd, out.data() + done, out.size() - done, off_t(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          out.clear();
          break;
        }
        done += size_t(n);
      }
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

struct JitModule::Impl {
  std::unique_ptr<llvm::TargetMachine> host_tm;  // the IR optimiser's target (compile)
  std::unique_ptr<mlir::MLIRContext> ctx;
  std::unique_ptr<mlir::ExecutionEngine> engine;  // compiled here
  std::unique_ptr<llvm::orc::LLJIT> loaded;       // or loaded from an object file
};

JitModule::~JitModule() = default;

std::unique_ptr<JitModule> JitModule::compile(const std::string& mlir_text, const JitOptions& opts, JitTimings* t,
                                              std::string* object_out) {
  auto impl = std::make_unique<Impl>();
  impl->ctx = make_context();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      parse_and_lower(*impl->ctx, mlir_text, t, opts.threads > 1 && opts.device == Device::Cpu, opts.device);
  auto t0 = std::chrono::steady_clock::now();
  DiagCollector diags(*impl->ctx);
  // The IR optimiser gets the host's target machine: without it LLVM's vectoriser sees
  // a target with no vector registers and leaves every loop scalar (an elementwise +
  // reduction train step ran 2.5x slower).
  // (It lives in impl: the engine may optimise lazily, at the first lookup.)
  if (auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost()) {
    if (auto made = jtmb->createTargetMachine())
      impl->host_tm = std::move(*made);
    else
      llvm::consumeError(made.takeError());
  } else {
    llvm::consumeError(jtmb.takeError());
  }
  auto transformer = mlir::makeOptimizingTransformer(unsigned(opts.opt_level), 0, impl->host_tm.get());
  mlir::ExecutionEngineOptions eo;
  eo.transformer = transformer;
  eo.enableObjectDump = object_out != nullptr;
  // LLVM's perf listener writes ~/.debug/jit/*/jit-PID.dump for every process that compiles
  // (files nobody asked for), and its raw_fd_ostream ends the process with "LLVM ERROR:
  // IO failure" when that disk is full. Only on request: STARC_JIT_PERF=1 (for `perf
  // record -k 1` of JIT code).
  const char* perf = std::getenv("STARC_JIT_PERF");
  eo.enablePerfNotificationListener = perf && *perf && std::string(perf) != "0";
  eo.jitCodeGenOptLevel = opts.opt_level >= 3   ? llvm::CodeGenOptLevel::Aggressive
                          : opts.opt_level == 0 ? llvm::CodeGenOptLevel::None
                                                : llvm::CodeGenOptLevel::Default;
  auto engine = mlir::ExecutionEngine::create(*module, eo);
  if (!engine) {
    std::string msg = llvm::toString(engine.takeError());
    throw LowerError("JIT compilation failed: " + msg + (diags.text.empty() ? "" : "\n" + diags.text));
  }
  impl->engine = std::move(*engine);
  impl->engine->registerSymbols(
      [&](llvm::orc::MangleAndInterner interner) { return runtime_symbols(interner, opts.device); });
  impl->engine->initialize();  // global constructors: the GPU kernel modules load here
  if (t) t->codegen = seconds_since(t0);
  if (object_out) {
    // The engine compiles the module at its first lookup. Left to the object dump, that
    // would go function by function through packed wrappers, which the loop-nest
    // functions (internal, outline_loops.h) do not have: nothing would be cached.
    if (auto plan = impl->engine->lookup(kMemoryPlanSymbol); !plan) llvm::consumeError(plan.takeError());
    *object_out = captured_object(*impl->engine);
  }
  auto jm = std::unique_ptr<JitModule>(new JitModule());
  jm->impl_ = std::move(impl);
  return jm;
}

std::unique_ptr<JitModule> JitModule::load_object(std::string_view object, const std::string& name,
                                                  const std::string& entry) {
  init_once();
  auto fail = [&](const std::string& why) { return LowerError("cannot load cached object " + name + ": " + why); };
  std::unique_ptr<llvm::MemoryBuffer> buf =
      llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object.data(), object.size()), name);
  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit) throw fail(llvm::toString(jit.takeError()));
  // The object calls libm (tanhf, expf, ...) and the C library: resolve from this process.
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess((*jit)->getDataLayout().getGlobalPrefix());
  if (!gen) throw fail(llvm::toString(gen.takeError()));
  (*jit)->getMainJITDylib().addGenerator(std::move(*gen));
  llvm::orc::MangleAndInterner interner((*jit)->getExecutionSession(), (*jit)->getDataLayout());
  if (auto err = (*jit)->getMainJITDylib().define(llvm::orc::absoluteSymbols(runtime_symbols(interner, Device::Cpu))))
    throw fail(llvm::toString(std::move(err)));
  if (auto err = (*jit)->addObjectFile(std::move(buf))) throw fail(llvm::toString(std::move(err)));
  auto jm = std::unique_ptr<JitModule>(new JitModule());
  jm->impl_ = std::make_unique<Impl>();
  jm->impl_->loaded = std::move(*jit);
  jm->lookup(entry);  // validates: the entry point must resolve
  return jm;
}

JitModule::PackedFn JitModule::lookup(const std::string& name) const {
  if (impl_->loaded) {
    auto sym = impl_->loaded->lookup("_mlir_" + name);
    if (!sym) throw LowerError("no function '" + name + "' in the loaded object: " + llvm::toString(sym.takeError()));
    return sym->toPtr<PackedFn>();
  }
  auto fn = impl_->engine->lookupPacked(name);
  if (!fn) throw LowerError("no function '" + name + "' in the compiled module: " + llvm::toString(fn.takeError()));
  return *fn;
}

std::optional<MemoryPlan> JitModule::memory_plan() const {
  const int64_t* p = nullptr;
  if (impl_->loaded) {
    auto sym = impl_->loaded->lookup(kMemoryPlanSymbol);
    if (!sym) {
      llvm::consumeError(sym.takeError());
      return std::nullopt;
    }
    p = sym->toPtr<const int64_t*>();
  } else if (impl_->engine) {
    auto sym = impl_->engine->lookup(kMemoryPlanSymbol);
    if (!sym) {
      llvm::consumeError(sym.takeError());
      return std::nullopt;
    }
    p = static_cast<const int64_t*>(*sym);
  }
  if (!p) return std::nullopt;
  MemoryPlan plan;
  plan.peak_bytes = p[0], plan.largest_bytes = p[1], plan.largest_node = p[2];
  return plan;
}

std::string llvm_version() { return "LLVM " LLVM_VERSION_STRING; }

// Ahead of time: the same pipeline, then LLVM IR -> O3 -> a position-independent ELF
// object for the chosen CPU (docs/toolchain.md: ExecutionEngine's own object dump
// is not PIC). Names are made private to the library: the entry becomes the kernel
// symbol (PREFIX_kernel by default), the memrefCopy helper PREFIX_memrefCopy (the caller provides it), every
// other definition internal.
std::string compile_object(const std::string& mlir_text, const std::string& entry, const ObjectOptions& o) {
  init_once();
  auto ctx = make_context();
  // GPU libraries carry the sm_90 cubin too where the toolkit can assemble it: no JIT
  // compile when the library loads on an H100/H200.
  auto module = parse_and_lower(*ctx, mlir_text, nullptr, o.threads && o.device == Device::Cpu, o.device,
                                o.device == Device::Cuda && cuda_toolkit_assembles());
  llvm::LLVMContext llvm_ctx;
  std::unique_ptr<llvm::Module> m = mlir::translateModuleToLLVMIR(*module, llvm_ctx);
  if (!m) throw LowerError("translation to LLVM IR failed");

  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string err;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) throw LowerError("no LLVM target for " + triple.str() + ": " + err);
  std::string cpu = o.cpu, features;
  if (cpu.empty() || cpu == "host") {
    cpu = llvm::sys::getHostCPUName().str();
    for (auto& f : llvm::sys::getHostCPUFeatures())
      features += (features.empty() ? "" : ",") + std::string(f.second ? "+" : "-") + f.first().str();
  } else {
    std::unique_ptr<llvm::MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, cpu, ""));
    if (!sti || !sti->isCPUStringValid(cpu))
      throw LowerError("unknown --target CPU '" + o.cpu +
                       "' (examples: host, x86-64, x86-64-v2, x86-64-v3, x86-64-v4, skylake-avx512)");
  }
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(triple, cpu, features, llvm::TargetOptions(),
                                                                      llvm::Reloc::PIC_, std::nullopt,
                                                                      llvm::CodeGenOptLevel::Aggressive));
  if (!tm) throw LowerError("cannot create an LLVM target machine for " + cpu);
  m->setDataLayout(tm->createDataLayout());
  m->setTargetTriple(triple);

  llvm::Function* kernel = m->getFunction(entry);
  if (!kernel) throw LowerError("internal: no function '" + entry + "' in the lowered module");
  for (llvm::Function& f : *m)
    if (!f.isDeclaration() && &f != kernel) f.setLinkage(llvm::GlobalValue::InternalLinkage);
  for (llvm::GlobalVariable& gv : m->globals())  // not llvm.global_ctors (the GPU modules' loaders)
    if (!gv.isDeclaration() && !gv.getName().starts_with("llvm.")) gv.setLinkage(llvm::GlobalValue::InternalLinkage);
  kernel->setName(o.kernel.empty() ? o.prefix + "_kernel" : o.kernel);
  kernel->setVisibility(llvm::GlobalValue::HiddenVisibility);
  if (llvm::Function* copy = m->getFunction("memrefCopy")) {
    copy->setName(o.prefix + "_memrefCopy");
    copy->setVisibility(llvm::GlobalValue::HiddenVisibility);
  }
  // Kernel-library calls: starc_conv_f32 -> PREFIX_conv_f32 (the library compiles
  // kernels/starc_kernels.c with that prefix).
  // GPU code: MLIR's mgpu* runtime calls and the managed allocator, from kernels/starc_cuda.c
  // compiled under the same prefix.
  for (llvm::Function& f : *m) {
    if (!f.isDeclaration()) continue;
    std::string name = f.getName().str(), to;
    if (name.rfind("starc_", 0) == 0)
      to = o.prefix + "_" + name.substr(6);
    else if (name.rfind("mgpu", 0) == 0)
      to = o.prefix + "_" + name;
    else if (name == "_mlir_memref_to_llvm_alloc")
      to = o.prefix + "_cuda_memref_alloc";
    else if (name == "_mlir_memref_to_llvm_free")
      to = o.prefix + "_cuda_memref_free";
    if (to.empty()) continue;
    f.setName(to);
    f.setVisibility(llvm::GlobalValue::HiddenVisibility);
  }

  // The IR passes see the target CPU, as the JIT's see the host: for the default
  // --target host, AOT code is the JIT's code.
  if (auto e = mlir::makeOptimizingTransformer(3, 0, tm.get())(m.get()))
    throw LowerError("LLVM optimisation failed: " + llvm::toString(std::move(e)));
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
    throw LowerError("LLVM cannot emit an object file for " + cpu);
  pm.run(*m);
  return std::string(buf.begin(), buf.end());
}

std::string lower_to_llvm_dialect(const std::string& mlir_text, Device device) {
  auto ctx = make_context();
  auto module = parse_and_lower(*ctx, mlir_text, nullptr, false, device);
  std::string s;
  llvm::raw_string_ostream os(s);
  module->print(os);
  return s;
}

static std::string fmt_build_id(const std::filesystem::path& exe) {
  std::error_code ec;
  auto size = std::filesystem::file_size(exe, ec);
  auto mtime = std::filesystem::last_write_time(exe, ec).time_since_epoch().count();
  return ec ? std::string("?") : std::to_string(size) + "@" + std::to_string(mtime);
}

std::string cpu_pipeline_id() {
  ParallelLoopPolicy p;
  // Our own steps between MLIR's passes are C++ that no string names: the identity of
  // the compiler binary (ccache's size and mtime) keeps a rebuilt starc from loading
  // objects an older build made.
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::string build = ec ? "?" : fmt_build_id(exe);
  return build + "|" + cpu_pipeline_to_loops(true) + "|" + cpu_pipeline_to_llvm(true) +
         "|fuse-shared-producers|free-after-last-use|approximate-f32-math|outline-loops|parallel_loops " +
         std::to_string(p.min_parallel_work) + " " + std::to_string(p.min_outer_iterations) + "|ir-target " +
         llvm::sys::getHostCPUName().str();
}

std::string lower_to_cpu_loops(const std::string& mlir_text, bool threads) {
  auto ctx = make_context();
  DiagCollector diags(*ctx);
  mlir::OwningOpRef<mlir::ModuleOp> module = parse_module(*ctx, mlir_text, diags);
  lower_cpu_to_loops(*ctx, *module, threads, diags);
  std::string s;
  llvm::raw_string_ostream os(s);
  module->print(os);
  return s;
}

std::string lower_to_llvm_ir(const std::string& mlir_text, Device device) {
  auto ctx = make_context();
  auto module = parse_and_lower(*ctx, mlir_text, nullptr, false, device);
  llvm::LLVMContext llvm_ctx;
  auto llvm_module = mlir::translateModuleToLLVMIR(*module, llvm_ctx);
  if (!llvm_module) throw LowerError("translation to LLVM IR failed");
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm_module->print(os, nullptr);
  return s;
}

bool cuda_assembles_cubins() { return cuda_toolkit_assembles(); }

std::vector<PtxModule> lower_to_ptx(const std::string& mlir_text) {
  auto ctx = make_context();
  auto module = parse_and_lower(*ctx, mlir_text, nullptr, false, Device::Cuda);
  std::vector<PtxModule> out;
  for (auto& [name, ptx] : gpu_module_ptx(*module)) out.push_back({name, ptx});
  return out;
}

namespace {

// The graph nodes named in a location (emit.cpp's loc_of), through fused locations.
void node_names(mlir::Location loc, std::vector<std::string>& out) {
  if (auto named = mlir::dyn_cast<mlir::NameLoc>(loc)) {
    std::string n = named.getName().str();
    if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  } else if (auto fused = mlir::dyn_cast<mlir::FusedLoc>(loc)) {
    for (mlir::Location l : fused.getLocations()) node_names(l, out);
  }
}

// A loop nest (a linalg op; by name: Linalg's headers would cost this file minutes of
// compile time) or a call into the kernel library.
bool is_kernel(mlir::Operation* op) {
  llvm::StringRef name = op->getName().getStringRef();
  return mlir::isa<mlir::func::CallOp>(op) ||
         (name.starts_with("linalg.") && name != "linalg.yield" && name != "linalg.index");
}

// A kernel as a node and its position among that node's kernels, in program order
// (a mean is a fill, a sum and a division: three).
using KernelRef = std::pair<std::string, int>;

// Before fusion: for each node, the kernels that read its kernels' results (through
// reshapes, slices and casts), and how many kernels each node has.
struct KernelReaders {
  std::map<std::string, std::set<KernelRef>> readers;
  std::map<std::string, int> kernels_of_node;
};

KernelReaders kernel_readers(mlir::ModuleOp module) {
  KernelReaders kr;
  std::map<mlir::Operation*, KernelRef> ref;
  module->walk([&](mlir::Operation* op) {  // pre-order: program order
    if (!is_kernel(op)) return;
    std::vector<std::string> own;
    node_names(op->getLoc(), own);
    if (!own.empty()) ref[op] = {own[0], kr.kernels_of_node[own[0]]++};
  });
  for (auto& [op, me] : ref) {
    llvm::SmallVector<mlir::Value> work(op->getResults().begin(), op->getResults().end());
    llvm::DenseSet<mlir::Value> seen;
    while (!work.empty()) {
      mlir::Value v = work.pop_back_val();
      if (!seen.insert(v).second) continue;
      for (mlir::Operation* user : v.getUsers()) {
        if (ref.count(user))
          kr.readers[me.first].insert(ref[user]);
        else if (!is_kernel(user))
          for (mlir::Value r : user->getResults()) work.push_back(r);
      }
    }
  }
  return kr;
}

}  // namespace

CpuPlan plan_cpu(const std::string& mlir_text, bool threads) {
  auto ctx = make_context();
  DiagCollector diags(*ctx);
  CpuPlan plan;
  {  // kernels: after the elementwise fusion that starts the CPU pipeline
    mlir::OwningOpRef<mlir::ModuleOp> module = parse_module(*ctx, mlir_text, diags);
    KernelReaders before = kernel_readers(*module);
    run_pipeline(*ctx, *module, "func.func(linalg-fuse-elementwise-ops)", diags);
    std::map<std::string, std::vector<size_t>> kernels_of;  // node -> its kernels, in program order
    module->walk([&](mlir::Operation* op) {
      if (!is_kernel(op)) return;
      CpuPlan::Kernel k;
      auto call = mlir::dyn_cast<mlir::func::CallOp>(op);
      k.what = call ? call.getCallee().str() : "loop nest";
      // A fused op's location lists the consumer first, then ops folded into it, which
      // may be views of other kernels' results: only the first is the kernel's own.
      node_names(op->getLoc(), k.nodes);
      k.nodes.resize(std::min<size_t>(k.nodes.size(), 1));
      if (!k.nodes.empty()) kernels_of[k.nodes[0]].push_back(plan.kernels.size());
      plan.kernels.push_back(std::move(k));
    });
    // A node whose kernels are gone was fused into the kernels that read it (or into those
    // that read its readers, when they were fused too). The fused op keeps only the
    // consumer's location, so this is read from the use-def edges before fusion; a
    // reader is found again by its position among its node's kernels.
    auto surviving = [&](const KernelRef& r) -> std::vector<size_t> {
      auto it = kernels_of.find(r.first);
      if (it == kernels_of.end()) return {};
      if (int(it->second.size()) == before.kernels_of_node[r.first]) return {it->second[size_t(r.second)]};
      return it->second;  // the node's own kernels were merged: all of them
    };
    for (auto& entry : before.kernels_of_node) {
      const std::string& node = entry.first;
      if (kernels_of.count(node)) continue;
      std::set<size_t> into;
      std::vector<std::string> work{node};
      std::set<std::string> seen;
      while (!work.empty()) {
        std::string n = work.back();
        work.pop_back();
        if (!seen.insert(n).second) continue;
        for (const KernelRef& r : before.readers[n]) {
          std::vector<size_t> ks = surviving(r);
          if (ks.empty()) work.push_back(r.first);  // fused as well: follow its readers
          into.insert(ks.begin(), ks.end());
        }
      }
      for (size_t k : into) plan.kernels[k].nodes.push_back(node);
    }
    for (CpuPlan::Kernel& k : plan.kernels)
      std::sort(k.nodes.begin(), k.nodes.end(), [](const std::string& a, const std::string& b) {
        return std::make_pair(a.size(), a) < std::make_pair(b.size(), b);  // %9 before %10
      });
  }
  mlir::OwningOpRef<mlir::ModuleOp> module = parse_module(*ctx, mlir_text, diags);
  lower_cpu_to_loops(*ctx, *module, threads, diags);
  MemoryPlan m = plan_memory(module->getOperation());
  plan.argument_bytes = m.argument_bytes;
  plan.temporary_peak_bytes = m.peak_bytes, plan.temporary_total_bytes = m.total_bytes;
  plan.temporaries = m.temporaries, plan.kept_to_end = m.kept_to_end;
  plan.largest_bytes = m.largest_bytes, plan.largest_node = m.largest_node;
  return plan;
}

}  // namespace starc
