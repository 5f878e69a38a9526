#include "matching/divergence.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "matching/sample_sets.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {

using tensor::DType;

namespace {

void check_bandwidths(const std::vector<double>& h, const char* op) {
  DIFFLAB_CHECK(!h.empty(), op, ": no bandwidth given");
  for (double b : h) DIFFLAB_CHECK(b > 0 && std::isfinite(b), op, ": bandwidth ", b, " is not > 0");
}

}  // namespace

double median_bandwidth(const Tensor& x_in, const Tensor& y_in, int64_t max_points) {
  ag::NoGradGuard no_grad;
  auto [fx, fy] = as_features(Var(x_in), Var(y_in), "median_bandwidth");
  const int64_t n = std::min(fx.size(0), max_points), m = std::min(fy.size(0), max_points);
  Tensor d2 = tensor::cdist2(fx.value().slice(0, 0, n), fy.value().slice(0, 0, m));
  std::vector<double> v = d2.to_vector<double>();
  v.erase(std::remove_if(v.begin(), v.end(), [](double a) { return !(a > 0); }), v.end());
  DIFFLAB_CHECK(!v.empty(), "median_bandwidth: every pairwise distance between X ", x_in.shape(),
                " and Y ", y_in.shape(), " is zero; give a bandwidth");
  const size_t k = (v.size() - 1) / 2;  // lower median
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
  return std::sqrt(v[k] / 2.0);
}

Var gaussian_kernel(const Var& x, const Var& y, const std::vector<double>& bandwidths) {
  check_bandwidths(bandwidths, "gaussian_kernel");
  auto [fx, fy] = as_features(x, y, "gaussian_kernel");
  Var d2 = ag::cdist2(fx, fy);
  Var k;
  for (double h : bandwidths) {
    Var kh = ag::exp(ag::affine(d2, -1.0 / (2.0 * h * h), 0.0));
    k = k.defined() ? k + kh : kh;
  }
  return k;
}

Var gaussian_kernel(const Var& x, const Var& y, double bandwidth) {
  return gaussian_kernel(x, y, std::vector<double>{bandwidth});
}

Var pairwise_distance(const Var& x, const Var& y) {
  auto [fx, fy] = as_features(x, y, "pairwise_distance");
  Var d2 = ag::cdist2(fx, fy);
  // √ at 0 has an infinite derivative: take √1 there and select 0, so coincident points get a
  // zero (sub)gradient instead of NaN.
  const tensor::Device dev = d2.device();
  Tensor zero =
      tensor::binary(tensor::BinaryOp::le, d2.value(), tensor::zeros({}, d2.dtype(), dev));
  Var one(tensor::ones({}, d2.dtype(), dev));
  Var safe = ag::where(zero, one, d2);
  return ag::where(zero, Var(tensor::zeros({}, d2.dtype(), dev)), ag::sqrt(safe));
}

Var mmd2(const Var& x, const Var& y, const std::vector<double>& bandwidths, Estimator est) {
  check_bandwidths(bandwidths, "mmd2");
  auto [fx, fy] = as_features(x, y, "mmd2");
  return mmd2_from_kernels(gaussian_kernel(fx, fx, bandwidths), gaussian_kernel(fy, fy, bandwidths),
                           gaussian_kernel(fx, fy, bandwidths), est, "mmd2");
}

Var mmd2(const Var& x, const Var& y, double bandwidth, Estimator est) {
  const double h = bandwidth > 0 ? bandwidth : median_bandwidth(x.value(), y.value());
  return mmd2(x, y, std::vector<double>{h}, est);
}

Var energy_distance(const Var& x, const Var& y, Estimator est) {
  auto [fx, fy] = as_features(x, y, "energy_distance");
  // k(a, b) = −‖a − b‖ in the MMD form; the diagonal of a self-distance matrix is 0, so the
  // U-statistic's off-diagonal sums equal the full sums.
  return mmd2_from_kernels(-pairwise_distance(fx, fx), -pairwise_distance(fy, fy),
                           -pairwise_distance(fx, fy), est, "energy_distance");
}

Tensor random_directions(int64_t num, int64_t dim, tensor::Generator& gen, DType dtype) {
  DIFFLAB_CHECK(num >= 1 && dim >= 1, "random_directions: need num >= 1 and dim >= 1, got ", num,
                " and ", dim);
  Tensor g = tensor::randn({num, dim}, DType::f64, &gen);
  double* p = g.data<double>();
  for (int64_t l = 0; l < num; ++l) {
    double s = 0;
    for (int64_t j = 0; j < dim; ++j) s += p[l * dim + j] * p[l * dim + j];
    const double inv = 1.0 / std::sqrt(s);
    for (int64_t j = 0; j < dim; ++j) p[l * dim + j] *= inv;
  }
  return dtype == DType::f64 ? g : g.to(dtype);
}

Var sliced_wasserstein(const Var& x, const Var& y, const Tensor& directions, int p) {
  DIFFLAB_CHECK(p == 1 || p == 2, "sliced_wasserstein: p must be 1 or 2, got ", p);
  auto [fx, fy] = as_features(x, y, "sliced_wasserstein");
  DIFFLAB_CHECK(fx.size(0) == fy.size(0), "sliced_wasserstein: needs equal sample counts, got X ",
                x.shape(), " and Y ", y.shape());
  DIFFLAB_CHECK(
      directions.dim() == 2 && directions.size(1) == fx.size(1) && directions.dtype() == fx.dtype(),
      "sliced_wasserstein: directions must be ", fx.dtype(), " [L, ", fx.size(1), "], got ",
      directions.desc());
  Var theta_t(directions.transpose(0, 1));              // [D, L]
  Var px = ag::sort(ag::matmul(fx, theta_t), 0).first;  // [N, L], each column sorted
  Var py = ag::sort(ag::matmul(fy, theta_t), 0).first;
  Var d = px - py;
  return p == 2 ? ag::mean(ag::square(d)) : ag::mean(ag::abs(d));
}

Var sliced_wasserstein(const Var& x, const Var& y, int64_t num_projections, tensor::Generator& gen,
                       int p) {
  auto [fx, fy] = as_features(x, y, "sliced_wasserstein");
  return sliced_wasserstein(
      fx, fy, random_directions(num_projections, fx.size(1), gen, fx.dtype()).to(fx.device()), p);
}

}  // namespace difflab::matching
