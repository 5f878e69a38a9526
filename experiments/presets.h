// The presets in experiments/configs/: `difflab presets` lists each with its "_comment" and the
// commands whose keys accept it; an unknown --preset names the nearest ones.
#pragma once
#include <string>
#include <vector>

#include "experiments/command.h"

namespace difflab::experiments {

struct PresetInfo {
  std::string name;     // file stem: "ddpm_ring"
  std::string comment;  // its "_comment" ("" when it has none)
};
// Every preset in config_dir(), sorted by name.
std::vector<PresetInfo> list_presets();
// The presets nearest to `name` by edit distance (for "did you mean" suggestions).
std::vector<std::string> nearest_presets(const std::string& name, size_t count = 3);

int run_presets(const CommandArgs& args);

}  // namespace difflab::experiments
