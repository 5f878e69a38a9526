// `difflab train-drift`: a one-step generator x = f_θ(ε) trained with the drifting loss
// (diffusion/drifting.h; Deng et al. 2026, Algorithm 1): each step generates a batch, computes
// the field V from data positives and the batch itself as negatives, and regresses the batch
// onto the frozen x + V. Vector data sets (the 2-D toys, ring_mog) with an MLP generator; the
// held-out MMD, energy distance and sliced W1 of one-step samples are logged from step 0 (the
// untrained generator) on. --resume continues bit-exactly.
#pragma once
#include <functional>

#include "diffusion/drifting.h"
#include "experiments/command.h"
#include "experiments/generator_runs.h"

namespace difflab::experiments {

Config drift_config();

// Every setting of a train-drift run, read once from its config.
struct DriftSettings {
  GeneratorRunSettings run;
  int64_t noise_dim = 32, hidden = 256, depth = 3;  // MLP generator (vector data)
  int64_t channels = 64;                            // convolutional generator (image data)
  diffusion::DriftFieldOptions field;
  int64_t generated = 2048;  // generated samples per step (also the negatives)
  std::string features = "pixels";  // image data: the field's space, pixels or lenet
};
DriftSettings drift_settings(const Config& cfg);

// The generator of a train-drift run (initialised from its seed, on its device): its network,
// the map from noise to samples, and the noise dimension.
struct DriftGenerator {
  GeneratorModel model;
  std::function<ag::Var(const ag::Var& noise)> forward;
  int64_t noise_dim = 0;
};
// On `device`, initialised from the run's seed.
DriftGenerator make_drift_generator(const DriftSettings& s, const Dataset& data,
                                    const tensor::Device& device);

int run_train_drift(const CommandArgs& args);
// train-drift on a resolved config (in-process callers: drift-compare).
int train_drift(const Config& cfg, const std::string& dir, bool resume);

}  // namespace difflab::experiments
