// runtime: CSV catalogs with a header row (docs/data.md).
//
// Fields are separated by commas and may be quoted ("a, b" with "" for a quote, as RFC
// 4180); spaces around a field are ignored; blank lines and lines starting with '#' are
// skipped (before and after the header); a UTF-8 byte-order mark at the start is not
// part of the first column's name. Cells parse as numbers with std::from_chars
// (`nan`, `inf` and exponents included). Errors name FILE:LINE: a row with a different
// number of fields than the header, an empty or non-numeric cell in a chosen column, a
// column that is not in the header.
#pragma once
#include <string>
#include <vector>

#include "compiler/ir/tensor.h"

namespace starc {

struct CsvTable {
  Tensor values;                     // [rows, columns.size()]
  std::vector<std::string> columns;  // the columns read, in order
  std::vector<std::string> skipped;  // with no columns asked for: the non-numeric (or unnamed) ones left out
};

// `columns` in the order given; empty = every named column whose first data cell is a
// number (a later non-numeric cell in such a column is an error, not a silent skip).
// `dtype` F32 (default), F64 or I64 (integers only).
CsvTable read_csv(const std::string& path, const std::vector<std::string>& columns = {}, DType dtype = DType::F32);

// The cells of `columns` as text, one vector per column, and each data row's line (for
// messages) and the header: for tables with text columns (a light curve's band).
struct CsvText {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> cells;  // [column][row]
  std::vector<int> lines;                       // [row]: the row's line in the file
};
CsvText read_csv_text(const std::string& path, const std::vector<std::string>& columns);

}  // namespace starc
