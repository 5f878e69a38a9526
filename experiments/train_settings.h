// The typed settings of the train.* keys that train-ddpm, train-drift and train-flux share,
// read once from a resolved Config: the loop's settings and the run's random cursor.
#pragma once
#include "experiments/config.h"
#include "experiments/train_loop.h"

namespace difflab::experiments {

// train.steps, lr, grad_clip, ema_decay, log_every, checkpoint_every, eval_every, stop_after.
LoopSettings train_loop_settings(const Config& cfg);
// The noise generator and data order of a run from its seed (seed·13 + 5, seed·17 + 3), with
// batches of min(train.batch, n_train) rows.
RunCursor train_cursor(const Config& cfg, int64_t n_train);

}  // namespace difflab::experiments
