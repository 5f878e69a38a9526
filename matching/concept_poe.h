// Test-time concept discovery, step 4 (spec_mlgdf_concepts_drifting.md §3.7): the product of
// diagonal Gaussian experts N(μ_k, diag v_k) with weights λ_k > 0, and its diffused scores.
//   exact product   Π_k N(μ_k, v_k)^{λ_k} ∝ N(μ*, v*),  1/v* = Σ_k λ_k ρ_k/v_k,
//                   μ* = v* Σ_k λ_k ρ_k μ_k/v_k   (ρ_k ≡ 1, or a per-coordinate mask ρ_k ≥ 0)
//   diffused        p_t(x_t) = N(x_t; √ᾱ μ*, ᾱ v* + (1−ᾱ)),  s_T = −(x_t − √ᾱ μ*)/(ᾱ v* + 1 − ᾱ)
//   score sum       s_T = Σ_k λ_k s_{k,t},  s_{k,t} = −(x_t − √ᾱ μ_k)/(ᾱ v_k + 1 − ᾱ), the score
//                   of Σ_k λ_k log N(x_t; √ᾱ μ_k, ᾱ v_k + 1 − ᾱ) (composable-diffusion style)
// The two agree at ᾱ = 1 (unmasked). ε_T = −√(1−ᾱ) s_T. Densities and scores are Var functions
// of x_t [B, ...] (rows independent), differentiable in x_t; experts are constants converted to
// x_t's dtype.
#pragma once
#include <vector>

#include "autograd/var.h"

namespace difflab::matching {

using ag::Var;
using tensor::Tensor;

struct Expert {
  Tensor mean, var;  // [1, ...], var > 0
  double weight = 1.0;
};

// N(mean, diag var), [1, ...] each.
struct DiagGaussian {
  Tensor mean, var;
};

// The exact product, in f64. masks: empty (ρ ≡ 1) or one per expert, ρ_k ≥ 0 of the experts'
// shape; every coordinate needs some positive precision.
DiagGaussian poe_product(const std::vector<Expert>& experts, const std::vector<Tensor>& masks = {});

// log N(x_t; √ᾱ μ, ᾱ v + 1 − ᾱ) per row [B], and its score ∇_{x_t} [B, ...]; ᾱ ∈ (0, 1].
Var diffused_log_density(const DiagGaussian& g, const Var& x_t, double alpha_bar);
Var diffused_score(const DiagGaussian& g, const Var& x_t, double alpha_bar);

// Σ_k λ_k log N(x_t; √ᾱ μ_k, ᾱ v_k + 1 − ᾱ) per row [B], and its score Σ_k λ_k s_{k,t}.
Var score_sum_log_density(const std::vector<Expert>& experts, const Var& x_t, double alpha_bar);
Var score_sum_score(const std::vector<Expert>& experts, const Var& x_t, double alpha_bar);

}  // namespace difflab::matching
