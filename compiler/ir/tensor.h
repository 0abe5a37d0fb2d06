// A dense, contiguous, row-major tensor with a concrete shape. Used for constants in
// the Graph, by the reference interpreter, and by data I/O. Copies share storage;
// use clone() for a deep copy.
#pragma once
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "compiler/ir/dtype.h"

namespace starc {

// A float as i64, the way `cast` converts it (docs/language.md, "Integer arithmetic at
// run time"): truncated toward zero, saturating at the i64 range, NaN -> 0 (C++ leaves the
// out-of-range conversion undefined; x86 gives INT64_MIN).
int64_t float_to_i64(double x);

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape);  // zero-filled
  // A tensor over memory it does not allocate (device-visible memory of the CUDA
  // executor): `data` holds nbytes() bytes and frees them when its last owner goes.
  static Tensor adopt(DType dtype, Shape shape, std::shared_ptr<std::byte> data);

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return int(shape_.size()); }
  Dim dim(int i) const { return shape_[i < 0 ? i + rank() : i]; }
  int64_t size() const { return num_elements(shape_); }
  size_t nbytes() const { return size_t(size()) * dtype_size(dtype_); }
  TensorType type() const { return {dtype_, shape_}; }
  // Row-major strides in elements.
  std::vector<int64_t> strides() const;
  bool defined() const { return storage_ != nullptr; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <class T>
  T* data() {
    return static_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    return static_cast<const T*>(raw());
  }

  Tensor clone() const;
  // Same data, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Element i converted to double / converted from double (any dtype).
  double get(int64_t i) const;
  void set(int64_t i, double v);
  Tensor cast(DType to) const;

  static Tensor scalar(DType dtype, double v);
  static Tensor from_vector(DType dtype, Shape shape, const std::vector<double>& values);

 private:
  DType dtype_ = DType::F32;
  Shape shape_;
  std::shared_ptr<std::byte> storage_;  // never null once defined (a 0-element tensor owns 1 byte)
};

// Calls f.template operator()<T>() with T the C++ type of a float dtype. Kernels are
// written once as templates and instantiated for f32 and f64.
template <class F>
decltype(auto) dispatch_float(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      return f.template operator()<float>();
    case DType::F64:
      return f.template operator()<double>();
    default:
      throw std::runtime_error("expected a floating-point tensor, got " + std::string(dtype_name(t)));
  }
}
// Any dtype: bool is uint8_t storage.
template <class F>
decltype(auto) dispatch_any(DType t, F&& f) {
  switch (t) {
    case DType::F32:
      return f.template operator()<float>();
    case DType::F64:
      return f.template operator()<double>();
    case DType::I64:
      return f.template operator()<int64_t>();
    case DType::Bool:
      return f.template operator()<uint8_t>();
  }
  throw std::runtime_error("bad dtype");
}

}  // namespace starc
