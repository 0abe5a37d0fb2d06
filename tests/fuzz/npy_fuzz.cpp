// libFuzzer harness: .npy parsing (runtime/io/npy.cpp, parse_npy and read_npy). Errors are
// std::runtime_error naming the file; an array it accepts must survive serialize_npy ->
// parse_npy bit for bit.
#include <cstring>

#include "runtime/io/npy.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Tensor t;
  try {
    t = parse_npy(bytes, "input.npy");
  } catch (const std::runtime_error& e) {
    fuzz::expect_names(e, "input.npy");
    return 0;
  }
  Tensor back;
  try {
    back = parse_npy(serialize_npy(t), "written.npy");
  } catch (const std::runtime_error& e) {
    fuzz::fail(std::string("an accepted array does not read back: ") + e.what());
  }
  if (back.dtype() != t.dtype() || back.shape() != t.shape() || std::memcmp(back.raw(), t.raw(), t.nbytes()) != 0)
    fuzz::fail("serialize_npy -> parse_npy changed the array");
  // The file path too: read_npy must agree with parse_npy.
  std::string path = fuzz::write_temp(data, size, ".npy");
  Tensor again = read_npy(path);
  if (again.shape() != t.shape() || std::memcmp(again.raw(), t.raw(), t.nbytes()) != 0)
    fuzz::fail("read_npy and parse_npy disagree");
  return 0;
}
