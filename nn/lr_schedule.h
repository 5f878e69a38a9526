// Learning-rate schedules as functions of the step (0 = the first optimizer step), applied to
// any optimizer with apply_lr before its step().
#pragma once
#include <cstdint>
#include <functional>

namespace difflab::nn {

class Optimizer;

using LrSchedule = std::function<double(int64_t step)>;

LrSchedule constant_lr(double lr);

// Linear warm-up, then half-cosine decay to a floor (Loshchilov & Hutter, SGDR, without
// restarts; the warm-up of Goyal et al. 2017):
//   step < W:       base · (step + 1) / W        (the first step already moves; step W−1 = base)
//   W ≤ step < T:   floor + (base − floor) · (1 + cos(π · (step − W) / (T − W))) / 2
//   step ≥ T:       floor
// with W = warmup_steps, T = total_steps (W ≤ T), 0 ≤ floor ≤ base.
LrSchedule warmup_cosine_lr(double base_lr, int64_t warmup_steps, int64_t total_steps,
                            double min_lr = 0.0);

// Linear decay to 0 over total_steps: base · (1 − step / T) for step < T, then 0 (each round of
// progressive distillation, Salimans & Ho 2022).
LrSchedule linear_decay_lr(double base_lr, int64_t total_steps);

// Sets opt's learning rate to schedule(step) and returns it.
double apply_lr(Optimizer& opt, const LrSchedule& schedule, int64_t step);

}  // namespace difflab::nn
