// Fréchet distance between two feature sets (the FID formula, Heusel et al. 2017), in f64:
//   FD = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}),
// the squared 2-Wasserstein distance between the Gaussians with those moments. Covariances use
// the N − 1 normaliser (numpy.cov, as pytorch-fid). The trace of the matrix square root comes
// from symmetric eigendecompositions (sym_eigen.h): Σ₁^{1/2} first, then the eigenvalues of the
// symmetric PSD product, negative round-off clamped to 0. Features come from any extractor
// ([N, d], any float dtype); d up to a few hundred.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct FeatureStats {
  int64_t dim = 0;
  int64_t count = 0;
  std::vector<double> mean;  // [d]
  std::vector<double> cov;   // row-major [d, d]
};

// Mean and covariance of features [N, d] (N ≥ 2).
FeatureStats feature_stats(const tensor::Tensor& features);

double frechet_distance(const FeatureStats& a, const FeatureStats& b);
double frechet_distance(const tensor::Tensor& features_a, const tensor::Tensor& features_b);

// Tr((Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}) for symmetric PSD d×d matrices.
double trace_sqrt_product(const std::vector<double>& cov_a, const std::vector<double>& cov_b,
                          int64_t d);

}  // namespace difflab::experiments
