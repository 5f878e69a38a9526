#include "experiments/metrics/angle_metrics.h"

#include <algorithm>
#include <cmath>

#include "experiments/data/mnist_rotation.h"
#include "tensor/error.h"

namespace difflab::experiments {

AngleFigures angle_figures(const tensor::Tensor& samples,
                           const std::vector<std::vector<double>>& sets, double tolerance) {
  const std::vector<double> deg = feature_angles(samples);
  DIFFLAB_CHECK(!deg.empty() && deg.size() <= sets.size(), "angle_figures: ", deg.size(),
                " samples for ", sets.size(), " angle sets");
  const std::vector<double> v = samples.to(tensor::DType::f64).contiguous().to_vector<double>();
  AngleFigures f;
  std::vector<double> gaps;
  for (size_t i = 0; i < deg.size(); ++i) {
    double gap = 180.0;
    for (double a : sets[i]) gap = std::min(gap, angle_gap(deg[i], a));
    gaps.push_back(gap);
    f.hit += gap <= tolerance ? 1.0 : 0.0;
    f.mean_norm += std::hypot(v[2 * i], v[2 * i + 1]);
  }
  f.hit /= double(deg.size());
  f.mean_norm /= double(deg.size());
  std::nth_element(gaps.begin(), gaps.begin() + long(gaps.size() / 2), gaps.end());
  f.median_gap = gaps[gaps.size() / 2];
  return f;
}

}  // namespace difflab::experiments
