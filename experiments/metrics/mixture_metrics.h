// Metrics that can tell 8 blobs from a ring: samples judged against a density known in closed
// form (issue "Evaluation that can fail").
//   Gaussian mixtures (ring8, ring_mog and the paper issues' mixture targets):
//     hq_share       the fraction of samples whose Mahalanobis distance to the nearest component
//                    is within the χ²_D 99% radius (3.03σ in 2-D): 0.99 for the data itself,
//                    about 0.5 for a uniform ring through ring8's modes;
//     modes_covered  components holding at least half their expected share of the high-quality
//                    samples (their weight × the high-quality count);
//     mode_weight_tv total variation between the high-quality samples' nearest-component
//                    histogram and the mixture weights (1 when there are none);
//     log_density    the mean true log-density of the samples (beside the held-out data's, the
//                    gap is the cross-entropy excess).
//   The checkerboard: in_squares (share inside the 8 dark cells) and square_tv (total variation
//   of the inside samples' per-cell occupancy from uniform).
#pragma once
#include <cstdint>

#include "experiments/data/gaussian_mixture.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

struct MixtureMetrics {
  double hq_share = 0, mode_weight_tv = 1, log_density = 0;
  int64_t modes_covered = 0;
};
MixtureMetrics mixture_metrics(const GaussianMixture& p, const tensor::Tensor& x);

struct CheckerboardMetrics {
  double in_squares = 0, square_tv = 1;
};
// For sample_checkerboard's board: the dark cells of a 4×4 board on [−1, 1]².
CheckerboardMetrics checkerboard_metrics(const tensor::Tensor& x);

// The p-quantile of the χ² distribution with `dof` degrees of freedom (bisection on the
// regularised lower incomplete gamma function).
double chi2_quantile(int64_t dof, double p);

}  // namespace difflab::experiments
