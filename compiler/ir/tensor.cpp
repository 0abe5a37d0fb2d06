#include "compiler/ir/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace starc {

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  for (Dim d : shape_)
    if (d < 0) throw std::runtime_error("tensor shape must be concrete and non-negative: " + shape_str(shape_));
  auto bytes = std::make_shared<std::vector<std::byte>>(std::max<size_t>(nbytes(), 1));
  storage_ = std::shared_ptr<std::byte>(bytes, bytes->data());  // aliases the vector it owns
}

Tensor Tensor::adopt(DType dtype, Shape shape, std::shared_ptr<std::byte> data) {
  if (!data) throw std::runtime_error("Tensor::adopt: no memory");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.storage_ = std::move(data);
  return t;
}

std::vector<int64_t> Tensor::strides() const {
  std::vector<int64_t> s(shape_.size());
  int64_t acc = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    s[i] = acc;
    acc *= shape_[i];
  }
  return s;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (num_elements(shape) != size())
    throw std::runtime_error("reshape " + shape_str(shape_) + " -> " + shape_str(shape) + ": element counts differ");
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

double Tensor::get(int64_t i) const {
  return dispatch_any(dtype_, [&]<class T>() { return double(data<T>()[i]); });
}

int64_t float_to_i64(double x) {
  if (std::isnan(x)) return 0;
  if (x >= 9223372036854775808.0) return INT64_MAX;  // 2^63
  if (x < -9223372036854775808.0) return INT64_MIN;
  return int64_t(x);
}

// Through float_to_i64 for i64: a value read from a file (`--in x.npy:i64`) or folded by
// a pass may lie outside the i64 range.
void Tensor::set(int64_t i, double v) {
  dispatch_any(dtype_, [&]<class T>() {
    if constexpr (std::is_same_v<T, int64_t>)
      data<T>()[i] = float_to_i64(v);
    else
      data<T>()[i] = T(v);
  });
}

Tensor Tensor::cast(DType to) const {
  if (to == dtype_) return *this;
  Tensor t(to, shape_);
  for (int64_t i = 0, n = size(); i < n; ++i) t.set(i, to == DType::Bool ? double(get(i) != 0) : get(i));
  return t;
}

Tensor Tensor::scalar(DType dtype, double v) {
  Tensor t(dtype, {});
  t.set(0, v);
  return t;
}

Tensor Tensor::from_vector(DType dtype, Shape shape, const std::vector<double>& values) {
  Tensor t(dtype, std::move(shape));
  if (int64_t(values.size()) != t.size()) throw std::runtime_error("from_vector: wrong number of values");
  for (int64_t i = 0; i < t.size(); ++i) t.set(i, values[i]);
  return t;
}

}  // namespace starc
