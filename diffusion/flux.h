// Flux matching (Pao-Huang, Qiu, Ermon 2026; spec_mlgdf_concepts_drifting.md §6): learn a vector
// field f whose Langevin dynamics dX = f dt + √2 dW leave the smoothed data p_σ = p * N(0, σ²I)
// stationary. With u = f − s (s = ∇log p_σ), stationarity is ∇·(p_σ u) = 0, i.e. the residual
//   r(z) = ∇·u(z) + u(z)·s(z)
// vanishes; score matching (u = 0) is one solution among many. The score s is the batch kernel
// estimate s(z) = (Σ_j softmax_j(−‖z − x_j‖²/2σ²) x_j − z)/σ² (Tweedie), ∇·u a Hutchinson
// estimate with a Rademacher probe, and the objective the official estimator (§6.4): simulate
// x_t from x₀ ~ p_σ by S Ornstein–Uhlenbeck-like steps over time t ~ U[0, H], take ∇r at x_t
// (a second derivative of the network), carry it back to the origins with the responsibilities
// of each x₀, and minimise −2 u(x₀)·ĝ; gradients reach the network only through u(x₀).
#pragma once
#include <functional>

#include "autograd/var.h"
#include "tensor/random.h"

namespace difflab::diffusion {

using ag::Var;
using tensor::Tensor;

using VectorField = std::function<Var(const Var& z)>;  // [B, D] -> [B, D]

// The batch kernel score of p_σ at z [B, D] from data [M, D]; differentiable in z (any order).
Var kde_score(const Var& z, const Tensor& data, double sigma2);

// r(z) per sample [B], differentiable in z and in whatever f reads (built with create_graph).
// `probe` [B, D] holds the Hutchinson directions (±1 entries).
Var flux_residual(const VectorField& f, const Var& z, const Tensor& data, double sigma2,
                  const Tensor& probe);

struct FluxOptions {
  double sigma2 = 0.05;   // σ² of the smoothing
  double horizon = 4.0;   // H: t ~ U[0, H]
  int64_t sim_steps = 4;  // S
};
// One batch of the objective on data [B, D] (noise, t and probes drawn from gen). Its value is
// a surrogate (it can be negative); its gradient is the flux-matching gradient.
Var flux_loss(const VectorField& f, const Tensor& data, const FluxOptions& opt,
              tensor::Generator& gen);

// Unadjusted Langevin: x ← x + (ε/2) f(x) + √ε ξ, `steps` times from x (no gradient).
Tensor langevin_sample(const VectorField& f, const Tensor& x, double step_size, int64_t steps,
                       tensor::Generator& gen);

}  // namespace difflab::diffusion
