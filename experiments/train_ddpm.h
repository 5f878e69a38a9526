// `difflab train-ddpm`: trains a DDPM (MLP on vectors, U-Net on images) with Adam, warm-up +
// cosine LR, gradient clipping and an EMA; writes the run folder (config.json, metrics.csv,
// checkpoints, sample grids, report.html); --resume continues bit-exactly from the last state.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

int run_train_ddpm(const CommandArgs& args);
// runs/<command>-<preset or custom> unless --run was given.
std::string default_run_dir(const std::string& command, const CommandArgs& args);
// The resolved config: from preset/--config/--set, or (from_run) the run folder's config.json
// with --set/--seed/--threads applied on top.
Config run_config(const CommandArgs& args, const std::string& dir, bool from_run);
// `difflab sample`: samples a trained run's EMA weights into a grid (and an .safetensors file).
int run_sample(const CommandArgs& args);
// `difflab eval`: held-out metrics of a trained run's samples with the given sampler settings.
int run_eval(const CommandArgs& args);

}  // namespace difflab::experiments
