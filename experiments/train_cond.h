// `difflab train-cond`: a conditional sampler of Y given X on MLGD-F's joint mixtures
// (data cdm<task>_yx), the inner sampler of `difflab cdm`. Either a consistency model trained by
// improved consistency training (cond.objective=ict: MLGD-F's fast "Sprinter", sampled in
// sample.steps evaluations along the Karras ladder) or a conditional DDPM (ddpm: the slow MLGD
// baseline, sampled by sample.steps DDIM steps, η = 0). Both use nn::CondMLP (the condition
// embedding added to the hidden state). The run is judged on joint vectors [X | Y]: Y drawn for
// the X of an independent reference draw, against held-out pairs (the data-vs-data level is the
// reference pairs themselves). The published weights are checkpoints/model.safetensors.
#pragma once
#include <memory>
#include <string>

#include "diffusion/consistency.h"
#include "diffusion/schedule.h"
#include "experiments/command.h"
#include "experiments/generator_runs.h"
#include "matching/cdm.h"
#include "nn/cond_mlp.h"

namespace difflab::experiments {

Config cond_config();

struct CondSettings {
  GeneratorRunSettings run;
  int64_t hidden = 128, blocks = 3, time_embed_dim = 32;
  std::string objective = "ict";  // ict | ddpm
  diffusion::ConsistencyOptions ict;
  std::string schedule = "linear";  // ddpm
  int64_t sample_steps = 1;         // ict: K_s ladder evaluations; ddpm: DDIM steps
  bool image_encoder = false;       // the condition is a flattened 28×28 digit (nn/cond_encoder.h)
  double encoder_dropout = 0.1;
  double cond_noise = 0.0;          // training only: Gaussian noise added to the condition
  double cond_pixel_dropout = 0.0;  // training only: share of condition entries set to −1
};
CondSettings cond_settings(const Config& cfg);

// A conditional model of Y [m, dim_y] given X [m, dim_x].
struct CondModel {
  std::shared_ptr<nn::CondMLP> net;
  CondSettings s;
  std::shared_ptr<const diffusion::Schedule> schedule;  // ddpm only
  // Differentiable in cond: `steps` ladder evaluations (ict) or DDIM steps (ddpm, unrolled,
  // per-step checkpointing when asked); noise from the caller's generator.
  matching::ConditionalSampler sampler(int64_t steps, bool checkpoint = false) const;
  // The same for MLGD-F's loop: with an image encoder, each distinct image is encoded once
  // (ict only).
  matching::InnerSampler inner_sampler(int64_t steps) const;
  // The training loss of rows y given cond at update `step` of `total`.
  ag::Var loss(const ag::Var& y, const ag::Var& cond, int64_t step, int64_t total,
               tensor::Generator& g) const;
};
// Initialised from the run's seed, on `device`.
CondModel make_cond_model(const CondSettings& s, int64_t dim_y, int64_t dim_x,
                          const tensor::Device& device);
// A finished (or interrupted) train-cond run: its config and published weights.
CondModel load_cond_run(const std::string& dir, const tensor::Device& device);

// The joint view [X | Y] of a conditional data set: what training, `sample` and `eval` judge.
Dataset joint_view(const Dataset& cond_data);
// How a train-cond model draws and is judged (everything of its training task but the loss):
// Y drawn for the X of the reference draw, as [X | Y] rows; on MNIST rotation the angle
// figures replace the shared metrics.
GeneratorTraining cond_judging(std::shared_ptr<CondModel> model, const Dataset& cond_data);

int run_train_cond(const CommandArgs& args);
int train_cond(const Config& cfg, const std::string& dir, bool resume);

}  // namespace difflab::experiments
