#include "experiments/metrics/mixture_metrics.h"

#include <cmath>
#include <vector>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

// Regularised lower incomplete gamma P(a, x): its series below a + 1, else 1 − the continued
// fraction of Q (Numerical Recipes §6.2).
double gamma_p(double a, double x) {
  if (x <= 0) return 0;
  const double lead = std::exp(-x + a * std::log(x) - std::lgamma(a));
  if (x < a + 1) {
    double term = 1 / a, sum = term;
    for (int n = 1; n < 1000 && std::fabs(term) > 1e-16 * std::fabs(sum); ++n)
      term *= x / (a + n), sum += term;
    return sum * lead;
  }
  double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b, c = b + an / c;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-16) break;
  }
  return 1 - lead * h;
}

}  // namespace

double chi2_quantile(int64_t dof, double p) {
  DIFFLAB_CHECK(dof >= 1 && p > 0 && p < 1, "chi2_quantile: dof ", dof, ", p ", p);
  double lo = 0, hi = double(dof) + 20 * std::sqrt(double(dof)) + 50;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (gamma_p(0.5 * double(dof), 0.5 * mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

MixtureMetrics mixture_metrics(const GaussianMixture& p, const Tensor& x_in) {
  const Tensor x = x_in.to(DType::f64).contiguous();
  const int64_t n = x.size(0), k = p.num_components();
  DIFFLAB_CHECK(n > 0 && x.dim() == 2 && x.size(1) == p.dim(), "mixture_metrics: samples ",
                tensor::shape_str(x.shape()), " do not match a ", p.dim(), "-D mixture");
  // Squared Mahalanobis distance to each component: ‖x − μ_k‖² / σ_k².
  const std::vector<double> d2 = tensor::cdist2(x, p.means.to(DType::f64)).to_vector<double>();
  const std::vector<double> sd = p.stds.to(DType::f64).to_vector<double>();
  const std::vector<double> w = p.weights.to(DType::f64).to_vector<double>();
  const double radius2 = chi2_quantile(p.dim(), 0.99);
  std::vector<int64_t> count(size_t(k), 0);
  int64_t hq = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    double best_d = INFINITY;
    for (int64_t c = 0; c < k; ++c) {
      const double m = d2[size_t(i * k + c)] / (sd[size_t(c)] * sd[size_t(c)]);
      if (m < best_d) best_d = m, best = c;
    }
    if (best_d <= radius2) ++hq, ++count[size_t(best)];
  }
  MixtureMetrics out;
  out.hq_share = double(hq) / double(n);
  double tv = 0;
  for (int64_t c = 0; c < k; ++c) {
    const double share = hq > 0 ? double(count[size_t(c)]) / double(hq) : 0.0;
    tv += 0.5 * std::fabs(share - w[size_t(c)]);
    if (hq > 0 && double(count[size_t(c)]) >= 0.5 * w[size_t(c)] * double(hq)) ++out.modes_covered;
  }
  out.mode_weight_tv = hq > 0 ? tv : 1.0;
  out.log_density = tensor::mean(p.log_prob(x), {}).item();
  return out;
}

CheckerboardMetrics checkerboard_metrics(const Tensor& x_in) {
  const std::vector<double> x = x_in.to(DType::f64).contiguous().to_vector<double>();
  const int64_t n = x_in.size(0);
  DIFFLAB_CHECK(n > 0 && x_in.dim() == 2 && x_in.size(1) == 2,
                "checkerboard_metrics: expected [N, 2] samples, got ", tensor::shape_str(x_in.shape()));
  std::vector<int64_t> cell(16, 0);
  int64_t inside = 0;
  for (int64_t i = 0; i < n; ++i) {
    // On the unscaled board [−2, 2)², the dark cells are those with ⌊X⌋ + ⌊Y⌋ even.
    const double cx = std::floor(2 * x[size_t(2 * i)]), cy = std::floor(2 * x[size_t(2 * i + 1)]);
    if (cx < -2 || cx > 1 || cy < -2 || cy > 1) continue;
    if ((int64_t(cx) + int64_t(cy)) % 2 != 0) continue;
    ++inside, ++cell[size_t((cx + 2) * 4 + (cy + 2))];
  }
  CheckerboardMetrics out;
  out.in_squares = double(inside) / double(n);
  if (inside == 0) return out;
  double tv = 0;
  for (int c = 0; c < 16; ++c)
    if ((c / 4 + c % 4) % 2 == 0) tv += 0.5 * std::fabs(double(cell[size_t(c)]) / double(inside) - 0.125);
  out.square_tv = tv;
  return out;
}

}  // namespace difflab::experiments
