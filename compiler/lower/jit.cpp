#include "compiler/lower/jit.h"

#include <chrono>

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
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
#include "mlir/Target/LLVMIR/Export.h"

namespace starc {
namespace {

// The CPU pipeline (measured recipe, ../shared/TOOLCHAIN.md). Function arguments are
// memrefs with static shapes passed as bare pointers.
const char* kCpuPipeline =
    "func.func(linalg-fuse-elementwise-ops),"
    "one-shot-bufferize,"
    "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
    "func.func(convert-linalg-to-loops),convert-vector-to-scf,expand-strided-metadata,"
    "lower-affine,convert-scf-to-cf,convert-vector-to-llvm,convert-math-to-llvm,convert-math-to-libm,"
    "finalize-memref-to-llvm,convert-arith-to-llvm,convert-cf-to-llvm,"
    "convert-func-to-llvm{use-bare-ptr-memref-call-conv=1},convert-index-to-llvm,convert-ub-to-llvm,"
    "reconcile-unrealized-casts";

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

// Parses and lowers to the LLVM dialect; throws LowerError with MLIR's diagnostics.
mlir::OwningOpRef<mlir::ModuleOp> parse_and_lower(mlir::MLIRContext& ctx, const std::string& text, JitTimings* t) {
  DiagCollector diags(ctx);
  auto t0 = std::chrono::steady_clock::now();
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(text, &ctx);
  if (!module) throw LowerError("the generated MLIR does not parse or verify:\n" + diags.text);
  if (t) t->parse = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  mlir::PassManager pm(&ctx);
  std::string err;
  llvm::raw_string_ostream err_os(err);
  if (mlir::failed(mlir::parsePassPipeline(kCpuPipeline, pm, err_os)))
    throw LowerError("internal: bad pass pipeline: " + err);
  if (mlir::failed(pm.run(*module))) throw LowerError("lowering to LLVM failed:\n" + diags.text);
  if (t) t->passes = seconds_since(t0);
  return module;
}

}  // namespace

struct JitModule::Impl {
  std::unique_ptr<mlir::MLIRContext> ctx;
  std::unique_ptr<mlir::ExecutionEngine> engine;
};

JitModule::~JitModule() = default;

std::unique_ptr<JitModule> JitModule::compile(const std::string& mlir_text, const JitOptions& opts, JitTimings* t) {
  auto impl = std::make_unique<Impl>();
  impl->ctx = make_context();
  mlir::OwningOpRef<mlir::ModuleOp> module = parse_and_lower(*impl->ctx, mlir_text, t);
  auto t0 = std::chrono::steady_clock::now();
  DiagCollector diags(*impl->ctx);
  auto transformer = mlir::makeOptimizingTransformer(unsigned(opts.opt_level), 0, nullptr);
  mlir::ExecutionEngineOptions eo;
  eo.transformer = transformer;
  eo.jitCodeGenOptLevel = opts.opt_level >= 3   ? llvm::CodeGenOptLevel::Aggressive
                          : opts.opt_level == 0 ? llvm::CodeGenOptLevel::None
                                                : llvm::CodeGenOptLevel::Default;
  auto engine = mlir::ExecutionEngine::create(*module, eo);
  if (!engine) {
    std::string msg = llvm::toString(engine.takeError());
    throw LowerError("JIT compilation failed: " + msg + (diags.text.empty() ? "" : "\n" + diags.text));
  }
  impl->engine = std::move(*engine);
  if (t) t->codegen = seconds_since(t0);
  auto jm = std::unique_ptr<JitModule>(new JitModule());
  jm->impl_ = std::move(impl);
  return jm;
}

JitModule::PackedFn JitModule::lookup(const std::string& name) const {
  auto fn = impl_->engine->lookupPacked(name);
  if (!fn) throw LowerError("no function '" + name + "' in the compiled module: " + llvm::toString(fn.takeError()));
  return *fn;
}

std::string lower_to_llvm_dialect(const std::string& mlir_text) {
  auto ctx = make_context();
  auto module = parse_and_lower(*ctx, mlir_text, nullptr);
  std::string s;
  llvm::raw_string_ostream os(s);
  module->print(os);
  return s;
}

std::string lower_to_llvm_ir(const std::string& mlir_text) {
  auto ctx = make_context();
  auto module = parse_and_lower(*ctx, mlir_text, nullptr);
  llvm::LLVMContext llvm_ctx;
  auto llvm_module = mlir::translateModuleToLLVMIR(*module, llvm_ctx);
  if (!llvm_module) throw LowerError("translation to LLVM IR failed");
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm_module->print(os, nullptr);
  return s;
}

}  // namespace starc
