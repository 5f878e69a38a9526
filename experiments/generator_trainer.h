// The training loop shared by the commands that fit a generative network with their own loss
// and sampler rather than a diffusion loss (train-drift, train-flux): Adam, optional clipping
// and EMA, non-finite steps stopped before the weights, held-out metrics of fresh samples from
// step 0 (the untrained network) on (MMD, energy, sliced W1 for vectors; LeNet Fréchet
// distance and KID for images), checkpoints with bit-exact --resume, and report.html (metrics
// table and curves, loss, scatter plots or sample grids).
#pragma once
#include <functional>
#include <string>

#include "experiments/command.h"
#include "experiments/ddpm_setup.h"
#include "nn/module.h"
#include "tensor/random.h"

namespace difflab::experiments {

// Declares data.* (vector and image data sets), train.* and eval.n with these defaults.
void declare_vector_training_keys(Config& c, int64_t default_steps, int64_t default_batch,
                                  double default_lr);

struct VectorTask {
  std::string command;  // "train-drift": names errors and the run's report
  nn::Module* module = nullptr;  // moved to the config's device by run_vector_training
  // One step's loss from a data batch (train.batch rows, on the module's device); all
  // randomness from g.
  std::function<ag::Var(const tensor::Tensor& batch, tensor::Generator& g)> loss;
  // n samples under no-grad (the EMA weights are swapped in by the caller); randomness from g.
  // On the module's device; the caller moves them to the CPU for the metrics.
  std::function<tensor::Tensor(int64_t n, tensor::Generator& g)> sample;
  std::string title;        // report heading
  std::string description;  // report paragraph (model, objective, sampler)
};

int run_vector_training(const Config& cfg, const CommandArgs& args, const std::string& dir,
                        const DdpmData& data, const VectorTask& task);

}  // namespace difflab::experiments
