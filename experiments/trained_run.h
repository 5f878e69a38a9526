// A trained run folder as `sample` and `eval` load it, whichever command made it: train-ddpm
// (its EMA weights and sampler settings), distill (its last student, or --checkpoint's, by DDIM
// at the student's steps), train-drift (one network evaluation), train-flux (Langevin) or
// train-cond (Y drawn for the reference X, judged as [X | Y] rows or by sampled angles). The
// command is told by the config's keys, so folders made before this record existed load too.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiments/command.h"
#include "experiments/dataset.h"
#include "experiments/sample_metrics.h"

namespace difflab::experiments {

struct TrainedRun {
  std::string command;     // "train-ddpm", "distill", "train-drift", "train-flux", "train-cond"
  Config cfg;              // the run's resolved config (eval.seeds declared on top)
  Dataset data;           // the data it was trained on, with its held-out split
  std::string checkpoint;  // the weights loaded
  int64_t step = 0;        // the training step of those weights
  std::string tag;         // names metric rows and files: "ddim50", "onestep", "student4"
  int64_t num_classes = 0;  // > 0: class-conditional (labels cycled, guidance weights below)
  std::vector<double> guidances{0.0};
  int64_t eval_n = 0, grid = 64;  // samples judged by eval; samples shown by sample
  // n samples on the CPU with guidance weight w, from noise draw `rep` (draw 0 reproduces the
  // training's own evaluation noise where the command has one).
  std::function<tensor::Tensor(int64_t n, double w, int64_t rep)> draw;
  std::shared_ptr<void> keep_alive;  // the models `draw` uses
  // The data set's shared metrics judge the samples (else only extra_metrics, when set).
  bool shared_metrics = true;
  std::function<Metrics(const tensor::Tensor& samples)> extra_metrics;
};

// The command that made the run whose config.json holds `config`.
std::string run_command(const nlohmann::json& config);
// The resolved config of the run in `dir` for sample and eval: its config.json with eval.seeds
// declared on top and args' --set, --seed, --threads and --device applied.
Config trained_run_config(const CommandArgs& args, const std::string& dir);
// Loads the run's weights (`checkpoint`, or by default those the command publishes).
TrainedRun load_trained_run(const Config& cfg, const std::string& dir,
                            const std::string& checkpoint = "");

}  // namespace difflab::experiments
