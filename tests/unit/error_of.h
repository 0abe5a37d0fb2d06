// The message of the exception `f` throws, or "(no error)" when it returns: for tests
// that check what an error says.
#pragma once
#include <functional>
#include <stdexcept>
#include <string>

namespace starc::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace starc::test
