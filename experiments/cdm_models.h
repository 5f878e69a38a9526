// The frozen models of `difflab cdm`, each a run folder of its own training command: the prior
// over X (a train-ddpm run), the fast inner sampler (a train-cond ict run) and the slow baseline's
// conditional DDPM (a train-cond ddpm run). A run that is missing is trained first from its
// preset (an interrupted one is resumed), as distill does with its teacher.
#pragma once
#include <memory>
#include <string>

#include "diffusion/denoiser.h"
#include "diffusion/schedule.h"
#include "experiments/ddpm_model.h"
#include "experiments/train_cond.h"

namespace difflab::experiments {

enum class CdmModelKind { prior, inner, baseline };

// Where one model lives and how to train it when it is missing.
struct CdmModelRun {
  CdmModelKind kind;
  std::string dir, preset;  // preset "" = never train here
};

// Trains `m` (threads, device of the cdm run) unless its run finished; throws naming the missing
// weights when it has no preset. Returns whether it trained.
bool ensure_cdm_model(const CdmModelRun& m, int64_t threads, const std::string& device);

// The prior: the train-ddpm run's EMA weights as a VP model (x̂₀ and ε̂) on its schedule. An
// image prior reads and returns flattened rows [R, C·H·W] (MLGD-F moves x as rows); `image` is
// then its [C, H, W].
struct CdmPrior {
  DdpmModel model;
  diffusion::VpModel vp;
  int64_t dim = 0;
  tensor::Shape image;  // empty for vector data
};
CdmPrior load_cdm_prior(const std::string& dir, const tensor::Device& device);

}  // namespace difflab::experiments
