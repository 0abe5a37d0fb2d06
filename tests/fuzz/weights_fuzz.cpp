// libFuzzer harness: starc weights files (runtime/io/weights_file.cpp, "STARCWT1"). Errors
// are std::runtime_error naming the file; weights it accepts must write and read back
// unchanged.
#include <cstring>

#include "runtime/io/weights_file.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fuzz::write_temp(data, size, ".bin");
  NamedTensors w;
  try {
    w = read_weights_file(path);
  } catch (const std::runtime_error& e) {
    fuzz::expect_names(e, path);
    return 0;
  }
  std::string copy = fuzz::temp_name(".copy.bin");
  write_weights_file(copy, w);
  NamedTensors back = read_weights_file(copy);
  if (back.size() != w.size()) fuzz::fail("weights changed on write -> read");
  for (size_t i = 0; i < w.size(); ++i)
    if (back[i].first != w[i].first || back[i].second.type() != w[i].second.type() ||
        std::memcmp(back[i].second.raw(), w[i].second.raw(), w[i].second.nbytes()) != 0)
      fuzz::fail("weights changed on write -> read");
  return 0;
}
