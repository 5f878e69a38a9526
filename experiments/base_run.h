// A pretrained train-ddpm run that another command builds on (implicit diffusion's base, concept
// discovery's base): trained here from its preset first when it is missing or unfinished
// (resuming an interrupted one), then loaded with its EMA weights.
#pragma once
#include <memory>
#include <string>

#include "experiments/config.h"
#include "experiments/ddpm_model.h"
#include "experiments/train_ddpm.h"

namespace difflab::experiments {

struct BaseRunRequest {
  std::string dir;     // the run folder
  std::string preset;  // trains `dir` from this train-ddpm preset when unfinished ("" = never)
  std::string key;     // the setting that named `dir`, for errors ("implicit.base")
  int64_t threads = 0;
};

// The finished run's config; trains it first when needed. A run with neither a report nor
// weights and no preset is refused, naming `key`; weights without a report are used as they are.
Config ensure_ddpm_run(const BaseRunRequest& r);

// The run's model with its EMA weights, in eval mode, built for `data` (the run's data set).
std::shared_ptr<DdpmModel> load_ddpm_weights(const std::string& dir, const DdpmRunSettings& rs,
                                             const Dataset& data);

}  // namespace difflab::experiments
