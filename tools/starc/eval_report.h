// tools/starc: what `starc eval` writes besides its table (eval_report.cpp): the JSON
// spelling of its numbers and strings, and the --json file and --plots SVGs themselves.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace starc::eval {

// What the metrics go to besides stdout: the --json text and the --plots SVGs.
struct Report {
  std::string json;
  std::vector<std::pair<std::string, std::string>> plots;  // file name, SVG
};

// `v` as a JSON number, or null when it is not finite.
std::string jnum(double v);
// `s` as a JSON string.
std::string jstr(const std::string& s);
// `v` for the table: 6 significant digits, or n/a when it is not finite.
std::string fixed(double v);

// Writes r.json to the file `json` and r.plots into the folder `plots` (each skipped when
// empty; folders created), printing "wrote PATH" for each file.
void write_report(const std::string& json, const std::string& plots, const Report& r);

}  // namespace starc::eval
