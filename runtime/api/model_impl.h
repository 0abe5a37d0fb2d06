// runtime/api: what the API's translation units share: the state behind Program and
// Model (starc.h keeps it opaque), and the guard that turns library failures into Errors.
#pragma once
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "dsl/program.h"
#include "runtime/api/starc.h"
#include "runtime/jit_executor.h"

namespace starc::api {

// A loaded program: its sources, diagnostics and modules (shared by its models).
struct Program::Impl {
  SourceManager sm;
  DiagEngine diags{sm};
  ::starc::Program program{diags};

  std::vector<Diagnostic> diagnostics() const {
    std::vector<Diagnostic> out;
    for (const ::starc::Diagnostic& d : diags.all()) {
      Diagnostic a;
      a.message = d.message;
      a.text = diags.format(d);
      if (d.loc.known()) {
        a.file = sm.file(d.loc.file).path;
        std::tie(a.line, a.col) = sm.line_col(d.loc);
      }
      out.push_back(std::move(a));
    }
    return out;
  }
  // The program's diagnostics as an Error ("3 errors in m.net; the first: m.net:2:5: ...").
  [[noreturn]] void fail(const std::string& what) const {
    std::vector<Diagnostic> d = diagnostics();
    std::string first =
        d.empty() ? "" : fmt::format("; the first: {}:{}:{}: {}", d[0].file, d[0].line, d[0].col, d[0].message);
    throw Error(fmt::format("{}: {} error{}{}", what, diags.count(), diags.count() == 1 ? "" : "s", first),
                std::move(d));
  }
};

struct Model::Impl {
  std::shared_ptr<Program::Impl> program;
  Graph graph;
  Options options;
  std::map<std::string, Tensor> weights;
  bool has_weights = false;
  std::unique_ptr<JitExecutor> jit;          // made on the first JIT run
  std::map<std::string, Graph> grad_graphs;  // by the output differentiated ("": all): gradient_graph

  std::vector<Tensor> execute(const Graph& g, const std::vector<Tensor>& inputs);
  JitExecutor& jit_executor();  // made on first use, with `options`
  const Graph& gradient_graph(const std::string& of);
};

// Runs `body`, turning any failure of the library into an Error with its message.
template <class F>
auto guarded(F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(e.what());
  }
}

}  // namespace starc::api
