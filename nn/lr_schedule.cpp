#include "nn/lr_schedule.h"

#include <cmath>
#include <numbers>

#include "nn/optim.h"
#include "tensor/error.h"

namespace difflab::nn {

LrSchedule constant_lr(double lr) {
  DIFFLAB_CHECK(std::isfinite(lr) && lr >= 0, "constant_lr: invalid learning rate ", lr);
  return [lr](int64_t step) {
    DIFFLAB_CHECK(step >= 0, "constant_lr: negative step ", step);
    return lr;
  };
}

LrSchedule linear_decay_lr(double base_lr, int64_t total_steps) {
  DIFFLAB_CHECK(std::isfinite(base_lr) && base_lr >= 0, "linear_decay_lr: invalid base_lr ",
                base_lr);
  DIFFLAB_CHECK(total_steps >= 1, "linear_decay_lr: total_steps ", total_steps, " < 1");
  return [base_lr, total_steps](int64_t step) {
    DIFFLAB_CHECK(step >= 0, "linear_decay_lr: negative step ", step);
    return step >= total_steps ? 0.0 : base_lr * (1.0 - double(step) / double(total_steps));
  };
}

LrSchedule warmup_cosine_lr(double base_lr, int64_t warmup_steps, int64_t total_steps,
                            double min_lr) {
  DIFFLAB_CHECK(std::isfinite(base_lr) && base_lr >= 0, "warmup_cosine_lr: invalid base_lr ",
                base_lr);
  DIFFLAB_CHECK(min_lr >= 0 && min_lr <= base_lr, "warmup_cosine_lr: min_lr ", min_lr,
                " must lie in [0, base_lr = ", base_lr, "]");
  DIFFLAB_CHECK(warmup_steps >= 0 && warmup_steps <= total_steps,
                "warmup_cosine_lr: need 0 <= ", "warmup_steps <= total_steps, got warmup_steps ",
                warmup_steps, ", total_steps ", total_steps);
  return [=](int64_t step) {
    DIFFLAB_CHECK(step >= 0, "warmup_cosine_lr: negative step ", step);
    if (step < warmup_steps) return base_lr * double(step + 1) / double(warmup_steps);
    if (step >= total_steps) return min_lr;
    const double t = double(step - warmup_steps) / double(total_steps - warmup_steps);
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
  };
}

double apply_lr(Optimizer& opt, const LrSchedule& schedule, int64_t step) {
  DIFFLAB_CHECK(bool(schedule), "apply_lr: empty schedule");
  const double lr = schedule(step);
  opt.set_lr(lr);
  return lr;
}

}  // namespace difflab::nn
