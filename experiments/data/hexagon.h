// The Langevin hexagon of Implicit Diffusion §5.1 (spec_distillation_implicit §3.6, the official
// defaults): a Gibbs target over R² with mixture-logit parameters θ ∈ R⁶,
//   V(x, θ) = −log Σ_i softmax(θ)_i exp(−‖x − c_i‖²)   (components N(c_i, ½I)),
// centres c_k = 4 (cos kπ/3, sin kπ/3), θ_0 = (1.5, 0, 1.5, 0, 1.5, 0), and the rewards
//   hard    1[x₁ ≥ 0] exp(−((x₁ − 4)² + (x₂ − 3.8)²)/20) / 2.5
//   smooth  sigmoid(x₁/0.5) exp(same) / 0.7   (for backprop: the indicator has no gradient).
#pragma once
#include <cmath>
#include <functional>
#include <vector>

#include "matching/implicit.h"

namespace difflab::experiments {

using ag::Var;
using tensor::Tensor;

struct HexagonTask {
  Tensor centres;  // [6, 2] f64
  Tensor theta0;   // [6] f64
  matching::GibbsPotential potential;
  matching::Reward hard;
  matching::SmoothReward smooth;
  // The code's KL reference (quirk §3.8 2): the mixture with weights softmax(θ_0) and std 2.
  std::function<Tensor(tensor::Generator&)> reference;
};
HexagonTask hexagon_task(int64_t particles);

// n exact draws of π_θ (the mixture of N(c_i, ½I) with weights softmax(θ)), and of the mixture
// with those weights and standard deviation `std`.
Tensor hexagon_sample(const HexagonTask& t, const Tensor& theta, int64_t n, tensor::Generator& gen,
                      double std = std::sqrt(0.5));
// softmax(θ) as a vector.
std::vector<double> hexagon_weights(const Tensor& theta);

}  // namespace difflab::experiments
