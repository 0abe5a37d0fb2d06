// dsl: source files and diagnostics. Every error names file:line:col, shows the source
// line and underlines the exact token or expression with a caret.
#pragma once
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace starc {

struct SrcLoc {
  int file = -1;
  uint32_t offset = 0, length = 0;
  bool known() const { return file >= 0; }
};

struct SourceFile {
  std::string path;
  std::string text;
  std::vector<uint32_t> line_starts;
};

class SourceManager {
 public:
  int add(std::string path, std::string text);
  const SourceFile& file(int id) const { return *files_.at(id); }
  size_t size() const { return files_.size(); }
  // 1-based line and column (bytes).
  std::pair<int, int> line_col(const SrcLoc& loc) const;
  std::string line_text(int file, int line) const;
  // SrcLoc spanning from a to the end of b.
  static SrcLoc span(const SrcLoc& a, const SrcLoc& b);

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

struct Diagnostic {
  SrcLoc loc;
  std::string message;
  std::vector<std::pair<SrcLoc, std::string>> notes;
};

// Collects diagnostics; formats them GCC-style.
class DiagEngine {
 public:
  explicit DiagEngine(SourceManager& sm) : sm_(sm) {}
  void error(SrcLoc loc, std::string msg) { add({loc, std::move(msg), {}}); }
  // Past the error limit, diagnostics are counted, not kept: 500 000 duplicate
  // definitions must not print 96 MB. 0 means no limit.
  void add(Diagnostic d);
  void set_max_errors(size_t n) { max_errors_ = n; }
  bool full() const { return max_errors_ > 0 && diags_.size() >= max_errors_; }
  bool has_errors() const { return !diags_.empty(); }
  size_t count() const { return diags_.size() + dropped_; }  // every error, shown or not
  const std::vector<Diagnostic>& all() const { return diags_; }
  std::string format(const Diagnostic& d) const;
  std::string format_all() const;
  SourceManager& sources() { return sm_; }

 private:
  SourceManager& sm_;
  std::vector<Diagnostic> diags_;
  size_t max_errors_ = 20;  // like clang's -ferror-limit
  size_t dropped_ = 0;
};

// Thrown inside the front end to abandon the current model or declaration; the caller
// records it in the DiagEngine and goes on with the next one.
struct CompileError : std::runtime_error {
  Diagnostic diag;
  explicit CompileError(Diagnostic d) : std::runtime_error(d.message), diag(std::move(d)) {}
  CompileError(SrcLoc loc, std::string msg) : CompileError(Diagnostic{loc, std::move(msg), {}}) {}
};

// Closest candidate by edit distance (for "did you mean ...?"), or "" if none is close.
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace starc
