// Isotropic Gaussian mixtures with their exact parameters: sampling, log-density and score in
// closed form (f64), and Gaussian smoothing p_τ = p * N(0, τ²I), which is the same mixture with
// variances σ_k² + τ² (the identity behind "Gaussian-kernel drifting = smoothed score matching").
#pragma once
#include <cstdint>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

struct GaussianMixture {
  tensor::Tensor weights;  // f64 [K], positive, summing to 1
  tensor::Tensor means;    // f64 [K, D]
  tensor::Tensor stds;     // f64 [K], per-component isotropic standard deviation

  int64_t num_components() const { return weights.numel(); }
  int64_t dim() const { return means.size(1); }
  // Throws naming the problem when shapes, positivity or normalisation are wrong.
  void validate() const;

  // x ~ p as [n, D] of `dtype`; also the component of each sample when `components` is given.
  // Draws from gen: n uniforms (component choice), then n·D normals.
  tensor::Tensor sample(int64_t n, tensor::Generator& gen, tensor::DType dtype = tensor::DType::f32,
                        tensor::Tensor* components = nullptr) const;
  // log p(x) for x [N, D] (any float dtype) → f64 [N], via log-sum-exp.
  tensor::Tensor log_prob(const tensor::Tensor& x) const;
  // ∇ log p(x) → f64 [N, D]: Σ_k r_k(x)(μ_k − x)/σ_k² with responsibilities r_k.
  tensor::Tensor score(const tensor::Tensor& x) const;
  // Responsibilities r_k(x) → f64 [N, K].
  tensor::Tensor responsibilities(const tensor::Tensor& x) const;
  // The mixture convolved with N(0, τ²I).
  GaussianMixture smoothed(double tau) const;
};

// Equal weights, one shared std.
GaussianMixture make_isotropic_mixture(const tensor::Tensor& means, double std);

}  // namespace difflab::experiments
