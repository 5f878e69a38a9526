#include "experiments/metrics/kid.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

// Σ of the cubic kernel matrix between a [n, d] and b [m, d] (f64), and its trace when a = b.
double kernel_sum(const Tensor& a, const Tensor& b, double* trace) {
  const int64_t d = a.size(1);
  Tensor g = tensor::matmul(a, b.transpose(0, 1));  // xᵀy via dgemm
  const double* p = g.data<double>();
  const int64_t n = g.size(0), m = g.size(1);
  const double inv_d = 1.0 / double(d);
  double s = 0, tr = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      const double t = p[i * m + j] * inv_d + 1.0;
      const double k = t * t * t;
      s += k;
      if (i == j) tr += k;
    }
  if (trace) *trace = tr;
  return s;
}

// The first m items of a uniform random permutation of 0..n−1 keyed by (seed, subset, set).
Tensor draw_subset(int64_t n, int64_t m, uint64_t seed, int64_t subset, uint32_t set) {
  std::vector<uint64_t> key(static_cast<size_t>(n));
  const std::array<uint32_t, 2> k = {uint32_t(seed), uint32_t(seed >> 32)};
  for (int64_t i = 0; i < n; ++i) {
    auto u = tensor::philox4x32_10({uint32_t(i), uint32_t(subset), set, 0x4B494Du}, k);
    key[size_t(i)] = (uint64_t(u[0]) << 32) | u[1];
  }
  std::vector<int64_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), int64_t(0));
  std::partial_sort(idx.begin(), idx.begin() + m, idx.end(), [&](int64_t a, int64_t b) {
    return key[size_t(a)] < key[size_t(b)] || (key[size_t(a)] == key[size_t(b)] && a < b);
  });
  idx.resize(size_t(m));
  return tensor::from_vector<int64_t>(idx, {m});
}

Tensor as_f64_features(const Tensor& f, const char* which) {
  DIFFLAB_CHECK(f.defined() && f.dim() == 2 && tensor::is_floating(f.dtype()),
                "kernel_inception_distance: ", which, " features must be float [N, d], got ",
                f.defined() ? f.desc() : std::string("undefined"));
  return f.to(DType::f64).contiguous();
}

}  // namespace

double polynomial_mmd2_u(const Tensor& x_in, const Tensor& y_in) {
  Tensor x = as_f64_features(x_in, "first"), y = as_f64_features(y_in, "second");
  DIFFLAB_CHECK(x.size(0) == y.size(0) && x.size(1) == y.size(1) && x.size(0) >= 2,
                "polynomial_mmd2_u: needs two sets of equal size m >= 2 and equal dim, got ",
                x.shape(), " and ", y.shape());
  const double m = double(x.size(0));
  double trx = 0, try_ = 0;
  const double sxx = kernel_sum(x, x, &trx), syy = kernel_sum(y, y, &try_);
  const double sxy = kernel_sum(x, y, nullptr);
  return (sxx - trx + syy - try_) / (m * (m - 1)) - 2.0 * sxy / (m * m);
}

KidResult kernel_inception_distance(const Tensor& features_a, const Tensor& features_b,
                                    const KidOptions& opt) {
  Tensor a = as_f64_features(features_a, "first"), b = as_f64_features(features_b, "second");
  DIFFLAB_CHECK(a.size(1) == b.size(1),
                "kernel_inception_distance: feature dims differ: ", a.shape(), " vs ", b.shape());
  DIFFLAB_CHECK(opt.num_subsets >= 1 && opt.subset_size >= 2,
                "kernel_inception_distance: need num_subsets >= 1 and subset_size >= 2, got ",
                opt.num_subsets, " and ", opt.subset_size);
  const int64_t m = std::min({opt.subset_size, a.size(0), b.size(0)});
  DIFFLAB_CHECK(m >= 2, "kernel_inception_distance: need at least 2 features per set, got ",
                a.shape(), " and ", b.shape());
  std::vector<double> v;
  for (int64_t s = 0; s < opt.num_subsets; ++s) {
    Tensor xa = tensor::index_select(a, 0, draw_subset(a.size(0), m, opt.seed, s, 0));
    Tensor xb = tensor::index_select(b, 0, draw_subset(b.size(0), m, opt.seed, s, 1));
    v.push_back(polynomial_mmd2_u(xa, xb));
  }
  KidResult r;
  r.num_subsets = opt.num_subsets;
  r.subset_size = m;
  r.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / double(v.size()));
  return r;
}

}  // namespace difflab::experiments
