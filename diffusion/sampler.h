// Samplers: short functions over a denoiser callable (k-diffusion's sample_euler / sample_heun
// shape), each citing its algorithm. They are written with differentiable Var ops, so with grad
// recording on (the default) gradients flow from the returned samples back to the initial noise,
// to the model parameters and to any Var the denoiser closure reads. Options add a per-step
// callback and per-step gradient checkpointing.
//
// Times: VP samplers take descending times t_0 > t_1 > ... > t_N in [0, 1] (Schedule::time_grid,
// which also does DDPM step skipping); the σ-space ODE samplers take descending σ_0 > ... > σ_N
// with σ_N usually 0 (karras_sigmas). Any N >= 1.
// Noise: stochastic samplers draw step k's noise from NoiseSource stream step_stream(k), so a
// sample depends only on (seed, its global index) — see noise.h.
#pragma once
#include <functional>
#include <vector>

#include "diffusion/denoiser.h"
#include "diffusion/noise.h"

namespace difflab::diffusion {

struct StepInfo {
  int64_t step = 0, num_steps = 0;
  double t = 0, t_next = 0;  // VP time, or σ for sample_euler / sample_heun
  const Var& z;              // the state at t
  const Var& x0;             // x̂(z, t) (Heun: its first evaluation)
};
using StepCallback = std::function<void(const StepInfo&)>;

struct SampleOptions {
  StepCallback callback;  // called once per step, in order, also when checkpointing
  // Per-step gradient checkpointing (ag::checkpoint, DESIGN.md practice 5): each step keeps only
  // its input z and recomputes its activations during backward. Gradients are the same as
  // without it; `params` must list every Var the denoiser reads whose gradient is wanted (model
  // parameters, a conditioning Var): anything else it reads is a constant inside the step.
  // Has no effect while grad mode is off.
  bool checkpoint = false;
  std::vector<Var> params;
};

// DDPM ancestral sampling (Ho et al. 2020, Alg. 2) with step skipping: each step t → s samples
// the Gaussian q(z_s | z_t, x₀ = x̂) (Kingma et al. 2021 eq. 33), whose mean with
// x̂ = (z − σ_t ε̂)/α_t is Alg. 2's (z − β_t/sqrt(1 − ᾱ_t) ε̂)/sqrt(1 − β_t) when s = t − 1/T.
// Variance: `posterior` is Ho's σ² = β̃ (σ_{t|s}² σ_s²/σ_t²), `beta` is σ² = β (σ_{t|s}²,
// with σ_{t|s}² = σ_t² − α_{t|s}² σ_s², α_{t|s} = α_t/α_s). No noise on the step into σ_s = 0.
enum class DdpmVariance { posterior, beta };
Var sample_ddpm(const VpModel& model, const Schedule& schedule, const Var& z,
                const std::vector<double>& times, const NoiseSource& noise,
                const SampleOptions& options = {}, DdpmVariance variance = DdpmVariance::posterior);

// DDIM (Song et al. 2021, eq. 12 with σ_t(η) of eq. 16):
// z_s = α_s x̂ + sqrt(σ_s² − c²) ε̂ + c n,  c = η sqrt(σ_s²/σ_t² (1 − α_t²/α_s²)).
// η = 0 is deterministic (noise may be null); η = 1 is DDPM with the posterior variance.
Var sample_ddim(const VpModel& model, const Schedule& schedule, const Var& z,
                const std::vector<double>& times, double eta = 0.0,
                const NoiseSource* noise = nullptr, const SampleOptions& options = {});

// Probability-flow ODE on VP time: dz/dt = α̇_t x̂ + σ̇_t ε̂ (the expected velocity of
// z_t = α_t x₀ + σ_t ε given z_t). This is Karras et al. 2022 Alg. 1 with s(t) = α_t and
// σ(t) = σ_t/α_t: Euler steps, and with Heun the trapezoidal correction on every step whose
// target has σ ≠ 0. The step into σ = 0 returns α_s x̂ (x̂ at t = 0): that is where an Euler
// step in the EDM variables (z/α, σ/α) lands, as in sample_euler and DDIM, whereas an Euler
// step in t would use σ̇, which is infinite at t = 0 for the linear schedule (σ ∝ √t there; the
// error then stalls near 1e-2 whatever the step count).
enum class OdeMethod { euler, heun };
Var sample_ode_vp(const VpModel& model, const Schedule& schedule, const Var& z,
                  const std::vector<double>& times, OdeMethod method = OdeMethod::heun,
                  const SampleOptions& options = {});

// Karras et al. 2022 Alg. 1 with σ(t) = t, s(t) = 1 (k-diffusion sample_euler / sample_heun):
// d = (x − D(x; σ_i))/σ_i, x ← x + (σ_{i+1} − σ_i) d; Heun averages d with the slope at the
// Euler point unless σ_{i+1} = 0. Start from x = σ_0 n (NoiseSource::initial with scale σ_0).
Var sample_euler(const SigmaDenoiser& denoiser, const Var& x, const std::vector<double>& sigmas,
                 const SampleOptions& options = {});
Var sample_heun(const SigmaDenoiser& denoiser, const Var& x, const std::vector<double>& sigmas,
                const SampleOptions& options = {});

namespace detail {
// One step z → z_next; writes x̂ to x0. Must capture everything by value: with checkpointing
// it runs again during backward, after the sampler returned.
using StepFn = std::function<Var(const Var& z, Var& x0)>;
// Runs the step plainly, or under ag::checkpoint (inputs {z}, options.params), and calls the
// callback once with the forward pass's z and x̂.
Var run_step(const StepFn& fn, const Var& z, int64_t step, int64_t num_steps, double t,
             double t_next, const SampleOptions& options);
// Step k of a sampler over `times` (what sample_ddim / sample_ddpm run; the chain study of
// sampler_gradient.h runs them one at a time). Check the step's noise levels, naming the sampler.
StepFn ddim_step(const VpModel& model, const Schedule& schedule, const std::vector<double>& times,
                 int64_t k, double eta, const NoiseSource& noise);
// DDPM step k's posterior: mean cz·z_t + cx·x̂(z_t), standard deviation std_dev (0 on the
// step into σ = 0).
struct DdpmCoefficients {
  NoiseLevel at;
  double cz, cx, std_dev;
};
DdpmCoefficients ddpm_coefficients(const Schedule& schedule, const std::vector<double>& times,
                                   int64_t k, DdpmVariance variance);
StepFn ddpm_step(const VpModel& model, const Schedule& schedule, const std::vector<double>& times,
                 int64_t k, const NoiseSource& noise, DdpmVariance variance);
// Descending, finite, >= 0, at least two entries; VP times also <= 1. Throws naming `who`.
void check_times(const std::vector<double>& times, const char* who, bool vp_time);
// Noise of z's shape, dtype and device for step k.
Tensor step_noise(const NoiseSource& noise, const Var& z, int64_t step);
}  // namespace detail

}  // namespace difflab::diffusion
