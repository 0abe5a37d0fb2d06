// tools/starc: `starc weights`: list a weights file (or checkpoint), diff two, extract the
// model weights of a training checkpoint, and convert a PyTorch state_dict saved with
// numpy.savez into a model's names (runtime/io/weights_tools.h; docs/weights.md).
#include "tools/starc/weights_cmd.h"

#include <fmt/format.h>

#include <fstream>

#include "runtime/init.h"
#include "runtime/io/npy.h"
#include "runtime/io/weights_tools.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

using cli::CliError;

struct Options {
  std::vector<std::string> files;
  std::vector<std::string> map;  // MODULE=SCOPE items or a file of such lines
  std::string out, check, model;
};

int list(const std::string& file) {
  TensorMap w = read_npz(file);
  int64_t total = 0;
  size_t width = 4;
  for (auto& [name, t] : w) width = std::max(width, name.size());
  for (auto& [name, t] : w) {
    bool extra = name.rfind("opt.", 0) == 0 || name.rfind("starc.", 0) == 0;
    fmt::print("{:<{}}  {:<20}  {:>10}{}\n", name, width, type_str(t.type()), t.size(),
               extra ? "  (checkpoint: not a model weight)" : "");
    if (!extra) total += t.size();
  }
  fmt::print("{} arrays; model weights: {} elements\n", w.size(), total);
  return 0;
}

int diff(const std::string& a, const std::string& b) {
  WeightsDiff d = diff_weights(read_npz(a), read_npz(b));
  for (auto& n : d.only_in_a) fmt::print("only in {}: {}\n", a, n);
  for (auto& n : d.only_in_b) fmt::print("only in {}: {}\n", b, n);
  for (auto& c : d.changed)
    fmt::print("{}: {}\n", c.name,
               c.a_type != c.b_type
                   ? fmt::format("{} vs {}", c.a_type, c.b_type)
                   : fmt::format("{} elements differ, largest |a - b| {:.6g}", c.differing, c.max_abs));
  fmt::print("{} equal, {} different, {} only in one\n", d.same, d.changed.size(),
             d.only_in_a.size() + d.only_in_b.size());
  return d.identical() ? 0 : 1;  // as diff(1)
}

// --map MODULE=SCOPE ... or --map FILE with such lines (# comments).
std::map<std::string, std::string> scopes_of(const std::vector<std::string>& items) {
  std::vector<std::string> pairs;
  for (auto& item : items) {
    if (item.find('=') != std::string::npos) {
      pairs.push_back(item);
      continue;
    }
    std::ifstream in(item);
    if (!in) throw CliError(fmt::format("--map {}: neither MODULE=SCOPE nor a readable file", item));
    for (std::string line; std::getline(in, line);) {
      line = line.substr(0, line.find('#'));
      line.erase(std::remove_if(line.begin(), line.end(), ::isspace), line.end());
      if (!line.empty()) pairs.push_back(line);
    }
  }
  std::map<std::string, std::string> scopes;
  for (auto& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == p.size())
      throw CliError(fmt::format("--map: '{}' is not MODULE=SCOPE", p));
    scopes[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return scopes;
}

// --check FILE.net: the result must be exactly the model's weights.
void check_against(const Options& o, const TensorMap& w) {
  if (o.check.empty()) return;
  auto l = cli::load_program(o.check);
  check_weights(cli::build_graph(*l, cli::pick_model(*l, o.check, o.model)), w, o.out);
}

int run(const std::string& action, const Options& o) {
  auto need = [&](size_t n, const char* usage) {
    if (o.files.size() != n) throw CliError(fmt::format("weights {}: usage: starc weights {}", action, usage));
  };
  if (action != "list" && action != "diff" && action != "extract" && action != "convert")
    throw CliError(fmt::format("weights: unknown action '{}' (list, diff, extract, convert)", action));
  if (action == "list") return need(1, "list W.npz"), list(o.files[0]);
  if (action == "diff") return need(2, "diff A.npz B.npz"), diff(o.files[0], o.files[1]);
  if (o.out.empty()) throw CliError(fmt::format("weights {}: -o OUT.npz is required", action));
  TensorMap w;
  if (action == "extract") {
    need(1, "extract CHECKPOINT.npz -o W.npz");
    w = weights_from_checkpoint(read_npz(o.files[0]));
  } else {  // convert
    need(1, "convert STATE_DICT.npz --map MODULE=SCOPE ... -o W.npz [--check FILE.net]");
    w = rename_state_dict(read_npz(o.files[0]), scopes_of(o.map));
  }
  check_against(o, w);
  write_npz(o.out, w);
  fmt::print("wrote {} arrays to {}\n", w.size(), o.out);
  return 0;
}

}  // namespace

WeightsCommand add_weights_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  auto action = std::make_shared<std::string>();
  WeightsCommand c;
  c.app = app.add_subcommand("weights",
                             "List, diff, extract (from a checkpoint) or convert (a PyTorch state_dict) .npz weights");
  c.app->add_option("action", *action, "list | diff | extract | convert")->required();
  c.app->add_option("files", o->files, "the .npz files");
  c.app
      ->add_option("--map", o->map,
                   "convert: MODULE=SCOPE (PyTorch module path -> starc scope) items, or a file of them")
      ->take_all();
  c.app->add_option("-o,--out", o->out, "extract, convert: the weights file to write");
  c.app->add_option("--check", o->check, "extract, convert: check the result against this model's parameters");
  c.app->add_option("--model,-m", o->model, "with --check: the model (default: the only one)");
  c.run = [o, action]() { return cli::run_guarded([&] { return run(*action, *o); }); };
  return c;
}

}  // namespace starc
