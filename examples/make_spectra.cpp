// Writes simulated SDSS-like quasar spectra as an .npy of shape [N, 1, 4618] (and, with
// --labels, their redshifts as an .npy of shape [N, 1]): a thin wrapper over the
// `spectra` simulator (runtime/astro/simulate.h, docs/simulators.md), the same data as
// `starc simulate spectra --kind qso` writes to DIR/flux.npy and DIR/z.npy.
#include <fmt/format.h>

#include <string>

#include "runtime/io/npy.h"
#include "runtime/astro/simulate.h"

int main(int argc, char** argv) {
  int64_t n = 2;
  uint64_t seed = 0;
  std::string out = "flux.npy", labels;
  try {
    for (int i = 1; i < argc; i += 2) {
      std::string a = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", a));
      if (a == "--n")
        n = std::stoll(argv[i + 1]);
      else if (a == "--seed")
        seed = std::stoull(argv[i + 1]);
      else if (a == "-o")
        out = argv[i + 1];
      else if (a == "--labels")
        labels = argv[i + 1];
      else
        throw std::invalid_argument("unknown argument " + a);
    }
    auto data = starc::simulate("spectra", n, seed, {{"kind", "qso"}});
    if (n <= 8)
      for (int64_t s = 0; s < n; ++s) fmt::print("spectrum {}: true z = {:.3f}\n", s, data["z"].get(s));
    starc::write_npy(out, data["flux"]);
    fmt::print("wrote {} ({} spectra x 4618 pixels)\n", out, n);
    if (!labels.empty()) {
      starc::write_npy(labels, data["z"]);
      fmt::print("wrote {} (their redshifts)\n", labels);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\nusage: make_spectra [--n N] [--seed S] [-o FILE.npy] [--labels Z.npy]\n", e.what());
    return 1;
  }
  return 0;
}
