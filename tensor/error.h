// difflab::Error and DIFFLAB_CHECK: every failed precondition throws with a message naming
// the op and the shapes, dtypes or devices involved.
#pragma once
#include <cstdint>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace difflab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

inline std::ostream& operator<<(std::ostream& os, const std::vector<int64_t>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  return os << ']';
}

// Make the shape printer visible inside the sub-namespaces that declare their own operator<<.
namespace tensor { using ::difflab::operator<<; }
namespace ag { using ::difflab::operator<<; }

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace difflab

#define DIFFLAB_CHECK(cond, ...)                                          \
  do {                                                                    \
    if (!(cond)) throw ::difflab::Error(::difflab::detail::concat(__VA_ARGS__)); \
  } while (0)

#define DIFFLAB_FAIL(...) throw ::difflab::Error(::difflab::detail::concat(__VA_ARGS__))
