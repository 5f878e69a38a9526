// What every `difflab` command receives from the command line, and the shared steps that turn
// it into a resolved Config (preset file, then --config, then --set overrides; --seed,
// --threads and --device applied last).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "experiments/config.h"
#include "tensor/device.h"

namespace difflab::experiments {

struct CommandArgs {
  std::string preset;              // name of experiments/configs/<preset>.json, or empty
  std::string config_path;         // --config file.json
  std::vector<std::string> sets;   // --set key=value
  std::optional<int64_t> seed;     // --seed
  std::optional<int> threads;      // --threads
  std::string device;              // --device (cpu, cuda, cuda:N)
  std::string run_dir;             // --run (default runs/<command>-<preset or "custom">)
  bool resume = false;             // --resume
  std::string checkpoint;          // --checkpoint (sample/eval)
};

// runs/<command>-<preset or "custom"> unless --run was given.
std::string default_run_dir(const std::string& command, const CommandArgs& args);

// The directory holding the preset JSON files (the source tree's experiments/configs, found
// next to the executable's source dir at build time or via DIFFLAB_CONFIG_DIR).
std::string config_dir();
// Applies preset, --config and --set to `cfg` (which holds the command's declared defaults);
// declares and applies "seed" and "threads" too.
void resolve_config(Config& cfg, const CommandArgs& args);
// The resolved config of a command whose keys `declared` holds: a fresh one from preset/--config/
// --set (from_run false), or a run's own <dir>/config.json with --set, --seed, --threads and
// --device applied on top (from_run: --resume, sample, eval).
Config command_config(Config declared, const CommandArgs& args, const std::string& dir,
                      bool from_run);
// Sets difflab's thread count from the resolved config (0 = all cores), and checks that the
// config's "device" exists and is usable here (an error naming it otherwise).
void apply_threads(const Config& cfg);
// The config's "device": where a command keeps its models and does its tensor work. Data sets,
// metrics, images and checkpoints stay on the CPU; batches go over per step.
tensor::Device command_device(const Config& cfg);

}  // namespace difflab::experiments
