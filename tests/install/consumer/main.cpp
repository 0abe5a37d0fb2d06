// consumer MODEL.net MAGS.npy: writes five magnitudes to MAGS.npy, runs the model on them
// with seed-0 weights, and prints the output as `starc run` does.
#include <fmt/format.h>

#include "runtime/api/starc.h"
#include "runtime/io/npy.h"
#include "runtime/tensor_summary.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  try {
    starc::api::Model m = starc::api::Program::from_file(argv[1]).model();
    m.init(0);
    starc::Tensor mags = starc::Tensor::from_vector(starc::DType::F32, {1, 5}, {22.1, 21.4, 20.9, 20.7, 20.6});
    starc::write_npy(argv[2], mags);
    std::vector<starc::Tensor> out = m.run({mags});
    fmt::print("{}: {}\n", m.outputs()[0].name, starc::tensor_summary(out[0]));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}
