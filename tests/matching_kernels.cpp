// Kernels and bandwidth rules for MMD (matching/kernels.h, bandwidth.h, kernel_mmd.h): exact
// kernel values on hand-made sets, zero V-statistics and known U-statistics on identical sets,
// MMD growing with a shift, energy distance of point masses, the multi-bandwidth mixture against
// the spec's formula, bandwidths carrying no gradient, unbiasedness of the U-statistic against
// the closed-form MMD² of two Gaussians, mmd_sqrt, and f64 gradchecks of every new kind.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "matching/divergence.h"
#include "matching/kernel_mmd.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
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

Var randvar(const tensor::Shape& s, uint64_t seed, double scale = 1.0, double shift = 0.0,
            bool rg = false) {
  tensor::Generator g(seed);
  return Var(tensor::affine(tensor::randn(s, DType::f64, &g), scale, shift), rg);
}

// y + shift·e₁ (plain tensors).
Var shifted(const Var& y, double shift) {
  std::vector<double> d(size_t(y.size(1)), 0.0);
  d[0] = shift;
  return Var(tensor::binary(tensor::BinaryOp::add, y.value(),
                            tensor::from_vector<double>(d, {1, y.size(1)})));
}

void check_grad(const ag::VarFn& fn, const std::vector<Var>& in, const std::string& what) {
  auto r = ag::gradcheck(fn, in);
  BOOST_TEST_INFO(what << ": " << r.message);
  BOOST_TEST(r.ok);
}

KernelChoice kernel(KernelKind k, Bandwidth b = Bandwidth::fixed(1.0)) { return {k, b}; }

}  // namespace

BOOST_AUTO_TEST_CASE(kernel_values_on_hand_made_sets) {
  // X = {0, 1}, Y = {0, 2}, h = 1: distances [[0, 2], [1, 1]].
  Var x = vec({0, 1}, 2, 1), y = vec({0, 2}, 2, 1);
  const std::vector<double> lap = {1, std::exp(-2.0), std::exp(-1.0), std::exp(-1.0)};
  const std::vector<double> imq = {1, 1 / std::sqrt(5.0), 1 / std::sqrt(2.0), 1 / std::sqrt(2.0)};
  const std::vector<double> en = {0, -2, -1, -1};
  auto close = [](const Var& k, const std::vector<double>& want) {
    auto got = k.value().to_vector<double>();
    for (size_t i = 0; i < want.size(); ++i)
      if (std::abs(got[i] - want[i]) > 1e-15) return false;
    return true;
  };
  BOOST_TEST(close(laplace_kernel(x, y, 1.0), lap));
  BOOST_TEST(close(imq_kernel(x, y, 1.0), imq));
  BOOST_TEST(close(energy_kernel(x, y), en));
  // h scales distances: Laplace at h = 2 on r = 2 is e^{-1}; IMQ at h = 2 on r = 2 is 1/√2.
  BOOST_TEST(std::abs(laplace_kernel(x, y, 2.0).value().to_vector<double>()[1] - std::exp(-1.0)) <
             1e-15);
  BOOST_TEST(std::abs(imq_kernel(x, y, 2.0).value().to_vector<double>()[1] - 1 / std::sqrt(2.0)) <
             1e-15);
  // A bandwidth list sums the kernels.
  Var two = kernel_matrix(x, y, KernelKind::laplace, {1.0, 2.0});
  BOOST_TEST(std::abs(two.value().to_vector<double>()[1] - std::exp(-2.0) - std::exp(-1.0)) <
             1e-15);
  for (KernelKind k : all_kernels()) BOOST_TEST(int(parse_kernel(kernel_name(k))) == int(k));
}

BOOST_AUTO_TEST_CASE(identical_sets_give_zero_v_and_the_known_u) {
  Var z = randvar({7, 3}, 1);
  for (KernelKind k : all_kernels()) {
    BOOST_TEST_INFO(kernel_name(k));
    BOOST_TEST(std::abs(kernel_mmd2(z, z, kernel(k), Estimator::v_statistic).item()) < 1e-15);
  }
  BOOST_TEST(std::abs(kernel_mmd2(z, z, kernel(KernelKind::gaussian, Bandwidth::multi()),
                                  Estimator::v_statistic)
                          .item()) < 1e-14);
  // X = Y = {0, 1}: U = 2 k₀₁ − 2(2k₀₁ + 2k₀₀)/4 = k₀₁ − k₀₀.
  Var x = vec({0, 1}, 2, 1);
  auto u = [&](KernelKind k) { return kernel_mmd2(x, x, kernel(k)).item(); };
  BOOST_TEST(std::abs(u(KernelKind::laplace) - (std::exp(-1.0) - 1)) < 1e-15);
  BOOST_TEST(std::abs(u(KernelKind::imq) - (1 / std::sqrt(2.0) - 1)) < 1e-15);
  BOOST_TEST(std::abs(u(KernelKind::energy) - (-1.0)) < 1e-15);
}

BOOST_AUTO_TEST_CASE(mmd_grows_with_the_shift) {
  Var x = randvar({40, 2}, 2), y = randvar({40, 2}, 3);
  for (KernelKind k : {KernelKind::laplace, KernelKind::imq, KernelKind::energy}) {
    double prev = -1e9;
    for (double s : {0.0, 0.5, 1.0, 2.0, 4.0}) {
      const double v = kernel_mmd2(x, shifted(y, s), kernel(k, Bandwidth::fixed(1.5))).item();
      BOOST_TEST_INFO(kernel_name(k) << " shift " << s << ": " << v << " after " << prev);
      BOOST_TEST(v > prev);
      prev = v;
    }
    BOOST_TEST(prev > 0.3);  // far apart, every kernel sees the difference
  }
}

BOOST_AUTO_TEST_CASE(energy_distance_of_point_masses) {
  // X = 3 copies of a, Y = 4 copies of b: E‖X − Y‖ = |a − b|, the self terms are 0, so both
  // estimators give 2|a − b|; the energy kernel in the MMD form is the same function.
  const double a = -0.4, b = 1.1;
  Var x = vec({a, a, a}, 3, 1), y = vec({b, b, b, b}, 4, 1);
  BOOST_TEST(std::abs(energy_distance(x, y).item() - 2 * std::abs(a - b)) < 1e-15);
  BOOST_TEST(std::abs(energy_distance(x, y, Estimator::u_statistic).item() - 2 * std::abs(a - b)) <
             1e-15);
  Var p = randvar({6, 2}, 4), q = randvar({5, 2}, 5, 1.0, 0.5);
  BOOST_TEST(kernel_mmd2(p, q, kernel(KernelKind::energy), Estimator::v_statistic).item() ==
             energy_distance(p, q).item());
  // The energy kernel ignores any bandwidth.
  BOOST_TEST(kernel_mmd2(p, q, kernel(KernelKind::energy, Bandwidth::fixed(7.0))).item() ==
             energy_distance(p, q, Estimator::u_statistic).item());
}

BOOST_AUTO_TEST_CASE(multi_bandwidth_mixture_matches_the_spec_formula) {
  // Z = {0, 1, 3}: off-diagonal squared distances 1, 9, 4 (each twice) → b = 28/6.
  Var x = vec({0, 1}, 2, 1), y = vec({3}, 1, 1);
  const double b = 28.0 / 6.0;
  BOOST_TEST(std::abs(multi_bandwidth_scale(x.value(), y.value()) - b) < 1e-15);
  auto k = [b](double r2) {
    double s = 0;
    for (int j = 0; j <= 4; ++j) s += std::exp(-r2 / (b * std::pow(2.0, j - 2)));
    return s;
  };
  // V-statistic (the old MLGD-F code): mean Kxx + mean Kyy − 2 mean Kxy.
  const double v = (2 * k(0) + 2 * k(1)) / 4 + k(0) - 2 * (k(9) + k(4)) / 2;
  const double got =
      kernel_mmd2(x, y, kernel(KernelKind::gaussian, Bandwidth::multi()), Estimator::v_statistic)
          .item();
  BOOST_TEST(std::abs(got - v) < 1e-14);
  BOOST_CHECK_EXCEPTION(multi_bandwidth_scale(y.value(), y.value()), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"same"}); });
  BOOST_CHECK_EXCEPTION(kernel_mmd2(x, x, kernel(KernelKind::laplace, Bandwidth::multi())),
                        difflab::Error, [](const difflab::Error& e) {
                          return message_has(e, {"multi", "laplace"});
                        });
}

BOOST_AUTO_TEST_CASE(bandwidths_carry_no_gradient) {
  // The gradient with a data-driven bandwidth equals the gradient with that bandwidth fixed:
  // h (median) and b (multi) are constants of the loss.
  Var x = randvar({6, 2}, 6, 1.0, 0.0, true), y = randvar({5, 2}, 7, 1.0, 0.3);
  auto grad_of = [&](const KernelChoice& kc) {
    return ag::grad({kernel_mmd2(x, y, kc)}, {x})[0].value().to_vector<double>();
  };
  const double h = median_bandwidth(x.value(), y.value());
  for (KernelKind k : {KernelKind::gaussian, KernelKind::laplace, KernelKind::imq}) {
    BOOST_TEST_INFO(kernel_name(k));
    BOOST_TEST(grad_of(kernel(k, Bandwidth::median())) == grad_of(kernel(k, Bandwidth::fixed(h))));
  }
  const std::vector<double> multi = multi_bandwidths(multi_bandwidth_scale(x.value(), y.value()));
  auto g_multi = grad_of(kernel(KernelKind::gaussian, Bandwidth::multi()));
  auto g_fixed = ag::grad({mmd2(x, y, multi)}, {x})[0].value().to_vector<double>();
  BOOST_TEST(g_multi == g_fixed);
}

BOOST_AUTO_TEST_CASE(u_statistic_mean_matches_the_population_mmd) {
  // X ~ N(0, s²I_D), Y ~ N(δ, s²I_D), k = exp(−‖x − y‖²/(2h²)); with c = (h²/(h² + 2s²))^{D/2}:
  // E k(X, X') = E k(Y, Y') = c, E k(X, Y) = c·exp(−‖δ‖²/(2(h² + 2s²))), MMD² = 2c(1 − e^{…}).
  const int D = 3, n = 5, m = 7, reps = 500;
  const double s = 0.7, h = 1.2, delta = 0.9;
  const double c = std::pow(h * h / (h * h + 2 * s * s), D / 2.0);
  const double truth = 2 * c * (1 - std::exp(-delta * delta / (2 * (h * h + 2 * s * s))));
  ag::NoGradGuard ng;
  double sum = 0, sum2 = 0;
  for (int r = 0; r < reps; ++r) {
    Var x = randvar({n, D}, 100 + r, s), y = shifted(randvar({m, D}, 900 + r, s), delta);
    const double u = kernel_mmd2(x, y, kernel(KernelKind::gaussian, Bandwidth::fixed(h))).item();
    sum += u, sum2 += u * u;
  }
  const double mean = sum / reps, se = std::sqrt((sum2 / reps - mean * mean) / reps);
  BOOST_TEST_MESSAGE("population MMD² " << truth << ", U mean " << mean << " ± " << se);
  // 4 standard errors: a false failure has probability ~6e-5.
  BOOST_TEST(std::abs(mean - truth) < 4 * se);
  BOOST_TEST(se < 0.25 * truth);  // the check has power: the mean is resolved to 25% of MMD²
}

BOOST_AUTO_TEST_CASE(mmd_sqrt_is_the_root_of_the_absolute_u_statistic) {
  Var x = randvar({6, 2}, 8), y = randvar({6, 2}, 9, 1.0, 0.2);
  for (auto [a, b] : {std::pair{x, y}, std::pair{x, x}}) {  // x with itself: U < 0
    const KernelChoice kc = kernel(KernelKind::laplace);
    const double u = kernel_mmd2(a, b, kc).item();
    BOOST_TEST(std::abs(mmd_sqrt(a, b, kc).item() - std::sqrt(std::abs(u) + 1e-8)) < 1e-15);
  }
  BOOST_TEST(kernel_mmd2(x, x, kernel(KernelKind::laplace)).item() < 0);
}

BOOST_AUTO_TEST_CASE(gradchecks_f64) {
  Var x = randvar({6, 3}, 11, 1.0, 0.0, true), y = randvar({5, 3}, 12, 1.0, 0.4, true);
  for (KernelKind k : all_kernels())
    for (Estimator est : {Estimator::u_statistic, Estimator::v_statistic}) {
      const KernelChoice kc = kernel(k, Bandwidth::fixed(1.3));
      check_grad(
          [kc, est](const std::vector<Var>& in) { return kernel_mmd2(in[0], in[1], kc, est); },
          {x, y}, std::string(kernel_name(k)) + (est == Estimator::u_statistic ? " U" : " V"));
    }
  check_grad(
      [](const std::vector<Var>& in) {
        return mmd_sqrt(in[0], in[1], kernel(KernelKind::imq, Bandwidth::fixed(0.8)));
      },
      {x, y}, "mmd_sqrt imq");
  // multi with b fixed at its value for (x, y): finite differences would otherwise also move b.
  const auto h = multi_bandwidths(multi_bandwidth_scale(x.value(), y.value()));
  check_grad(
      [h](const std::vector<Var>& in) { return mmd2(in[0], in[1], h, Estimator::v_statistic); },
      {x, y}, "multi-bandwidth V");
}

BOOST_AUTO_TEST_CASE(bad_kernel_inputs_are_named) {
  Var x = vec({0, 1}, 2, 1);
  BOOST_CHECK_EXCEPTION(parse_kernel("rbf"), difflab::Error, [](const difflab::Error& e) {
    return message_has(e, {"rbf", "gaussian", "laplace", "imq", "energy"});
  });
  BOOST_CHECK_EXCEPTION(laplace_kernel(x, x, -1.0), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"bandwidth -1"}); });
  BOOST_CHECK_EXCEPTION(kernel_mmd2(x, x, kernel(KernelKind::imq, Bandwidth::fixed(0.0))),
                        difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"bandwidth 0"}); });
  for (const char* bad : {"-1", "foo", "0", "", "nan", "inf", "1.5x"})
    BOOST_CHECK_EXCEPTION(parse_bandwidth(bad), difflab::Error, [bad](const difflab::Error& e) {
      return message_has(
          e, {(std::string("'") + bad + "'").c_str(), "median", "multi", "positive number"});
    });
  BOOST_TEST(parse_bandwidth("0.25").value == 0.25);
  BOOST_TEST(int(parse_bandwidth("multi").mode) == int(BandwidthMode::multi));
  BOOST_TEST(bandwidth_to_string(parse_bandwidth("0.25")) == "0.25");
}
