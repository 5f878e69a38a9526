// Figures of sampled angles against the angles each condition's image could have (MNIST
// rotation, experiments/data/mnist_rotation.h): the share of samples within `tolerance` degrees
// of one of their row's angles, the median of that smallest gap, and the mean length of the
// (cos, sin) sample (1 on the circle).
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct AngleFigures {
  double hit = 0;         // share within tolerance
  double median_gap = 0;  // degrees
  double mean_norm = 0;   // of the (cos, sin) rows
};

// samples [n, 2] (cos, sin) for rows 0..n−1 of `sets` (sets.size() >= n).
AngleFigures angle_figures(const tensor::Tensor& samples,
                           const std::vector<std::vector<double>>& sets, double tolerance = 15.0);

}  // namespace difflab::experiments
