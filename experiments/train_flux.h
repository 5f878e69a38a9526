// `difflab train-flux`: flux matching (diffusion/flux.h; Pao-Huang et al. 2026) of an MLP
// vector field on vector data at a fixed smoothing σ², sampled with unadjusted Langevin
// dynamics (langevin.* keys; the old sample.* names are refused, and translated in run folders
// made before the rename), on the shared generator training (generator_runs.h).
#pragma once
#include <functional>

#include "experiments/command.h"
#include "experiments/generator_runs.h"

namespace difflab::experiments {

Config flux_config();

// The field network of a train-flux run (initialised from its seed, on its device) and its
// Langevin sampler.
struct FluxField {
  GeneratorModel model;
  std::function<ag::Var(const ag::Var& x)> field;
};
FluxField make_flux_field(const Config& cfg, const DdpmData& data);

int run_train_flux(const CommandArgs& args);

}  // namespace difflab::experiments
