#include "tools/starc/cli_common.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>

#include "runtime/init.h"
#include "runtime/memory_limit.h"
#include "runtime/io/npy.h"
#include "runtime/param_error.h"
#include "runtime/io/tensor_file.h"

namespace starc::cli {

void print_diags(const DiagEngine& d) {
  fmt::print(stderr, "{}", d.format_all());
  size_t n = d.count(), shown = d.all().size();
  fmt::print(stderr, "{} error{} generated{}.\n", n, n == 1 ? "" : "s",
             n > shown ? fmt::format(" ({} shown; --max-errors 0 shows all)", shown) : "");
}

void fail_with_diags(const DiagEngine& d) {
  print_diags(d);
  throw CliError("");
}

std::unique_ptr<Loaded> load_program(const std::string& file) {
  auto l = std::make_unique<Loaded>();
  if (!l->prog.load_file(file)) fail_with_diags(l->diags);
  return l;
}

std::string pick_model(Loaded& l, const std::string& file, const std::string& model) {
  if (!model.empty()) return model;
  auto names = l.prog.model_names();
  if (names.size() != 1)
    throw CliError(fmt::format("{} defines {} models; choose one with --model ({})", file, names.size(),
                               names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  return names[0];
}

Graph build_graph(Loaded& l, const std::string& model, bool training) {
  std::optional<Graph> g = l.prog.build(model, BuildOptions{training});
  if (!g) fail_with_diags(l.diags);
  return std::move(*g);
}

TensorMap weights_or_init(const Graph& g, const std::string& path, uint64_t seed, bool note) {
  if (!path.empty()) {
    TensorMap w = weights_from_checkpoint(read_npz(path));
    check_weights(g, w, path);
    return w;
  }
  if (note && !g.params().empty())
    fmt::print(stderr, "note: no --weights given; parameters initialised with seed {}\n", seed);
  return init_params(g, seed);
}

int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    if (*e.what()) fmt::print(stderr, "error: {}\n", error_text(e));
    return 1;
  }
}

// The flag of each library parameter that an error's message may name (ParamError,
// runtime/param_error.h): train()'s options and data, the JIT's device, the spectrum
// grid and normalisation of convert, the attribution plot of explain, the batch
// independence check of compile --batch dynamic.
const std::map<std::string, std::string> kFlagOfParam = {{"batch", "--batch"},
                                                         {"checkpoint_dir", "--checkpoint"},
                                                         {"data", "--data"},
                                                         {"device", "--device"},
                                                         {"dims", "--dim"},
                                                         {"dynamic_batch", "--batch dynamic"},
                                                         {"early_stop_patience", "--early-stop"},
                                                         {"epochs", "--epochs"},
                                                         {"loglam", "--loglam"},
                                                         {"loglam_grid", "--resample-loglam"},
                                                         {"monitor", "--monitor"},
                                                         {"plot", "--plot"},
                                                         {"resume", "--resume"},
                                                         {"seed", "--seed"},
                                                         {"spectrum_norm", "--normalize"},
                                                         {"threads", "--threads"},
                                                         {"train_step", "--entry train_step"},
                                                         {"val", "--val"}};

std::string error_text(const std::exception& e) {
  if (dynamic_cast<const MemoryLimitError*>(&e)) return std::string(e.what()) + " (--max-memory)";
  if (auto* p = dynamic_cast<const ParamMessage*>(&e)) return p->worded(kFlagOfParam);
  return e.what();
}

void add_max_memory_option(CLI::App* app) {
  app->add_option_function<std::string>(
      "--max-memory",
      [](const std::string& s) {
        std::optional<int64_t> bytes = parse_memory_size(s);
        if (!bytes)
          throw CLI::ValidationError("--max-memory", "expected a size such as 8G or 512M, or none; got '" + s + "'");
        set_memory_limit(*bytes);
      },
      "memory a run may allocate (temporaries and outputs), e.g. 8G; a run that needs more is refused before it "
      "starts (default: what the machine has available; none: no check)");
}

std::map<std::string, std::string> name_paths(const std::vector<std::string>& specs,
                                              const std::vector<std::string>& names, const std::string& flag,
                                              const std::string& what) {
  std::map<std::string, std::string> out;
  for (auto& s : specs) {
    size_t eq = s.find('=');
    std::string name, path;
    if (eq == std::string::npos) {
      if (names.size() != 1)
        throw CliError(fmt::format("{} {}: the model takes {} {}s ({}); write NAME=PATH", flag, s, names.size(), what,
                                   fmt::join(names, ", ")));
      name = names[0], path = s;
    } else {
      name = s.substr(0, eq), path = s.substr(eq + 1);
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string hint = closest_name(name, names);
      throw CliError(fmt::format("{} {}: the model has no {} '{}'{} (it takes: {})", flag, s, what, name,
                                 hint.empty() ? "" : fmt::format(", did you mean '{}'?", hint),
                                 fmt::join(names, ", ")));
    }
    if (path.empty()) throw CliError(fmt::format("{} {}: no file after '='", flag, s));
    if (out.count(name)) throw CliError(fmt::format("{}: {} '{}' given twice", flag, what, name));
    out[name] = path;
  }
  return out;
}

void add_conv_algo_option(CLI::App* app, ConvAlgo* value) {
  app->add_option_function<std::string>(
         "--conv-algo", [value](const std::string& s) { *value = parse_conv_algo(s); },
         "convolutions: direct (im2col + GEMM), fft (FFTW; stride-1 convs) or auto (a cost model picks per conv; "
         "default)")
      ->check(CLI::IsMember({"auto", "direct", "fft"}));
}

void add_device_option(CLI::App* app, Device* value) {
  app->add_option_function<std::string>(
         "--device", [value](const std::string& s) { *value = parse_device(s); },
         "where the generated code runs: cpu (default) or cuda (an NVIDIA GPU through its driver; PTX for sm_90)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
}

std::map<std::string, int64_t> parse_dims(const std::vector<std::string>& specs) {
  std::map<std::string, int64_t> dims;
  for (const std::string& d : specs) {
    size_t eq = d.find('='), used = 0;
    int64_t v = 0;
    try {
      if (eq != std::string::npos) v = std::stoll(d.substr(eq + 1), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (eq == 0 || eq == std::string::npos || used == 0 || eq + 1 + used != d.size() || v < 1)
      throw CliError(fmt::format("--dim {}: expected NAME=N with N a positive integer (e.g. --dim L=4618)", d));
    dims[d.substr(0, eq)] = v;
  }
  return dims;
}

void check_int_range(CLI::Option* opt, int64_t min, int64_t max) {
  opt->check(CLI::Validator(
      [min, max](std::string& s) -> std::string {
        int64_t v = 0;
        const char* b = s.data();
        const char* e = b + s.size();
        auto [end, ec] = std::from_chars(b, e, v);
        bool digits = b != e && s.find_first_not_of("-0123456789") == std::string::npos;
        if (ec == std::errc::result_out_of_range && digits)
          return s[0] == '-' ? fmt::format("must be at least {}, got {}", min, s)
                             : fmt::format("must be at most {}, got {}", max, s);
        if (ec != std::errc() || end != e) return fmt::format("must be a whole number, got '{}'", s);
        if (v < min) return fmt::format("must be at least {}, got {}", min, s);
        if (v > max) return fmt::format("must be at most {}, got {}", max, s);
        return "";
      },
      fmt::format("{}..{}", min, max)));
}

std::string file_type_str(const Tensor& t, const std::string& stored) {
  return stored.empty() ? type_str(t.type()) : fmt::format("{} (the file stores {})", type_str(t.type()), stored);
}

void check_model_input(const std::string& flag, const std::string& name, const std::string& spec, const Tensor& t,
                       const std::string& stored, const TensorType& want, const SymbolNames* symbols) {
  bool ok = t.dtype() == want.dtype && t.rank() == want.rank();
  for (int d = 0; ok && d < want.rank(); ++d) ok = is_sym(want.shape[size_t(d)]) || want.shape[size_t(d)] == t.dim(d);
  if (ok) return;
  std::string hint;
  if (t.dtype() != want.dtype && t.dtype() != DType::Bool && want.dtype != DType::Bool)
    hint = fmt::format("; convert it on reading: {} {}={}:{}", flag, name, spec, dtype_name(want.dtype));
  throw CliError(fmt::format("{} {}={}: input '{}': expected {}, got {}{}", flag, name, spec, name,
                             type_str(want, symbols), file_type_str(t, stored), hint));
}

Tensor read_model_input(const std::string& flag, const std::string& name, const std::string& spec,
                        const TensorType& want, const SymbolNames* symbols) {
  std::string stored;
  Tensor t = read_tensor_file(spec, &stored);
  check_model_input(flag, name, spec, t, stored, want, symbols);
  return t;
}

}  // namespace starc::cli
