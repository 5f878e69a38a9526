#include "experiments/config.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "experiments/io.h"
#include "nn/json_excerpt.h"
#include "tensor/error.h"

namespace difflab::experiments {

using nlohmann::json;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<double> parse_list(const std::string& text, const std::string& key) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      DIFFLAB_CHECK(item.find_first_not_of(" \t", used) == std::string::npos, "");
    } catch (const std::exception&) {
      DIFFLAB_FAIL("config: key '", key, "' expects comma-separated numbers, got '", text, "'");
    }
  }
  return out;
}

std::vector<std::string> parse_names(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

Config& Config::declare_int(const std::string& key, int64_t def, int64_t lo, int64_t hi,
                            const std::string& help) {
  DIFFLAB_CHECK(!has(key), "config: key '", key, "' declared twice");
  Entry e;
  e.key = key, e.kind = Kind::i;
  e.i = def, e.ilo = lo, e.ihi = hi, e.help = help;
  entries_.push_back(e);
  return *this;
}

Config& Config::declare_double(const std::string& key, double def, double lo, double hi,
                               const std::string& help) {
  DIFFLAB_CHECK(!has(key), "config: key '", key, "' declared twice");
  Entry e;
  e.key = key, e.kind = Kind::d;
  e.d = def, e.dlo = lo, e.dhi = hi, e.help = help;
  entries_.push_back(e);
  return *this;
}

Config& Config::declare_bool(const std::string& key, bool def, const std::string& help) {
  DIFFLAB_CHECK(!has(key), "config: key '", key, "' declared twice");
  Entry e;
  e.key = key, e.kind = Kind::b;
  e.b = def, e.help = help;
  entries_.push_back(e);
  return *this;
}

Config& Config::declare_string(const std::string& key, const std::string& def,
                               const std::vector<std::string>& choices, const std::string& help) {
  DIFFLAB_CHECK(!has(key), "config: key '", key, "' declared twice");
  Entry e;
  e.key = key, e.kind = Kind::s;
  e.s = def, e.choices = choices, e.help = help;
  entries_.push_back(e);
  return *this;
}

bool Config::has(const std::string& key) const {
  for (auto& e : entries_)
    if (e.key == key) return true;
  return false;
}

Config& Config::rename(const std::string& old_key, const std::string& new_key) {
  DIFFLAB_CHECK(has(new_key) && !has(old_key), "config: cannot rename '", old_key, "' to '",
                new_key, "'");
  renames_.emplace_back(old_key, new_key);
  return *this;
}

Config::Entry& Config::entry(const std::string& key, const std::string& source) {
  for (auto& e : entries_)
    if (e.key == key) return e;
  for (auto& [old_key, new_key] : renames_) {
    if (old_key != key) continue;
    if (translate_renames_) return entry(new_key, source);
    DIFFLAB_FAIL(source, ": key '", key, "' is now '", new_key,
                 "' for this command (renamed because '", key,
                 "' means something else in other commands)");
  }
  std::string best;
  size_t bd = SIZE_MAX;
  for (auto& e : entries_) {
    // The length difference bounds the distance from below: skipping those candidates keeps
    // the answer and saves |key|·|e.key| steps each (a long garbage key costs milliseconds).
    const size_t gap =
        key.size() > e.key.size() ? key.size() - e.key.size() : e.key.size() - key.size();
    if (gap >= bd) continue;
    size_t d = edit_distance(key, e.key);
    if (d < bd) bd = d, best = e.key;
  }
  DIFFLAB_FAIL(source, ": unknown key '", key, "'",
               best.empty() ? std::string() : " (did you mean '" + best + "'?)");
}

const Config::Entry& Config::entry(const std::string& key) const {
  for (auto& e : entries_)
    if (e.key == key) return e;
  DIFFLAB_FAIL("config: key '", key, "' was never declared");
}

void Config::assign(Entry& e, const json& v, const std::string& source) {
  switch (e.kind) {
    case Kind::i: {
      const bool integral =
          v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                    std::floor(v.get<double>()) == v.get<double>());
      DIFFLAB_CHECK(integral, source, ": key '", e.key, "' expects an integer in [", e.ilo, ", ",
                    e.ihi, "], got ", nn::json_excerpt(v));
      // Refused before converting: an unsigned above 2^63 would wrap into range, and converting
      // a float beyond ±2^63 (1e300) is undefined behaviour.
      const bool fits = v.is_number_unsigned()  ? v.get<uint64_t>() <= uint64_t(INT64_MAX)
                        : v.is_number_integer() ? true
                                                : std::fabs(v.get<double>()) < 0x1p63;
      DIFFLAB_CHECK(fits, source, ": key '", e.key, "' = ", nn::json_excerpt(v),
                    " is out of range [", e.ilo, ", ", e.ihi, "]");
      const int64_t x = v.is_number_integer() ? v.get<int64_t>() : int64_t(v.get<double>());
      DIFFLAB_CHECK(x >= e.ilo && x <= e.ihi, source, ": key '", e.key, "' = ", x,
                    " is out of range [", e.ilo, ", ", e.ihi, "]");
      e.i = x;
      break;
    }
    case Kind::d: {
      DIFFLAB_CHECK(v.is_number(), source, ": key '", e.key, "' expects a number in [", e.dlo, ", ",
                    e.dhi, "], got ", nn::json_excerpt(v));
      double x = v.get<double>();
      DIFFLAB_CHECK(std::isfinite(x) && x >= e.dlo && x <= e.dhi, source, ": key '", e.key,
                    "' = ", x, " is out of range [", e.dlo, ", ", e.dhi, "]");
      e.d = x;
      break;
    }
    case Kind::b:
      DIFFLAB_CHECK(v.is_boolean(), source, ": key '", e.key, "' expects true or false, got ",
                    nn::json_excerpt(v));
      e.b = v.get<bool>();
      break;
    case Kind::s: {
      DIFFLAB_CHECK(v.is_string(), source, ": key '", e.key, "' expects a string, got ",
                    nn::json_excerpt(v));
      std::string x = v.get<std::string>();
      if (!e.choices.empty() &&
          std::find(e.choices.begin(), e.choices.end(), x) == e.choices.end()) {
        std::ostringstream os;
        for (size_t i = 0; i < e.choices.size(); ++i) os << (i ? ", " : "") << e.choices[i];
        DIFFLAB_FAIL(source, ": key '", e.key, "' = '", x, "' is not one of {", os.str(), "}");
      }
      e.s = x;
      break;
    }
  }
}

void Config::load_json(const json& j, const std::string& source) {
  DIFFLAB_CHECK(j.is_object(), source, ": expected a JSON object at the top level");
  std::vector<std::pair<std::string, const json*>> stack{{"", &j}};
  while (!stack.empty()) {
    auto [prefix, node] = stack.back();
    stack.pop_back();
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (!it.key().empty() && it.key()[0] == '_') continue;  // "_comment" and the like
      std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
      if (it->is_object())
        stack.emplace_back(key, &*it);
      else
        assign(entry(key, source), *it, source);
    }
  }
}

void Config::load_run_json(const json& j, const std::string& source) {
  translate_renames_ = true;
  try {
    load_json(j, source);
  } catch (...) {
    translate_renames_ = false;
    throw;
  }
  translate_renames_ = false;
}

void Config::load_file(const std::string& path) {
  std::string text = read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for 1e999
    DIFFLAB_FAIL("config file '", path, "' is not valid JSON: ", e.what());
  }
  load_json(j, "config file '" + path + "'");
}

void Config::set(const std::string& assignment) {
  auto eq = assignment.find('=');
  DIFFLAB_CHECK(eq != std::string::npos && eq > 0, "--set: expected key=value, got '", assignment,
                "'");
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  Entry& e = entry(key, "--set");
  json v;
  if (e.kind == Kind::s) {
    v = value;
  } else {
    try {
      v = json::parse(value);
    } catch (const json::exception&) {  // parse_error, or out_of_range for 1e999
      v = value;                        // reported as the wrong type below
    }
  }
  assign(e, v, "--set");
}

Config& Config::put(const std::string& key, const json& value) {
  assign(entry(key, "config"), value, "config");
  return *this;
}

int64_t Config::get_int(const std::string& key) const {
  const Entry& e = entry(key);
  DIFFLAB_CHECK(e.kind == Kind::i, "config: key '", key, "' is not an integer");
  return e.i;
}
double Config::get_double(const std::string& key) const {
  const Entry& e = entry(key);
  DIFFLAB_CHECK(e.kind == Kind::d, "config: key '", key, "' is not a number");
  return e.d;
}
bool Config::get_bool(const std::string& key) const {
  const Entry& e = entry(key);
  DIFFLAB_CHECK(e.kind == Kind::b, "config: key '", key, "' is not a bool");
  return e.b;
}
const std::string& Config::get_string(const std::string& key) const {
  const Entry& e = entry(key);
  DIFFLAB_CHECK(e.kind == Kind::s, "config: key '", key, "' is not a string");
  return e.s;
}

json Config::resolved() const {
  json out = json::object();
  for (auto& e : entries_) {
    json* node = &out;
    std::string k = e.key;
    size_t pos;
    while ((pos = k.find('.')) != std::string::npos) {
      node = &(*node)[k.substr(0, pos)];
      k = k.substr(pos + 1);
    }
    switch (e.kind) {
      case Kind::i:
        (*node)[k] = e.i;
        break;
      case Kind::d:
        (*node)[k] = e.d;
        break;
      case Kind::b:
        (*node)[k] = e.b;
        break;
      case Kind::s:
        (*node)[k] = e.s;
        break;
    }
  }
  return out;
}

std::string Config::help() const {
  std::ostringstream os;
  for (auto& e : entries_) {
    os << "  " << e.key << " = ";
    switch (e.kind) {
      case Kind::i:
        os << e.i << "  (integer in [" << e.ilo << ", " << e.ihi << "])";
        break;
      case Kind::d:
        os << e.d << "  (number in [" << e.dlo << ", " << e.dhi << "])";
        break;
      case Kind::b:
        os << (e.b ? "true" : "false") << "  (bool)";
        break;
      case Kind::s: {
        os << '"' << e.s << '"';
        if (!e.choices.empty()) {
          os << "  (one of";
          for (auto& c : e.choices) os << " " << c;
          os << ")";
        }
        break;
      }
    }
    os << "\n      " << e.help << "\n";
  }
  return os.str();
}

}  // namespace difflab::experiments
