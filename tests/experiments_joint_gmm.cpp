// Full-covariance mixtures for MLGD-F's benchmarks: the 2D_cond_1D target in closed form,
// the squared L2 distance against a hand-computed value, sampling moments, conditioning of a
// single bivariate Gaussian, the 5D/10D constructions and the errors.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <numbers>

#include "experiments/data/joint_gmm.h"
#include "experiments/metrics/cdm_metrics.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::message_has;

namespace {

FullMixture gaussian_1d(double mean, double var) { return FullMixture{{1.0}, {{mean}}, {{{var}}}}; }

}  // namespace

BOOST_AUTO_TEST_CASE(the_2d_target_is_two_modes_at_plus_and_minus_five) {
  const CdmTask t = make_cdm_task("2d");
  BOOST_TEST(t.joint.num_components() == 11);
  BOOST_TEST(t.target.num_components() == 2);
  const double var = 0.2 - 0.195 * 0.195 / 0.5;  // 0.12395
  for (int64_t k = 0; k < 2; ++k) {
    BOOST_TEST(std::abs(t.target.weights[size_t(k)] - 0.5) < 1e-6);
    BOOST_TEST(std::abs(std::abs(t.target.means[size_t(k)][0]) - 5.0) < 1e-12);
    BOOST_TEST(std::abs(t.target.covs[size_t(k)][0][0] - var) < 1e-12);
  }
  // Away from x*, the conditional is another one: L2 grows.
  const FullMixture other = condition_on_first(t.joint, {0.0}, 0.01);
  BOOST_TEST(l2_squared(t.target, t.target) == 0.0);
  BOOST_TEST(l2_squared(other, t.target) > 0.2);  // 0.37: no shared mode
}

BOOST_AUTO_TEST_CASE(l2_between_two_gaussians_in_closed_form) {
  // ⟨p,p⟩ = ⟨q,q⟩ = 1/(2√π), ⟨p,q⟩ = N(0; 1, 2) = e^{−1/4}/(2√π).
  const double expected = (1 - std::exp(-0.25)) / std::sqrt(std::numbers::pi);
  BOOST_TEST(std::abs(l2_squared(gaussian_1d(0, 1), gaussian_1d(1, 1)) - expected) < 1e-14);
}

BOOST_AUTO_TEST_CASE(conditioning_a_bivariate_gaussian) {
  // X, Y with var 4 and 1, cov 1.2: Y | X = x ~ N(0.3 x + 1, 1 − 1.2²/4).
  FullMixture j{{1.0}, {{0.0, 1.0}}, {{{4.0, 1.2}, {1.2, 1.0}}}};
  const FullMixture c = condition_on_first(j, {2.0});
  BOOST_TEST(std::abs(c.means[0][0] - 1.6) < 1e-14);
  BOOST_TEST(std::abs(c.covs[0][0][0] - 0.64) < 1e-14);
  // Sampling: the moments of 20,000 draws (sd of the mean estimate 0.014).
  tensor::Generator g(3);
  const tensor::Tensor x = j.sample(20000, g, tensor::DType::f64);
  const tensor::Tensor m = tensor::mean(x, {0});
  BOOST_TEST(std::abs(m.data<double>()[0]) < 0.06);
  BOOST_TEST(std::abs(m.data<double>()[1] - 1.0) < 0.03);
  const tensor::Tensor v = tensor::var(x, {0});
  BOOST_TEST(std::abs(v.data<double>()[0] - 4.0) < 0.2);
  BOOST_TEST(std::abs(v.data<double>()[1] - 1.0) < 0.05);
}

BOOST_AUTO_TEST_CASE(the_nd_tasks_have_a_bimodal_target_at_x_star) {
  for (const char* name : {"5d", "10d"}) {
    const CdmTask t = make_cdm_task(name, 1);
    const int64_t D = t.joint.dim();
    BOOST_TEST(t.dim_x == D - 1);
    BOOST_TEST(int64_t(t.x_star.size()) == D - 1);
    BOOST_TEST(t.target.num_components() >= 2, name);
    // Components 2 and 3 keep their drawn means: at least 5 from each other and from 0 and 1.
    for (size_t a = 0; a < 4; ++a)
      for (size_t b = std::max<size_t>(a + 1, 2); b < 4; ++b) {
        double s = 0;
        for (int64_t i = 0; i < D; ++i)
          s += std::pow(t.joint.means[a][size_t(i)] - t.joint.means[b][size_t(i)], 2);
        BOOST_TEST(std::sqrt(s) >= 5.0);
      }
  }
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  BOOST_CHECK_EXCEPTION(make_cdm_task("3d"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"2d, 5d, 10d"}); });
  FullMixture bad{{1.0}, {{0.0, 0.0}}, {{{1.0, 2.0}, {2.0, 1.0}}}};
  BOOST_CHECK_EXCEPTION(bad.validate(), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"positive definite"}); });
}

BOOST_AUTO_TEST_CASE(cdm_scores_per_restart_and_top_k) {
  const CdmTask t = make_cdm_task("2d");
  // Restart 0 at x*, restart 1 at x = 0, restart 2 at x = 5; losses rank 2, 0, 1.
  const tensor::Tensor x = tensor::from_vector<double>({-5.0, 0.0, 5.0}, {3, 1});
  const CdmScores s = score_cdm(t, x, {0.2, 0.9, 0.1}, 2);
  BOOST_TEST(s.l2[0] < 1e-6);  // not 0: the target drops components below weight 0.01
  BOOST_TEST(s.l2[1] > 0.2);
  BOOST_TEST(s.distance[2] == 10.0);
  BOOST_TEST(s.top_k == 2);
  BOOST_TEST(std::abs(s.l2_top.mean - 0.5 * (s.l2[2] + s.l2[0])) < 1e-15);
  const Stats st = stats_of({1.0, 2.0, 6.0, 3.0});
  BOOST_TEST(st.mean == 3.0);
  BOOST_TEST(st.median == 2.5);
  BOOST_TEST(std::abs(st.sd - std::sqrt(14.0 / 3.0)) < 1e-15);
}
