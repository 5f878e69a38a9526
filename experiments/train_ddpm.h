// `difflab train-ddpm`: trains a DDPM (MLP on vectors, U-Net on images) on the shared training
// loop (Adam, warm-up + cosine LR, gradient clipping, EMA); writes the run folder (config.json,
// metrics.csv, checkpoints, sample grids, report.html); --resume continues bit-exactly.
#pragma once
#include <vector>

#include "experiments/command.h"
#include "experiments/dataset.h"
#include "experiments/ddpm_model.h"
#include "experiments/ddpm_sampling.h"
#include "experiments/train_settings.h"

namespace difflab::experiments {

// Every setting of a train-ddpm run, read once from its config.
struct DdpmRunSettings {
  DataSettings data;
  DdpmModelSettings model;
  TrainSettings train;
  int64_t warmup = 100;      // linear warm-up steps of the cosine schedule
  double min_lr = 0;         // its floor
  double label_dropout = 0;  // class-conditional: probability of the null class
  SampleSettings sample;     // the evaluations' sampler (seed: seed + 1000003)
  std::vector<double> guidance;  // classifier-free guidance weights evaluated (class_cond)
  int64_t grid = 64, eval_n = 2000;
};
DdpmRunSettings ddpm_run_settings(const Config& cfg);

int run_train_ddpm(const CommandArgs& args);
// train-ddpm on a resolved config (in-process callers: distill's teacher, drift-compare).
int train_ddpm(const Config& cfg, const std::string& dir, bool resume);

}  // namespace difflab::experiments
