// Flux matching's pieces (diffusion/flux.h): the batch kernel score against its definition and
// finite differences (first and second order), the Hutchinson residual against the exact
// divergence, and the defining property of the objective: the kernel score s and every
// s + J s with J skew-symmetric (a non-conservative field) have zero stationarity residual,
// while a field that is not stationary does not.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "diffusion/flux.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::diffusion;
using difflab::testing::message_has;
using tensor::DType;

namespace {

constexpr double kSigma2 = 0.3;

Tensor data_points() {
  tensor::Generator g(17);
  return tensor::randn({7, 2}, DType::f64, &g);
}

// s + c·J s with J = [[0, 1], [−1, 0]] (c = 0: the score itself).
VectorField skew_field(const Tensor& data, double c, double scale = 1.0) {
  return [data, c, scale](const Var& z) {
    Var s = kde_score(z, data, kSigma2);
    Var js = ag::cat({ag::slice(s, 1, 1, 2), ag::neg(ag::slice(s, 1, 0, 1))}, 1);
    return ag::add(ag::affine(s, scale, 0.0), ag::affine(js, c, 0.0));
  };
}

// The residual averaged over the four ±1 probes of 2-D: exactly tr(∂u) + u·s.
std::vector<double> exact_residual(const VectorField& f, const Tensor& z, const Tensor& data) {
  std::vector<double> avg(size_t(z.size(0)), 0.0);
  for (double a : {-1.0, 1.0})
    for (double b : {-1.0, 1.0}) {
      std::vector<double> pv;
      for (int64_t i = 0; i < z.size(0); ++i) pv.insert(pv.end(), {a, b});
      Tensor probe = tensor::from_vector(pv, z.shape(), DType::f64);
      auto r = flux_residual(f, Var(z, true), data, kSigma2, probe).value().to_vector<double>();
      for (size_t i = 0; i < r.size(); ++i) avg[i] += r[i] / 4;
    }
  return avg;
}

}  // namespace

BOOST_AUTO_TEST_CASE(kde_score_matches_its_definition_and_differentiates) {
  Tensor data = data_points();
  tensor::Generator g(3);
  Tensor z = tensor::randn({5, 2}, DType::f64, &g);
  auto s = kde_score(Var(z), data, kSigma2).value().to_vector<double>();
  auto zv = z.to_vector<double>(), xv = data.to_vector<double>();
  for (int64_t i = 0; i < 5; ++i) {
    double wsum = 0, mx = 0, my = 0;
    for (int64_t j = 0; j < 7; ++j) {
      const double dx = zv[i * 2] - xv[j * 2], dy = zv[i * 2 + 1] - xv[j * 2 + 1];
      const double w = std::exp(-(dx * dx + dy * dy) / (2 * kSigma2));
      wsum += w, mx += w * xv[j * 2], my += w * xv[j * 2 + 1];
    }
    BOOST_TEST(std::abs(s[i * 2] - (mx / wsum - zv[i * 2]) / kSigma2) < 1e-12);
    BOOST_TEST(std::abs(s[i * 2 + 1] - (my / wsum - zv[i * 2 + 1]) / kSigma2) < 1e-12);
  }
  auto fn = [&](const std::vector<Var>& in) { return kde_score(in[0], data, kSigma2); };
  ag::GradcheckResult r1 = ag::gradcheck(fn, {Var(z, true)});
  BOOST_TEST(r1.ok, r1.message);
  ag::GradcheckResult r2 = ag::gradgradcheck(fn, {Var(z, true)});
  BOOST_TEST(r2.ok, r2.message);
}

BOOST_AUTO_TEST_CASE(hutchinson_residual_matches_the_exact_divergence) {
  // f(z) = tanh(z A): ∇·u = tr(∂f) − tr(∂s), with tr(∂s) by central differences.
  Tensor data = data_points();
  tensor::Generator g(5);
  Tensor A = tensor::randn({2, 2}, DType::f64, &g), z = tensor::randn({6, 2}, DType::f64, &g);
  VectorField f = [A](const Var& x) { return ag::tanh(ag::matmul(x, Var(A))); };
  std::vector<double> avg = exact_residual(f, z, data);
  auto field = [&](const Tensor& x) {
    return tensor::binary(tensor::BinaryOp::sub, f(Var(x)).value(),
                          kde_score(Var(x), data, kSigma2).value());
  };
  const double h = 1e-5;
  auto zv = z.to_vector<double>();
  Tensor u = field(z), s = kde_score(Var(z), data, kSigma2).value();
  auto uv = u.to_vector<double>(), sv = s.to_vector<double>();
  for (int64_t i = 0; i < 6; ++i) {
    double div = 0;
    for (int64_t c = 0; c < 2; ++c) {
      std::vector<double> zp = zv, zm = zv;
      zp[i * 2 + c] += h, zm[i * 2 + c] -= h;
      auto up = field(tensor::from_vector(zp, {6, 2}, DType::f64)).to_vector<double>();
      auto um = field(tensor::from_vector(zm, {6, 2}, DType::f64)).to_vector<double>();
      div += (up[i * 2 + c] - um[i * 2 + c]) / (2 * h);
    }
    const double exact = div + uv[i * 2] * sv[i * 2] + uv[i * 2 + 1] * sv[i * 2 + 1];
    BOOST_TEST(std::abs(avg[size_t(i)] - exact) < 1e-6 * (1 + std::abs(exact)),
               "point " << i << ": " << avg[size_t(i)] << " vs " << exact);
  }
}

BOOST_AUTO_TEST_CASE(score_and_skew_rotated_score_are_stationary_others_are_not) {
  Tensor data = data_points();
  tensor::Generator g(8);
  Tensor z = tensor::affine(tensor::randn({16, 2}, DType::f64, &g), 1.5, 0.0);
  double worst_stationary = 0, smallest_other = INFINITY;
  for (double c : {0.0, 0.7, -2.0})
    for (double r : exact_residual(skew_field(data, c), z, data))
      worst_stationary = std::max(worst_stationary, std::abs(r));
  double mean_other = 0;
  for (double r : exact_residual(skew_field(data, 0.0, 2.0), z, data)) {
    smallest_other = std::min(smallest_other, std::abs(r));
    mean_other += std::abs(r) / 16;
  }
  BOOST_TEST_MESSAGE("max |r| for s + cJs: " << worst_stationary << "; mean |r| for 2s: "
                                             << mean_other);
  BOOST_TEST(worst_stationary < 1e-9);
  BOOST_TEST(mean_other > 1e-2);
  // The objective vanishes identically for the score field: u(x₀) = 0.
  tensor::Generator lg(1);
  FluxOptions opt;
  opt.sigma2 = kSigma2;
  BOOST_TEST(flux_loss(skew_field(data, 0.0), data, opt, lg).item() == 0.0);
  BOOST_CHECK_EXCEPTION(kde_score(Var(tensor::zeros({2, 3}, DType::f64)), data, kSigma2), Error,
                        [](const Error& e) { return message_has(e, {"kde_score", "[2, 3]"}); });
}

BOOST_AUTO_TEST_CASE(flux_loss_reaches_the_network_parameters) {
  Tensor data = data_points();
  tensor::Generator g(4);
  Var W(tensor::affine(tensor::randn({2, 2}, DType::f64, &g), 0.3, 0.0), true);
  VectorField f = [&W](const Var& z) { return ag::matmul(z, W); };
  FluxOptions opt;
  opt.sigma2 = kSigma2;
  Var L = flux_loss(f, data, opt, g);
  L.backward();
  BOOST_TEST(std::isfinite(L.item()));
  BOOST_TEST(tensor::sum(tensor::unary(tensor::UnaryOp::abs, W.grad().value()), {}).item() > 0.0);
  // Langevin leaves the shape and is reproducible from its generator.
  tensor::Generator a(9), b(9);
  Tensor x0 = tensor::zeros({4, 2}, DType::f64);
  Tensor s1 = langevin_sample(f, x0, 0.1, 5, a), s2 = langevin_sample(f, x0, 0.1, 5, b);
  BOOST_TEST((s1.shape() == x0.shape()));
  BOOST_TEST((s1.to_vector<double>() == s2.to_vector<double>()));
}
