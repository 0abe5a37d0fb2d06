// `starc simulate TASK --n N --seed S -o DIR [task options]`: writes DIR/<name>.npy for
// every file of a simulation task (runtime/astro/simulate.h; docs/simulators.md has the
// physics); `--format sdss|desi` writes the spectra task as survey FITS files instead.
// `starc simulate --list` prints the tasks, their files and options.
#include "tools/starc/simulate_cmd.h"

#include <fmt/format.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "dsl/diag.h"
#include "runtime/astro/simulate.h"
#include "tools/starc/cli_common.h"

namespace starc {
namespace {

struct Options {
  std::string task, out, format = "npy";
  int64_t n = 0;
  uint64_t seed = 0;
  bool list = false;
  std::map<std::string, std::string> values;  // every task option name -> its value
  std::map<std::string, CLI::Option*> flags;
};

int print_list() {
  for (auto& t : simulation_tasks()) {
    fmt::print("{}: {}\n", t.name, t.summary);
    for (auto& f : t.files) fmt::print("  file {}.npy  {}  {}\n", f.name, f.shape, f.help);
    for (auto& o : t.options)
      fmt::print("  --{} {}  {}\n", o.name, o.default_value.empty() ? "(see help)" : o.default_value, o.help);
  }
  return 0;
}

int run(const Options& o) {
  if (o.list) return print_list();
  if (o.task.empty()) throw cli::CliError("simulate: name a TASK (starc simulate --list prints them)");
  std::vector<std::string> names;
  for (auto& t : simulation_tasks()) names.push_back(t.name);
  if (std::find(names.begin(), names.end(), o.task) == names.end()) {
    std::string near = closest_name(o.task, names);
    throw cli::CliError(fmt::format("simulate: unknown simulation task '{}'{} (the tasks are: {})", o.task,
                                    near.empty() ? "" : fmt::format("; did you mean '{}'?", near),
                                    fmt::join(names, ", ")));
  }
  if (o.out.empty()) throw cli::CliError("simulate: -o DIR is required (the folder for the .npy files)");
  if (o.n <= 0) throw cli::CliError(fmt::format("simulate: --n must be > 0 (got {})", o.n));
  SimOptions given;
  for (auto& [name, flag] : o.flags)
    if (flag->count() > 0) given[name] = o.values.at(name);
  if (o.format != "npy") {
    std::vector<std::string> paths = simulate_survey_files(o.task, o.format, o.n, o.seed, given, o.out);
    fmt::print("wrote {} {} file{} to {} ({} .. {})\n", paths.size(), o.format, paths.size() == 1 ? "" : "s", o.out,
               paths.front(), paths.back());
    return 0;
  }
  for (auto& [path, type] : simulate_to_dir(o.task, o.n, o.seed, given, o.out))
    fmt::print("wrote {} ({})\n", path, type_str(type));
  return 0;
}

}  // namespace

SimulateCommand add_simulate_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  SimulateCommand c;
  c.app = app.add_subcommand("simulate", "Write simulated training data (.npy) for an astronomy task");
  c.app->add_option("task", o->task, "the task (see --list)");
  c.app->add_option("--n", o->n, "number of samples");
  c.app->add_option("--seed", o->seed, "random seed (default 0); the same seed gives the same bytes");
  c.app->add_option("-o,--output", o->out, "output folder (created if missing)");
  c.app->add_flag("--list", o->list, "print the tasks, their files and options");
  c.app
      ->add_option("--format", o->format,
                   "npy (default): DIR/<name>.npy; spectra only: sdss (spec-PLATE-MJD-FIBER.fits per object) or desi "
                   "(coadd-*.fits and redrock-*.fits), docs/simulators.md")
      ->check(CLI::IsMember({"npy", "sdss", "desi"}));
  // Every task's options, so CLI11 parses them in any position; the task checks its own.
  std::set<std::string> names;
  for (auto& t : simulation_tasks())
    for (auto& opt : t.options)
      if (names.insert(opt.name).second) {
        std::vector<std::string> used;
        for (auto& u : simulation_tasks())
          for (auto& uo : u.options)
            if (uo.name == opt.name) used.push_back(u.name);
        o->flags[opt.name] = c.app->add_option("--" + opt.name, o->values[opt.name],
                                               fmt::format("task option of {}", fmt::join(used, ", ")));
      }
  c.run = [o]() { return cli::run_guarded([&] { return run(*o); }); };
  return c;
}

}  // namespace starc
