// Sample-based distances between two point clouds [N, D] and [M, D] (2-D toys, N-D mixtures,
// flattened images), wrapping matching/divergence.h under no-grad in f64:
//   mmd2_u     Gaussian-kernel MMD² U-statistic, median-heuristic bandwidth unless given
//   energy     energy distance (V-statistic, ≥ 0)
//   sliced_w1  mean over L projections of W₁ (the SWD of the spec, §1.4)
//   sliced_w2  √(mean over projections of W₂²)
// The kernel sums run over row blocks, so N = M = 10⁴ needs tens of MB, not the full N×M
// matrices. The sliced distances compare equal counts: the first min(N, M) rows of each set.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct VectorMetricOptions {
  double bandwidth = 0.0;     // <= 0: median heuristic (on the first 1,000 rows of each set)
  int64_t projections = 128;  // sliced distances
  uint64_t seed = 0;          // projection directions
  int64_t block_rows = 512;   // rows per kernel block
};

struct VectorMetrics {
  double mmd2_u = 0, bandwidth = 0, energy = 0, sliced_w1 = 0, sliced_w2 = 0;
};

VectorMetrics vector_metrics(const tensor::Tensor& x, const tensor::Tensor& y,
                             const VectorMetricOptions& opt = {});

// The pieces, each in f64 and blocked like vector_metrics.
double mmd2_u_blocked(const tensor::Tensor& x, const tensor::Tensor& y, double bandwidth,
                      int64_t block_rows = 512);
double energy_distance_blocked(const tensor::Tensor& x, const tensor::Tensor& y,
                               int64_t block_rows = 512);

// "mmd2_u=… bandwidth=… energy=… sliced_w1=… sliced_w2=…" for logs.
std::string to_string(const VectorMetrics& m);

}  // namespace difflab::experiments
