// `difflab train-flux`: flux matching (diffusion/flux.h; Pao-Huang et al. 2026) of an MLP
// vector field on vector data at a fixed smoothing σ², sampled with unadjusted Langevin
// dynamics (langevin.* keys; the old sample.* names are refused, and translated in run folders
// made before the rename), on the shared generator training (generator_runs.h).
#pragma once
#include <functional>

#include "diffusion/flux.h"
#include "experiments/command.h"
#include "experiments/generator_runs.h"

namespace difflab::experiments {

Config flux_config();

// Every setting of a train-flux run, read once from its config.
struct FluxSettings {
  GeneratorRunSettings run;
  int64_t hidden = 128, depth = 2;  // the field network
  diffusion::FluxOptions flux;
  int64_t langevin_steps = 1000;
  double step_size = 0.1, init_std = 1.0;  // x ← x + (ε/2) f(x) + √ε ξ from N(0, init_std² I)
};
FluxSettings flux_settings(const Config& cfg);

// The field network of a train-flux run (initialised from its seed, on its device) and its
// Langevin sampler.
struct FluxField {
  GeneratorModel model;
  std::function<ag::Var(const ag::Var& x)> field;
};
FluxField make_flux_field(const FluxSettings& s, const Dataset& data,
                          const tensor::Device& device);

int run_train_flux(const CommandArgs& args);

}  // namespace difflab::experiments
