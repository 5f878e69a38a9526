#include "experiments/base_run.h"

#include <cstdio>

#include "experiments/cancel.h"
#include "experiments/command.h"
#include "experiments/io.h"
#include "nn/safetensors.h"

namespace difflab::experiments {

Config ensure_ddpm_run(const BaseRunRequest& r) {
  const bool exists = file_exists(r.dir + "/checkpoints/ema.safetensors");
  const bool finished = exists && file_exists(r.dir + "/report.html");
  if (!finished) {
    DIFFLAB_CHECK(!r.preset.empty() || exists, r.key, ": no trained DDPM in '", r.dir,
                  "'; train one with `difflab train-ddpm --run ", r.dir, "` or set ", r.key,
                  "_preset");
    if (!r.preset.empty()) {
      const bool resume = file_exists(r.dir + "/config.json");
      std::fprintf(stderr, "training the base model first: difflab train-ddpm --preset %s --run %s%s\n",
                   r.preset.c_str(), r.dir.c_str(), resume ? " --resume" : "");
      CommandArgs a;
      a.preset = r.preset;
      Config cfg = command_config(ddpm_config(), a, r.dir, resume);
      cfg.put("threads", r.threads);
      train_ddpm(cfg, r.dir, resume);
      DIFFLAB_CHECK(!cancel_requested(), r.key, ": interrupted while training the base model in '",
                    r.dir, "'; the same command resumes it");
    }
  }
  return command_config(ddpm_config(), CommandArgs{}, r.dir, true);
}

std::shared_ptr<DdpmModel> load_ddpm_weights(const std::string& dir, const DdpmRunSettings& rs,
                                             const Dataset& data) {
  auto m = std::make_shared<DdpmModel>(make_ddpm_model(rs.model, data));
  nn::load_module(dir + "/checkpoints/ema.safetensors", *m->module);
  m->module->eval();
  return m;
}

}  // namespace difflab::experiments
