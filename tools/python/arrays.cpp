#include "tools/python/arrays.h"

#include <fmt/format.h>

#include <bit>

#include "runtime/api/starc.h"

namespace starc::python {

namespace {

using npy = py::detail::npy_api;

// The starc dtype with the same bytes as a NumPy dtype, if there is one.
std::optional<DType> starc_dtype(const py::dtype& d) {
  const char order = d.byteorder();
  const char native = std::endian::native == std::endian::little ? '<' : '>';
  if (order != '=' && order != '|' && order != native) return std::nullopt;
  const py::ssize_t size = d.itemsize();
  switch (d.kind()) {
    case 'f':
      if (size == 4) return DType::F32;
      if (size == 8) return DType::F64;
      break;
    case 'i':
      if (size == 8) return DType::I64;
      break;
    case 'b':
      if (size == 1) return DType::Bool;
      break;
  }
  return std::nullopt;
}

// Keeps an ndarray alive while a Tensor uses its memory. The last owner may let go on a
// thread that does not hold the GIL (PyGILState_Ensure takes it: it works on any thread,
// with or without a pybind11 gil_scoped_release above it), or after the interpreter has
// gone, when leaking the reference is all that is safe.
struct ArrayOwner {
  PyObject* array;
  void operator()(std::byte*) const {
    if (!Py_IsInitialized()) return;
    PyGILState_STATE state = PyGILState_Ensure();
    Py_DECREF(array);
    PyGILState_Release(state);
  }
};

// A Tensor over the array's memory (no copy); the array must be C-contiguous and aligned.
Tensor adopt(const py::array& a, DType dtype) {
  Shape shape(a.shape(), a.shape() + a.ndim());
  auto* data = static_cast<std::byte*>(const_cast<void*>(a.data()));
  std::shared_ptr<std::byte> storage(data, ArrayOwner{py::object(a).release().ptr()});
  return Tensor::adopt(dtype, std::move(shape), std::move(storage));
}

bool can_adopt(const py::array& a) {
  const int need = npy::NPY_ARRAY_C_CONTIGUOUS_ | npy::NPY_ARRAY_ALIGNED_;
  return (a.flags() & need) == need;
}

bool readonly(const py::array& a) { return !(a.flags() & npy::NPY_ARRAY_WRITEABLE_); }

const py::module_& numpy() {
  static auto* np = new py::module_(py::module_::import("numpy"));  // never freed: outlives exit
  return *np;
}

// Any value NumPy takes as an array (an ndarray as it is, without a copy).
py::array as_array(py::handle value) {
  auto any = py::reinterpret_steal<py::array>(
      npy::get().PyArray_FromAny_(value.ptr(), nullptr, 0, 0, npy::NPY_ARRAY_ENSUREARRAY_, nullptr));
  if (!any) throw py::error_already_set();
  return any;
}

// The dtype a value without a spec (training data) becomes: its own where starc has it,
// else by kind (float16 -> f32, other integers -> i64).
std::optional<DType> natural_dtype(const py::dtype& d) {
  if (std::optional<DType> same = starc_dtype(d)) return same;
  switch (d.kind()) {
    case 'f':
      return d.itemsize() <= 4 ? DType::F32 : DType::F64;
    case 'i':
    case 'u':
      return DType::I64;
    case 'b':
      return DType::Bool;
  }
  return std::nullopt;
}

std::string dtype_text(const py::dtype& d) { return py::str(py::handle(d)).cast<std::string>(); }

// The one conversion: a C-contiguous aligned array of dtype `want`, when NumPy's
// "same_kind" rule allows the cast.
py::array convert(const py::array& any, DType want, const char* role, const std::string& name) {
  py::dtype target = numpy_dtype(want);
  if (!numpy().attr("can_cast")(any.dtype(), target, "same_kind").cast<bool>())
    throw api::Error(api::ErrorKind::Shape,
                     fmt::format("{} '{}': expected {} values, got an array of {} (starc converts only where "
                                 "NumPy's same_kind casting allows)",
                                 role, name, dtype_name(want), dtype_text(any.dtype())));
  const int flags =
      npy::NPY_ARRAY_ENSUREARRAY_ | npy::NPY_ARRAY_C_CONTIGUOUS_ | npy::NPY_ARRAY_ALIGNED_ | npy::NPY_ARRAY_FORCECAST_;
  auto out = py::reinterpret_steal<py::array>(
      npy::get().PyArray_FromAny_(any.ptr(), target.release().ptr(), 0, 0, flags, nullptr));
  if (!out) throw py::error_already_set();
  return out;
}

}  // namespace

py::dtype numpy_dtype(DType t) {
  // Made once and never freed: module-lifetime objects must outlive interpreter teardown.
  static auto* dtypes = new py::dtype[4]{py::dtype::of<float>(), py::dtype::of<double>(), py::dtype::of<int64_t>(),
                                         py::dtype::of<bool>()};
  return dtypes[int(t)];
}

InputTensor to_tensor(py::handle value, std::optional<DType> want, const char* role, const std::string& name) {
  if (npy::get().PyArray_Check_(value.ptr())) {
    auto a = py::reinterpret_borrow<py::array>(value);
    std::optional<DType> have = starc_dtype(a.dtype());
    if (have && (!want || *want == *have) && can_adopt(a)) return {adopt(a, *have), readonly(a)};
  }
  py::array any = as_array(value);
  if (!want) want = natural_dtype(any.dtype());
  if (!want)
    throw api::Error(api::ErrorKind::Shape,
                     fmt::format("{} '{}': expected numbers, got an array of {}", role, name, dtype_text(any.dtype())));
  py::array a = convert(any, *want, role, name);
  return {adopt(a, *want), readonly(a)};
}

py::array to_array(const Tensor& t, bool writeable) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(py::ssize_t(s * int64_t(dtype_size(t.dtype()))));
  auto* keep = new Tensor(t);  // shares the storage; freed with the array
  py::capsule owner(keep, [](void* p) { delete static_cast<Tensor*>(p); });
  py::array a(numpy_dtype(t.dtype()), std::move(shape), std::move(strides), const_cast<void*>(t.raw()), owner);
  if (!writeable) py::detail::array_proxy(a.ptr())->flags &= ~npy::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace starc::python
