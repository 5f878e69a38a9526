// train-drift and train-flux on the shared training loop: networks that draw samples by their
// own sampler (a one-step generator, a Langevin chain on a learned field). Their common keys,
// the held-out evaluation of fresh samples from step 0 (the untrained network) on (MMD, energy,
// sliced W1 for vectors; LeNet Fréchet distance and KID for images), the published weights
// (checkpoints/model.safetensors) and report.html (metrics table and curves, loss, scatter
// plots or sample grids).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "experiments/command.h"
#include "experiments/dataset.h"
#include "experiments/sample_metrics.h"
#include "experiments/train_settings.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace difflab::experiments {

// Declares data.* (vector and image data sets), train.* and eval.n with these defaults.
void declare_generator_keys(Config& c, int64_t default_steps, int64_t default_batch,
                            double default_lr);

// The settings those keys hold, read once.
struct GeneratorRunSettings {
  DataSettings data;
  TrainSettings train;
  int64_t eval_n = 2000;  // samples of each held-out evaluation
};
GeneratorRunSettings generator_run_settings(const Config& cfg);

// A network and how it draws samples: what training evaluates and `sample`/`eval` load.
struct GeneratorModel {
  std::shared_ptr<nn::Module> module;  // on the config's device
  // n samples under no-grad, on the CPU; every random draw from g.
  std::function<tensor::Tensor(int64_t n, tensor::Generator& g)> sample;
  std::string sampler_tag;  // names `eval` rows: "onestep", "langevin1000"
};

struct GeneratorTraining {
  std::string command;  // "train-drift": names errors
  GeneratorModel model;
  // One step's loss from a data batch (train.batch rows, on the module's device) at the run's
  // update `step` (0-based: the updates done before this one; curricula read it); every random
  // draw from g.
  std::function<ag::Var(const tensor::Tensor& batch, tensor::Generator& g, int64_t step)> loss;
  // Task-specific figures of the held-out samples, logged and tabled beside the shared ones
  // (keys listed in extra_keys for the report); empty: none.
  std::function<Metrics(const tensor::Tensor& samples)> extra_metrics;
  std::vector<std::string> extra_keys;
  // The data set's shared held-out metrics; off where they cannot judge the samples (train-cond
  // on mnist_rot_yx: [X | Y] rows whose 784 image coordinates are the same on both sides).
  bool shared_metrics = true;
  std::string title;        // report heading
  std::string description;  // report paragraph (model, objective, sampler)
};

// Trains t.model on the shared loop in `dir` (config: the resolved config it records).
int train_generator(const GeneratorRunSettings& s, const nlohmann::json& config,
                    const std::string& dir, bool resume, const Dataset& data,
                    const GeneratorTraining& t);

// The seed of training's evaluation draws (the same at every evaluation).
uint64_t generator_eval_seed(uint64_t seed);

}  // namespace difflab::experiments
