// Evaluation metrics: the Jacobi eigensolver, Fréchet distance against closed forms (2×2
// general, diagonal, huge samples), its invariances, KID against a direct double loop and on
// same/shifted distributions, the blocked vector metrics against matching/, class helpers.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/grad_mode.h"
#include "experiments/metric_draws.h"
#include "experiments/metrics/classification.h"
#include "experiments/metrics/frechet.h"
#include "experiments/metrics/kid.h"
#include "experiments/metrics/sym_eigen.h"
#include "experiments/metrics/vector_metrics.h"
#include "matching/divergence.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::experiments;
using difflab::testing::message_has;
using tensor::DType;
using tensor::Tensor;

namespace {

Tensor randn(const tensor::Shape& s, uint64_t seed) {
  tensor::Generator g(seed);
  return tensor::randn(s, DType::f64, &g);
}

// A Bᵀ for row-major n×n matrices.
std::vector<double> mul_t(const std::vector<double>& a, const std::vector<double>& b, int64_t n) {
  std::vector<double> c(size_t(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < n; ++k)
        c[size_t(i * n + j)] += a[size_t(i * n + k)] * b[size_t(j * n + k)];
  return c;
}

// A random SPD matrix G Gᵀ + 0.1 I.
std::vector<double> random_spd(int64_t n, uint64_t seed) {
  std::vector<double> g = randn({n, n}, seed).to_vector<double>();
  std::vector<double> a = mul_t(g, g, n);
  for (int64_t i = 0; i < n; ++i) a[size_t(i * n + i)] += 0.1;
  return a;
}

// Samples [N, 2] of N(mu, C) for a 2×2 C via its Cholesky factor.
Tensor gaussian2(int64_t n, const std::vector<double>& mu, const std::vector<double>& c,
                 uint64_t seed) {
  const double l00 = std::sqrt(c[0]), l10 = c[2] / l00, l11 = std::sqrt(c[3] - l10 * l10);
  std::vector<double> z = randn({n, 2}, seed).to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    const double a = z[size_t(2 * i)], b = z[size_t(2 * i + 1)];
    z[size_t(2 * i)] = mu[0] + l00 * a;
    z[size_t(2 * i + 1)] = mu[1] + l10 * a + l11 * b;
  }
  return tensor::from_vector<double>(z, {n, 2});
}

FeatureStats stats(std::vector<double> mean, std::vector<double> cov) {
  FeatureStats s;
  s.dim = int64_t(mean.size());
  s.count = 0;
  s.mean = std::move(mean);
  s.cov = std::move(cov);
  return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(eigen)

BOOST_AUTO_TEST_CASE(random_spd_reconstruction_and_orthonormality) {
  for (int64_t n : {1, 2, 7, 40}) {
    std::vector<double> a = random_spd(n, 100 + uint64_t(n));
    SymEigen e = sym_eigen(a, n);
    std::vector<double> vl(size_t(n * n));  // V Λ
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        vl[size_t(i * n + j)] = e.vectors[size_t(i * n + j)] * e.values[size_t(j)];
    std::vector<double> rec = mul_t(vl, e.vectors, n);  // V Λ Vᵀ
    std::vector<double> vtv(size_t(n * n), 0.0);        // Vᵀ V
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t k = 0; k < n; ++k)
          vtv[size_t(i * n + j)] += e.vectors[size_t(k * n + i)] * e.vectors[size_t(k * n + j)];
    double err = 0, orth = 0, norm = 0;
    for (int64_t i = 0; i < n * n; ++i) {
      err = std::max(err, std::abs(rec[size_t(i)] - a[size_t(i)]));
      norm = std::max(norm, std::abs(a[size_t(i)]));
      orth = std::max(orth, std::abs(vtv[size_t(i)] - (i / n == i % n ? 1.0 : 0.0)));
    }
    BOOST_TEST_INFO("n = " << n << ", sweeps " << e.sweeps);
    BOOST_TEST(err < 1e-13 * norm * double(n));
    BOOST_TEST(orth < 1e-13 * double(n));
    BOOST_TEST(std::is_sorted(e.values.begin(), e.values.end()));
    BOOST_TEST(e.values.front() > 0.0);  // ≥ 0.1 by construction
  }
}

BOOST_AUTO_TEST_CASE(repeated_eigenvalues_and_square_root) {
  // I + u uᵀ (u = (1, 2, 2)): eigenvalues 1, 1, 1 + ‖u‖² = 10.
  const std::vector<double> u = {1, 2, 2};
  std::vector<double> a(9);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) a[size_t(i * 3 + j)] = (i == j) + u[size_t(i)] * u[size_t(j)];
  SymEigen e = sym_eigen(a, 3);
  BOOST_TEST(std::abs(e.values[0] - 1) < 1e-14);
  BOOST_TEST(std::abs(e.values[1] - 1) < 1e-14);
  BOOST_TEST(std::abs(e.values[2] - 10) < 1e-13);
  // √A √A = A.
  std::vector<double> s = sqrtm_psd(a, 3);
  std::vector<double> s2 = mul_t(s, s, 3);  // s symmetric, so s sᵀ = s²
  for (int i = 0; i < 9; ++i) BOOST_TEST(std::abs(s2[size_t(i)] - a[size_t(i)]) < 1e-13);
  BOOST_CHECK_EXCEPTION(sym_eigen({1, 2, 3, 1}, 2), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"not symmetric"}); });
  BOOST_CHECK_EXCEPTION(sym_eigen({1, 2, 3}, 2), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"2x2"}); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(frechet)

BOOST_AUTO_TEST_CASE(two_by_two_closed_form) {
  // For 2×2 PSD M, Tr √M = √(Tr M + 2√det M); with M = A^{1/2} B A^{1/2}: Tr M = Tr(AB),
  // det M = det A · det B. A and B do not commute.
  const std::vector<double> A = {2.0, 0.6, 0.6, 1.0}, B = {0.5, -0.3, -0.3, 1.5};
  const double trab = A[0] * B[0] + A[1] * B[2] + A[2] * B[1] + A[3] * B[3];
  const double det = (A[0] * A[3] - A[1] * A[2]) * (B[0] * B[3] - B[1] * B[2]);
  const double tr_sqrt = std::sqrt(trab + 2 * std::sqrt(det));
  BOOST_TEST(std::abs(trace_sqrt_product(A, B, 2) - tr_sqrt) < 1e-14);
  const std::vector<double> m1 = {1.0, -0.5}, m2 = {0.2, 0.7};
  const double mean_term = 0.8 * 0.8 + 1.2 * 1.2;
  const double fd = mean_term + 3.0 + 2.0 - 2 * tr_sqrt;
  BOOST_TEST(std::abs(frechet_distance(stats(m1, A), stats(m2, B)) - fd) < 1e-13);

  // From 200,000 samples of each Gaussian: the estimate converges to the closed form.
  Tensor xa = gaussian2(200000, m1, A, 1), xb = gaussian2(200000, m2, B, 2);
  const double est = frechet_distance(xa, xb);
  BOOST_TEST_MESSAGE("FD closed form " << fd << ", from samples " << est);
  // Sampling error: mostly 2⟨δ, μ̂ − μ⟩ with sd ≈ 2·1.44·0.0045 ≈ 0.013, so 2% is ≈ 4.5 sd.
  BOOST_TEST(std::abs(est - fd) < 0.02 * fd);
  // On the samples' own moments the 2×2 formula holds to round-off.
  FeatureStats sa = feature_stats(xa), sb = feature_stats(xb);
  const auto &ca = sa.cov, &cb = sb.cov;
  const double tr2 = ca[0] * cb[0] + ca[1] * cb[2] + ca[2] * cb[1] + ca[3] * cb[3];
  const double det2 = (ca[0] * ca[3] - ca[1] * ca[2]) * (cb[0] * cb[3] - cb[1] * cb[2]);
  const double dm0 = sa.mean[0] - sb.mean[0], dm1 = sa.mean[1] - sb.mean[1];
  const double fd_samples = dm0 * dm0 + dm1 * dm1 + ca[0] + ca[3] + cb[0] + cb[3] -
                            2 * std::sqrt(tr2 + 2 * std::sqrt(det2));
  BOOST_TEST(std::abs(est - fd_samples) < 1e-12 * fd);
}

BOOST_AUTO_TEST_CASE(diagonal_covariances) {
  // Diagonal Σ's commute: Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}) = Σ_i (√a_i − √b_i)².
  const int64_t d = 32;
  tensor::Generator g(40);
  std::vector<double> a = tensor::uniform({d}, 0.1, 3.0, DType::f64, &g).to_vector<double>();
  std::vector<double> b = tensor::uniform({d}, 0.1, 3.0, DType::f64, &g).to_vector<double>();
  std::vector<double> ma = randn({d}, 3).to_vector<double>(),
                      mb = randn({d}, 4).to_vector<double>();
  std::vector<double> ca(size_t(d * d), 0.0), cb(size_t(d * d), 0.0);
  double expect = 0;
  for (int64_t i = 0; i < d; ++i) {
    ca[size_t(i * d + i)] = a[size_t(i)];
    cb[size_t(i * d + i)] = b[size_t(i)];
    const double s = std::sqrt(a[size_t(i)]) - std::sqrt(b[size_t(i)]),
                 m = ma[size_t(i)] - mb[size_t(i)];
    expect += s * s + m * m;
  }
  BOOST_TEST(std::abs(frechet_distance(stats(ma, ca), stats(mb, cb)) - expect) < 1e-12 * expect);
}

BOOST_AUTO_TEST_CASE(self_distance_and_permutation_invariance) {
  // Correlated 16-dim features.
  Tensor mix = randn({16, 16}, 7);
  Tensor x = tensor::matmul(randn({400, 16}, 8), mix);
  Tensor y = tensor::affine(tensor::matmul(randn({300, 16}, 9), mix), 1.1, 0.2);
  BOOST_TEST(frechet_distance(x, x) < 1e-9);
  const double fd = frechet_distance(x, y);
  // Reverse the row order of both sets.
  Tensor rx = tensor::index_select(x, 0, tensor::arange(399, -1, -1, DType::i64));
  Tensor ry = tensor::index_select(y, 0, tensor::arange(299, -1, -1, DType::i64));
  BOOST_TEST(std::abs(frechet_distance(rx, ry) - fd) < 1e-10 * fd);
  // f32 features give the same answer to f32 precision (statistics are f64 either way).
  BOOST_TEST(std::abs(frechet_distance(x.to(DType::f32), y.to(DType::f32)) - fd) < 1e-4 * fd);
  FeatureStats s = feature_stats(x);
  BOOST_TEST(s.count == 400);
  BOOST_TEST(s.dim == 16);
}

BOOST_AUTO_TEST_CASE(bad_features_are_named) {
  BOOST_CHECK_EXCEPTION(frechet_distance(randn({5, 3}, 1), randn({5, 4}, 2)), difflab::Error,
                        [](const difflab::Error& e) {
                          return message_has(e, {"[5, 3]", "[5, 4]"});
                        });
  BOOST_CHECK_EXCEPTION(feature_stats(randn({1, 3}, 1)), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"at least 2"}); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kid)

BOOST_AUTO_TEST_CASE(matches_a_direct_double_loop) {
  const int64_t m = 7, d = 3;
  Tensor x = randn({m, d}, 1), y = tensor::affine(randn({m, d}, 2), 1.0, 0.3);
  auto k = [&](const std::vector<double>& a, int64_t i, const std::vector<double>& b, int64_t j) {
    double s = 0;
    for (int64_t t = 0; t < d; ++t) s += a[size_t(i * d + t)] * b[size_t(j * d + t)];
    return std::pow(s / double(d) + 1, 3);
  };
  const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  double xx = 0, yy = 0, xy = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      if (i != j) xx += k(xv, i, xv, j), yy += k(yv, i, yv, j);
      xy += k(xv, i, yv, j);
    }
  const double expect = (xx + yy) / double(m * (m - 1)) - 2 * xy / double(m * m);
  BOOST_TEST(std::abs(polynomial_mmd2_u(x, y) - expect) < 1e-12);
  // One subset of everything: a permutation of each set, and MMD² does not see order.
  KidResult r = kernel_inception_distance(x, y, {1, 1000, 5});
  BOOST_TEST(r.subset_size == m);
  BOOST_TEST(std::abs(r.mean - expect) < 1e-12);
  BOOST_TEST(r.std == 0.0);
}

BOOST_AUTO_TEST_CASE(near_zero_for_one_distribution_and_positive_for_a_shift) {
  Tensor a = randn({1500, 8}, 10), b = randn({1500, 8}, 11);
  Tensor shifted = tensor::affine(randn({1500, 8}, 12), 1.0, 0.3);
  KidOptions opt{10, 500, 1};
  KidResult same = kernel_inception_distance(a, b, opt);
  KidResult diff = kernel_inception_distance(a, shifted, opt);
  BOOST_TEST_MESSAGE("KID same " << same.mean << " ± " << same.std << ", shifted " << diff.mean
                                 << " ± " << diff.std);
  // Population KID for the shift δ = 0.3·1: E k(X, Y) − E k(X, X') grows with ‖δ‖² = 0.72.
  BOOST_TEST(std::abs(same.mean) < 3 * same.std);
  BOOST_TEST(diff.mean > 5 * diff.std);
  BOOST_TEST(diff.mean > 20 * std::abs(same.mean));
  KidResult again = kernel_inception_distance(a, shifted, opt);
  BOOST_TEST(again.mean == diff.mean);  // seeded subsets
  BOOST_CHECK_EXCEPTION(kernel_inception_distance(a, randn({10, 4}, 1)), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"feature dims"}); });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(vector)

BOOST_AUTO_TEST_CASE(blocked_sums_match_matching_divergences) {
  Tensor x = randn({300, 3}, 20), y = tensor::affine(randn({250, 3}, 21), 1.2, 0.5);
  ag::NoGradGuard ng;
  const double h = matching::median_bandwidth(x, y);
  const double direct = matching::mmd2(ag::Var(x), ag::Var(y), h).item();
  BOOST_TEST(std::abs(mmd2_u_blocked(x, y, h, 64) - direct) < 1e-12);
  const double e = matching::energy_distance(ag::Var(x), ag::Var(y)).item();
  BOOST_TEST(std::abs(energy_distance_blocked(x, y, 64) - e) < 1e-12);

  VectorMetrics m = vector_metrics(x, y, {0.0, 64, 3, 100});
  BOOST_TEST(m.bandwidth == h);
  BOOST_TEST(std::abs(m.mmd2_u - direct) < 1e-12);
  BOOST_TEST(std::abs(m.energy - e) < 1e-12);
  tensor::Generator g(3);
  Tensor dirs = matching::random_directions(64, 3, g, DType::f64);
  ag::Var xs(x.slice(0, 0, 250)), ys(y);
  BOOST_TEST(std::abs(m.sliced_w1 - matching::sliced_wasserstein(xs, ys, dirs, 1).item()) < 1e-14);
  BOOST_TEST(std::abs(m.sliced_w2 -
                      std::sqrt(matching::sliced_wasserstein(xs, ys, dirs, 2).item())) < 1e-14);
  BOOST_TEST(!to_string(m).empty());
}

BOOST_AUTO_TEST_CASE(same_distribution_is_small_shift_is_large) {
  Tensor a = randn({1000, 2}, 30), b = randn({1000, 2}, 31);
  Tensor c = tensor::affine(randn({1000, 2}, 32), 1.0, 1.0);
  VectorMetrics same = vector_metrics(a, b), diff = vector_metrics(a, c);
  BOOST_TEST_MESSAGE("same: " << to_string(same) << "\nshifted: " << to_string(diff));
  BOOST_TEST(diff.mmd2_u > 20 * std::abs(same.mmd2_u));
  BOOST_TEST(diff.energy > 20 * same.energy);
  BOOST_TEST(diff.sliced_w2 > 5 * same.sliced_w2);
  // Shift (1, 1): SW₂² ≈ E⟨θ, (1, 1)⟩² = ‖(1, 1)‖²/2 = 1.
  BOOST_TEST(std::abs(diff.sliced_w2 - 1.0) < 0.15);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(classes)

BOOST_AUTO_TEST_CASE(accuracy_confusion_and_histogram) {
  Tensor logits = tensor::from_vector<float>(
      {0.1f, 2.0f, 0.3f, 5.0f, 1.0f, 0.0f, 0.0f, 0.0f, 3.0f, 1.0f, 0.5f, 0.2f}, {4, 3});
  Tensor pred = predict_classes(logits);
  BOOST_TEST(pred.to_vector<int64_t>() == (std::vector<int64_t>{1, 0, 2, 0}));
  Tensor labels = tensor::from_vector<int64_t>({1, 0, 1, 2}, {4});
  BOOST_TEST(accuracy(pred, labels) == 0.5);
  auto cm = confusion_matrix(pred, labels, 3);
  BOOST_TEST(cm == (std::vector<int64_t>{1, 0, 0, 0, 1, 1, 1, 0, 0}));
  auto pc = per_class_accuracy(pred, labels, 3);
  BOOST_TEST(pc[0] == 1.0);
  BOOST_TEST(pc[1] == 0.5);
  BOOST_TEST(pc[2] == 0.0);

  ClassHistogram bal = class_histogram(tensor::from_vector<int64_t>({0, 1, 2, 0, 1, 2}, {6}), 3);
  BOOST_TEST(bal.classes_covered == 3);
  BOOST_TEST(std::abs(bal.kl_from_uniform) < 1e-15);
  ClassHistogram one = class_histogram(tensor::from_vector<int64_t>({2, 2}, {2}), 4);
  BOOST_TEST(one.classes_covered == 1);
  BOOST_TEST(std::abs(one.kl_from_uniform - std::log(4.0)) < 1e-15);
  BOOST_CHECK_EXCEPTION(class_histogram(tensor::from_vector<int64_t>({3}, {1}), 3), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"value 3"}); });
}

BOOST_AUTO_TEST_SUITE_END()

// Reports show a metric's spread only when it was logged for the same evaluation (step), and
// say which Fréchet distances are single draws.
BOOST_AUTO_TEST_CASE(reported_values_carry_their_spread_over_draws) {
  BOOST_TEST(spread_name("frechet[ddim50]") == "frechet_sd[ddim50]");
  BOOST_TEST(spread_name("kid") == "kid_sd");
  BOOST_TEST(spread_name("frechet[ddim50]@w1") == "frechet_sd[ddim50]@w1");
  BOOST_TEST(is_spread_name("frechet_sd[ddim50]"));
  BOOST_TEST(is_spread_name("kid_sd"));
  BOOST_TEST(!is_spread_name("frechet[ddim50]"));
  BOOST_TEST(!is_spread_name("sd"));
  std::map<std::string, Series> by;
  by["frechet[ddim50]"] = {"frechet[ddim50]", {100, 200}, {70, 60.5}};
  by["frechet_sd[ddim50]"] = {"frechet_sd[ddim50]", {200}, {3.25}};
  by["frechet"] = {"frechet", {200}, {58}};
  by["frechet_data_vs_data"] = {"frechet_data_vs_data", {200}, {30}};
  BOOST_TEST(value_with_spread(by, "frechet[ddim50]") == "60.5 ± 3.25");
  BOOST_TEST(value_with_spread(by, "frechet") == "58");
  const std::string note = single_draw_note(by, "runs/x");
  BOOST_TEST(note.find("eval.seeds=3") != std::string::npos);
  // A spread from an earlier evaluation does not belong to a later single draw.
  by["frechet[ddim50]"].x.push_back(300), by["frechet[ddim50]"].y.push_back(55);
  BOOST_TEST(value_with_spread(by, "frechet[ddim50]") == "55");
  by.erase("frechet");
  by["frechet[ddim50]"].x.pop_back(), by["frechet[ddim50]"].y.pop_back();
  BOOST_TEST(single_draw_note(by, "runs/x").empty());
}

// ddpm_mnist's class criterion: every class between 0.7x and 1.3x its data share.
BOOST_AUTO_TEST_CASE(class_share_ratios_name_the_rarest_and_commonest_class) {
  auto [lo, hi] = class_share_ratio_range({0.1, 0.3, 0.6}, {0.2, 0.3, 0.5});
  BOOST_TEST(lo == 0.5);
  BOOST_TEST(hi == 1.2, boost::test_tools::tolerance(1e-12));
  auto [l2, h2] = class_share_ratio_range({0.5, 0.5, 0.0}, {0.5, 0.5, 0.0});  // class 2 unused
  BOOST_TEST(l2 == 1.0);
  BOOST_TEST(h2 == 1.0);
  BOOST_CHECK_THROW(class_share_ratio_range({0.5, 0.5}, {1.0}), difflab::Error);
}
