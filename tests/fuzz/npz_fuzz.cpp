// libFuzzer harness: .npz archives (runtime/io/npy.cpp, read_npz over libzip). Errors are
// std::runtime_error naming the file (and the entry).
#include "runtime/io/npy.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fuzz::write_temp(data, size, ".npz");
  try {
    (void)read_npz(path);
  } catch (const std::runtime_error& e) {
    fuzz::expect_names(e, path);
  }
  return 0;
}
