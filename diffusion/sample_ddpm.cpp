// DDPM ancestral sampling, Ho et al. 2020 Alg. 2, in the posterior form that allows skipping
// steps (Kingma et al. 2021 eq. 33): z_s ~ q(z_s | z_t, x₀ = x̂).
#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "diffusion/sampler.h"

namespace difflab::diffusion {

detail::DdpmCoefficients detail::ddpm_coefficients(const Schedule& schedule,
                                                   const std::vector<double>& times, int64_t k,
                                                   DdpmVariance variance) {
  const NoiseLevel at = noise_level(schedule, times[size_t(k)]);
  const NoiseLevel to = noise_level(schedule, times[size_t(k) + 1]);
  DIFFLAB_CHECK(at.sigma > 0 && to.alpha > 0, "sample_ddpm: step ", k, " from t = ", at.t,
                " to t = ", to.t, " needs sigma_t > 0 and alpha_s > 0");
  // α_{t|s} = α_t/α_s, σ²_{t|s} = σ_t² − α²_{t|s} σ_s² (the forward transition s → t).
  const double a_ts = at.alpha / to.alpha;
  const double s2_ts = std::max(0.0, at.sigma * at.sigma - a_ts * a_ts * to.sigma * to.sigma);
  const double s2_t = at.sigma * at.sigma, s2_s = to.sigma * to.sigma;
  DdpmCoefficients c{at, a_ts * s2_s / s2_t, to.alpha * s2_ts / s2_t, 0.0};
  if (to.sigma > 0)  // Alg. 2 adds no noise on the final step
    c.std_dev = std::sqrt(variance == DdpmVariance::posterior ? s2_ts * s2_s / s2_t : s2_ts);
  return c;
}

detail::StepFn detail::ddpm_step(const VpModel& model, const Schedule& schedule,
                                 const std::vector<double>& times, int64_t k,
                                 const NoiseSource& noise, DdpmVariance variance) {
  const DdpmCoefficients c = ddpm_coefficients(schedule, times, k, variance);
  return [model, c, noise, k](const Var& zt, Var& x0) {
    x0 = model(zt, c.at).x0;
    Var out = zt * c.cz + x0 * c.cx;
    if (c.std_dev > 0) out = out + Var(detail::step_noise(noise, zt, k)) * c.std_dev;
    return out;
  };
}

Var sample_ddpm(const VpModel& model, const Schedule& schedule, const Var& z,
                const std::vector<double>& times, const NoiseSource& noise,
                const SampleOptions& options, DdpmVariance variance) {
  detail::check_times(times, "sample_ddpm", true);
  DIFFLAB_CHECK(bool(model), "sample_ddpm: empty model callable");
  const int64_t n = int64_t(times.size()) - 1;
  Var x = z;
  for (int64_t k = 0; k < n; ++k)
    x = detail::run_step(detail::ddpm_step(model, schedule, times, k, noise, variance), x, k, n,
                         times[size_t(k)], times[size_t(k) + 1], options);
  return x;
}

}  // namespace difflab::diffusion
