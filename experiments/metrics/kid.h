// Kernel Inception Distance (Bińkowski et al. 2018) on any features [N, d]: the unbiased MMD²
// with the cubic polynomial kernel k(x, y) = (xᵀy/d + 1)³, averaged over random subsets as the
// standard implementations do (torch-fidelity, clean-fid: 100 subsets of 1,000 from each set,
// drawn without replacement, std over subsets with ddof 0). Computed in f64.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct KidOptions {
  int64_t num_subsets = 100;
  int64_t subset_size = 1000;  // clamped to min(N, M)
  uint64_t seed = 0;           // subset draws (Philox)
};

struct KidResult {
  double mean = 0, std = 0;
  int64_t num_subsets = 0, subset_size = 0;
};

// Unbiased MMD² with the cubic kernel between two sets of equal size m ≥ 2:
// [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)]/(m(m−1)) − 2 Σ_{i,j} k(x_i, y_j)/m².
double polynomial_mmd2_u(const tensor::Tensor& x, const tensor::Tensor& y);

KidResult kernel_inception_distance(const tensor::Tensor& features_a,
                                    const tensor::Tensor& features_b, const KidOptions& opt = {});

}  // namespace difflab::experiments
