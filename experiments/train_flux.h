// `difflab train-flux`: flux matching (diffusion/flux.h; Pao-Huang et al. 2026) of an MLP
// vector field on vector data at a fixed smoothing σ², sampled with unadjusted Langevin
// dynamics; the shared loop of vector_trainer.h (held-out metrics from the untrained field on,
// checkpoints, --resume, report).
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

Config flux_config();
int run_train_flux(const CommandArgs& args);

}  // namespace difflab::experiments
