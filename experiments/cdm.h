// `difflab cdm`: MLGD-F's synthetic benchmarks (spec §2.7–2.8); cdm.task=mnist_rot runs the
// MNIST-rotation benchmark instead (cdm_rotation.h). Given the task's joint mixture,
// a prior over X, a fast conditional consistency model and (optionally) the slow conditional
// DDPM of the MLGD baseline — each a run folder, trained first from its preset when missing — it
// runs the methods named by cdm.methods and scores every restart by the exact squared L2 between
// the true conditional P(Y | X = x̂) and the target, ‖x̂ − x*‖ and the final matching loss:
//   mlgdf  MLGD-F: guided DDIM with the one-step (or cdm.inner_steps) consistency sampler
//   mlgd   the slow baseline: the same loop through cdm.baseline_steps unrolled DDIM steps
//   prior  x drawn from the prior alone (DDIM from noise)
//   best_of  per restart, the best of cdm.best_of prior draws by the final matching loss
//   point  point-target inverse design: the loop matching only G's mean
// Each finished method is kept in methods/<name>.json; --resume skips those. Two studies can
// follow (cdm_studies.h): the inner-sampler control (cdm.inner_control) and the n × J
// sensitivity of MLGD-F (cdm.sensitivity).
#pragma once
#include <string>
#include <vector>

#include "experiments/cdm_models.h"
#include "experiments/command.h"
#include "experiments/data/joint_gmm.h"
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
  bool inner_control = false, sensitivity = false;
  std::vector<int64_t> control_steps{4, 16, 64}, sensitivity_n{25, 100, 250, 1000},
      sensitivity_mc{1, 3, 10};
  int64_t control_restarts = 5, sensitivity_restarts = 5;
  int64_t threads = 0;
  std::string device = "cpu";
  // mnist_rot (cdm_rotation.h): the targets to run and the judge's confidence for "a digit".
  std::vector<std::string> targets;
  double judge_confidence = 0.7;
};
CdmCommandSettings cdm_settings(const Config& cfg);

// The task, the frozen models and the matching loss every method works with.
struct CdmBench {
  CdmCommandSettings s;
  CdmTask task;
  CdmPrior prior;
  CondModel inner;
  std::shared_ptr<CondModel> baseline;  // null unless the slow baseline is needed
  matching::MatchingLoss loss;
};
// Trains what is missing, then loads the models.
CdmBench open_cdm_bench(const CdmCommandSettings& s);
matching::TargetSampler cdm_target(const CdmTask& task);

// One method's recovered x per restart and final losses.
struct CdmMethodResult {
  std::string name;
  tensor::Tensor x;                // [R, dX], f64 or f32
  std::vector<double> final_loss;  // per restart
  double seconds = 0;              // the whole method (restarts batched)
  int64_t runs = 0;
};
// mlgdf, mlgd, prior, best_of or point (see above).
CdmMethodResult run_cdm_method(const CdmBench& b, const std::string& name);
// MLGD-F or MLGD with an explicit inner sampler and loop settings, named `name`.
CdmMethodResult run_cdm_guided(const CdmBench& b, const std::string& name,
                               const matching::ConditionalSampler& inner,
                               const matching::CdmSettings& loop);

// The two loops every benchmark runs, on any prior, inner sampler, target and loss: guided
// MLGD-F with progress lines, and the best of `per` unguided prior draws for each of
// loop.restarts restarts (per = 1: plain prior draws), scored by `loss`.
matching::CdmRun guided_run(const CdmPrior& prior, const matching::InnerSampler& inner,
                            const matching::TargetSampler& target,
                            const matching::MatchingLoss& loss, const matching::CdmSettings& loop,
                            const std::string& name);
CdmMethodResult best_prior_draws(const CdmPrior& prior, const matching::InnerSampler& inner,
                                 const matching::TargetSampler& target,
                                 const matching::MatchingLoss& loss,
                                 const matching::CdmSettings& loop, int64_t per,
                                 const std::string& name);

int run_cdm(const CommandArgs& args);

}  // namespace difflab::experiments
