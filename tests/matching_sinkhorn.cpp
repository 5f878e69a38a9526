// Debiased Sinkhorn divergence (matching/sinkhorn.h): zero on identical clouds, the exact 1-D
// optimal transport cost as ε → 0 (to rounding for equal sizes, within the O(ε) entropy bound for
// unequal ones), the convergence report, the envelope-theorem gradient against central finite
// differences in f64, a descent step, and bad options.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "matching/divergence_registry.h"
#include "matching/sinkhorn.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::matching;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;

namespace {

Var column(const std::vector<double>& v, bool rg = false) {
  return Var(tensor::from_vector<double>(v, {int64_t(v.size()), 1}), rg);
}

Var randvar(const tensor::Shape& s, uint64_t seed, double shift = 0.0, bool rg = false) {
  tensor::Generator g(seed);
  return Var(tensor::affine(tensor::randn(s, DType::f64, &g), 1.0, shift), rg);
}

// Exact OT between uniform 1-D clouds of any sizes with cost |a − b|^p/p: the monotone
// (quantile) coupling, ∫₀¹ |F⁻¹(u) − G⁻¹(u)|^p/p du, integrated exactly over the intervals
// between the breakpoints k/N and l/M where both quantile functions are constant.
double exact_ot_1d(std::vector<double> x, std::vector<double> y, int p) {
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  const double n = double(x.size()), m = double(y.size());
  size_t i = 0, j = 0;
  double u = 0, total = 0;
  while (i < x.size() && j < y.size()) {
    const double next = std::min((double(i) + 1) / n, (double(j) + 1) / m);
    total += (next - u) * std::pow(std::abs(x[i] - y[j]), p) / p;
    u = next;
    if (std::abs(next - (double(i) + 1) / n) < 1e-15) ++i;
    if (std::abs(next - (double(j) + 1) / m) < 1e-15) ++j;
  }
  return total;
}

SinkhornOptions options(double eps, int p, int64_t cap = 2000, double tol = 1e-12) {
  SinkhornOptions o;
  o.epsilon = eps;
  o.p = p;
  o.max_iterations = cap;
  o.tolerance = tol;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(identical_clouds_give_zero) {
  Var x = randvar({6, 3}, 1);
  for (int p : {1, 2}) {
    SinkhornReport rep;
    const double s = sinkhorn_divergence(x, x, options(0.5, p, 2000, 1e-10), &rep).item();
    BOOST_TEST_INFO("p = " << p << ": S = " << s);
    BOOST_TEST(std::abs(s) < 1e-12);
    BOOST_TEST(rep.converged);
  }
  // And S > 0, symmetric, for different clouds of different sizes.
  Var y = randvar({4, 3}, 2, 0.5);
  const double sxy = sinkhorn_divergence(x, y, options(0.5, 2, 2000, 1e-10)).item();
  const double syx = sinkhorn_divergence(y, x, options(0.5, 2, 2000, 1e-10)).item();
  BOOST_TEST(sxy > 0.05);
  BOOST_TEST(std::abs(sxy - syx) < 1e-9);
}

BOOST_AUTO_TEST_CASE(small_epsilon_gives_the_sorted_matching_on_equal_sizes) {
  // N = M in 1-D with a unique optimal matching: OT_ε − W and the self terms are exponentially
  // small in gap/ε, so S_ε matches mean |x_(i) − y_(i)|^p/p to rounding at small ε. (At ε where
  // neighbouring pairs are only weakly coupled, e.g. 0.1 here, Sinkhorn converges very slowly;
  // this test stays at ε where it converges in a few updates.)
  const std::vector<double> pairs_x = {0.0, 1.1, 1.9, 3.2, 4.0, 5.1, 6.0};
  const std::vector<double> pairs_y = {0.25, 0.85, 2.1, 3.0, 4.3, 4.9, 6.2};  // W1: non-unique
  const std::vector<double> xs = {0.3, -1.2, 2.0, 0.7, 0.1, -0.5, 1.4};       // plans only for
  const std::vector<double> ys = {1.5, -0.4, 0.9, 3.1, 0.2, -1.0, 2.2};       // crossing pairs
  struct Case {
    const std::vector<double>&x, &y;
    int p;
  };
  for (const Case& c : {Case{pairs_x, pairs_y, 1}, Case{pairs_x, pairs_y, 2}, Case{xs, ys, 2}}) {
    const double exact = exact_ot_1d(c.x, c.y, c.p);
    for (double eps : {3e-3, 1e-3}) {
      SinkhornReport rep;
      const double s =
          sinkhorn_divergence(column(c.x), column(c.y), options(eps, c.p, 500, 1e-12), &rep).item();
      BOOST_TEST_INFO("p " << c.p << " eps " << eps << ": S " << s << " exact " << exact);
      BOOST_TEST(rep.converged);
      BOOST_TEST(std::abs(s - exact) < (eps < 2e-3 ? 1e-10 : 1e-5) * exact);
    }
  }
}

BOOST_AUTO_TEST_CASE(small_epsilon_approaches_the_exact_cost_on_unequal_sizes) {
  // N ≠ M: the optimal plan splits masses, so its entropy does not cancel against the self terms
  // and S_ε − W is O(ε): from 0 ≤ OT_ε(α, β) − W ≤ ε·KL(π*|α⊗β) ≤ ε log min(N, M) and
  // 0 ≤ OT_ε(α, α) ≤ ε log N, |S_ε − W| ≤ ε (log N + log M).
  const std::vector<double> xs = {0.3, -1.2, 2.0, 0.7, 0.1}, ys = {1.5, -0.4, 0.9};
  const double bound = std::log(5.0) + std::log(3.0);
  for (int p : {1, 2}) {
    const double exact = exact_ot_1d(xs, ys, p);
    double prev = 1e9;
    for (double eps : {1e-2, 3e-3}) {
      SinkhornReport rep;
      const double s =
          sinkhorn_divergence(column(xs), column(ys), options(eps, p, 5000, 1e-10), &rep).item();
      const double err = std::abs(s - exact);
      BOOST_TEST_INFO("p " << p << " eps " << eps << ": S " << s << " exact " << exact << " after "
                           << rep.iterations << " iterations");
      BOOST_TEST(rep.converged);
      BOOST_TEST(err <= eps * bound);
      BOOST_TEST(err < prev);
      prev = err;
    }
  }
}

BOOST_AUTO_TEST_CASE(convergence_report) {
  Var x = randvar({8, 2}, 3), y = randvar({5, 2}, 4, 1.0);
  SinkhornReport easy;
  sinkhorn_divergence(x, y, options(0.5, 2, 1000, 1e-9), &easy);
  BOOST_TEST(easy.converged);
  BOOST_TEST(easy.max_change <= 1e-9);
  BOOST_TEST(easy.iterations > 1);
  BOOST_TEST(easy.iterations < 1000);
  SinkhornReport capped;
  sinkhorn_divergence(x, y, options(0.001, 2, 3, 1e-9), &capped);
  BOOST_TEST(!capped.converged);
  BOOST_TEST(capped.iterations == 3);
  BOOST_TEST(capped.max_change > 1e-9);
  // The registry's sinkhorn writes the report through the settings' out-pointer.
  DivergenceSettings s;
  s.divergence = "sinkhorn";
  s.sinkhorn = options(0.5, 2, 1000, 1e-9);
  SinkhornReport via_registry;
  s.sinkhorn_report = &via_registry;
  const double v = divergence(x, y, s).item();
  BOOST_TEST(via_registry.converged);
  BOOST_TEST(via_registry.iterations == easy.iterations);
  BOOST_TEST(v == sinkhorn_divergence(x, y, s.sinkhorn).item());
}

BOOST_AUTO_TEST_CASE(envelope_gradient_matches_finite_differences) {
  // The extrapolation step's gradient is exact at convergence, so converge to 1e-12 in f64. The
  // value itself is only first-order accurate in the potentials' error, so the finite-difference
  // step is 1e-4 (error 1e-12/1e-4 = 1e-8) rather than gradcheck's 1e-6. Both sets require grad
  // and have different sizes.
  Var x = randvar({4, 2}, 5, 0.0, true), y = randvar({3, 2}, 6, 0.7, true);
  ag::GradcheckOptions fd;
  fd.eps = 1e-4;
  for (int p : {1, 2}) {
    const SinkhornOptions o = options(0.3, p, 5000, 1e-12);
    SinkhornReport rep;
    sinkhorn_divergence(x, y, o, &rep);
    BOOST_TEST_INFO("p " << p << ": " << rep.iterations << " iterations");
    BOOST_TEST(rep.converged);
    auto r = ag::gradcheck(
        [o](const std::vector<Var>& in) { return sinkhorn_divergence(in[0], in[1], o); }, {x, y},
        fd);
    BOOST_TEST_INFO("p " << p << ": " << r.message);
    BOOST_TEST(r.ok);
  }
}

BOOST_AUTO_TEST_CASE(gradient_moves_the_cloud_towards_the_target) {
  // One gradient step on X lowers S_ε: the sign of the envelope gradient is right, too.
  Var x = randvar({6, 2}, 7, 0.0, true), y = randvar({6, 2}, 8, 1.5);
  const SinkhornOptions o = options(0.5, 2, 2000, 1e-9);
  Var s = sinkhorn_divergence(x, y, o);
  Var g = ag::grad({s}, {x})[0];
  Var x2(tensor::binary(tensor::BinaryOp::sub, x.value(), tensor::affine(g.value(), 0.2, 0.0)));
  BOOST_TEST(sinkhorn_divergence(x2, y, o).item() < s.item() - 0.05);
}

BOOST_AUTO_TEST_CASE(bad_options_are_named) {
  Var x = randvar({3, 2}, 9);
  auto fails = [&](SinkhornOptions o, std::initializer_list<const char*> parts) {
    try {
      sinkhorn_divergence(x, x, o);
    } catch (const difflab::Error& e) {
      return message_has(e, parts);
    }
    return false;
  };
  SinkhornOptions o;
  o.epsilon = 0;
  BOOST_TEST(fails(o, {"epsilon 0"}));
  o = {};
  o.p = 3;
  BOOST_TEST(fails(o, {"p must be 1 or 2", "3"}));
  o = {};
  o.max_iterations = 0;
  BOOST_TEST(fails(o, {"max_iterations"}));
  o = {};
  o.scaling = 1.0;
  BOOST_TEST(fails(o, {"scaling 1"}));
  BOOST_CHECK_EXCEPTION(sinkhorn_divergence(x, randvar({3, 3}, 1)), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"feature sizes"}); });
}
