// The train.* keys that train-ddpm, train-drift and train-flux share: their declaration (with
// each command's defaults) and their typed settings, read once: the loop's settings, the batch
// size and the seed of the run's random cursor.
#pragma once
#include "experiments/config.h"
#include "experiments/train_loop.h"

namespace difflab::experiments {

struct TrainDefaults {
  int64_t steps, batch, min_batch, max_batch;
  double lr, grad_clip, ema_decay;
  int64_t checkpoint_every, eval_every;
};
// Declares train.steps, batch, lr, grad_clip, ema_decay, log_every, checkpoint_every,
// eval_every and stop_after.
void declare_train_keys(Config& c, const TrainDefaults& d);

struct TrainSettings {
  LoopSettings loop;  // train.steps, lr, grad_clip, ema_decay, log/checkpoint/eval_every, stop_after
  int64_t batch = 256;
  uint64_t seed = 0;
};
TrainSettings train_settings(const Config& cfg);

// The noise generator and data order of a run (seeds seed·13 + 5 and seed·17 + 3), with batches
// of min(batch, n_train) rows.
RunCursor train_cursor(const TrainSettings& s, int64_t n_train);

}  // namespace difflab::experiments
