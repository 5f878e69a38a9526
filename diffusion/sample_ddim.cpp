// DDIM, Song et al. 2021 eq. 12 with σ_t(η) from eq. 16, in α/σ notation:
// z_s = α_s x̂ + sqrt(σ_s² − c²) ε̂ + c n with c = η sqrt(σ_s²/σ_t² (1 − α_t²/α_s²)).
#include <algorithm>
#include <cmath>

#include "autograd/functions.h"
#include "diffusion/sampler.h"

namespace difflab::diffusion {

detail::StepFn detail::ddim_step(const VpModel& model, const Schedule& schedule,
                                 const std::vector<double>& times, int64_t k, double eta,
                                 const NoiseSource& src) {
  const NoiseLevel at = noise_level(schedule, times[size_t(k)]);
  const NoiseLevel to = noise_level(schedule, times[size_t(k) + 1]);
  DIFFLAB_CHECK(at.sigma > 0, "sample_ddim: step ", k, " starts at t = ", at.t,
                " where sigma = 0");
  double c = 0.0;
  if (eta > 0 && to.sigma > 0)
    c = eta * std::sqrt(to.sigma * to.sigma / (at.sigma * at.sigma) *
                        (1.0 - at.alpha * at.alpha / (to.alpha * to.alpha)));
  const double dir = std::sqrt(std::max(0.0, to.sigma * to.sigma - c * c));
  return [model, at, to, c, dir, src, k](const Var& zt, Var& x0) {
    Denoised d = model(zt, at);
    x0 = d.x0;
    Var out = d.x0 * to.alpha;
    if (dir > 0) out = out + d.eps * dir;  // skipped into σ_s = 0, where ε̂ plays no part
    if (c > 0) out = out + Var(detail::step_noise(src, zt, k)) * c;
    return out;
  };
}

Var sample_ddim(const VpModel& model, const Schedule& schedule, const Var& z,
                const std::vector<double>& times, double eta, const NoiseSource* noise,
                const SampleOptions& options) {
  detail::check_times(times, "sample_ddim", true);
  DIFFLAB_CHECK(bool(model), "sample_ddim: empty model callable");
  DIFFLAB_CHECK(eta >= 0, "sample_ddim: eta = ", eta, " must be >= 0");
  DIFFLAB_CHECK(eta == 0 || noise != nullptr, "sample_ddim: eta = ", eta,
                " > 0 needs a NoiseSource");
  const int64_t n = int64_t(times.size()) - 1;
  // A copy (two integers) so checkpointed steps can redraw their noise during backward.
  const NoiseSource src = noise ? *noise : NoiseSource(0);
  Var x = z;
  for (int64_t k = 0; k < n; ++k)
    x = detail::run_step(detail::ddim_step(model, schedule, times, k, eta, src), x, k, n,
                         times[size_t(k)], times[size_t(k) + 1], options);
  return x;
}

}  // namespace difflab::diffusion
