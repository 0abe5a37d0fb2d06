#include "runtime/io/csv.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>

#include "runtime/io/file_io.h"
#include "runtime/io/tensor_file.h"

namespace starc {
namespace {

struct Record {
  int line = 0;  // where the record starts (1-based)
  std::vector<std::string> fields;
};

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// Every record of `text` except blank and '#' lines; quoted fields may hold commas,
// newlines and "" (a quote).
std::vector<Record> split_records(const std::string& text, const std::string& path) {
  std::vector<Record> out;
  size_t i = 0, n = text.size();
  int line = 1;
  while (i < n) {
    size_t eol = text.find('\n', i);
    std::string first_line = text.substr(i, eol == std::string::npos ? std::string::npos : eol - i);
    std::string t = trim(first_line);
    if (t.empty() || t == "\r" || t[0] == '#') {  // blank or comment
      i = eol == std::string::npos ? n : eol + 1;
      ++line;
      continue;
    }
    Record r;
    r.line = line;
    std::string field;
    bool quoted = false, was_quoted = false;
    for (; i < n; ++i) {
      char c = text[i];
      if (quoted) {
        if (c == '"') {
          if (i + 1 < n && text[i + 1] == '"')
            field += '"', ++i;
          else
            quoted = false;
        } else {
          if (c == '\n') ++line;
          field += c;
        }
      } else if (c == '"' && trim(field).empty()) {
        quoted = was_quoted = true;
        field.clear();
      } else if (c == ',') {
        r.fields.push_back(was_quoted ? field : trim(field));
        field.clear();
        was_quoted = false;
      } else if (c == '\n') {
        break;
      } else if (c != '\r') {
        field += c;
      }
    }
    if (quoted) throw std::runtime_error(fmt::format("{}:{}: a quoted field is not closed", path, r.line));
    r.fields.push_back(was_quoted ? field : trim(field));
    out.push_back(std::move(r));
    ++i, ++line;  // past the '\n'
  }
  return out;
}

bool parse_number(const std::string& s, double* v) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  auto [end, ec] = std::from_chars(b, e, *v);
  return b != e && ec == std::errc() && end == e;
}

// The records of the CSV file `path`, header first, checked: not empty, no NUL bytes, a
// header without repeated names, at least one data row, every row as wide as the header.
std::vector<Record> load_records(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw std::runtime_error(fmt::format("{}: no such file", path));
  std::string text = read_data_file(path);
  // A UTF-8 byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name.
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  if (text.find('\0') != std::string::npos)
    throw std::runtime_error(fmt::format("{}: not a text file (it holds NUL bytes)", path));
  std::vector<Record> records;
  try {
    records = split_records(text, path);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(fmt::format("{}: out of memory splitting its {} bytes into fields", path, text.size()));
  }
  if (records.empty()) throw std::runtime_error(fmt::format("{}: empty: a CSV catalog needs a header row", path));
  const Record& header = records[0];
  const std::vector<std::string>& names = header.fields;
  for (size_t a = 0; a < names.size(); ++a)
    for (size_t b = a + 1; b < names.size(); ++b)
      if (!names[a].empty() && names[a] == names[b])
        throw std::runtime_error(
            fmt::format("{}:{}: column '{}' appears twice in the header", path, header.line, names[a]));
  if (records.size() == 1) throw std::runtime_error(fmt::format("{}: no data rows after the header", path));
  for (size_t r = 1; r < records.size(); ++r)
    if (records[r].fields.size() != names.size())
      throw std::runtime_error(fmt::format("{}:{}: {} fields, but the header (line {}) has {} columns", path,
                                           records[r].line, records[r].fields.size(), header.line, names.size()));

  return records;
}

}  // namespace

CsvTable read_csv(const std::string& path, const std::vector<std::string>& columns, DType dtype) {
  std::vector<Record> records = load_records(path);
  const Record& header = records[0];
  const std::vector<std::string>& names = header.fields;
  CsvTable out;
  std::vector<size_t> picked;
  double v = 0;
  if (columns.empty()) {
    for (size_t c = 0; c < names.size(); ++c) {
      if (!names[c].empty() && parse_number(records[1].fields[c], &v))
        picked.push_back(c);
      else
        out.skipped.push_back(names[c].empty() ? fmt::format("column {} (unnamed)", c + 1) : names[c]);
    }
    if (picked.empty())
      throw std::runtime_error(fmt::format(
          "{}:{}: no numeric column (the first data row has no number in a named column)", path, records[1].line));
  } else {
    for (auto& want : columns) {
      auto it = std::find(names.begin(), names.end(), want);
      if (it == names.end())
        throw std::runtime_error(
            fmt::format("{}:{}: no column '{}' (the header has: {})", path, header.line, want, fmt::join(names, ", ")));
      picked.push_back(size_t(it - names.begin()));
    }
  }
  for (size_t c : picked) out.columns.push_back(names[c]);

  int64_t rows = int64_t(records.size()) - 1, width = int64_t(picked.size());
  Tensor t(DType::F64, {rows, width});
  double* data = t.data<double>();
  for (int64_t r = 0; r < rows; ++r) {
    const Record& rec = records[size_t(r) + 1];
    for (int64_t k = 0; k < width; ++k) {
      const std::string& cell = rec.fields[picked[size_t(k)]];
      if (cell.empty())
        throw std::runtime_error(fmt::format("{}:{}: column '{}' is empty (write nan for a missing value)", path,
                                             rec.line, out.columns[size_t(k)]));
      if (!parse_number(cell, &data[r * width + k]))
        throw std::runtime_error(
            fmt::format("{}:{}: column '{}' is '{}', not a number", path, rec.line, out.columns[size_t(k)], cell));
      double x = data[r * width + k];
      if (dtype == DType::I64 && !(std::isfinite(x) && x == std::floor(x)))
        throw std::runtime_error(fmt::format("{}:{}: column '{}' is '{}', not an integer (i64 needs whole numbers)",
                                             path, rec.line, out.columns[size_t(k)], cell));
    }
  }
  out.values = convert_dtype(t, dtype, fmt::format("{} columns {}", path, fmt::join(out.columns, ",")));
  return out;
}

CsvText read_csv_text(const std::string& path, const std::vector<std::string>& columns) {
  std::vector<Record> records = load_records(path);
  const std::vector<std::string>& names = records[0].fields;
  CsvText out;
  for (auto& want : columns) {
    auto it = std::find(names.begin(), names.end(), want);
    if (it == names.end())
      throw std::runtime_error(fmt::format("{}:{}: no column '{}' (the header has: {})", path, records[0].line, want,
                                           fmt::join(names, ", ")));
    std::vector<std::string> cells;
    for (size_t r = 1; r < records.size(); ++r) cells.push_back(records[r].fields[size_t(it - names.begin())]);
    out.cells.push_back(std::move(cells));
  }
  out.header = names;
  for (size_t r = 1; r < records.size(); ++r) out.lines.push_back(records[r].line);
  return out;
}

}  // namespace starc
