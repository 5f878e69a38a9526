#include "experiments/metrics/vector_metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "matching/divergence.h"
#include "tensor/random.h"

namespace difflab::experiments {

using ag::Var;
using tensor::DType;
using tensor::Tensor;

namespace {

Tensor as_points(const Tensor& t, const char* which) {
  DIFFLAB_CHECK(t.defined() && t.dim() >= 1 && tensor::is_floating(t.dtype()),
                "vector_metrics: ", which, " samples must be float [N, ...], got ",
                t.defined() ? t.desc() : std::string("undefined"));
  Tensor f = t.dim() == 1 ? t.unsqueeze(1) : t.reshape({t.size(0), -1});
  return f.to(DType::f64).contiguous();
}

// Σ_{i,j} f(a_i, b_j) with f a [rows, M] matrix function, over row blocks of a.
template <typename F>
double block_sum(const Tensor& a, const Tensor& b, int64_t block, F f) {
  DIFFLAB_CHECK(block >= 1, "vector_metrics: block_rows must be >= 1, got ", block);
  double s = 0;
  for (int64_t r = 0; r < a.size(0); r += block) {
    Tensor ab = a.slice(0, r, std::min(a.size(0), r + block));
    const Tensor m = f(Var(ab), Var(b)).value();
    for (double v : m.to_vector<double>()) s += v;
  }
  return s;
}

void check_pair(const Tensor& x, const Tensor& y, int64_t min_rows) {
  DIFFLAB_CHECK(x.size(1) == y.size(1), "vector_metrics: feature sizes differ: ", x.shape(), " vs ",
                y.shape());
  DIFFLAB_CHECK(x.size(0) >= min_rows && y.size(0) >= min_rows, "vector_metrics: need at least ",
                min_rows, " samples per set, got ", x.shape(), " and ", y.shape());
}

}  // namespace

double mmd2_u_blocked(const Tensor& x_in, const Tensor& y_in, double bandwidth,
                      int64_t block_rows) {
  ag::NoGradGuard no_grad;
  Tensor x = as_points(x_in, "first"), y = as_points(y_in, "second");
  check_pair(x, y, 2);
  DIFFLAB_CHECK(bandwidth > 0, "mmd2_u_blocked: bandwidth must be > 0, got ", bandwidth);
  auto k = [bandwidth](const Var& a, const Var& b) {
    return matching::gaussian_kernel(a, b, bandwidth);
  };
  const double n = double(x.size(0)), m = double(y.size(0));
  // The self-kernel diagonal is exactly 1 (cdist2 of a row with itself is exactly 0): subtract
  // n and m to keep only i ≠ i' pairs.
  const double xx = (block_sum(x, x, block_rows, k) - n) / (n * (n - 1));
  const double yy = (block_sum(y, y, block_rows, k) - m) / (m * (m - 1));
  const double xy = block_sum(x, y, block_rows, k) / (n * m);
  return xx + yy - 2 * xy;
}

double energy_distance_blocked(const Tensor& x_in, const Tensor& y_in, int64_t block_rows) {
  ag::NoGradGuard no_grad;
  Tensor x = as_points(x_in, "first"), y = as_points(y_in, "second");
  check_pair(x, y, 1);
  const double n = double(x.size(0)), m = double(y.size(0));
  auto d = [](const Var& a, const Var& b) { return matching::pairwise_distance(a, b); };
  return 2 * block_sum(x, y, block_rows, d) / (n * m) - block_sum(x, x, block_rows, d) / (n * n) -
         block_sum(y, y, block_rows, d) / (m * m);
}

VectorMetrics vector_metrics(const Tensor& x_in, const Tensor& y_in,
                             const VectorMetricOptions& opt) {
  ag::NoGradGuard no_grad;
  Tensor x = as_points(x_in, "first"), y = as_points(y_in, "second");
  check_pair(x, y, 2);
  VectorMetrics r;
  r.bandwidth = opt.bandwidth > 0 ? opt.bandwidth : matching::median_bandwidth(x, y);
  r.mmd2_u = mmd2_u_blocked(x, y, r.bandwidth, opt.block_rows);
  r.energy = energy_distance_blocked(x, y, opt.block_rows);
  const int64_t n = std::min(x.size(0), y.size(0));
  tensor::Generator gen(opt.seed);
  const Tensor dirs = matching::random_directions(opt.projections, x.size(1), gen, DType::f64);
  Var xs(x.slice(0, 0, n)), ys(y.slice(0, 0, n));
  r.sliced_w1 = matching::sliced_wasserstein(xs, ys, dirs, 1).item();
  r.sliced_w2 = std::sqrt(matching::sliced_wasserstein(xs, ys, dirs, 2).item());
  return r;
}

std::string to_string(const VectorMetrics& m) {
  std::ostringstream os;
  os << "mmd2_u=" << m.mmd2_u << " bandwidth=" << m.bandwidth << " energy=" << m.energy
     << " sliced_w1=" << m.sliced_w1 << " sliced_w2=" << m.sliced_w2;
  return os.str();
}

}  // namespace difflab::experiments
