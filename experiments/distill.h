// `difflab distill`: progressive distillation (Salimans & Ho 2022) of a trained train-ddpm
// teacher, N₀ → N₀/2 → … → end steps. Each round copies the teacher into a fresh student
// (fresh Adam, lr decayed linearly to 0 over the round) and trains it on the shared loop with
// diffusion/distill.h's loss, saves checkpoints/student_<N>.safetensors and evaluates it at N
// steps against the held-out set; the student then becomes the teacher. Before the first round
// the teacher is evaluated with plain DDIM at every N and with its reference samplers at many
// steps. The teacher can be trained first by the command itself (distill.teacher_preset).
// --resume continues an interrupted chain bit-exactly.
#pragma once
#include <string>
#include <vector>

#include "experiments/command.h"

namespace difflab::experiments {

// Every key of a distillation run, with defaults, ranges and help.
Config distill_config();

// How the chain's samplers are evaluated (eval.*).
struct DistillEvalSettings {
  int64_t n = 1000, seeds = 1, batch = 250, grid = 64;
  bool clip_x0 = false;
  int64_t reference_steps = 256;
  std::vector<std::string> reference_samplers{"ddim", "ddpm"};
};

// Every setting of a distill run, read once from its config.
struct DistillSettings {
  std::string teacher, teacher_preset;  // the teacher's run folder; its preset if untrained
  int64_t start_steps = 256, end_steps = 1, updates = 2000, batch = 64;
  double last_rounds_factor = 2, lr = 1e-4, grad_clip = 1, ema_decay = 0;
  std::string weighting = "teacher";
  int64_t log_every = 50, checkpoint_every = 500, stop_after = 0;
  bool eval_only = false;
  DistillEvalSettings eval;
  uint64_t seed = 0;
  int64_t threads = 0;
  std::string device = "cpu";
};
DistillSettings distill_settings(const Config& cfg);

// Updates of the round that distils to n steps: updates, times last_rounds_factor for 2 and 1.
int64_t distill_round_updates(const DistillSettings& s, int64_t n);

int run_distill(const CommandArgs& args);

}  // namespace difflab::experiments
