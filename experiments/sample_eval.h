// `difflab sample` and `difflab eval` on the run folder of any training command (train-ddpm,
// distill, train-drift, train-flux): its published weights loaded into the model its config
// describes, sampled into a grid, or judged on held-out data over eval.seeds noise draws.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

int run_sample(const CommandArgs& args);
int run_eval(const CommandArgs& args);
// The same on a resolved config (trained_run_config's; in-process callers put sample.* keys).
int sample_run(const Config& cfg, const std::string& dir, const std::string& checkpoint = "");
int evaluate_run(const Config& cfg, const std::string& dir, const std::string& checkpoint = "");

}  // namespace difflab::experiments
