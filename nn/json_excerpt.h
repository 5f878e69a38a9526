// A JSON value quoted in an error message, safe for untrusted input (checkpoint headers, config
// files, --set values): json::dump recurses once per nesting level (10^5 nested arrays overflow
// the stack) and throws on invalid UTF-8, so deep values are named by type only, bad bytes
// become U+FFFD and long text is cut.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace difflab::nn {

std::string json_excerpt(const nlohmann::json& v);

}  // namespace difflab::nn
