#include "experiments/metrics/cdm_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace difflab::experiments {

Stats stats_of(std::vector<double> v) {
  DIFFLAB_CHECK(!v.empty(), "stats_of: no values");
  Stats s;
  const double n = double(v.size());
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double ss = 0;
  for (double x : v) ss += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
  return s;
}

CdmScores score_cdm(const CdmTask& task, const tensor::Tensor& x,
                    const std::vector<double>& final_loss, int64_t top_k) {
  const int64_t R = x.size(0), dx = task.dim_x;
  DIFFLAB_CHECK(x.dim() == 2 && x.size(1) == dx && int64_t(final_loss.size()) == R,
                "score_cdm: x ", x.shape(), " and ", final_loss.size(), " losses for a task with ",
                dx, " X coordinates");
  DIFFLAB_CHECK(top_k >= 1, "score_cdm: top_k must be >= 1, got ", top_k);
  const std::vector<double> v = x.to(tensor::DType::f64).contiguous().to_vector<double>();
  CdmScores s;
  s.final_loss = final_loss;
  for (int64_t r = 0; r < R; ++r) {
    const std::vector<double> xr(v.begin() + r * dx, v.begin() + (r + 1) * dx);
    s.l2.push_back(l2_squared(condition_on_first(task.joint, xr), task.target));
    double d2 = 0;
    for (int64_t i = 0; i < dx; ++i) d2 += std::pow(xr[size_t(i)] - task.x_star[size_t(i)], 2);
    s.distance.push_back(std::sqrt(d2));
  }
  std::vector<int64_t> order(static_cast<size_t>(R));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return final_loss[size_t(a)] < final_loss[size_t(b)]; });
  s.top_k = std::min(top_k, R);
  std::vector<double> top;
  for (int64_t i = 0; i < s.top_k; ++i) top.push_back(s.l2[size_t(order[size_t(i)])]);
  s.l2_all = stats_of(s.l2), s.l2_top = stats_of(top);
  s.distance_all = stats_of(s.distance), s.loss_all = stats_of(final_loss);
  return s;
}

}  // namespace difflab::experiments
