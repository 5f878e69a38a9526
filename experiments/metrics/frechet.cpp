#include "experiments/metrics/frechet.h"

#include <cmath>

#include "experiments/metrics/sym_eigen.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

FeatureStats feature_stats(const Tensor& features) {
  DIFFLAB_CHECK(features.defined() && features.dim() == 2 && tensor::is_floating(features.dtype()),
                "feature_stats: expected float features [N, d], got ",
                features.defined() ? features.desc() : std::string("undefined"));
  const int64_t n = features.size(0), d = features.size(1);
  DIFFLAB_CHECK(n >= 2, "feature_stats: need at least 2 feature vectors for a covariance, got ",
                features.shape());
  Tensor x = features.to(DType::f64).contiguous();
  Tensor mu = tensor::mean(x, {0}, true);                    // [1, d]
  Tensor xc = tensor::binary(tensor::BinaryOp::sub, x, mu);  // centred
  // Σ = X_cᵀ X_c / (N − 1) through dgemm.
  Tensor cov = tensor::matmul(xc.transpose(0, 1), xc);
  FeatureStats s;
  s.dim = d;
  s.count = n;
  s.mean = mu.to_vector<double>();
  s.cov = cov.to_vector<double>();
  for (double& c : s.cov) c /= double(n - 1);
  // Exact symmetry (dgemm's blocking may differ between the two triangles in the last bit).
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i + 1; j < d; ++j) {
      const double m = 0.5 * (s.cov[size_t(i * d + j)] + s.cov[size_t(j * d + i)]);
      s.cov[size_t(i * d + j)] = s.cov[size_t(j * d + i)] = m;
    }
  return s;
}

double trace_sqrt_product(const std::vector<double>& cov_a, const std::vector<double>& cov_b,
                          int64_t d) {
  DIFFLAB_CHECK(cov_a.size() == size_t(d * d) && cov_b.size() == size_t(d * d),
                "trace_sqrt_product: expected two ", d, "x", d, " matrices, got ", cov_a.size(),
                " and ", cov_b.size(), " values");
  const Tensor s = tensor::from_vector<double>(sqrtm_psd(cov_a, d), {d, d});
  const Tensor b = tensor::from_vector<double>(cov_b, {d, d});
  std::vector<double> m = tensor::matmul(tensor::matmul(s, b), s).to_vector<double>();
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i + 1; j < d; ++j) {
      const double v = 0.5 * (m[size_t(i * d + j)] + m[size_t(j * d + i)]);
      m[size_t(i * d + j)] = m[size_t(j * d + i)] = v;
    }
  const SymEigen e = sym_eigen(m, d);
  double tr = 0;
  for (double l : e.values) tr += std::sqrt(std::max(l, 0.0));
  return tr;
}

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  DIFFLAB_CHECK(a.dim == b.dim && a.dim >= 1, "frechet_distance: feature dims differ (", a.dim,
                " vs ", b.dim, ")");
  const int64_t d = a.dim;
  double mean_term = 0, trace = 0;
  for (int64_t i = 0; i < d; ++i) {
    const double t = a.mean[size_t(i)] - b.mean[size_t(i)];
    mean_term += t * t;
    trace += a.cov[size_t(i * d + i)] + b.cov[size_t(i * d + i)];
  }
  const double fd = mean_term + trace - 2.0 * trace_sqrt_product(a.cov, b.cov, d);
  // FD ≥ 0 mathematically; tiny negatives are round-off.
  return std::max(fd, 0.0);
}

double frechet_distance(const Tensor& features_a, const Tensor& features_b) {
  DIFFLAB_CHECK(
      features_a.dim() == 2 && features_b.dim() == 2 && features_a.size(1) == features_b.size(1),
      "frechet_distance: features must be [N, d] and [M, d], got ", features_a.shape(), " and ",
      features_b.shape());
  return frechet_distance(feature_stats(features_a), feature_stats(features_b));
}

}  // namespace difflab::experiments
