// `difflab train-drift`: a one-step generator x = f_θ(ε) trained with the drifting loss
// (diffusion/drifting.h; Deng et al. 2026, Algorithm 1): each step generates a batch, computes
// the field V from data positives and the batch itself as negatives, and regresses the batch
// onto the frozen x + V. Vector data sets (the 2-D toys, ring_mog) with an MLP generator; the
// held-out MMD, energy distance and sliced W1 of one-step samples are logged from step 0 (the
// untrained generator) on. --resume continues bit-exactly.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

Config drift_config();
int run_train_drift(const CommandArgs& args);

}  // namespace difflab::experiments
