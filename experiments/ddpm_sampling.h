// Sampling a trained DDPM experiment model in batches: sampler choice, step count, DDIM η,
// classifier-free guidance, noise keyed by global sample index (so any batch split gives the
// same samples), under no-grad.
#pragma once
#include <functional>
#include <string>

#include "experiments/ddpm_model.h"

namespace difflab::experiments {

struct SampleSettings {
  std::string sampler = "ddim";  // ddpm | ddim | euler | heun
  int64_t steps = 50;
  double eta = 0.0;
  double guidance = 0.0;   // w of classifier-free guidance (class-conditional models)
  tensor::Tensor labels;   // i64 [n] class of each sample (class-conditional), else undefined
  int64_t batch = 256;
  uint64_t seed = 0;
  bool progress = false;   // print a progress line per batch
  // Clip x̂ to [-1, 1] and recompute ε̂ from it at every step (the data range of images), as
  // improved-diffusion's clip_denoised does for its DDPM and DDIM samplers.
  bool clip_x0 = false;
  // Replaces the model each batch samples (built from the network with its labels, before
  // clip_x0): e.g. concept discovery's teacher guidance (matching/concept_guidance.h).
  std::function<diffusion::VpModel(diffusion::VpModel)> wrap;
};

// The sample.* keys of a train-ddpm run (sampler, steps, eta, clip_x0, batch); the caller sets
// the seed, guidance and labels.
SampleSettings ddpm_sample_settings(const Config& cfg);

// n samples of the model's sample shape, f32, on the CPU (sampled on the model's device).
tensor::Tensor generate(const DdpmModel& model, int64_t n, const SampleSettings& s);

// Balanced labels 0, 1, ..., K-1, 0, 1, ... (i64 [n]).
tensor::Tensor cycle_labels(int64_t n, int64_t num_classes);

}  // namespace difflab::experiments
