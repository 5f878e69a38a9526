// `difflab train-ddpm`: trains a DDPM (MLP on vectors, U-Net on images) on the shared training
// loop (Adam, warm-up + cosine LR, gradient clipping, EMA); writes the run folder (config.json,
// metrics.csv, checkpoints, sample grids, report.html); --resume continues bit-exactly.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

int run_train_ddpm(const CommandArgs& args);

}  // namespace difflab::experiments
