// `difflab cdm`: MLGD-F's synthetic benchmarks (spec §2.7–2.8). Given the task's joint mixture,
// a prior over X, a fast conditional consistency model and (optionally) the slow conditional
// DDPM of the MLGD baseline — each a run folder, trained first from its preset when missing — it
// runs the methods named by cdm.methods and scores every restart by the exact squared L2 between
// the true conditional P(Y | X = x̂) and the target, ‖x̂ − x*‖ and the final matching loss:
//   mlgdf  MLGD-F: guided DDIM with the one-step (or cdm.inner_steps) consistency sampler
//   mlgd   the slow baseline: the same loop through cdm.baseline_steps unrolled DDIM steps
//   prior  x drawn from the prior alone (DDIM from noise)
//   best_of  per restart, the best of cdm.best_of prior draws by the final matching loss
//   point  point-target inverse design: the loop matching only G's mean
// Each finished method is kept in methods/<name>.json; --resume skips those.
#pragma once
#include <string>
#include <vector>

#include "experiments/cdm_models.h"
#include "experiments/command.h"
#include "matching/cdm.h"
#include "matching/divergence_settings.h"

namespace difflab::experiments {

Config cdm_config();

struct CdmCommandSettings {
  std::string task = "2d";
  CdmModelRun prior{CdmModelKind::prior, "", ""}, inner{CdmModelKind::inner, "", ""},
      baseline{CdmModelKind::baseline, "", ""};
  int64_t inner_steps = 1, baseline_steps = 100, baseline_restarts = 25;
  bool baseline_checkpoint = false;
  std::vector<std::string> methods;
  matching::DivergenceSettings divergence;
  matching::CdmSettings loop;
  int64_t top_k = 10, best_of = 100;
  int64_t threads = 0;
  std::string device = "cpu";
};
CdmCommandSettings cdm_settings(const Config& cfg);

int run_cdm(const CommandArgs& args);

}  // namespace difflab::experiments
