// `difflab train-drift`: a one-step generator x = f_θ(ε) trained with the drifting loss
// (diffusion/drifting.h; Deng et al. 2026, Algorithm 1): each step generates a batch, computes
// the field V from data positives and the batch itself as negatives, and regresses the batch
// onto the frozen x + V. Vector data sets (the 2-D toys, ring_mog) with an MLP generator; the
// held-out MMD, energy distance and sliced W1 of one-step samples are logged from step 0 (the
// untrained generator) on. --resume continues bit-exactly.
#pragma once
#include <functional>

#include "experiments/command.h"
#include "experiments/generator_runs.h"

namespace difflab::experiments {

Config drift_config();

// The generator of a train-drift run (initialised from its seed, on its device): its network,
// the map from noise to samples, and the noise dimension.
struct DriftGenerator {
  GeneratorModel model;
  std::function<ag::Var(const ag::Var& noise)> forward;
  int64_t noise_dim = 0;
};
DriftGenerator make_drift_generator(const Config& cfg, const DdpmData& data);
int run_train_drift(const CommandArgs& args);

}  // namespace difflab::experiments
