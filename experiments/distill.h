// `difflab distill`: progressive distillation (Salimans & Ho 2022) of a trained train-ddpm
// teacher, N₀ → N₀/2 → … → end steps. Each round copies the teacher into a fresh student
// (fresh Adam, lr decayed linearly to 0 over the round), trains it on diffusion/distill.h's
// loss, saves checkpoints/student_<N>.safetensors and evaluates it at N steps against the
// held-out set; the student then becomes the teacher. Before the first round the teacher is
// evaluated with plain DDIM at every N and with its reference samplers at many steps.
// The teacher can be trained first by the command itself (distill.teacher_preset). --resume
// continues an interrupted chain bit-exactly.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

// Every key of a distillation run, with defaults, ranges and help.
Config distill_config();
int run_distill(const CommandArgs& args);

}  // namespace difflab::experiments
