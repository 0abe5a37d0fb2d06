// runtime: errors about the arguments of a library call, worded with the call's own
// parameter names ("batch must be at least 1, got 0"), never with a front end's: the
// library does not know that the CLI calls `batch` --batch. A front end that names the
// parameters otherwise re-words the message with ParamMessage::worded.
#pragma once
#include <map>
#include <string>

namespace starc {

// A parameter's name, marked in a message so that a front end can find and re-word it:
// fmt::format("{} must be at least 1, got {}", param_ref("batch"), batch).
inline std::string param_ref(const std::string& name) { return '\x1f' + name + '\x1f'; }

// The re-wordable part of an error: its message with each parameter marked by param_ref.
class ParamMessage {
 public:
  explicit ParamMessage(std::string marked) : marked_(std::move(marked)) {}
  virtual ~ParamMessage() = default;

  // The message with each parameter spelled as `names` says (parameter -> spelling), and
  // by its own name where `names` has none.
  std::string worded(const std::map<std::string, std::string>& names) const {
    std::string out;
    bool in_name = false;
    size_t begin = 0;
    for (size_t i = 0; i <= marked_.size(); ++i) {
      if (i < marked_.size() && marked_[i] != '\x1f') continue;
      std::string piece = marked_.substr(begin, i - begin);
      auto it = in_name ? names.find(piece) : names.end();
      out += it == names.end() ? piece : it->second;
      in_name = !in_name;
      begin = i + 1;
    }
    return out;
  }

 private:
  std::string marked_;
};

// An error of type Base (std::invalid_argument, TrainError, ...) whose what() names the
// parameters by their own names and which a front end can re-word.
template <class Base>
struct ParamError : Base, ParamMessage {
  explicit ParamError(const std::string& marked) : Base(ParamMessage(marked).worded({})), ParamMessage(marked) {}
};

}  // namespace starc
