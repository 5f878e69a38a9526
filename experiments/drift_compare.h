// `difflab drift-compare`: the unified view's 2-D generation experiment (spec
// spec_mlgdf_concepts_drifting.md §5.7, E3) beside diffusion. For each 2-D data set, trains a
// one-step drifting generator with the Laplace and with the Gaussian kernel (train-drift) and a
// DDPM (train-ddpm), then tabulates held-out MMD and sliced W1 of the one-step samples against
// the DDPM sampled by DDIM at 1, 4 and 50 steps, with every run's training wall time. Each
// sub-run is an ordinary run folder inside this one; finished sub-runs are kept on a rerun.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

Config drift_compare_config();
int run_drift_compare(const CommandArgs& args);

}  // namespace difflab::experiments
