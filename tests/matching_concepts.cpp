// Test-time concept discovery (spec_mlgdf_concepts_drifting.md §3.4–3.8, tests of §3.13):
// mode ascent on an analytic diffused mixture against independently found modes, Tweedie
// Gaussians of Gaussian data against the closed forms, greedy submodular selection against
// brute force, and the PoE teacher's scores against autograd of its log-densities.
#include <algorithm>
#include <array>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <map>
#include <numbers>
#include <set>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "diffusion/sampler.h"
#include "matching/concept_ascent.h"
#include "matching/concept_evidence.h"
#include "matching/concept_gaussian.h"
#include "matching/concept_guidance.h"
#include "matching/concept_poe.h"
#include "matching/concept_select.h"
#include "support/check_message.h"
#include "support/compare.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

using namespace difflab;
using matching::Var;
using tensor::DType;
using tensor::Tensor;
using testing::message_has;
using testing::rel_diff;

namespace {

using Point = std::array<double, 2>;

// A 2-D mixture Σ_j π_j N(c_j, s² I); diffused to ᾱ it is Σ_j π_j N(√ᾱ c_j, τ² I), τ² = ᾱ s² + 1 − ᾱ.
struct Mixture {
  std::vector<Point> centers{{-2.0, 0.0}, {2.0, 0.0}, {0.0, 2.5}};
  std::vector<double> weights{0.3, 0.3, 0.4};
  double s2 = 0.09;
  double tau2(double ab) const { return ab * s2 + 1 - ab; }
  // The posterior-weighted mean Σ_j w_j(x) √ᾱ c_j: its fixed points are the critical points of p_t.
  Point shifted(const Point& x, double ab) const {
    double wsum = 0, m0 = 0, m1 = 0;
    for (size_t j = 0; j < centers.size(); ++j) {
      const double c0 = std::sqrt(ab) * centers[j][0], c1 = std::sqrt(ab) * centers[j][1];
      const double w = weights[j] * std::exp(-((x[0] - c0) * (x[0] - c0) + (x[1] - c1) * (x[1] - c1)) / (2 * tau2(ab)));
      wsum += w, m0 += w * c0, m1 += w * c1;
    }
    return {m0 / wsum, m1 / wsum};
  }
  double density(const Point& x, double ab) const {  // up to a constant factor
    double p = 0;
    for (size_t j = 0; j < centers.size(); ++j) {
      const double d0 = x[0] - std::sqrt(ab) * centers[j][0], d1 = x[1] - std::sqrt(ab) * centers[j][1];
      p += weights[j] * std::exp(-(d0 * d0 + d1 * d1) / (2 * tau2(ab)));
    }
    return p;
  }
};

const std::map<int64_t, double> kLevels{{1, 0.8}, {2, 0.1}};

// ε̂ = −√(1−ᾱ) ∇log p_t = √(1−ᾱ)/τ² (x − Σ_j w_j(x) √ᾱ c_j), written on Var (x [B, 2]).
matching::EpsFn mixture_eps(const Mixture& mix) {
  return [mix](const Var& x, int64_t t) {
    const double ab = kLevels.at(t), tau2 = mix.tau2(ab);
    std::vector<double> c, logw;
    for (size_t j = 0; j < mix.centers.size(); ++j)
      c.push_back(std::sqrt(ab) * mix.centers[j][0]), c.push_back(std::sqrt(ab) * mix.centers[j][1]),
          logw.push_back(std::log(mix.weights[j]));
    const int64_t n = int64_t(mix.centers.size());
    const Var centers(tensor::from_vector(c, {n, 2}, x.dtype()));
    const Var d = ag::unsqueeze(x, 1) - ag::unsqueeze(centers, 0);
    const Var logits = ag::sum(d * d, {2}) * (-0.5 / tau2) + Var(tensor::from_vector(logw, {1, n}, x.dtype()));
    const Var mean = ag::matmul(ag::softmax(logits, 1), centers);
    return (x - mean) * (std::sqrt(1 - ab) / tau2);
  };
}

// The modes of p_t by an independent route: local maxima of the density on a 0.02 grid, each
// refined by the plain fixed-point iteration x ← Σ_j w_j(x) √ᾱ c_j.
std::vector<Point> reference_modes(const Mixture& mix, double ab) {
  const double h = 0.02;
  const int n = 351;  // [-3.5, 3.5]²
  auto at = [&](int i, int j) { return mix.density({-3.5 + h * i, -3.5 + h * j}, ab); };
  std::vector<Point> modes;
  for (int i = 1; i + 1 < n; ++i)
    for (int j = 1; j + 1 < n; ++j) {
      const double p = at(i, j);
      bool peak = true;
      for (int di = -1; di <= 1; ++di)
        for (int dj = -1; dj <= 1; ++dj) peak = peak && ((di == 0 && dj == 0) || at(i + di, j + dj) < p);
      if (!peak) continue;
      Point x{-3.5 + h * i, -3.5 + h * j};
      for (int k = 0; k < 100000; ++k) x = mix.shifted(x, ab);
      modes.push_back(x);
    }
  return modes;
}

double distance(const Tensor& x, const Point& p) {
  const std::vector<double> v = x.to_vector<double>();
  return std::hypot(v[0] - p[0], v[1] - p[1]);
}

// The index of the reference mode nearest x, checking it lies within tol.
size_t nearest_mode(const Tensor& x, const std::vector<Point>& refs, double tol) {
  size_t best = 0;
  for (size_t i = 1; i < refs.size(); ++i)
    if (distance(x, refs[i]) < distance(x, refs[best])) best = i;
  BOOST_TEST(distance(x, refs[best]) < tol);
  return best;
}

matching::AscentOptions tight_ascent(int64_t restarts, double dedup) {
  matching::AscentOptions o;
  o.restarts = restarts;
  o.max_steps = 3000;
  o.tol = 1e-10;
  o.dedup = dedup;
  o.record_every = 10;
  return o;
}

// Gaussian data N(μ, s² I) of shape [1, 2, 3]: ε̂ = √(1−ᾱ)(x − √ᾱ μ)/(ᾱ s² + 1 − ᾱ), J a multiple of I.
const double kAb = 0.6;
matching::EpsFn gaussian_eps(const Tensor& mu, double s2) {
  return [mu, s2](const Var& x, int64_t) {
    return (x - Var(tensor::affine(mu.to(x.dtype()), std::sqrt(kAb), 0.0))) *
           (std::sqrt(1 - kAb) / (kAb * s2 + 1 - kAb));
  };
}

std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }

// A random evidence table: K candidates, P groups, ℓ spread around the baseline.
matching::Evidence random_evidence(int64_t k, int64_t p, uint64_t seed) {
  tensor::Generator g(seed);
  matching::Evidence e{k, p, vec(tensor::randn({k, p}, DType::f64, &g)), vec(tensor::randn({p}, DType::f64, &g))};
  for (double& v : e.ll) v = 3 * v - 1;
  return e;
}

matching::DiagGaussian closed_product(const std::vector<matching::Expert>& ex, const std::vector<std::vector<double>>& rho) {
  const size_t d = size_t(ex[0].mean.numel());
  std::vector<double> mean(d), var(d);
  for (size_t i = 0; i < d; ++i) {
    double prec = 0, num = 0;
    for (size_t k = 0; k < ex.size(); ++k) {
      const double p = ex[k].weight * rho[k][i] / vec(ex[k].var)[i];
      prec += p, num += p * vec(ex[k].mean)[i];
    }
    mean[i] = num / prec, var[i] = 1 / prec;
  }
  return {tensor::from_vector(mean, {1, int64_t(d)}), tensor::from_vector(var, {1, int64_t(d)})};
}

std::vector<matching::Expert> two_experts() {
  return {{tensor::from_vector<double>({0.5, -1.0, 0.2}, {1, 3}), tensor::from_vector<double>({0.1, 0.5, 0.3}, {1, 3}), 1.0},
          {tensor::from_vector<double>({-0.4, 0.3, 0.9}, {1, 3}), tensor::from_vector<double>({0.2, 0.05, 0.6}, {1, 3}), 2.0}};
}

Tensor autograd_score(const std::function<Var(const Var&)>& log_density, const Tensor& x) {
  const Var xv(x, true);
  return ag::grad({ag::sum(log_density(xv))}, {xv})[0].value();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mode_ascent)

BOOST_AUTO_TEST_CASE(converges_to_the_modes_of_the_smoothed_mixture) {
  const Mixture mix;
  const std::vector<Point> fine = reference_modes(mix, 0.8), coarse = reference_modes(mix, 0.1);
  BOOST_TEST_REQUIRE(fine.size() == 3u);    // the three components are apart at ᾱ = 0.8
  BOOST_TEST_REQUIRE(coarse.size() == 1u);  // and smoothed into one at ᾱ = 0.1
  const Tensor query = tensor::from_vector<double>({0.2, 1.0}, {1, 2});
  tensor::Generator gen(3);
  const auto modes = matching::ascend_modes(mixture_eps(mix), query, {{1, 0.8}, {2, 0.1}},
                                            tight_ascent(12, 0.05), gen);
  std::map<int64_t, int> per_level;
  for (const auto& m : modes) {
    BOOST_TEST(m.converged);
    BOOST_TEST(m.steps < 3000);
    nearest_mode(m.x, m.t == 1 ? fine : coarse, 1e-7);
    ++per_level[m.t];
    BOOST_TEST(rel_diff(m.trajectory.back(), m.x) == 0.0);
    BOOST_TEST(m.trajectory.size() == size_t((m.steps + 9) / 10 + 1));
  }
  BOOST_TEST(per_level[1] >= 2);  // the noisy starts reach more than one fine mode
  BOOST_TEST(per_level[1] <= 3);
  BOOST_TEST(per_level[2] == 1);
}

BOOST_AUTO_TEST_CASE(deduplication_merges_starts_that_reach_the_same_mode) {
  const Mixture mix;
  const std::vector<Point> fine = reference_modes(mix, 0.8);
  const Tensor query = tensor::from_vector<double>({0.2, 1.0}, {1, 2});
  tensor::Generator g1(3), g2(3);
  const auto all = matching::ascend_modes(mixture_eps(mix), query, {{1, 0.8}}, tight_ascent(12, 0), g1);
  const auto kept = matching::ascend_modes(mixture_eps(mix), query, {{1, 0.8}}, tight_ascent(12, 0.05), g2);
  BOOST_TEST_REQUIRE(all.size() == 13u);
  std::map<size_t, int64_t> first_start;  // reference mode -> the first start that reached it
  for (const auto& m : all) first_start.emplace(nearest_mode(m.x, fine, 1e-7), m.start);
  BOOST_TEST_REQUIRE(kept.size() == first_start.size());
  BOOST_TEST(kept.size() < all.size());
  for (const auto& m : kept) BOOST_TEST(first_start.at(nearest_mode(m.x, fine, 1e-7)) == m.start);
  BOOST_TEST(kept[0].start == 0);  // the noise-free start is always kept
}

BOOST_AUTO_TEST_CASE(stopped_starts_freeze_and_f32_runs) {
  // Start 0 begins at √ᾱ·(mode/√ᾱ), a fixed point: it stops after one step; the others keep going.
  const Mixture mix;
  const std::vector<Point> fine = reference_modes(mix, 0.8);
  const Tensor query = tensor::from_vector<double>({fine[0][0] / std::sqrt(0.8), fine[0][1] / std::sqrt(0.8)}, {1, 2});
  tensor::Generator gen(5);
  auto o = tight_ascent(3, 0);
  o.tol = 1e-6;
  const auto modes = matching::ascend_modes(mixture_eps(mix), query, {{1, 0.8}}, o, gen);
  BOOST_TEST(modes[0].steps == 1);
  for (size_t r = 1; r < modes.size(); ++r) BOOST_TEST(modes[r].steps > 1);
  tensor::Generator g32(5);
  const auto m32 = matching::ascend_modes(mixture_eps(mix), query.to(DType::f32), {{1, 0.8}}, o, g32);
  for (const auto& m : m32) {
    BOOST_TEST((m.x.dtype() == DType::f32));
    nearest_mode(m.x, fine, 1e-4);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tweedie_gaussian)

BOOST_AUTO_TEST_CASE(mean_and_covariances_match_the_gaussian_closed_form) {
  const double s2 = 0.25;
  tensor::Generator g(11);
  const Tensor mu = tensor::randn({1, 2, 3}, DType::f64, &g), x = tensor::randn({1, 2, 3}, DType::f64, &g);
  const double tau2 = kAb * s2 + 1 - kAb, post = 1 / (1 / s2 + kAb / (1 - kAb));
  // E[x₀ | x_t] = μ + √ᾱ s²/τ² (x_t − √ᾱ μ)
  const Tensor want_mean = tensor::binary(tensor::BinaryOp::add, mu,
      tensor::affine(tensor::binary(tensor::BinaryOp::sub, x, tensor::affine(mu, std::sqrt(kAb), 0.0)), std::sqrt(kAb) * s2 / tau2, 0.0));
  const std::map<matching::CovarianceKind, double> want{{matching::CovarianceKind::isotropic, (1 - kAb) / kAb},
                                                        {matching::CovarianceKind::diagonal, post},
                                                        {matching::CovarianceKind::trace, post}};
  for (const auto& kv : want) {
    matching::GaussianOptions o;
    o.kind = kv.first;
    o.probe_batch = 5;  // 16 probes in calls of 5, 5, 5, 1
    const auto cg = matching::concept_gaussian(gaussian_eps(mu, s2), x, 5, kAb, o, g);
    BOOST_TEST(rel_diff(cg.mean, want_mean) < 1e-13);
    BOOST_TEST(rel_diff(cg.var, tensor::full({1, 2, 3}, kv.second, DType::f64)) < 1e-13);
    BOOST_TEST((cg.var.shape() == tensor::Shape{1, 2, 3}));
  }
}

BOOST_AUTO_TEST_CASE(the_mode_of_gaussian_data_maps_to_its_mean_and_variances_clip) {
  // Tiny s²: the posterior variance ~ s² falls below v_min and is clipped there; f32 throughout.
  const double s2 = 1e-5;
  tensor::Generator g(2);
  const Tensor mu = tensor::randn({1, 2, 3}, DType::f32, &g);
  matching::AscentOptions o;
  o.restarts = 2;
  const auto modes = matching::ascend_modes(gaussian_eps(mu, s2), mu, {{5, kAb}}, o, g);
  BOOST_TEST_REQUIRE(modes.size() == 1u);  // every start reaches √ᾱ μ
  const auto gs = matching::mode_gaussians(gaussian_eps(mu, s2), modes, {}, g);
  BOOST_TEST(rel_diff(gs[0].mean, mu) < 1e-4);
  BOOST_TEST(rel_diff(gs[0].var, tensor::full({1, 2, 3}, 1e-3)) < 1e-6);
}

BOOST_AUTO_TEST_CASE(hutchinson_diagonal_is_unbiased_for_a_full_jacobian) {
  // ε̂ = x W on rows of 4: J = Wᵀ, and (1/M) Σ u ⊙ J u has mean diag W and variance Σ_{j≠i} W_ji²/M.
  tensor::Generator g(8);
  const Tensor w = tensor::randn({4, 4}, DType::f64, &g), x = tensor::randn({1, 4}, DType::f64, &g);
  const matching::EpsFn eps = [w](const Var& v, int64_t) { return ag::matmul(v, Var(w)); };
  const int64_t m = 4096;
  const auto d = vec(matching::jacobian_diagonal(eps, x, 0, m, 1024, g));
  const auto wv = vec(w);
  for (int i = 0; i < 4; ++i) {
    double off = 0;
    for (int j = 0; j < 4; ++j) off += j == i ? 0 : wv[j * 4 + i] * wv[j * 4 + i];
    BOOST_TEST(std::abs(d[i] - wv[i * 4 + i]) < 4 * std::sqrt(off / m));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(selection)

BOOST_AUTO_TEST_CASE(greedy_gains_fall_and_reach_the_greedy_bound_of_the_optimum) {
  for (auto obj : {matching::SelectObjective::facility_location, matching::SelectObjective::log_sum})
    for (uint64_t seed = 0; seed < 10; ++seed) {
      const matching::Evidence e = random_evidence(8, 12, seed);
      const matching::SelectOptions o{obj, 3, 0.0};
      const auto lazy = matching::greedy_select(e, o), plain = matching::greedy_select_plain(e, o);
      BOOST_TEST(lazy.chosen == plain.chosen);
      BOOST_TEST(lazy.gains == plain.gains);
      BOOST_TEST(lazy.gain_evaluations <= plain.gain_evaluations);
      for (size_t i = 1; i < lazy.gains.size(); ++i) BOOST_TEST(lazy.gains[i] <= lazy.gains[i - 1] + 1e-12);
      const double got = matching::objective_value(e, obj, lazy.chosen) - lazy.f_empty;
      const double best = matching::objective_value(e, obj, matching::best_subset(e, obj, 3)) - lazy.f_empty;
      BOOST_TEST(got >= (1 - std::exp(-1.0)) * best - 1e-12);
      BOOST_TEST(got <= best + 1e-12);
      double sum = 0;
      for (double gi : lazy.gains) sum += gi;
      BOOST_TEST(std::abs(sum - got) < 1e-9);
    }
}

BOOST_AUTO_TEST_CASE(stops_on_small_gain_or_size) {
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const matching::Evidence e = random_evidence(12, 20, 100 + seed);
    const matching::SelectOptions o;  // facility location, K_max 4, ε = 0.05
    const auto s = matching::greedy_select(e, o);
    BOOST_TEST(s.f_empty == 0.0);
    const double threshold = 0.05 * (s.f_all - s.f_empty);
    for (double gi : s.gains) BOOST_TEST(gi >= threshold);
    BOOST_TEST(s.chosen.size() <= 4u);
    if (s.chosen.size() < 4u) {  // stopped: no candidate left gains enough
      const double now = matching::objective_value(e, o.objective, s.chosen);
      for (int64_t k = 0; k < e.candidates; ++k) {
        auto more = s.chosen;
        if (std::find(more.begin(), more.end(), k) != more.end()) continue;
        more.push_back(k);
        BOOST_TEST(matching::objective_value(e, o.objective, more) - now < threshold);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(evidence_groups_and_responsibilities) {
  // Query [1, 1, 4, 4]; A explains the left half, B the right half, C nothing: 2×2 patches.
  const Tensor groups = matching::patch_groups(1, 4, 4, 2);
  BOOST_TEST(vec(groups) == (std::vector<double>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}));
  BOOST_TEST(matching::patch_groups(2, 3, 3, 2).to_vector<int64_t>() ==
             (std::vector<int64_t>{0, 0, 1, 0, 0, 1, 2, 2, 3, 0, 0, 1, 0, 0, 1, 2, 2, 3}));
  tensor::Generator g(4);
  const Tensor q = tensor::randn({1, 1, 4, 4}, DType::f64, &g), off = tensor::full({1, 1, 4, 4}, 3.0, DType::f64);
  const Tensor left = tensor::from_vector<double>({1, 1, 0, 0}, {1, 1, 1, 4});
  auto blend = [&](const Tensor& m) {  // q where m = 1, q + 3 elsewhere
    return tensor::binary(tensor::BinaryOp::add, q, tensor::binary(tensor::BinaryOp::mul, off, tensor::affine(m, -1, 1)));
  };
  const Tensor small = tensor::full({1, 1, 4, 4}, 0.05, DType::f64);
  const std::vector<matching::ConceptGaussian> cands{{1, 0.5, blend(left), small},
                                                     {1, 0.5, blend(tensor::affine(left, -1, 1)), small},
                                                     {1, 0.5, tensor::affine(q, 1, 3), small}};
  const auto e = matching::build_evidence(cands, q, tensor::zeros({1, 1, 4, 4}, DType::f64), groups);
  // ℓ_kp by hand for candidate 0, group 0 (all four coordinates match: Σ log N(0; 0, 0.05)).
  BOOST_TEST(std::abs(e.at(0, 0) - 4 * -0.5 * std::log(2 * std::numbers::pi * 0.05)) < 1e-12);
  const auto qv = vec(q);
  const double b0 = -0.5 * (qv[0] * qv[0] + qv[1] * qv[1] + qv[4] * qv[4] + qv[5] * qv[5]) - 2 * std::log(2 * std::numbers::pi);
  BOOST_TEST(std::abs(e.baseline[0] - b0) < 1e-12);
  const auto s = matching::greedy_select(e, {});
  BOOST_TEST_REQUIRE(s.chosen.size() == 2u);
  BOOST_TEST((std::set<int64_t>(s.chosen.begin(), s.chosen.end()) == std::set<int64_t>{0, 1}));
  const size_t a = s.chosen[0] == 0 ? 0 : 1;  // the row of candidate A in ρ
  const auto rho = vec(s.rho);
  BOOST_TEST(rho[a * 4 + 0] == 1.0);
  BOOST_TEST(rho[a * 4 + 1] == 0.0);
  BOOST_TEST(rho[a * 4 + 2] == 1.0);
  const auto masks = matching::coordinate_masks(s.rho, groups, q.shape());
  BOOST_TEST_REQUIRE(masks.size() == 2u);
  BOOST_TEST((masks[a].shape() == q.shape()));
  BOOST_TEST(vec(masks[a]) == vec(tensor::cat({left, left, left, left}, 2)));
}

// The matched baseline: a candidate that only repeats the mean image earns nothing anywhere (the
// blank-mode failure of the identity baseline), and ℓ' is ℓ minus the mean image's likelihood at
// the candidate's own variances.
BOOST_AUTO_TEST_CASE(matched_baseline_scores_candidates_against_the_mean_image) {
  const Tensor groups = matching::patch_groups(1, 4, 4, 2);
  tensor::Generator g(5);
  const Tensor q = tensor::randn({1, 1, 4, 4}, DType::f64, &g);
  const Tensor bar = tensor::zeros({1, 1, 4, 4}, DType::f64), tiny = tensor::full({1, 1, 4, 4}, 1e-3, DType::f64);
  const std::vector<matching::ConceptGaussian> cands{{1, 0.5, bar, tiny}, {1, 0.5, q, tiny}};
  const auto id = matching::build_evidence(cands, q, bar, groups);
  const auto m = matching::build_evidence(cands, q, bar, groups, matching::EvidenceBaseline::matched);
  for (int64_t p = 0; p < 4; ++p) {
    BOOST_TEST(m.at(0, p) == 0.0);
    BOOST_TEST(m.baseline[size_t(p)] == 0.0);
    BOOST_TEST(m.at(1, p) > 0.0);
  }
  // ℓ'_1p = ℓ_1p − Σ log N(q; 0, 1e-3) = Σ q²/(2·1e-3) on the group.
  const auto qv = vec(q);
  BOOST_TEST(std::abs(m.at(1, 0) - (qv[0] * qv[0] + qv[1] * qv[1] + qv[4] * qv[4] + qv[5] * qv[5]) / 2e-3) < 1e-6);
  BOOST_TEST(std::abs(id.at(1, 0) - m.at(1, 0) - id.at(0, 0)) < 1e-6);
  const auto s = matching::greedy_select(m, {});
  BOOST_TEST((s.chosen == std::vector<int64_t>{1}));
  BOOST_TEST((matching::parse_evidence_baseline("matched") == matching::EvidenceBaseline::matched));
  BOOST_CHECK_THROW(matching::parse_evidence_baseline("median"), Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(product_of_experts)

BOOST_AUTO_TEST_CASE(exact_product_matches_the_closed_form_with_and_without_masks) {
  const auto ex = two_experts();
  const auto p = matching::poe_product(ex);
  const auto want = closed_product(ex, {{1, 1, 1}, {1, 1, 1}});
  BOOST_TEST(rel_diff(p.mean, want.mean) < 1e-14);
  BOOST_TEST(rel_diff(p.var, want.var) < 1e-14);
  const std::vector<Tensor> masks{tensor::from_vector<double>({1, 0, 1}, {1, 3}), tensor::from_vector<double>({0, 1, 1}, {1, 3})};
  const auto pm = matching::poe_product(ex, masks);
  const auto wm = closed_product(ex, {{1, 0, 1}, {0, 1, 1}});
  BOOST_TEST(rel_diff(pm.mean, wm.mean) < 1e-14);
  BOOST_TEST(rel_diff(pm.var, wm.var) < 1e-14);
  BOOST_TEST(vec(pm.mean)[0] == vec(ex[0].mean)[0]);  // coordinate 0 belongs to expert 0 alone
}

BOOST_AUTO_TEST_CASE(scores_are_the_gradients_of_the_log_densities) {
  const auto ex = two_experts();
  const auto p = matching::poe_product(ex);
  tensor::Generator g(9);
  const Tensor x = tensor::randn({4, 3}, DType::f64, &g);
  for (double ab : {0.05, 0.3, 0.9, 1.0}) {
    const Tensor exact = matching::diffused_score(p, Var(x), ab).value();
    BOOST_TEST(rel_diff(exact, autograd_score([&](const Var& v) { return matching::diffused_log_density(p, v, ab); }, x)) < 1e-13);
    const Tensor sum = matching::score_sum_score(ex, Var(x), ab).value();
    BOOST_TEST(rel_diff(sum, autograd_score([&](const Var& v) { return matching::score_sum_log_density(ex, v, ab); }, x)) < 1e-13);
  }
  // The log-density itself: one row by hand at ᾱ = 0.3.
  const double ab = 0.3;
  const auto xv = vec(x), mu = vec(p.mean), var = vec(p.var);
  double want = 0;
  for (int i = 0; i < 3; ++i) {
    const double v = ab * var[i] + 1 - ab, d = xv[i] - std::sqrt(ab) * mu[i];
    want += -0.5 * (d * d / v + std::log(2 * std::numbers::pi * v));
  }
  BOOST_TEST(std::abs(matching::diffused_log_density(p, Var(x), ab).value().to_vector<double>()[0] - want) < 1e-13);
}

BOOST_AUTO_TEST_CASE(exact_and_score_sum_forms_agree_as_alpha_bar_goes_to_one) {
  const auto ex = two_experts();
  const auto p = matching::poe_product(ex);
  tensor::Generator g(10);
  const Tensor x = tensor::randn({4, 3}, DType::f64, &g);
  std::vector<double> gaps;
  for (double ab : {0.9, 0.99, 0.999999, 1.0}) {
    const Tensor a = matching::diffused_score(p, Var(x), ab).value(), b = matching::score_sum_score(ex, Var(x), ab).value();
    gaps.push_back(rel_diff(b, a));
  }
  BOOST_TEST(gaps[0] > gaps[1]);
  BOOST_TEST(gaps[1] > gaps[2]);
  BOOST_TEST(gaps[2] < 1e-4);
  BOOST_TEST(gaps[3] < 1e-13);
}

BOOST_AUTO_TEST_CASE(guided_model_mixes_eps_and_samples_the_teacher_at_w_one) {
  const auto ex = two_experts();
  const auto p = matching::poe_product(ex);
  // Pretrained marginal: data N(0, I), ε̂ = σ z; any stand-in works since w = 1 removes it.
  const diffusion::VpModel uncond = [](const Var& z, const diffusion::NoiseLevel& at) {
    return diffusion::Denoised{z * at.alpha, z * at.sigma};
  };
  const auto teacher = matching::poe_teacher(ex, matching::TeacherForm::exact);
  tensor::Generator g(12);
  const Tensor z = tensor::randn({5, 3}, DType::f64, &g);
  const diffusion::NoiseLevel at{0.5, std::sqrt(0.4), std::sqrt(0.6)};
  const auto half = matching::teacher_guidance(uncond, teacher, 0.5)(Var(z), at);
  const Tensor want = tensor::affine(tensor::binary(tensor::BinaryOp::add, uncond(Var(z), at).eps.value(), teacher(Var(z), 0.4).value()), 0.5, 0.0);
  BOOST_TEST(rel_diff(half.eps.value(), want) < 1e-14);
  BOOST_TEST(rel_diff(teacher(Var(z), 0.4).value(), tensor::affine(matching::diffused_score(p, Var(z), 0.4).value(), -std::sqrt(0.6), 0.0)) < 1e-14);
  BOOST_TEST(rel_diff(matching::teacher_guidance(uncond, teacher, 0.5, 0.6)(Var(z), at).eps.value(), uncond(Var(z), at).eps.value()) == 0.0);
  // DDIM (η = 0, 1000 steps) with the exact teacher alone maps z_T to s = a z_T + b per
  // coordinate (a Gaussian teacher's ε is affine in z), landing on N(μ*, v*): a² ≈ v*, b ≈ μ*
  // up to DDIM's first-order error (a² is 7–17 % low at 100 steps, 1–2 % at 1000).
  ag::NoGradGuard off;
  diffusion::LinearDiscreteSchedule lin;
  const Tensor zt = tensor::randn({500, 3}, DType::f64, &g);
  const Tensor s = diffusion::sample_ddim(matching::teacher_guidance(uncond, teacher, 1.0), lin, Var(zt), lin.time_grid(1000)).value();
  const auto a2 = vec(tensor::binary(tensor::BinaryOp::div, tensor::var(s, {0}), tensor::var(zt, {0})));
  const auto ms = vec(tensor::mean(s, {0})), mz = vec(tensor::mean(zt, {0})), mu = vec(p.mean), var = vec(p.var);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(std::abs(a2[i] / var[i] - 1) < 0.04);
    BOOST_TEST(std::abs(ms[i] - std::sqrt(a2[i]) * mz[i] - mu[i]) < 0.01 * std::sqrt(var[i]));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  const Mixture mix;
  tensor::Generator g(1);
  const auto eps = mixture_eps(mix);
  BOOST_CHECK_EXCEPTION(matching::ascend_modes(eps, tensor::zeros({2, 2}, DType::f64), {{1, 0.8}}, {}, g),
                        Error, [](const Error& e) { return message_has(e, {"ascend_modes", "[1, ...]"}); });
  BOOST_CHECK_EXCEPTION(matching::ascend_modes(eps, tensor::zeros({1, 2}, DType::f64), {{1, 1.0}}, {}, g),
                        Error, [](const Error& e) { return message_has(e, {"alpha_bar", "(0, 1)"}); });
  const matching::EpsFn wrong = [](const Var& x, int64_t) { return ag::cat({x, x}, 1); };
  BOOST_CHECK_EXCEPTION(matching::ascend_modes(wrong, tensor::zeros({1, 2}, DType::f64), {{1, 0.8}}, {}, g),
                        Error, [](const Error& e) { return message_has(e, {"eps(x, t = 1)", "must match x"}); });
  BOOST_CHECK_EXCEPTION(matching::parse_covariance_kind("full"), Error,
                        [](const Error& e) { return message_has(e, {"unknown covariance kind 'full'", "diagonal"}); });
  BOOST_CHECK_EXCEPTION(matching::parse_select_objective("max"), Error,
                        [](const Error& e) { return message_has(e, {"'max'", "facility_location"}); });
  auto ex = two_experts();
  ex[1].var = tensor::ones({1, 4}, DType::f64);
  BOOST_CHECK_EXCEPTION(matching::poe_product(ex), Error,
                        [](const Error& e) { return message_has(e, {"poe_product", "expert 1", "[1, 3]"}); });
  BOOST_CHECK_EXCEPTION(matching::diffused_score(matching::poe_product(two_experts()), Var(tensor::zeros({2, 4}, DType::f64)), 0.5),
                        Error, [](const Error& e) { return message_has(e, {"diffused_score", "x_t"}); });
  BOOST_CHECK_EXCEPTION(matching::poe_product(two_experts(), {tensor::zeros({1, 3}, DType::f64), tensor::zeros({1, 3}, DType::f64)}),
                        Error, [](const Error& e) { return message_has(e, {"zero total precision"}); });
  BOOST_CHECK_EXCEPTION(matching::poe_teacher(two_experts(), matching::TeacherForm::score_sum, {tensor::ones({1, 3}, DType::f64), tensor::ones({1, 3}, DType::f64)}),
                        Error, [](const Error& e) { return message_has(e, {"masks", "exact"}); });
  const Tensor q = tensor::zeros({1, 1, 2, 2}, DType::f64);
  BOOST_CHECK_EXCEPTION(matching::group_log_likelihoods(q, tensor::zeros({3, 1, 2, 3}, DType::f64), tensor::ones({3, 1, 2, 3}, DType::f64), matching::coordinate_groups(4)),
                        Error, [](const Error& e) { return message_has(e, {"group_log_likelihoods", "trailing shape"}); });
  BOOST_CHECK_EXCEPTION(matching::group_log_likelihoods(q, tensor::zeros({3, 1, 2, 2}, DType::f64), tensor::ones({3, 1, 2, 2}, DType::f64), matching::coordinate_groups(5)),
                        Error, [](const Error& e) { return message_has(e, {"groups must be i64 [4]"}); });
  matching::Evidence bad{2, 3, {1, 2, 3}, {0, 0, 0}};
  BOOST_CHECK_EXCEPTION(matching::greedy_select(bad, {}), Error,
                        [](const Error& e) { return message_has(e, {"greedy_select", "needs 6 log-likelihoods"}); });
}
