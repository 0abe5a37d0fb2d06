#include "tools/starc/eval_report.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>

#include "runtime/io/file_io.h"

namespace fs = std::filesystem;

namespace starc::eval {
namespace {

void write_text(const std::string& path, const std::string& text) {
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  write_file_atomic(path, text);
}

}  // namespace

std::string jnum(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }

std::string jstr(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", int(c));
    else
      out += c;
  }
  return out + "\"";
}

std::string fixed(double v) { return std::isfinite(v) ? fmt::format("{:.6g}", v) : "n/a"; }

void write_report(const std::string& json, const std::string& plots, const Report& r) {
  if (!json.empty()) {
    write_text(json, r.json);
    fmt::print("wrote {}\n", json);
  }
  if (!plots.empty()) {
    fs::create_directories(plots);
    for (auto& [name, svg] : r.plots) {
      write_file_atomic((fs::path(plots) / name).string(), svg);
      fmt::print("wrote {}\n", (fs::path(plots) / name).string());
    }
  }
}

}  // namespace starc::eval
