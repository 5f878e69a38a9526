#include "experiments/data/gaussian_mixture.h"

#include <cmath>
#include <vector>

#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

void GaussianMixture::validate() const {
  DIFFLAB_CHECK(weights.defined() && means.defined() && stds.defined(),
                "GaussianMixture: weights, means and stds must all be set");
  DIFFLAB_CHECK(
      weights.dtype() == DType::f64 && means.dtype() == DType::f64 && stds.dtype() == DType::f64,
      "GaussianMixture: parameters must be f64, got weights ", weights.desc(), ", means ",
      means.desc(), ", stds ", stds.desc());
  const int64_t k = weights.numel();
  DIFFLAB_CHECK(weights.dim() == 1 && k >= 1 && means.dim() == 2 && means.size(0) == k &&
                    stds.dim() == 1 && stds.size(0) == k,
                "GaussianMixture: expected weights [K], means [K, D], stds [K], got ",
                weights.shape(), ", ", means.shape(), ", ", stds.shape());
  double total = 0;
  for (double w : weights.to_vector<double>()) {
    DIFFLAB_CHECK(w > 0, "GaussianMixture: weight ", w, " is not positive");
    total += w;
  }
  DIFFLAB_CHECK(std::abs(total - 1.0) < 1e-9, "GaussianMixture: weights sum to ", total, ", not 1");
  for (double s : stds.to_vector<double>())
    DIFFLAB_CHECK(s > 0, "GaussianMixture: std ", s, " is not positive");
}

Tensor GaussianMixture::sample(int64_t n, tensor::Generator& gen, DType dtype,
                               Tensor* components) const {
  validate();
  const int64_t k = num_components(), d = dim();
  const std::vector<double> w = weights.to_vector<double>(), mu = means.to_vector<double>(),
                            sd = stds.to_vector<double>();
  const std::vector<double> u = tensor::rand({n}, DType::f64, &gen).to_vector<double>();
  const Tensor eps = tensor::randn({n, d}, DType::f64, &gen);
  const double* e = eps.data<double>();
  Tensor out = Tensor::empty({n, d}, DType::f64);
  Tensor comp = Tensor::empty({n}, DType::i64);
  double* o = out.data<double>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = 0;
    for (double acc = w[0]; c + 1 < k && u[size_t(i)] >= acc; acc += w[size_t(++c)]) {
    }
    comp.data<int64_t>()[i] = c;
    for (int64_t j = 0; j < d; ++j)
      o[i * d + j] = mu[size_t(c * d + j)] + sd[size_t(c)] * e[i * d + j];
  }
  if (components) *components = comp;
  return dtype == DType::f64 ? out : out.to(dtype);
}

namespace {

// log w_k + log N(x_i; μ_k, σ_k² I) → f64 [N, K].
Tensor component_log_terms(const GaussianMixture& g, const Tensor& x_in) {
  g.validate();
  const int64_t k = g.num_components(), d = g.dim();
  DIFFLAB_CHECK(x_in.dim() == 2 && x_in.size(1) == d, "GaussianMixture: points must be [N, ", d,
                "], got ", x_in.shape());
  const Tensor x = x_in.to(DType::f64).contiguous();
  const int64_t n = x.size(0);
  const std::vector<double> w = g.weights.to_vector<double>(), mu = g.means.to_vector<double>(),
                            sd = g.stds.to_vector<double>();
  Tensor out = Tensor::empty({n, k}, DType::f64);
  const double* px = x.data<double>();
  double* o = out.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) {
      double s2 = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double t = px[i * d + j] - mu[size_t(c * d + j)];
        s2 += t * t;
      }
      const double v = sd[size_t(c)] * sd[size_t(c)];
      o[i * k + c] =
          std::log(w[size_t(c)]) - 0.5 * s2 / v - 0.5 * double(d) * std::log(2 * M_PI * v);
    }
  return out;
}

}  // namespace

Tensor GaussianMixture::responsibilities(const Tensor& x) const {
  return tensor::softmax(component_log_terms(*this, x), 1);
}

Tensor GaussianMixture::log_prob(const Tensor& x) const {
  return tensor::logsumexp(component_log_terms(*this, x), {1});
}

Tensor GaussianMixture::score(const Tensor& x_in) const {
  const Tensor r = responsibilities(x_in);  // validates
  const int64_t k = num_components(), d = dim();
  const Tensor x = x_in.to(DType::f64).contiguous();
  const int64_t n = x.size(0);
  const std::vector<double> mu = means.to_vector<double>(), sd = stds.to_vector<double>();
  Tensor out = tensor::zeros({n, d}, DType::f64);
  const double *px = x.data<double>(), *pr = r.data<double>();
  double* o = out.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) {
      const double a = pr[i * k + c] / (sd[size_t(c)] * sd[size_t(c)]);
      for (int64_t j = 0; j < d; ++j) o[i * d + j] += a * (mu[size_t(c * d + j)] - px[i * d + j]);
    }
  return out;
}

GaussianMixture GaussianMixture::smoothed(double tau) const {
  validate();
  DIFFLAB_CHECK(tau >= 0, "GaussianMixture::smoothed: tau must be >= 0, got ", tau);
  GaussianMixture g = *this;
  g.stds = stds.clone();
  double* s = g.stds.data<double>();
  for (int64_t c = 0; c < g.stds.numel(); ++c) s[c] = std::sqrt(s[c] * s[c] + tau * tau);
  return g;
}

GaussianMixture make_isotropic_mixture(const Tensor& means, double std) {
  DIFFLAB_CHECK(means.dim() == 2 && means.size(0) >= 1,
                "make_isotropic_mixture: means must be [K, D], got ", means.shape());
  const int64_t k = means.size(0);
  GaussianMixture g{tensor::full({k}, 1.0 / double(k), DType::f64),
                    means.to(DType::f64).contiguous(), tensor::full({k}, std, DType::f64)};
  g.validate();
  return g;
}

}  // namespace difflab::experiments
