#include "runtime/onnx/onnx_file.h"

#include <fmt/format.h>

#include <climits>
#include <cstring>
#include <filesystem>

#include "runtime/io/file_io.h"
#include "runtime/io/npy.h"

namespace starc {
namespace fs = std::filesystem;

namespace {

// ONNX's TensorProto.DataType numbers (onnx.proto).
enum OnnxType : int32_t {
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUint32 = 12,
  kUint64 = 13,
  kBfloat16 = 16,
};

// Bytes per element of the types read from raw_data; 0 for the others.
size_t onnx_elem_size(int32_t t) {
  switch (t) {
    case kFloat:
    case kInt32:
    case kUint32:
      return 4;
    case kDouble:
    case kInt64:
    case kUint64:
      return 8;
    case kFloat16:
    case kBfloat16:
    case kInt16:
    case kUint16:
      return 2;
    case kUint8:
    case kInt8:
    case kBool:
      return 1;
    default:
      return 0;
  }
}

// Element i of little-endian raw bytes of ONNX type t, as double (i64 types exactly via
// the int path of Tensor::set for values within 2^53; larger i64 are copied directly).
double raw_element(const char* p, int32_t t) {
  auto load = [p]<class T>(T) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  switch (t) {
    case kFloat:
      return load(float{});
    case kDouble:
      return load(double{});
    case kFloat16:
      return half_to_float(load(uint16_t{}));
    case kBfloat16: {
      uint32_t b = uint32_t(load(uint16_t{})) << 16;
      float f;
      std::memcpy(&f, &b, 4);
      return f;
    }
    case kInt8:
      return load(int8_t{});
    case kUint8:
    case kBool:
      return load(uint8_t{});
    case kInt16:
      return load(int16_t{});
    case kUint16:
      return load(uint16_t{});
    case kInt32:
      return load(int32_t{});
    case kUint32:
      return load(uint32_t{});
    default:
      return 0;
  }
}

// The bytes of an external-data tensor: location / offset / length entries, the file
// relative to base_dir and inside it.
std::string read_external_data(const onnx::TensorProto& t, const std::string& base_dir, const std::string& what) {
  std::string location;
  uint64_t offset = 0, length = UINT64_MAX;
  for (const auto& kv : t.external_data()) {
    try {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoull(kv.value());
      else if (kv.key() == "length")
        length = std::stoull(kv.value());
    } catch (const std::exception&) {
      throw OnnxError(fmt::format("{}: external data '{}' is not a number: '{}'", what, kv.key(), kv.value()));
    }
  }
  if (location.empty()) throw OnnxError(what + ": external data names no location");
  fs::path rel(location);
  bool escapes = rel.is_absolute();
  for (const auto& part : rel) escapes |= part == "..";
  if (escapes) {
    throw OnnxError(fmt::format("{}: external data location '{}' is outside the model's folder", what, location));
  }
  std::string path = (fs::path(base_dir) / rel).string();
  std::string bytes;
  try {
    bytes = read_data_file(path);
  } catch (const std::exception& e) {
    throw OnnxError(fmt::format("{}: external data: {}", what, e.what()));
  }
  if (offset > bytes.size() || (length != UINT64_MAX && length > bytes.size() - offset)) {
    throw OnnxError(fmt::format("{}: external data {}: offset {} + length {} is past its end ({} bytes)", what, path,
                                offset, length, bytes.size()));
  }
  return bytes.substr(offset, length == UINT64_MAX ? std::string::npos : length);
}

// The typed repeated field that holds t's values when raw_data is absent, as doubles.
std::vector<double> typed_values(const onnx::TensorProto& t) {
  std::vector<double> v;
  switch (t.data_type()) {
    case kFloat:
      v.assign(t.float_data().begin(), t.float_data().end());
      break;
    case kDouble:
      v.assign(t.double_data().begin(), t.double_data().end());
      break;
    case kInt64:
      v.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    case kUint32:
    case kUint64:
      v.assign(t.uint64_data().begin(), t.uint64_data().end());
      break;
    case kFloat16:  // stored as their bits in int32_data
      for (int32_t bits : t.int32_data()) v.push_back(half_to_float(uint16_t(bits)));
      break;
    default:
      v.assign(t.int32_data().begin(), t.int32_data().end());
      break;
  }
  return v;
}

}  // namespace

std::optional<DType> dtype_from_onnx(int32_t elem_type) {
  switch (elem_type) {
    case kFloat:
    case kFloat16:
    case kBfloat16:
      return DType::F32;
    case kDouble:
      return DType::F64;
    case kInt8:
    case kUint8:
    case kInt16:
    case kUint16:
    case kInt32:
    case kUint32:
    case kInt64:
    case kUint64:
      return DType::I64;
    case kBool:
      return DType::Bool;
    default:
      return std::nullopt;
  }
}

int32_t dtype_to_onnx(DType t) {
  switch (t) {
    case DType::F32:
      return kFloat;
    case DType::F64:
      return kDouble;
    case DType::I64:
      return kInt64;
    case DType::Bool:
      return kBool;
  }
  return 0;
}

std::string onnx_type_name(int32_t elem_type) {
  if (onnx::TensorProto_DataType_IsValid(elem_type)) {
    std::string name = onnx::TensorProto_DataType_Name(onnx::TensorProto_DataType(elem_type));
    for (char& c : name) c = char(std::tolower(c));
    return name;
  }
  return fmt::format("type {}", elem_type);
}

onnx::ModelProto read_onnx_model(const std::string& path) {
  std::string bytes;
  try {
    bytes = read_data_file(path);
  } catch (const std::exception& e) {
    throw OnnxError(e.what());
  }
  // protobuf messages are limited to 2 GiB; larger models keep their weights as external data.
  if (bytes.size() >= size_t(INT_MAX)) {
    throw OnnxError(path + ": larger than 2 GiB; ONNX keeps the weights of such models as external data");
  }
  onnx::ModelProto model;
  if (bytes.empty() || !model.ParseFromString(bytes)) {
    throw OnnxError(path + ": not an ONNX model (the protobuf is truncated or corrupt)");
  }
  if (!model.has_graph() || model.graph().node_size() == 0) {
    throw OnnxError(path + ": not an ONNX model (no graph with nodes in it)");
  }
  return model;
}

void write_onnx_model(const std::string& path, const onnx::ModelProto& model) {
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    throw OnnxError(path + ": the model is larger than protobuf's 2 GiB limit");
  }
  try {
    write_file_atomic(path, bytes);
  } catch (const std::exception& e) {
    throw OnnxError(e.what());
  }
}

int64_t onnx_default_opset(const onnx::ModelProto& model) {
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") return op.version();
  }
  return 0;
}

Tensor tensor_from_onnx(const onnx::TensorProto& t, const std::string& base_dir, const std::string& what) {
  std::optional<DType> dtype = dtype_from_onnx(t.data_type());
  if (!dtype) throw OnnxError(fmt::format("{}: element type {} is not supported", what, onnx_type_name(t.data_type())));
  Shape shape;
  uint64_t count = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || !checked_mul(count, uint64_t(d), &count)) {
      throw OnnxError(fmt::format("{}: bad dimension {}", what, d));
    }
    shape.push_back(d);
  }
  bool external = t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
  bool raw = external || t.has_raw_data();
  uint64_t nbytes = 0;
  if (raw && !checked_mul(count, onnx_elem_size(t.data_type()), &nbytes)) {
    throw OnnxError(fmt::format("{}: {} elements overflow", what, count));
  }
  if (raw) {  // the data must be all there before anything is allocated for it
    std::string ext = external ? read_external_data(t, base_dir, what) : std::string();
    const std::string& bytes = external ? ext : t.raw_data();
    if (bytes.size() != nbytes) {
      throw OnnxError(fmt::format("{}: holds {} bytes of data, but its dims [{}] of {} need {}", what, bytes.size(),
                                  fmt::join(t.dims(), ","), onnx_type_name(t.data_type()), nbytes));
    }
    check_allocation(count * dtype_size(*dtype), what);
    Tensor out(*dtype, shape);
    size_t es = onnx_elem_size(t.data_type());
    if (t.data_type() == kInt64 || t.data_type() == kUint64) {  // exact: no trip through double
      std::memcpy(out.raw(), bytes.data(), nbytes);
    } else {
      for (uint64_t i = 0; i < count; ++i) out.set(int64_t(i), raw_element(bytes.data() + i * es, t.data_type()));
    }
    return out;
  }
  if (t.data_type() == kInt64) {
    if (uint64_t(t.int64_data_size()) != count) {
      throw OnnxError(fmt::format("{}: holds {} values, but its dims [{}] need {}", what, t.int64_data_size(),
                                  fmt::join(t.dims(), ","), count));
    }
    Tensor out(*dtype, shape);
    std::copy(t.int64_data().begin(), t.int64_data().end(), out.data<int64_t>());
    return out;
  }
  std::vector<double> values = typed_values(t);
  if (values.size() != count) {
    throw OnnxError(fmt::format("{}: holds {} values, but its dims [{}] need {}", what, values.size(),
                                fmt::join(t.dims(), ","), count));
  }
  Tensor out(*dtype, shape);
  for (uint64_t i = 0; i < count; ++i) out.set(int64_t(i), values[i]);
  return out;
}

void tensor_to_onnx(const Tensor& t, const std::string& name, onnx::TensorProto* out) {
  out->set_name(name);
  out->set_data_type(dtype_to_onnx(t.dtype()));
  for (Dim d : t.shape()) out->add_dims(d);
  out->set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

}  // namespace starc
