// Typed, validated configuration: each command declares its keys (type, default, range or
// choices, help); a JSON file and `--set key=value` overrides are applied on top. Unknown keys,
// wrong types and out-of-range values throw difflab::Error naming the key, the allowed range and
// the nearest valid key.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace difflab::experiments {

class Config {
 public:
  Config& declare_int(const std::string& key, int64_t def, int64_t lo, int64_t hi,
                      const std::string& help);
  Config& declare_double(const std::string& key, double def, double lo, double hi,
                         const std::string& help);
  Config& declare_bool(const std::string& key, bool def, const std::string& help);
  // choices empty = any string.
  Config& declare_string(const std::string& key, const std::string& def,
                         const std::vector<std::string>& choices, const std::string& help);

  // An old name of `new_key`, renamed because its meaning differed between commands: --set and
  // config files that use it are refused with the new name suggested; a run folder's own
  // config.json (load_run_json) is translated, so runs made before the rename still resume,
  // sample and evaluate.
  Config& rename(const std::string& old_key, const std::string& new_key);

  // Nested objects are flattened with dots: {"train": {"steps": 5}} sets "train.steps".
  // Keys starting with '_' (e.g. "_comment") are ignored.
  void load_json(const nlohmann::json& j, const std::string& source = "config");
  void load_file(const std::string& path);
  // load_json for a run folder's config.json: renamed keys are read as their new names.
  void load_run_json(const nlohmann::json& j, const std::string& source);
  // "key=value"; the value is parsed according to the key's declared type.
  void set(const std::string& assignment);

  // Assignment by a program (in-process callers): a typed value (integer, number, bool or
  // string), checked like a file's; no text is parsed.
  Config& put(const std::string& key, const nlohmann::json& value);

  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const std::string& get_string(const std::string& key) const;
  bool has(const std::string& key) const;

  // Every key with its resolved value, nested by the dots (what config.json records).
  nlohmann::json resolved() const;
  std::string help() const;

 private:
  enum class Kind { i, d, b, s };
  struct Entry {
    std::string key;
    Kind kind = Kind::i;
    int64_t i = 0, ilo = 0, ihi = 0;
    double d = 0, dlo = 0, dhi = 0;
    bool b = false;
    std::string s;
    std::vector<std::string> choices;
    std::string help;
  };
  Entry& entry(const std::string& key, const std::string& source);
  const Entry& entry(const std::string& key) const;
  void assign(Entry& e, const nlohmann::json& v, const std::string& source);
  std::vector<Entry> entries_;
  std::vector<std::pair<std::string, std::string>> renames_;  // old key, new key
  bool translate_renames_ = false;
};

// Comma-separated numbers ("1,2,4") from a config string; throws naming the key.
std::vector<double> parse_list(const std::string& text, const std::string& key);
// Comma-separated names ("ring, raw"), spaces dropped, empty items skipped.
std::vector<std::string> parse_names(const std::string& text);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace difflab::experiments
