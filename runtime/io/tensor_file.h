// runtime: one entry point for every tensor file a command reads (docs/data.md).
//
//   SPEC    := FILE [ '[' HDU ']' ] [ '#' COLUMNS ] [ ':' TYPE ]
//   COLUMNS := NAME { ',' NAME }          FITS table columns, CSV columns, or one .npz key
//   TYPE    := f32 | f64 | i64 [ '[' DIM { ',' DIM } ']' ]
//                                         DIM: a number, or one name for "the rest" (N)
// The format comes from FILE's extension: .npy, .npz, .fits/.fit/.fts/.fz (also .gz), .csv;
// any other extension is recognised by its first bytes (NumPy, zip, FITS). The [HDU] part
// is cfitsio's extended filename syntax, passed to it unchanged (`spec.fits[1]`,
// `spec.fits[COADD]`). `:TYPE` converts (FITS and CSV read as f32 by default, .npy keeps
// its dtype) and reshapes: `cat.csv#class:i64[N]` is a label vector, `spec.fits[1]#flux:f32[1,1,N]`
// one spectrum as a model input.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

enum class TensorFormat { Npy, Npz, Fits, Csv };

struct TensorSpec {
  std::string text;  // the spec as written (for messages)
  std::string file;  // FILE with its [HDU] part: what cfitsio opens
  std::string path;  // FILE alone: the file on disk
  TensorFormat format = TensorFormat::Npy;
  std::vector<std::string> columns;
  std::optional<DType> dtype;
  std::vector<std::string> dims;  // from TYPE's [...]: numbers or one name; empty = keep the shape
};

// Splits and checks `spec` (the format is detected here: the file must exist for an
// extension that is not one of the known ones).
TensorSpec parse_tensor_spec(const std::string& spec);

// With `stored`: what a .npy / .npz file stores when its elements were converted on
// reading ("int32", "uint8" read as i64; "float16" as f32), else "" (also when the spec
// has a :TYPE), so that a type error can name the file's own type.
Tensor read_tensor_file(const std::string& spec, std::string* stored = nullptr);
Tensor read_tensor_file(const TensorSpec& spec, std::string* stored = nullptr);

// `t` converted to `dtype`; converting a float tensor to I64 requires every value to be a
// finite integer (an error naming `what` and the first offending element otherwise).
Tensor convert_dtype(const Tensor& t, DType dtype, const std::string& what);

// `t` viewed with `dims` (numbers, at most one name standing for the remaining size);
// `what` names the source in errors.
Tensor reshape_to(const Tensor& t, const std::vector<std::string>& dims, const std::string& what);

}  // namespace starc
