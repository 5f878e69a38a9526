// Probability-flow ODE samplers, Karras et al. 2022 Alg. 1 (deterministic Euler / Heun):
// on VP time (s(t) = α_t, σ(t) = σ_t/α_t, written as dz/dt = α̇ x̂ + σ̇ ε̂) and on σ
// (s(t) = 1, σ(t) = t, as k-diffusion's sample_euler / sample_heun).
#include "autograd/functions.h"
#include "diffusion/sampler.h"

namespace difflab::diffusion {

namespace {

struct VpSlope {
  double dalpha, dsigma;
};

VpSlope vp_slope(const Schedule& s, double t, Schedule::Side side) {
  return {s.dalpha_dt(t, side), s.dsigma_dt(t, side)};
}

// dz/dt at (z, t) and x̂ there.
Var vp_velocity(const VpModel& model, const Var& z, const NoiseLevel& at, const VpSlope& d,
                Var* x0) {
  Denoised p = model(z, at);
  if (x0) *x0 = p.x0;
  return p.x0 * d.dalpha + p.eps * d.dsigma;
}

Var sigma_ode(const SigmaDenoiser& denoiser, const Var& x0_in, const std::vector<double>& sigmas,
              bool heun, const SampleOptions& options, const char* who) {
  detail::check_times(sigmas, who, false);
  DIFFLAB_CHECK(bool(denoiser), who, ": empty denoiser callable");
  const int64_t n = int64_t(sigmas.size()) - 1;
  Var x = x0_in;
  for (int64_t k = 0; k < n; ++k) {
    const double s = sigmas[size_t(k)], s_next = sigmas[size_t(k) + 1];
    detail::StepFn step = [denoiser, s, s_next, heun](const Var& xi, Var& x0) {
      x0 = denoiser(xi, s);
      Var d = (xi - x0) / s;  // Alg. 1 line 4: dx/dσ = (x − D(x; σ))/σ
      const double h = s_next - s;
      Var xe = xi + d * h;
      if (!heun || s_next == 0) return xe;            // Euler, and Heun's last step into σ = 0
      Var d2 = (xe - denoiser(xe, s_next)) / s_next;  // line 7
      return xi + (d + d2) * (0.5 * h);               // line 8
    };
    x = detail::run_step(step, x, k, n, s, s_next, options);
  }
  return x;
}

}  // namespace

Var sample_ode_vp(const VpModel& model, const Schedule& schedule, const Var& z,
                  const std::vector<double>& times, OdeMethod method,
                  const SampleOptions& options) {
  detail::check_times(times, "sample_ode_vp", true);
  DIFFLAB_CHECK(bool(model), "sample_ode_vp: empty model callable");
  const int64_t n = int64_t(times.size()) - 1;
  const bool heun = method == OdeMethod::heun;
  Var x = z;
  for (int64_t k = 0; k < n; ++k) {
    const NoiseLevel at = noise_level(schedule, times[size_t(k)]);
    const NoiseLevel to = noise_level(schedule, times[size_t(k) + 1]);
    DIFFLAB_CHECK(at.sigma > 0, "sample_ode_vp: step ", k, " starts at t = ", at.t,
                  " where sigma = 0");
    const VpSlope d_at = vp_slope(schedule, at.t, Schedule::Side::below);
    // Heun's correction needs the slope at the target; skipped into σ = 0 (Alg. 1 line 6).
    const bool correct = heun && to.sigma > 0;
    const VpSlope d_to = correct ? vp_slope(schedule, to.t, Schedule::Side::above) : VpSlope{0, 0};
    const bool last = to.sigma == 0;
    detail::StepFn step = [model, at, to, d_at, d_to, correct, last](const Var& zi, Var& x0) {
      const double h = to.t - at.t;
      if (last) {  // see sampler.h: the step into σ = 0 lands on α_s x̂
        x0 = model(zi, at).x0;
        return x0 * to.alpha;
      }
      Var d = vp_velocity(model, zi, at, d_at, &x0);
      Var ze = zi + d * h;
      if (!correct) return ze;
      Var d2 = vp_velocity(model, ze, to, d_to, nullptr);
      return zi + (d + d2) * (0.5 * h);
    };
    x = detail::run_step(step, x, k, n, at.t, to.t, options);
  }
  return x;
}

Var sample_euler(const SigmaDenoiser& denoiser, const Var& x, const std::vector<double>& sigmas,
                 const SampleOptions& options) {
  return sigma_ode(denoiser, x, sigmas, false, options, "sample_euler");
}

Var sample_heun(const SigmaDenoiser& denoiser, const Var& x, const std::vector<double>& sigmas,
                const SampleOptions& options) {
  return sigma_ode(denoiser, x, sigmas, true, options, "sample_heun");
}

}  // namespace difflab::diffusion
