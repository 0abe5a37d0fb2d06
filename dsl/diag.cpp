#include "dsl/diag.h"

#include <fmt/format.h>

#include <algorithm>

namespace starc {

int SourceManager::add(std::string path, std::string text) {
  auto f = std::make_unique<SourceFile>();
  f->path = std::move(path);
  f->text = std::move(text);
  f->line_starts.push_back(0);
  for (uint32_t i = 0; i < f->text.size(); ++i)
    if (f->text[i] == '\n') f->line_starts.push_back(i + 1);
  files_.push_back(std::move(f));
  return int(files_.size()) - 1;
}

std::pair<int, int> SourceManager::line_col(const SrcLoc& loc) const {
  const SourceFile& f = file(loc.file);
  auto it = std::upper_bound(f.line_starts.begin(), f.line_starts.end(), loc.offset);
  int line = int(it - f.line_starts.begin());
  return {line, int(loc.offset - f.line_starts[line - 1]) + 1};
}

std::string SourceManager::line_text(int fid, int line) const {
  const SourceFile& f = file(fid);
  uint32_t b = f.line_starts.at(line - 1);
  uint32_t e = b;
  while (e < f.text.size() && f.text[e] != '\n' && f.text[e] != '\r') ++e;
  return f.text.substr(b, e - b);
}

SrcLoc SourceManager::span(const SrcLoc& a, const SrcLoc& b) {
  if (!a.known()) return b;
  if (!b.known() || a.file != b.file || b.offset + b.length < a.offset) return a;
  return SrcLoc{a.file, a.offset, b.offset + b.length - a.offset};
}

std::string DiagEngine::format(const Diagnostic& d) const {
  auto one = [&](const SrcLoc& loc, const char* kind, const std::string& msg) {
    if (!loc.known()) return fmt::format("error: {}\n", msg);
    auto [line, col] = sm_.line_col(loc);
    const std::string& path = sm_.file(loc.file).path;
    std::string text = sm_.line_text(loc.file, line);
    // A very long line is shown as a window around the column (a pasted list, a minified
    // file), so one diagnostic stays a few lines.
    constexpr int kShown = 200;
    if (int(text.size()) > kShown) {
      int from = std::max(0, std::min(col - 1 - kShown / 2, int(text.size()) - kShown));
      text = text.substr(size_t(from), kShown);
      col -= from;
    }
    // Bytes that are not printable ASCII are shown as '?', so the caret stays aligned.
    for (char& c : text)
      if ((unsigned char)c >= 0x80 || ((unsigned char)c < 0x20 && c != '\t')) c = '?';
    std::string gutter = fmt::format("{:>5} | ", line);
    std::string under(std::max(col - 1, 0), ' ');
    for (int i = 0; i < col - 1 && i < int(text.size()); ++i)
      if (text[i] == '\t') under[i] = '\t';
    int len = int(
        std::min<uint32_t>(std::max<uint32_t>(loc.length, 1), uint32_t(std::max<int>(int(text.size()) - col + 1, 1))));
    under += "^" + std::string(len - 1, '~');
    return fmt::format("{}:{}:{}: {}: {}\n{}{}\n{:>5} | {}\n", path, line, col, kind, msg, gutter, text, "", under);
  };
  std::string out = one(d.loc, "error", d.message);
  for (auto& [loc, msg] : d.notes) out += one(loc, "note", msg);
  return out;
}

void DiagEngine::add(Diagnostic d) {
  if (max_errors_ > 0 && diags_.size() >= max_errors_) {
    ++dropped_;
    return;
  }
  diags_.push_back(std::move(d));
}

std::string DiagEngine::format_all() const {
  std::string out;
  for (auto& d : diags_) out += format(d);
  if (dropped_ > 0)
    out += fmt::format("error: too many errors: {} more not shown (the limit is {})\n", dropped_, max_errors_);
  return out;
}

static size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, name.size() / 3) + 1;
  for (auto& c : candidates) {
    // The distance is at least the length difference: skip the quadratic work when that
    // alone rules a candidate out (a 10 MB name against the builtins took 19 s).
    size_t diff = name.size() > c.size() ? name.size() - c.size() : c.size() - name.size();
    if (diff >= best_d) continue;
    size_t d = edit_distance(name, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

}  // namespace starc
