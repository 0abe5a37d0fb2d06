// The redshift CNN, compiled ahead of time, from C++: a small RAII owner around the C API.
//   ./redshift_cpp spectra.npy     prints one redshift per spectrum
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <vector>

#include "RedshiftCNN.h"
#include "npy_read.h"

class Redshift {
 public:
  Redshift() {
    RedshiftCNN* m = nullptr;
    if (RedshiftCNN_create(nullptr, &m) != RedshiftCNN_OK) throw std::runtime_error(RedshiftCNN_last_error());
    model_.reset(m);
  }
  float operator()(const float* spectrum) const {
    float z = 0;
    if (RedshiftCNN_forward(model_.get(), spectrum, RedshiftCNN_INPUT_FLUX_COUNT, &z, 1) != RedshiftCNN_OK)
      throw std::runtime_error(RedshiftCNN_last_error());
    return z;
  }

 private:
  std::unique_ptr<RedshiftCNN, void (*)(RedshiftCNN*)> model_{nullptr, RedshiftCNN_destroy};
};

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SPECTRA.npy\n", argv[0]);
    return 2;
  }
  size_t count;
  int64_t shape[8];
  int rank;
  std::unique_ptr<float, void (*)(void*)> flux(npy_read_f32(argv[1], &count, shape, &rank), std::free);
  if (!flux) return 1;
  try {
    Redshift model;
    for (size_t i = 0; i + RedshiftCNN_INPUT_FLUX_COUNT <= count; i += RedshiftCNN_INPUT_FLUX_COUNT)
      std::printf("%.9g\n", model(flux.get() + i));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
