// Metrics that can fail: the mode figures of a known mixture (a uniform ring through ring8's
// modes, a collapse onto 3 of them and the data itself give three different answers), the
// checkerboard's cell figures, χ² quantiles against tables, precision and recall on the same,
// a collapsed and a shifted distribution, and the multi-bandwidth MMD rows of sample_metrics.
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>

#include "experiments/data/toy2d.h"
#include "experiments/dataset.h"
#include "experiments/metrics/mixture_metrics.h"
#include "experiments/metrics/precision_recall.h"
#include "experiments/sample_metrics.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace difflab;
using namespace difflab::experiments;
using tensor::DType;

namespace {

// n points spread uniformly in angle on ring8's circle (radius √2), radial noise 0.1: the
// failure the quickstart's report once called a match.
Tensor uniform_ring(int64_t n, uint64_t seed) {
  tensor::Generator g(seed);
  auto u = tensor::rand({n}, DType::f64, &g).to_vector<double>();
  auto e = tensor::randn({n}, DType::f64, &g).to_vector<double>();
  std::vector<double> xy;
  for (int64_t i = 0; i < n; ++i) {
    const double a = 2 * M_PI * u[size_t(i)], r = std::sqrt(2.0) + 0.1 * e[size_t(i)];
    xy.push_back(r * std::cos(a)), xy.push_back(r * std::sin(a));
  }
  return tensor::from_vector<double>(xy, {n, 2});
}

// Samples of ring8 from its first `modes` components only.
Tensor collapsed(int64_t n, int modes, uint64_t seed) {
  const GaussianMixture p = ring8_mixture();
  const GaussianMixture q = make_isotropic_mixture(p.means.slice(0, 0, modes), 0.1);
  tensor::Generator g(seed);
  return q.sample(n, g, DType::f64);
}

std::map<std::string, double> as_map(const Metrics& m) { return {m.begin(), m.end()}; }

}  // namespace

BOOST_AUTO_TEST_CASE(chi2_quantiles_match_tables) {
  BOOST_TEST(std::abs(chi2_quantile(2, 0.99) - (-2 * std::log(0.01))) < 1e-9);  // closed form
  BOOST_TEST(std::abs(chi2_quantile(1, 0.95) - 3.841459) < 1e-5);
  BOOST_TEST(std::abs(chi2_quantile(10, 0.99) - 23.209251) < 1e-5);
  BOOST_TEST(std::abs(chi2_quantile(100, 0.99) - 135.806723) < 1e-4);
}

BOOST_AUTO_TEST_CASE(mode_metrics_tell_blobs_from_a_ring_and_from_a_collapse) {
  const GaussianMixture p = ring8_mixture();
  tensor::Generator g(1);
  const MixtureMetrics data = mixture_metrics(p, p.sample(8000, g, DType::f64));
  const MixtureMetrics ring = mixture_metrics(p, uniform_ring(8000, 2));
  const MixtureMetrics three = mixture_metrics(p, collapsed(8000, 3, 3));
  BOOST_TEST_MESSAGE("hq share: data " << data.hq_share << ", uniform ring " << ring.hq_share
                     << ", 3 modes " << three.hq_share << "; log density: data "
                     << data.log_density << ", ring " << ring.log_density);
  BOOST_TEST(std::abs(data.hq_share - 0.99) < 0.005);  // 0.99 by construction
  BOOST_TEST(data.modes_covered == 8);
  BOOST_TEST(data.mode_weight_tv < 0.03);
  BOOST_TEST(ring.hq_share < 0.7);           // the uniform ring fails the share...
  BOOST_TEST(ring.log_density < data.log_density - 0.5);  // ...and the log-density
  BOOST_TEST(three.hq_share > 0.98);         // a collapse keeps its quality...
  BOOST_TEST(three.modes_covered == 3);      // ...and loses 5 modes
  BOOST_TEST(std::abs(three.mode_weight_tv - 5.0 / 8.0) < 0.01);
}

BOOST_AUTO_TEST_CASE(checkerboard_cells) {
  tensor::Generator g(4);
  const CheckerboardMetrics data = checkerboard_metrics(sample_checkerboard(8000, g));
  BOOST_TEST(data.in_squares == 1.0);
  BOOST_TEST(data.square_tv < 0.03);
  const CheckerboardMetrics flat =
      checkerboard_metrics(tensor::affine(tensor::rand({8000, 2}, DType::f64, &g), 2.0, -1.0));
  BOOST_TEST(std::abs(flat.in_squares - 0.5) < 0.03);
  // Everything in one cell: inside, but the occupancy is 7/8 away from uniform.
  const CheckerboardMetrics one =
      checkerboard_metrics(tensor::affine(tensor::rand({1000, 2}, DType::f64, &g), 0.4, 0.05));
  BOOST_TEST(one.in_squares == 1.0);
  BOOST_TEST(std::abs(one.square_tv - 7.0 / 8.0) < 1e-12);
}

BOOST_AUTO_TEST_CASE(precision_and_recall_separate_collapse_from_shift) {
  const GaussianMixture p = ring8_mixture();
  tensor::Generator g(5);
  const Tensor real = p.sample(2000, g, DType::f64);
  const PrecisionRecall same = precision_recall(p.sample(2000, g, DType::f64), real);
  const PrecisionRecall three = precision_recall(collapsed(2000, 3, 6), real);
  const PrecisionRecall shifted = precision_recall(tensor::affine(real, 1.0, 3.0), real);
  BOOST_TEST_MESSAGE("same: " << same.precision << "/" << same.recall << ", 3 modes: "
                     << three.precision << "/" << three.recall);
  BOOST_TEST(same.precision > 0.9);
  BOOST_TEST(same.recall > 0.9);
  BOOST_TEST(three.precision > 0.9);  // every sample is realistic...
  BOOST_TEST(three.recall < 0.5);     // ...but 5 of 8 modes are never drawn
  BOOST_TEST(shifted.precision == 0.0);
  BOOST_TEST(shifted.recall == 0.0);
}

// sample_metrics on ring8 logs the mode figures, precision/recall and the three-bandwidth MMD;
// the narrowest bandwidth separates the uniform ring from the data far more than the median one.
BOOST_AUTO_TEST_CASE(vector_sample_metrics_log_the_new_figures) {
  DataSettings s;
  s.name = "ring8", s.n_train = 64, s.n_test = 2000;
  const Dataset d = load_dataset(s);
  auto ring = as_map(sample_metrics(d, nullptr, uniform_ring(2000, 7).to(DType::f32)));
  auto data = as_map(sample_metrics(d, nullptr, d.reference));
  for (const char* k : {"hq_share", "modes_covered", "mode_weight_tv", "log_density",
                        "log_density_data", "precision", "recall", "precision_data_vs_data",
                        "mmd2_h1", "mmd2_h4", "mmd2_h16", "mmd2_h16_data_vs_data"})
    BOOST_TEST(ring.count(k) == 1u, k);
  BOOST_TEST(ring["hq_share"] < 0.7);
  BOOST_TEST(data["hq_share"] > 0.98);
  BOOST_TEST_MESSAGE("MMD² ring vs data at h, h/4, h/16: " << ring["mmd2_h1"] << " vs "
                     << data["mmd2_h1"] << ", " << ring["mmd2_h4"] << " vs " << data["mmd2_h4"]
                     << ", " << ring["mmd2_h16"] << " vs " << data["mmd2_h16"]);
  BOOST_TEST(ring["mmd2_h16"] > 10 * std::max(std::abs(data["mmd2_h16"]), 1e-4));
}
