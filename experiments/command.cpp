#include "experiments/command.h"

#include <cstdlib>
#include <thread>

#include "experiments/io.h"
#include "experiments/presets.h"
#include "tensor/device.h"
#include "tensor/error.h"
#include "tensor/threads.h"

#ifndef DIFFLAB_SOURCE_DIR
#define DIFFLAB_SOURCE_DIR "."
#endif

namespace difflab::experiments {

std::string config_dir() {
  if (const char* d = std::getenv("DIFFLAB_CONFIG_DIR")) return d;
  return std::string(DIFFLAB_SOURCE_DIR) + "/experiments/configs";
}

std::string default_run_dir(const std::string& command, const CommandArgs& args) {
  if (!args.run_dir.empty()) return args.run_dir;
  return "runs/" + command + "-" + (args.preset.empty() ? std::string("custom") : args.preset);
}

void resolve_config(Config& cfg, const CommandArgs& args) {
  if (!cfg.has("seed")) cfg.declare_int("seed", 0, 0, int64_t(1) << 53, "random seed");
  if (!cfg.has("threads"))
    cfg.declare_int("threads", 0, 0, 256, "CPU threads for difflab's kernels (0 = all cores)");
  if (!cfg.has("device"))
    cfg.declare_string("device", "cpu", {}, "where tensors live: cpu, cuda or cuda:<index>");
  if (!args.preset.empty()) {
    std::string p = config_dir() + "/" + args.preset + ".json";
    if (!file_exists(p)) {
      std::string near;
      for (const std::string& n : nearest_presets(args.preset)) near += (near.empty() ? "" : ", ") + n;
      DIFFLAB_FAIL("unknown preset '", args.preset, "': no file ", p, " (nearest: ", near,
                   "; `difflab presets` lists them all)");
    }
    cfg.load_file(p);
  }
  if (!args.config_path.empty()) cfg.load_file(args.config_path);
  for (const auto& s : args.sets) cfg.set(s);
  if (args.seed) cfg.set("seed=" + std::to_string(*args.seed));
  if (args.threads) cfg.set("threads=" + std::to_string(*args.threads));
  if (!args.device.empty()) cfg.set("device=" + args.device);
}

Config command_config(Config cfg, const CommandArgs& args, const std::string& dir,
                      bool from_run) {
  if (!from_run) {
    resolve_config(cfg, args);
    return cfg;
  }
  DIFFLAB_CHECK(file_exists(dir + "/config.json"), "no run to resume in '", dir,
                "' (config.json is missing)");
  CommandArgs none;
  resolve_config(cfg, none);
  cfg.load_run_json(nlohmann::json::parse(read_file(dir + "/config.json")),
                    "'" + dir + "/config.json'");
  for (const auto& s : args.sets) cfg.set(s);
  if (args.seed) cfg.set("seed=" + std::to_string(*args.seed));
  if (args.threads) cfg.set("threads=" + std::to_string(*args.threads));
  if (!args.device.empty()) cfg.set("device=" + args.device);
  return cfg;
}

void apply_threads(const Config& cfg) {
  const tensor::Device device = tensor::parse_device(cfg.get_string("device"));
  tensor::check_device_available(device);
  int n = int(cfg.get_int("threads"));
  if (n == 0) n = int(std::thread::hardware_concurrency());
  tensor::set_num_threads(n);
}

tensor::Device command_device(const Config& cfg) {
  return tensor::parse_device(cfg.get_string("device"));
}

}  // namespace difflab::experiments
