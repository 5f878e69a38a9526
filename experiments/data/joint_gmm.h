// Full-covariance Gaussian mixtures for MLGD-F's synthetic benchmarks (spec §1.4, §2.7): the
// joint P(X, Y) with X the first coordinates and Y the rest, its exact conditional P(Y | X = x),
// the squared L2 distance between two mixtures in closed form ("L2 GMM"), and the three benchmark
// instances. Plain f64 arithmetic: dimensions are at most ten.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

using Matrix = std::vector<std::vector<double>>;  // row-major, square

struct FullMixture {
  std::vector<double> weights;            // positive, summing to 1
  std::vector<std::vector<double>> means; // [K][D]
  std::vector<Matrix> covs;               // [K][D][D], symmetric positive definite

  int64_t num_components() const { return int64_t(weights.size()); }
  int64_t dim() const { return means.empty() ? 0 : int64_t(means[0].size()); }
  // Throws naming the problem (shapes, weights, a covariance that is not positive definite).
  void validate() const;
  // [n, D] draws of `dtype` (component by inverse CDF of one uniform, then L z with L the
  // Cholesky factor).
  tensor::Tensor sample(int64_t n, tensor::Generator& gen,
                        tensor::DType dtype = tensor::DType::f32) const;
  // log p(x) for one point.
  double log_prob(const std::vector<double>& x) const;
};

// P(Y | X = x) where X is the first x.size() coordinates (spec §1.4): component k has mean
// μ_y + Σ_yx Σ_xx⁻¹ (x − μ_x), covariance Σ_yy − Σ_yx Σ_xx⁻¹ Σ_xy and weight ∝ π_k N(x; μ_x, Σ_xx)
// (normalised in log space). Components whose weight falls below min_weight are dropped and the
// rest renormalised (the benchmark's targets use 0.01 and 0.001; 0 keeps all).
FullMixture condition_on_first(const FullMixture& joint, const std::vector<double>& x,
                               double min_weight = 0.0);

// ‖p − q‖²₂ = ⟨p,p⟩ − 2⟨p,q⟩ + ⟨q,q⟩ with ⟨Σ a_i N(μ_i,S_i), Σ b_j N(ν_j,T_j)⟩ =
// Σ a_i b_j N(μ_i; ν_j, S_i + T_j) (the squared value, as the MLGD-F code reports).
double l2_squared(const FullMixture& p, const FullMixture& q);

// One synthetic MLGD-F task: the joint, how many leading coordinates are X, and x*.
struct CdmTask {
  std::string name;
  FullMixture joint;
  int64_t dim_x = 1;
  std::vector<double> x_star;
  FullMixture target;  // P(Y | X = x*), pruned as the benchmark does
};

// "2d" (2D_cond_1D: 11 components, shared covariance [[0.5, 0.195], [0.195, 0.2]], x* = −5),
// "5d", "10d" (5D/10D_cond_1D: 4 components, means N(0, 25 I) at pairwise distance ≥ 5, covariances
// A Aᵀ + 1e-4 I, two components sharing an X part that defines x*), drawn from `seed` with
// difflab's generator (so not the paper repository's params/*.pt instances).
CdmTask make_cdm_task(const std::string& name, uint64_t seed = 1);

}  // namespace difflab::experiments
