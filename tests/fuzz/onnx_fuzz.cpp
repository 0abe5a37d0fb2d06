// libFuzzer harness: ONNX models through `starc import` (runtime/onnx/onnx_import.cpp:
// libonnx's protobuf parser, initializers, every operator converter, the generated source
// through starc's front end). Errors are std::runtime_error (OnnxError) naming the file.
#include "runtime/onnx/onnx_import.h"
#include "tests/fuzz/fuzz_util.h"

using namespace starc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = fuzz::write_temp(data, size, ".onnx");
  try {
    (void)import_onnx(path, fuzz::temp_name(".net"));  // converts and checks; writes nothing
  } catch (const std::runtime_error& e) {
    fuzz::expect_names(e, path);
    // A converter's std::logic_error, turned into an error by the importer, is still a bug.
    if (std::string_view(e.what()).find("internal error") != std::string_view::npos) fuzz::fail(e.what());
  }
  return 0;
}
