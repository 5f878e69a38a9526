// Pieces shared by the samplers: the per-step runner (plain or checkpointed, with the callback)
// and argument checks.
#include "diffusion/sampler.h"

#include <cmath>
#include <memory>

#include "autograd/checkpoint.h"
#include "autograd/grad_mode.h"

namespace difflab::diffusion::detail {

Var run_step(const StepFn& fn, const Var& z, int64_t step, int64_t num_steps, double t,
             double t_next, const SampleOptions& options) {
  if (!options.checkpoint || !ag::GradMode::is_enabled()) {
    Var x0;
    Var out = fn(z, x0);
    if (options.callback) options.callback(StepInfo{step, num_steps, t, t_next, z, x0});
    return out;
  }
  // The forward pass (under no-grad inside ag::checkpoint) hands its x̂ out once for the
  // callback; the recomputation during backward must not keep it alive.
  struct Seen {
    bool done = false;
    Var x0;
  };
  auto seen = std::make_shared<Seen>();
  Var out = ag::checkpoint(
      [fn, seen](const std::vector<Var>& in) {
        Var x0;
        Var y = fn(in[0], x0);
        if (!seen->done) {
          seen->done = true;
          seen->x0 = x0;
        }
        return y;
      },
      {z}, options.params);
  if (options.callback) options.callback(StepInfo{step, num_steps, t, t_next, z, seen->x0});
  seen->x0 = Var();
  return out;
}

void check_times(const std::vector<double>& times, const char* who, bool vp_time) {
  DIFFLAB_CHECK(times.size() >= 2, who, ": needs at least 2 times (one step), got ", times.size());
  for (size_t i = 0; i < times.size(); ++i) {
    DIFFLAB_CHECK(std::isfinite(times[i]) && times[i] >= 0 && (!vp_time || times[i] <= 1), who,
                  ": time ", i, " = ", times[i], vp_time ? " is outside [0, 1]" : " is not >= 0");
    DIFFLAB_CHECK(i == 0 || times[i] < times[i - 1], who, ": times must decrease, but entry ", i,
                  " = ", times[i], " follows ", times[i - 1]);
  }
}

Tensor step_noise(const NoiseSource& noise, const Var& z, int64_t step) {
  return noise.normal(z.shape(), NoiseSource::step_stream(step), z.dtype(), z.device());
}

}  // namespace difflab::diffusion::detail
