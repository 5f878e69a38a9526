// Drifting fields (diffusion/drifting.h) against definitions: the training field matches
// Algorithm A1 written out element by element; the normalised field; the drifting loss's
// parameter gradient passes gradcheck. (Against Gaussian mixtures' closed-form scores:
// tests/experiments_drift_field.cpp, where experiments/'s mixtures are.)
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <numbers>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "diffusion/drifting.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::diffusion;
using difflab::testing::message_has;
using tensor::BinaryOp;
using tensor::DType;

namespace {

Tensor sub(const Tensor& a, const Tensor& b) { return tensor::binary(BinaryOp::sub, a, b); }

double rms(const Tensor& t) {
  return std::sqrt(tensor::mean(tensor::binary(BinaryOp::mul, t, t), {}).item());
}

}  // namespace

BOOST_AUTO_TEST_CASE(training_field_matches_algorithm_a1_elementwise) {
  tensor::Generator g(3);
  const int64_t N = 4, P = 5, D = 3;
  Tensor x = tensor::randn({N, D}, DType::f64, &g), y = tensor::randn({P, D}, DType::f64, &g);
  for (DriftKernel k : {DriftKernel::laplace, DriftKernel::gaussian}) {
    for (bool dbl : {true, false}) {
      DriftFieldOptions opt;
      opt.kernel = k;
      opt.temperatures = {0.7};
      opt.double_softmax = dbl;
      Tensor v = drifting_field(x, y, opt);
      // Algorithm A1 by loops: logits over [positives, negatives (self excluded)].
      auto X = x.to_vector<double>(), Y = y.to_vector<double>(), V = v.to_vector<double>();
      std::vector<std::vector<double>> logit(N, std::vector<double>(P + N));
      auto pt = [&](int64_t j, int64_t c) { return j < P ? Y[j * D + c] : X[(j - P) * D + c]; };
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < P + N; ++j) {
          double r2 = 0;
          for (int64_t c = 0; c < D; ++c) r2 += std::pow(X[i * D + c] - pt(j, c), 2);
          const double r = std::sqrt(r2);
          logit[i][j] = (j - P == i) ? -INFINITY
                                     : (k == DriftKernel::laplace ? -r / 0.7 : -r2 / (2 * 0.49));
        }
      std::vector<std::vector<double>> A(N, std::vector<double>(P + N));
      std::vector<double> col_lse(P + N, 0.0);
      for (int64_t j = 0; j < P + N; ++j) {
        double s = 0;
        for (int64_t i = 0; i < N; ++i) s += std::exp(logit[i][j]);
        col_lse[j] = s;
      }
      for (int64_t i = 0; i < N; ++i) {
        double s = 0;
        for (int64_t j = 0; j < P + N; ++j) s += std::exp(logit[i][j]);
        for (int64_t j = 0; j < P + N; ++j) {
          const double row = std::exp(logit[i][j]) / s, col = std::exp(logit[i][j]) / col_lse[j];
          A[i][j] = dbl ? std::sqrt(row * col) : row;
        }
      }
      double max_err = 0;
      for (int64_t i = 0; i < N; ++i) {
        double sp = 0, sn = 0;
        for (int64_t j = 0; j < P; ++j) sp += A[i][j];
        for (int64_t j = P; j < P + N; ++j) sn += A[i][j];
        for (int64_t c = 0; c < D; ++c) {
          double vc = 0;
          for (int64_t j = 0; j < P; ++j) vc += A[i][j] * sn * (Y[j * D + c] - X[i * D + c]);
          for (int64_t j = P; j < P + N; ++j) vc -= A[i][j] * sp * (pt(j, c) - X[i * D + c]);
          max_err = std::max(max_err, std::abs(vc - V[i * D + c]));
        }
      }
      BOOST_TEST(max_err < 1e-13, drift_kernel_name(k) << (dbl ? " double" : " row")
                                                        << " softmax: " << max_err);
    }
  }
}

// normalize (drift_loss.py): each V_τ has unit RMS where the mean distance is √D, and the field is
// returned in the caller's coordinates, so scaling the data scales the field by the same factor.
BOOST_AUTO_TEST_CASE(normalized_field_is_unit_rms_in_scaled_coordinates_and_scales_with_data) {
  tensor::Generator g(21);
  const int64_t N = 48, P = 40, D = 3;
  Tensor x = tensor::randn({N, D}, DType::f64, &g), y = tensor::randn({P, D}, DType::f64, &g);
  diffusion::DriftFieldOptions opt;
  opt.normalize = true;
  opt.temperatures = {0.2};
  Tensor v = diffusion::drifting_field(x, y, opt);
  // The mean distance over the pairs the field uses (generated × targets, self pairs excluded).
  const double sum_d = tensor::sum(tensor::unary(tensor::UnaryOp::sqrt,
                                                 tensor::clamp(tensor::cdist2(x, y), 0.0, INFINITY)), {}).item() +
                       tensor::sum(tensor::unary(tensor::UnaryOp::sqrt,
                                                 tensor::clamp(tensor::cdist2(x, x), 0.0, INFINITY)), {}).item();
  const double scale = sum_d / double(N * P + N * (N - 1));
  BOOST_TEST(std::abs(rms(v) - scale / std::sqrt(double(D))) < 1e-9 * rms(v));
  Tensor v10 =
      diffusion::drifting_field(tensor::affine(x, 10.0, 0.0), tensor::affine(y, 10.0, 0.0), opt);
  BOOST_TEST(rms(sub(v10, tensor::affine(v, 10.0, 0.0))) < 1e-9 * rms(v10));
}

BOOST_AUTO_TEST_CASE(drifting_loss_gradient_passes_gradcheck) {
  // A one-hidden-layer generator x = silu(ε W1 + b1) W2 + b2 in f64; V is computed once from its
  // output and frozen, so the loss is a plain function of the parameters.
  tensor::Generator g(9);
  const int64_t N = 6, E = 3, H = 5, D = 2;
  Tensor eps = tensor::randn({N, E}, DType::f64, &g);
  std::vector<Var> params{Var(tensor::randn({E, H}, DType::f64, &g), true),
                          Var(tensor::randn({H}, DType::f64, &g), true),
                          Var(tensor::randn({H, D}, DType::f64, &g), true),
                          Var(tensor::randn({D}, DType::f64, &g), true)};
  auto gen = [&](const std::vector<Var>& w) {
    return ag::add(ag::matmul(ag::silu(ag::add(ag::matmul(Var(eps), w[0]), w[1])), w[2]), w[3]);
  };
  Tensor field = drifting_field(gen(params).value(), tensor::randn({8, D}, DType::f64, &g), {});
  // The stop-gradient target moves with θ under finite differences (the loss value is always
  // mean(V²)), so the check runs on the same loss with the target frozen at θ₀, whose gradient
  // at θ₀ is the drifting loss's: mean‖f_θ(ε) − T‖², T = f_θ₀(ε) + V.
  Tensor target = tensor::binary(BinaryOp::add, gen(params).value(), field);
  auto frozen = [&](const std::vector<Var>& w) {
    return ag::mean(ag::square(ag::sub(gen(w), Var(target))));
  };
  ag::GradcheckResult r = ag::gradcheck(frozen, params);
  BOOST_TEST(r.ok, r.message);
  std::vector<Var> g_drift = ag::grad({drifting_loss(gen(params), field)}, params);
  std::vector<Var> g_frozen = ag::grad({frozen(params)}, params);
  for (size_t i = 0; i < params.size(); ++i)
    BOOST_TEST(rms(sub(g_drift[i].value(), g_frozen[i].value())) == 0.0, "parameter " << i);
  // Value mean(V²); gradient with respect to the samples −2V/numel.
  Var x(gen(params).value(), true);
  Var L = drifting_loss(x, field);
  BOOST_TEST(std::abs(L.item() - std::pow(rms(field), 2)) < 1e-14);
  L.backward();
  Tensor expect = tensor::affine(field, -2.0 / double(N * D), 0.0);
  BOOST_TEST(rms(sub(x.grad().value(), expect)) < 1e-15);
  BOOST_CHECK_EXCEPTION(drifting_loss(x, tensor::zeros({N, 3}, DType::f64)), Error,
                        [](const Error& e) { return message_has(e, {"drifting_loss", "[6, 3]"}); });
  BOOST_CHECK_EXCEPTION(parse_drift_kernel("cauchy"), Error,
                        [](const Error& e) { return message_has(e, {"cauchy", "laplace"}); });
}
