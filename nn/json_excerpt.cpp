#include "nn/json_excerpt.h"

namespace difflab::nn {

namespace {
// True when `v` has containers nested more than `levels` deep; recurses at most `levels` times.
bool nests_deeper(const nlohmann::json& v, int levels) {
  if (!v.is_structured()) return false;
  if (levels == 0) return true;
  for (const nlohmann::json& c : v)
    if (nests_deeper(c, levels - 1)) return true;
  return false;
}
}  // namespace

std::string json_excerpt(const nlohmann::json& v) {
  if (nests_deeper(v, 8)) return std::string("an ") + v.type_name() + " nested over 8 levels";
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 120) s = s.substr(0, 100) + "... (" + std::to_string(s.size()) + " characters)";
  return s;
}

}  // namespace difflab::nn
