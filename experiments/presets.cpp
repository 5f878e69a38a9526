#include "experiments/presets.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "experiments/command_table.h"
#include "experiments/io.h"

namespace difflab::experiments {

std::vector<PresetInfo> list_presets() {
  std::vector<PresetInfo> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(config_dir(), ec)) return out;  // no presets to name
  for (const auto& f : std::filesystem::directory_iterator(config_dir())) {
    if (f.path().extension() != ".json") continue;
    PresetInfo p{f.path().stem().string(), ""};
    const auto j = nlohmann::json::parse(read_file(f.path().string()), nullptr, false);
    if (j.is_object() && j.contains("_comment") && j["_comment"].is_string())
      p.comment = j["_comment"].get<std::string>();
    out.push_back(p);
  }
  std::sort(out.begin(), out.end(),
            [](const PresetInfo& a, const PresetInfo& b) { return a.name < b.name; });
  return out;
}

std::vector<std::string> nearest_presets(const std::string& name, size_t count) {
  std::vector<std::pair<size_t, std::string>> d;
  for (const PresetInfo& p : list_presets()) d.emplace_back(edit_distance(name, p.name), p.name);
  std::sort(d.begin(), d.end());
  std::vector<std::string> out;
  for (size_t i = 0; i < d.size() && i < count; ++i) out.push_back(d[i].second);
  return out;
}

namespace {
// The commands whose declared keys take every key of the preset.
std::string accepting_commands(const std::string& preset) {
  std::string out;
  for (const CommandSpec& c : command_table()) {
    if (!c.keys) continue;
    Config cfg = c.keys();
    try {
      CommandArgs a;
      a.preset = preset;
      resolve_config(cfg, a);
    } catch (const std::exception&) {
      continue;
    }
    out += (out.empty() ? "" : ", ") + c.name;
  }
  return out.empty() ? "no command" : out;
}
}  // namespace

int run_presets(const CommandArgs&) {
  for (const PresetInfo& p : list_presets())
    std::printf("%-26s %s\n%-26s   (%s)\n", p.name.c_str(), p.comment.c_str(), "",
                accepting_commands(p.name).c_str());
  return 0;
}

}  // namespace difflab::experiments
