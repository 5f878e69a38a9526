// Implicit Diffusion for Langevin samplers (Marion et al.; spec_distillation_implicit §3.2–3.4,
// 3.8): optimise θ of a Gibbs target π_θ ∝ exp(−V(·, θ)) for a reward of its samples, with
//   ID-∞    one ULA step of a persistent particle population per θ update (single loop),
//   nested  M warm-started ULA steps per θ update,
//   unrolled  backprop of a differentiable reward through M ULA steps per θ update.
// The first two use the analytic Gibbs gradient ∇θ E_πθ[R] = E[R]·E[∇θV] − E[R ∇θV] (no ∇R;
// works for indicator rewards); a KL(π_ref ‖ π_θ) term enters with the sign that decreases it:
// θ ← θ + η (∇θ E[R] − λ ∇θ KL) (the official code adds it, increasing the KL: §3.8 3).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "autograd/var.h"
#include "tensor/random.h"

namespace difflab::matching {

using ag::Var;
using tensor::Tensor;

struct GibbsPotential {
  // ∇_x V(x, θ) [n, d], in Var ops so that the unrolled baseline can differentiate it in θ.
  std::function<Var(const Var& x, const Var& theta)> grad_x;
  // ∇_θ V(x, θ) per particle [n, p].
  std::function<Tensor(const Tensor& x, const Tensor& theta)> grad_theta;
};
using Reward = std::function<Tensor(const Tensor& x)>;  // [n]; no gradient needed
using SmoothReward = std::function<Var(const Var& x)>;  // [n]; differentiable (unrolled only)

// ULA: x − γ ∇_x V(x, θ) + sqrt(2γ) ξ, ξ ~ N(0, I) from gen.
Tensor ula_step(const GibbsPotential& v, const Tensor& x, const Tensor& theta, double gamma,
                tensor::Generator& gen);
// ∇θ E_πθ[R] estimated on particles of π_θ: mean(R)·mean(∇θV) − mean(R ∇θV), [p].
Tensor reward_gradient(const Tensor& reward, const Tensor& grad_theta_v);
// ∇θ KL(π_ref ‖ π_θ) = E_ref[∇θV] − E_θ[∇θV], [p].
Tensor kl_gradient(const Tensor& grad_theta_v_ref, const Tensor& grad_theta_v);

struct LangevinSettings {
  int64_t steps = 5000;      // the Langevin-step budget (all methods compared at equal steps)
  int64_t per_update = 1;    // ULA steps per θ update: 1 = ID-∞, M = nested or unrolled
  bool unrolled = false;     // backprop the smooth reward through the per_update steps
  double gamma = 0.2, eta = 0.1;
  bool decay = false;        // η/√(k+1) instead of constant η
  double lambda_kl = 0;      // weight of KL(π_ref ‖ π_θ); needs a reference sampler
  int64_t log_every = 50;    // Langevin steps between trace points
  uint64_t seed = 0;
};

struct LangevinTrace {
  std::vector<int64_t> step;        // Langevin steps done
  std::vector<double> reward;       // the particles' mean reward there
  std::vector<Tensor> theta;        // θ there
};

struct LangevinResult {
  Tensor theta, particles;
  LangevinTrace trace;
  int64_t updates = 0;
  double seconds = 0;
};

// Runs the method of `s` from θ_0 and the particles x_0 [n, d] (f64). `reference` draws n
// samples of π_ref when lambda_kl > 0; `smooth` is required when s.unrolled.
LangevinResult implicit_langevin(const GibbsPotential& v, const Reward& reward,
                                 const SmoothReward& smooth, const Tensor& theta0,
                                 const Tensor& x0, const LangevinSettings& s,
                                 const std::function<Tensor(tensor::Generator&)>& reference = {});

}  // namespace difflab::matching
