// Kernels and divergences: exact values on hand-made sets, the median heuristic, U-statistic
// unbiasedness against the closed-form MMD² of two Gaussians, energy distance against direct
// 1-D formulas, sliced Wasserstein of an exact shift, f64 gradchecks (first and second order),
// zero-distance safety, the registry giving the same numbers as the direct calls, and error
// messages.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "matching/divergence.h"
#include "matching/divergence_registry.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::matching;
using difflab::testing::message_has;
using tensor::DType;

namespace {

Var vec(const std::vector<double>& v, int64_t rows, int64_t cols, bool rg = false) {
  return Var(tensor::from_vector<double>(v, {rows, cols}), rg);
}

Var randvar(const tensor::Shape& s, uint64_t seed, double shift = 0.0, bool rg = false) {
  tensor::Generator g(seed);
  return Var(tensor::affine(tensor::randn(s, DType::f64, &g), 1.0, shift), rg);
}

void check_grad(const ag::VarFn& fn, const std::vector<Var>& in, const char* what,
                bool second_order = false) {
  auto r = ag::gradcheck(fn, in);
  BOOST_TEST_INFO(what << ": " << r.message);
  BOOST_TEST(r.ok);
  if (second_order) {
    auto r2 = ag::gradgradcheck(fn, in);
    BOOST_TEST_INFO(what << " (second order): " << r2.message);
    BOOST_TEST(r2.ok);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(mmd_exact_values_on_hand_made_sets) {
  // X = {0, 1}, Y = {0, 2}, h = 1, a = e^{−1/2}, b = e^{−2}:
  // V = [(2 + 2a) + (2 + 2b) − 2(1 + b + 2a)]/4 = (1 − a)/2;  U = a + b − (1 + b + 2a)/2 = (b −
  // 1)/2.
  Var x = vec({0, 1}, 2, 1), y = vec({0, 2}, 2, 1);
  const double a = std::exp(-0.5), b = std::exp(-2.0);
  BOOST_TEST(std::abs(mmd2(x, y, 1.0, Estimator::v_statistic).item() - (1 - a) / 2) < 1e-15);
  BOOST_TEST(std::abs(mmd2(x, y, 1.0, Estimator::u_statistic).item() - (b - 1) / 2) < 1e-15);
  // Identical sets: the V-statistic is exactly 0.
  Var z = randvar({7, 3}, 1);
  BOOST_TEST(std::abs(mmd2(z, z, 0.8, Estimator::v_statistic).item()) < 1e-15);
  // Several bandwidths: the kernel is a sum, so MMD² is additive over bandwidths.
  Var p = randvar({6, 2}, 2), q = randvar({5, 2}, 3, 0.5);
  const double sum2 = mmd2(p, q, std::vector<double>{0.5, 2.0}).item();
  BOOST_TEST(std::abs(sum2 - mmd2(p, q, 0.5).item() - mmd2(p, q, 2.0).item()) < 1e-14);
  // gaussian_kernel itself.
  Var k = gaussian_kernel(x, y, 1.0);
  BOOST_TEST(k.value().to_vector<double>() == (std::vector<double>{1.0, b, a, a}));
}

BOOST_AUTO_TEST_CASE(median_heuristic) {
  // Cross squared distances {1, 4, 16}: median 4 → h = √(4/2).
  Var x = vec({0}, 1, 1), y = vec({1, 2, 4}, 3, 1);
  BOOST_TEST(std::abs(median_bandwidth(x.value(), y.value()) - std::sqrt(2.0)) < 1e-15);
  // bandwidth <= 0 selects it.
  Var p = randvar({9, 2}, 4), q = randvar({8, 2}, 5, 1.0);
  const double h = median_bandwidth(p.value(), q.value());
  BOOST_TEST(std::abs(mmd2(p, q).item() - mmd2(p, q, h).item()) < 1e-15);
  // Only the first max_points rows of each set count.
  Var far = vec({0, 1, 2, 100}, 4, 1);
  BOOST_TEST(std::abs(median_bandwidth(x.value(), far.value(), 3) - std::sqrt(0.5)) < 1e-15);
  BOOST_CHECK_EXCEPTION(median_bandwidth(x.value(), x.value()), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"zero"}); });
}

BOOST_AUTO_TEST_CASE(u_statistic_is_unbiased) {
  // X ~ N(0, I₂), Y ~ N(δ, I₂), Gaussian kernel h: with c = h²/(h² + 2),
  // E k(X, X') = c, E k(X, Y) = c·exp(−‖δ‖²/(2(h² + 2))), so MMD² = 2c(1 − exp(−‖δ‖²/(2(h² + 2)))).
  const double h = 1.5, d2 = 0.8 * 0.8, c = h * h / (h * h + 2);
  const double truth = 2 * c * (1 - std::exp(-d2 / (2 * (h * h + 2))));
  const int n = 6, reps = 600;
  ag::NoGradGuard ng;
  double su = 0, su2 = 0, sv = 0, sv2 = 0;
  for (int r = 0; r < reps; ++r) {
    Var x = randvar({n, 2}, 1000 + r), y = randvar({n, 2}, 5000 + r);
    y = Var(tensor::binary(tensor::BinaryOp::add, y.value(),
                           tensor::from_vector<double>({0.8, 0.0}, {1, 2})));
    const double u = mmd2(x, y, h, Estimator::u_statistic).item();
    const double v = mmd2(x, y, h, Estimator::v_statistic).item();
    su += u, su2 += u * u, sv += v, sv2 += v * v;
  }
  const double mu = su / reps, se_u = std::sqrt((su2 / reps - mu * mu) / reps);
  const double mv = sv / reps, se_v = std::sqrt((sv2 / reps - mv * mv) / reps);
  // E[V] − MMD² = (1 − c)/n + (1 − c)/m: the diagonal terms the U-statistic leaves out.
  const double v_bias = 2 * (1 - c) / n;
  BOOST_TEST_MESSAGE("MMD² truth " << truth << ", U mean " << mu << " ± " << se_u << ", V mean "
                                   << mv << " ± " << se_v << " (bias " << v_bias << ")");
  BOOST_TEST(std::abs(mu - truth) < 4 * se_u);
  BOOST_TEST(std::abs(mv - truth - v_bias) < 4 * se_v);
  BOOST_TEST(mv - truth > 10 * se_v);  // the V-statistic is visibly biased at n = 6
}

BOOST_AUTO_TEST_CASE(energy_distance_1d_against_direct_formulas) {
  const std::vector<double> xs = {0.3, -1.2, 2.0, 0.7, 0.1}, ys = {1.5, -0.4, 0.9, 3.1};
  Var x = vec(xs, 5, 1), y = vec(ys, 4, 1);
  double sxy = 0, sxx = 0, syy = 0;
  for (double a : xs)
    for (double b : ys) sxy += std::abs(a - b);
  for (double a : xs)
    for (double b : xs) sxx += std::abs(a - b);
  for (double a : ys)
    for (double b : ys) syy += std::abs(a - b);
  const double v = 2 * sxy / 20 - sxx / 25 - syy / 16;
  const double u = 2 * sxy / 20 - sxx / 20 - syy / 12;
  BOOST_TEST(std::abs(energy_distance(x, y).item() - v) < 1e-14);
  BOOST_TEST(std::abs(energy_distance(x, y, Estimator::u_statistic).item() - u) < 1e-14);
  // In 1-D the V-statistic equals 2∫(F_n − G_m)² dt (Székely): integrate the empirical CDFs
  // exactly between consecutive points of the pooled sample.
  std::vector<double> pool = xs;
  pool.insert(pool.end(), ys.begin(), ys.end());
  std::sort(pool.begin(), pool.end());
  double integral = 0;
  for (size_t i = 0; i + 1 < pool.size(); ++i) {
    const double t = pool[i];
    double f = 0, g = 0;
    for (double a : xs) f += a <= t;
    for (double b : ys) g += b <= t;
    integral += (f / 5 - g / 4) * (f / 5 - g / 4) * (pool[i + 1] - pool[i]);
  }
  BOOST_TEST(std::abs(energy_distance(x, y).item() - 2 * integral) < 1e-14);
  BOOST_TEST(std::abs(energy_distance(x, x).item()) < 1e-15);
}

BOOST_AUTO_TEST_CASE(sliced_wasserstein_of_an_exact_shift) {
  // Y = X + s·e₁: projecting keeps the order, so each sorted difference is s·θ₁ exactly and
  // SW₂² = s²·mean_l θ_{l,1}², SW₁ = s·mean_l |θ_{l,1}|; E θ₁² = 1/D for uniform directions.
  const int64_t D = 3, L = 4000;
  const double s = 0.7;
  Var x = randvar({50, D}, 8);
  Var y(tensor::binary(tensor::BinaryOp::add, x.value(),
                       tensor::from_vector<double>({s, 0, 0}, {1, D})));
  tensor::Generator g(3);
  tensor::Tensor dirs = random_directions(L, D, g, DType::f64);
  std::vector<double> th = dirs.to_vector<double>();
  double m2 = 0, m1 = 0;
  for (int64_t l = 0; l < L; ++l) {
    const double t = th[size_t(l * D)];
    m2 += t * t / L;
    m1 += std::abs(t) / L;
    double norm = 0;
    for (int64_t j = 0; j < D; ++j) norm += th[size_t(l * D + j)] * th[size_t(l * D + j)];
    BOOST_REQUIRE(std::abs(norm - 1) < 1e-14);
  }
  BOOST_TEST(std::abs(sliced_wasserstein(x, y, dirs, 2).item() - s * s * m2) < 1e-13);
  BOOST_TEST(std::abs(sliced_wasserstein(x, y, dirs, 1).item() - s * m1) < 1e-13);
  BOOST_TEST(std::abs(m2 - 1.0 / D) < 0.02);  // sd of θ₁² is 0.3, over 4000 draws: 0.005
  BOOST_TEST(sliced_wasserstein(x, x, dirs, 2).item() == 0.0);
  // The Generator overload draws the same directions.
  tensor::Generator g2(3);
  BOOST_TEST(sliced_wasserstein(x, y, L, g2).item() == sliced_wasserstein(x, y, dirs, 2).item());
}

BOOST_AUTO_TEST_CASE(gradchecks_f64) {
  Var x = randvar({6, 3}, 11, 0.0, true), y = randvar({5, 3}, 12, 0.4, true);
  auto with_y = [&](auto f) { return [f, y](const std::vector<Var>& in) { return f(in[0], y); }; };
  check_grad(
      with_y([](const Var& a, const Var& b) { return mmd2(a, b, 1.3, Estimator::u_statistic); }),
      {x}, "mmd2 U", true);
  check_grad(
      with_y([](const Var& a, const Var& b) { return mmd2(a, b, 0.9, Estimator::v_statistic); }),
      {x}, "mmd2 V");
  check_grad(
      [](const std::vector<Var>& in) {
        return mmd2(in[0], in[1], std::vector<double>{0.5, 1.0, 2.0}, Estimator::u_statistic);
      },
      {x, y}, "mmd2 multi-bandwidth, both sets");
  check_grad(with_y([](const Var& a, const Var& b) { return energy_distance(a, b); }), {x},
             "energy V", true);
  check_grad(with_y([](const Var& a, const Var& b) {
               return energy_distance(a, b, Estimator::u_statistic);
             }),
             {x}, "energy U");
  Var y6 = randvar({6, 3}, 13, 0.2, true);
  tensor::Generator g(5);
  tensor::Tensor dirs = random_directions(16, 3, g, DType::f64);
  check_grad([&](const std::vector<Var>& in) { return sliced_wasserstein(in[0], y6, dirs, 2); },
             {x}, "sliced W2");
  check_grad([&](const std::vector<Var>& in) { return sliced_wasserstein(in[0], y6, dirs, 1); },
             {x}, "sliced W1");
}

BOOST_AUTO_TEST_CASE(coincident_points_give_finite_gradients) {
  // Duplicated rows: √ at distance 0 would give an infinite derivative; the safe distance gives
  // a zero subgradient there, and the rest of the gradient is unchanged.
  Var x = vec({0, 0, 0, 0, 1, 2}, 3, 2, true), y = vec({0, 0, 3, 1}, 2, 2);
  Var e = energy_distance(x, y, Estimator::u_statistic);
  auto g = ag::grad({e}, {x})[0].value().to_vector<double>();
  for (double v : g) BOOST_TEST(std::isfinite(v));
  Var d = pairwise_distance(x, x);
  BOOST_TEST(d.value().to_vector<double>()[1] == 0.0);
  BOOST_TEST(std::abs(d.value().to_vector<double>()[2] - std::sqrt(5.0)) < 1e-15);
}

BOOST_AUTO_TEST_CASE(registry_and_image_shaped_inputs) {
  // The registry's built-ins give bit-identical results to the direct calls.
  Var x = randvar({8, 1, 2, 2}, 21), y = randvar({8, 1, 2, 2}, 22, 0.3);
  Var fx = ag::reshape(x, {8, 4}), fy = ag::reshape(y, {8, 4});
  auto settings = [](const char* name) {
    DivergenceSettings s;
    s.divergence = name;
    s.bandwidth = Bandwidth::fixed(1.1);
    return s;
  };
  BOOST_TEST(divergence(x, y, settings("mmd_u")).item() ==
             mmd2(fx, fy, 1.1, Estimator::u_statistic).item());
  BOOST_TEST(divergence(x, y, settings("mmd_v")).item() ==
             mmd2(fx, fy, 1.1, Estimator::v_statistic).item());
  DivergenceSettings median = settings("mmd_u");
  median.bandwidth = Bandwidth::median();
  BOOST_TEST(divergence(x, y, median).item() == mmd2(fx, fy).item());
  BOOST_TEST(divergence(x, y, settings("energy")).item() == energy_distance(fx, fy).item());
  tensor::Generator g1(9), g2(9);
  DivergenceSettings sw = settings("sliced_w2");
  sw.projections = 32;
  BOOST_TEST(divergence(x, y, sw, &g1).item() == sliced_wasserstein(fx, fy, 32, g2).item());
}

BOOST_AUTO_TEST_CASE(bad_inputs_are_named) {
  Var one = vec({1, 2}, 1, 2), two = vec({1, 2, 3, 4}, 2, 2), three = randvar({3, 3}, 1);
  BOOST_CHECK_EXCEPTION(mmd2(one, two, 1.0), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"U-statistic", "at least 2"});
  });
  BOOST_CHECK_EXCEPTION(mmd2(two, three, 1.0), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"feature sizes"}); });
  BOOST_CHECK_EXCEPTION(mmd2(two, two, std::vector<double>{1.0, -2.0}), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"bandwidth -2"}); });
  tensor::Generator g(0);
  BOOST_CHECK_EXCEPTION(
      sliced_wasserstein(two, vec({1, 2, 3, 4, 5, 6}, 3, 2), 4, g), difflab::Error,
      [](const difflab::Error& e) { return message_has(e, {"equal sample counts"}); });
  DivergenceSettings sw1;
  sw1.divergence = "sliced_w1";
  BOOST_CHECK_EXCEPTION(divergence(two, two, sw1), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"sliced_w1", "Generator"});
  });
  Var f32(tensor::zeros({2, 2}));
  BOOST_CHECK_EXCEPTION(mmd2(f32, two, 1.0), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"f32", "f64"});
  });
}
