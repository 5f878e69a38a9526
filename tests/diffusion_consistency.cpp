// Consistency models by improved consistency training (diffusion/consistency.h; spec
// spec_mlgdf_concepts_drifting.md §1.5, §2.3): the boundary condition and the c_skip/c_out
// values, Karras boundaries, the N(k) curriculum and the lognormal index distribution, the
// stop-gradient of the teacher against a hand-written gradient, a conditional model trained on
// a 1-D Gaussian conditional, and f64 gradchecks of samples with respect to the condition.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <numbers>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "diffusion/consistency.h"
#include "nn/cond_mlp.h"
#include "nn/lr_schedule.h"
#include "nn/optim.h"
#include "tensor/factory.h"
#include "tensor/random.h"
#include "tensor/threads.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::diffusion;
using ag::Var;
using difflab::testing::message_has;
using tensor::DType;

namespace {

std::vector<double> values(const Var& v) {
  return v.value().to(DType::f64).contiguous().to_vector<double>();
}

// A network ignoring everything but returning large values, so f = x can only come from c_out = 0.
ConsistencyNet wild_net() {
  return [](const Var& x, const Tensor&, const Var&) {
    return ag::affine(ag::exp(ag::affine(x, 3.0, 0.0)), 1e3, 7.0);
  };
}

ConsistencyNet module_net(const nn::CondMLP& m) {
  return [&m](const Var& x, const Tensor& s, const Var& c) { return m.forward(x, s, c); };
}

}  // namespace

BOOST_AUTO_TEST_CASE(boundary_condition_and_preconditioning_values) {
  ConsistencyOptions o;  // σ_d = 0.5, σ_min = 0.002, σ_max = 80
  const ConsistencyPrecond at_min = consistency_precond(o.sigma_min, o);
  BOOST_TEST(at_min.c_skip == 1.0);
  BOOST_TEST(at_min.c_out == 0.0);
  // Hand values (python, f64) of σ_d²/((σ−σ_min)²+σ_d²) and σ_d(σ−σ_min)/sqrt(σ_d²+σ²).
  const struct {
    double sigma, skip, out, in;
  } table[] = {{0.5, 0.502003999967872, 0.352139177030901, 1.41421356237309},
               {1.0, 0.200641410460962, 0.446319168308958, 0.894427190999916},
               {10.0, 0.0024947609023147, 0.499276294205034, 0.0998752338877845},
               {80.0, 3.90629272263522e-05, 0.499977734905226, 0.0124997558665273}};
  for (const auto& r : table) {
    const ConsistencyPrecond p = consistency_precond(r.sigma, o);
    BOOST_TEST(p.c_skip == r.skip, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.c_out == r.out, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(p.c_in == r.in, boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(consistency_precond(o.sigma_max, o).c_skip < 1e-4);

  // f(x, σ_min; c) == x bit for bit, in f32 and f64, whatever F returns.
  tensor::Generator g(5);
  for (DType dt : {DType::f32, DType::f64}) {
    const Var x(tensor::randn({6, 3}, dt, &g));
    const Var f = consistency_function(wild_net(), x, o.sigma_min, Var(), o);
    BOOST_TEST(values(f) == values(x), boost::test_tools::per_element());
  }
  // Elsewhere f = c_skip x + c_out F(c_in x): with F = identity, f = (c_skip + c_out c_in) x.
  const ConsistencyNet ident = [](const Var& x, const Tensor&, const Var&) { return x; };
  const Var x(tensor::from_vector(std::vector<double>{1.5, -2.0}, {2, 1}, DType::f64));
  const Var f = consistency_function(ident, x, std::vector<double>{1.0, 10.0}, Var(), o);
  const auto fv = values(f);
  BOOST_TEST(fv[0] == 1.5 * (0.200641410460962 + 0.446319168308958 * 0.894427190999916),
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(fv[1] == -2.0 * (0.0024947609023147 + 0.499276294205034 * 0.0998752338877845),
             boost::test_tools::tolerance(1e-12));
  BOOST_CHECK_EXCEPTION(consistency_function(ident, x, 0.001, Var(), o), Error,
                        [](const Error& e) { return message_has(e, {"below sigma_min"}); });
}

BOOST_AUTO_TEST_CASE(karras_boundaries_and_curriculum) {
  ConsistencyOptions o;
  for (int64_t n : {2, 3, 11, 1281}) {
    const auto s = ict_boundaries(n, o);
    BOOST_TEST(int64_t(s.size()) == n);
    BOOST_TEST(s.front() == 0.002);
    BOOST_TEST(s.back() == 80.0);
    for (size_t i = 1; i < s.size(); ++i) BOOST_TEST(s[i] > s[i - 1]);
  }
  // N = 3: ((0.002^{1/7} + 80^{1/7})/2)^7 (python: 2.515218976147159).
  BOOST_TEST(ict_boundaries(3, o)[1] == 2.515218976147159, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(consistency_ladder(1, o) == std::vector<double>{80.0},
             boost::test_tools::per_element());
  const auto l2 = consistency_ladder(2, o);
  BOOST_TEST(l2.size() == 2u);
  BOOST_TEST(l2[1] == 2.515218976147159, boost::test_tools::tolerance(1e-12));
  const auto l5 = consistency_ladder(5, o);
  BOOST_TEST(l5.size() == 5u);
  BOOST_TEST(l5[0] == 80.0);
  BOOST_TEST(l5[4] == 0.08508720268939021, boost::test_tools::tolerance(1e-12));

  // K = 1000: K' = ⌊1000/(log2⌊1280/10⌋ + 1)⌋ = ⌊1000/8⌋ = 125; N doubles every 125 steps from
  // 10 + 1 until s1 + 1 = 1281 at k = 875.
  BOOST_TEST(ict_curriculum_period(1000, o) == 125);
  const std::pair<int64_t, int64_t> nk[] = {{0, 11},    {124, 11},  {125, 21},   {250, 41},
                                            {375, 81},  {500, 161}, {625, 321},  {749, 321},
                                            {750, 641}, {874, 641}, {875, 1281}, {999, 1281}};
  for (auto [k, n] : nk) BOOST_TEST(ict_num_boundaries(k, 1000, o) == n, "k = " << k);
  // s1/s0 not a power of two: ⌊1000/(log2 3 + 1)⌋ = 386, and N caps at s1 + 1 = 31.
  ConsistencyOptions o2;
  o2.s0 = 10, o2.s1 = 30;
  BOOST_TEST(ict_curriculum_period(1000, o2) == 386);
  BOOST_TEST(ict_num_boundaries(385, 1000, o2) == 11);
  BOOST_TEST(ict_num_boundaries(386, 1000, o2) == 21);
  BOOST_TEST(ict_num_boundaries(772, 1000, o2) == 31);
}

BOOST_AUTO_TEST_CASE(lognormal_index_probabilities_and_draws) {
  ConsistencyOptions o;
  const auto s = ict_boundaries(1281, o);
  const auto p = ict_index_probabilities(s, o);
  BOOST_TEST(p.size() == 1280u);
  double total = 0;
  for (double v : p) {
    BOOST_TEST(v > 0);
    total += v;
  }
  BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-12));
  // The mass per unit of ln σ peaks at the lognormal's median exp(P_mean) = 0.333.
  size_t best = 0;
  double best_density = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double d = p[i] / (std::log(s[i + 1]) - std::log(s[i]));
    if (d > best_density) best_density = d, best = i;
  }
  BOOST_TEST(std::sqrt(s[best] * s[best + 1]) == std::exp(-1.1),
             boost::test_tools::tolerance(0.01));
  // Mass between σ = 0.1 and 1 against Φ: over the boundaries inside, relative to the mass in
  // [σ_min, σ_max].
  auto phi = [&](double sig) {
    return 0.5 * std::erfc(-(std::log(sig) + 1.1) / (2.0 * std::sqrt(2.0)));
  };
  double inside = 0, lo = 0, hi = 0;
  for (size_t i = 0; i < p.size(); ++i)
    if (s[i] >= 0.1 && s[i + 1] <= 1.0) {
      inside += p[i];
      if (lo == 0) lo = s[i];
      hi = s[i + 1];
    }
  BOOST_TEST(inside == (phi(hi) - phi(lo)) / (phi(80.0) - phi(0.002)),
             boost::test_tools::tolerance(1e-9));

  // Draws follow P: N = 11, 40,000 indices, each frequency within 5 standard errors.
  const auto s11 = ict_boundaries(11, o);
  const auto p11 = ict_index_probabilities(s11, o);
  tensor::Generator g(7);
  const int64_t n = 40000;
  const auto idx = draw_ict_indices(n, p11, g);
  std::vector<double> freq(p11.size(), 0.0);
  for (int64_t i : idx) {
    BOOST_REQUIRE(i >= 0 && i < int64_t(p11.size()));
    freq[size_t(i)] += 1.0 / double(n);
  }
  for (size_t i = 0; i < p11.size(); ++i)
    BOOST_TEST(std::abs(freq[i] - p11[i]) < 5 * std::sqrt(p11[i] * (1 - p11[i]) / double(n)) + 1e-9,
               "index " << i << ": frequency " << freq[i] << " vs P " << p11[i]);
}

BOOST_AUTO_TEST_CASE(loss_gradient_skips_the_teacher) {
  // F(x) = w x with one scalar weight w (f64), data 1-D. By hand (stop-gradient teacher):
  //   a = s⁺ y⁺ + o⁺ w c⁺ y⁺, b = s⁻ y⁻ + o⁻ w c⁻ y⁻ with y± = y + σ± z, c± = c_in(σ±),
  //   L = mean λ (sqrt((a−b)² + c²) − c), dL/dw = mean λ (a−b)/sqrt((a−b)²+c²) · o⁺ c⁺ y⁺;
  // differentiating the teacher too would add −… o⁻ c⁻ y⁻, which the test tells apart.
  ConsistencyOptions o;
  o.sigma_max = 20.0;
  Var w(tensor::from_vector(std::vector<double>{0.7}, {1}, DType::f64), true);
  std::vector<bool> grad_mode_seen;
  const ConsistencyNet net = [&](const Var& x, const Tensor&, const Var&) {
    grad_mode_seen.push_back(ag::GradMode::is_enabled());
    return ag::mul(x, w);
  };
  const std::vector<double> y{0.3, -1.2, 2.0}, z{1.1, -0.4, 0.8};
  const std::vector<int64_t> index{0, 4, 9};
  const auto bnd = ict_boundaries(11, o);
  const IctLoss r = ict_loss_at(net, Var(tensor::from_vector(y, {3, 1}, DType::f64)), Var(),
                                tensor::from_vector(z, {3, 1}, DType::f64), bnd, index, o);
  BOOST_TEST(grad_mode_seen == (std::vector<bool>{false, true}), boost::test_tools::per_element());
  BOOST_TEST(r.teacher.defined());
  auto g = ag::grad({r.loss}, {w});
  const double c = 0.00054;
  double loss = 0, stop = 0, full = 0;
  for (size_t i = 0; i < 3; ++i) {
    const double sl = bnd[size_t(index[i])], sh = bnd[size_t(index[i]) + 1];
    const auto pl = consistency_precond(sl, o), ph = consistency_precond(sh, o);
    const double yl = y[i] + sl * z[i], yh = y[i] + sh * z[i];
    const double a = ph.c_skip * yh + ph.c_out * 0.7 * ph.c_in * yh;
    const double b = pl.c_skip * yl + pl.c_out * 0.7 * pl.c_in * yl;
    const double lam = 1.0 / (sh - sl), q = std::sqrt((a - b) * (a - b) + c * c);
    loss += lam * (q - c) / 3;
    stop += lam * (a - b) / q * ph.c_out * ph.c_in * yh / 3;
    full += lam * (a - b) / q * (ph.c_out * ph.c_in * yh - pl.c_out * pl.c_in * yl) / 3;
  }
  BOOST_TEST(r.loss.item() == loss, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(g[0].item() == stop, boost::test_tools::tolerance(1e-10));
  BOOST_TEST(std::abs(stop - full) > 1e-2 * std::abs(stop));
}

BOOST_AUTO_TEST_CASE(ict_loss_draws_from_the_curriculum) {
  tensor::Generator g(9);
  nn::CondMLPConfig cfg;
  cfg.dim = 2, cfg.cond_dim = 1, cfg.hidden = 8, cfg.blocks = 2, cfg.time_embed_dim = 4;
  nn::CondMLP m(cfg, &g);
  const Var y(tensor::randn({64, 2}, DType::f32, &g)), c(tensor::randn({64, 1}, DType::f32, &g));
  for (auto [k, n] : {std::pair<int64_t, int64_t>{0, 11}, {999, 1281}}) {
    tensor::Generator a(3), b(3);
    const IctLoss r = ict_loss(module_net(m), y, c, k, 1000, a);
    BOOST_TEST(r.num_boundaries == n);
    BOOST_TEST(r.loss.dim() == 0);
    BOOST_TEST(std::isfinite(r.loss.item()));
    // The same draws by hand: indices first, then z.
    const auto s = ict_boundaries(n);
    const auto idx = draw_ict_indices(64, ict_index_probabilities(s), b);
    BOOST_TEST(r.index == idx, boost::test_tools::per_element());
    const Tensor z = tensor::randn({64, 2}, DType::f32, &b);
    BOOST_TEST(ict_loss_at(module_net(m), y, c, z, s, idx).loss.item() == r.loss.item());
  }
}

namespace {

// c ~ U[−1, 1], y | c ~ N(2c + 0.5, 0.3²).
struct Batch {
  Var y, c;
};
Batch gaussian_batch(int64_t n, tensor::Generator& g) {
  Tensor c = tensor::uniform({n, 1}, -1.0, 1.0, DType::f32, &g);
  Tensor e = tensor::randn({n, 1}, DType::f32, &g);
  Var cv(c);
  return {ag::affine(cv, 2.0, 0.5) + Var(e) * 0.3, cv};
}

struct Moments {
  double mean, std;
};
Moments one_step_moments(const nn::CondMLP& m, double c, const ConsistencyOptions& o) {
  ag::NoGradGuard ng;
  tensor::Generator g(2024);
  const int64_t n = 4000;
  const Var cond(tensor::full({1, 1}, c, DType::f32));
  const auto v = values(
      consistency_sample_one_step(module_net(m), cond, tensor::randn({n, 1}, DType::f32, &g), o));
  double s = 0, s2 = 0;
  for (double x : v) s += x;
  const double mean = s / double(n);
  for (double x : v) s2 += (x - mean) * (x - mean);
  return {mean, std::sqrt(s2 / double(n - 1))};
}

// Tolerances: with n = 4000 samples the standard errors are 0.3/√4000 = 0.005 (mean) and
// 0.3/√8000 = 0.0034 (std), so the bounds below (half and a third of the conditional std) are
// > 25 standard errors: they bound the model's own error after 3000 iCT steps, not sampling
// noise. This seed's errors are <= 0.07 (mean) and <= 0.03 (std); over 4 seeds of the same
// set-up the worst were 0.17 (mean, one seed) and 0.07 (std). The untrained model is off by
// > 0.5 in the mean and ~0.3 in the std.
constexpr double kMeanTol = 0.15, kStdTol = 0.1;
bool matches(const Moments& mo, double c) {
  return std::abs(mo.mean - (2 * c + 0.5)) < kMeanTol && std::abs(mo.std - 0.3) < kStdTol;
}

}  // namespace

BOOST_AUTO_TEST_CASE(conditional_model_learns_a_gaussian_conditional) {
  // Tiny tensors: one thread is faster than two contended ones, and makes the run bit-exact.
  const int threads = tensor::get_num_threads();
  tensor::set_num_threads(1);
  ConsistencyOptions o;
  o.sigma_max = 20.0;  // 10–80 × the data std (spec §1.5): y has std 1.19 over c
  tensor::Generator init(12), data(13), noise(14);
  nn::CondMLPConfig cfg;
  cfg.dim = 1, cfg.cond_dim = 1, cfg.hidden = 64, cfg.blocks = 3, cfg.time_embed_dim = 16;
  nn::CondMLP m(cfg, &init);
  for (double c : {-0.5, 0.5}) {
    const Moments mo = one_step_moments(m, c, o);
    BOOST_TEST_MESSAGE("untrained c = " << c << ": mean " << mo.mean << ", std " << mo.std);
    BOOST_TEST(!matches(mo, c), "the untrained model already matches at c = " << c);
  }
  nn::Adam opt(m.parameters(), nn::AdamOptions{.lr = 4e-3});
  // Cosine decay of the learning rate to 0: with a constant rate the last iterate's one-step
  // samples swung between seeds (std 0.015 to 0.27 at c = −0.5 for lr 2e-3).
  const nn::LrSchedule lr = nn::warmup_cosine_lr(4e-3, 0, 3000, 0.0);
  const int64_t K = 3000, B = 256;
  const auto t0 = std::chrono::steady_clock::now();
  double late_loss = 0;
  for (int64_t k = 0; k < K; ++k) {
    const Batch b = gaussian_batch(B, data);
    const IctLoss r = ict_loss(module_net(m), b.y, b.c, k, K, noise, o);
    nn::apply_lr(opt, lr, k);
    opt.zero_grad();
    r.loss.backward();
    opt.step();
    if (k >= K - 100) late_loss += r.loss.item() / 100;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("trained " << K << " steps in " << secs << " s, late loss " << late_loss);
  for (double c : {-0.5, 0.5}) {
    const Moments mo = one_step_moments(m, c, o);
    BOOST_TEST_MESSAGE("trained c = " << c << ": mean " << mo.mean << " (target " << 2 * c + 0.5
                                      << "), std " << mo.std << " (target 0.3)");
    BOOST_TEST(std::abs(mo.mean - (2 * c + 0.5)) < kMeanTol, "c = " << c << ": mean " << mo.mean);
    BOOST_TEST(std::abs(mo.std - 0.3) < kStdTol, "c = " << c << ": std " << mo.std);
  }
  tensor::set_num_threads(threads);
}

BOOST_AUTO_TEST_CASE(repeat_condition_rows) {
  const Var c(tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::f64));
  BOOST_TEST(
      values(repeat_condition(c, 6)) == (std::vector<double>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}),
      boost::test_tools::per_element());
  BOOST_TEST(repeat_condition(c, 2).same(c));
  BOOST_TEST(!repeat_condition(Var(), 5).defined());
  BOOST_CHECK_EXCEPTION(repeat_condition(c, 5), Error,
                        [](const Error& e) { return message_has(e, {"does not divide 5"}); });
}

BOOST_AUTO_TEST_CASE(samples_gradcheck_in_the_condition_f64) {
  tensor::Generator g(21);
  nn::CondMLPConfig cfg;
  cfg.dim = 2, cfg.cond_dim = 3, cfg.hidden = 8, cfg.blocks = 2, cfg.time_embed_dim = 4;
  nn::CondMLP m(cfg, &g);
  m.to(DType::f64);
  ConsistencyOptions o;
  o.sigma_max = 10.0;
  const int64_t n = 4;
  std::vector<Tensor> noise;
  for (int k = 0; k < 2; ++k) noise.push_back(tensor::randn({n, 2}, DType::f64, &g));
  const auto ladder2 = consistency_ladder(2, o);
  for (int64_t rows : {1, 2}) {
    Var c(tensor::randn({rows, 3}, DType::f64, &g), true);
    auto one = ag::gradcheck(
        [&](const std::vector<Var>& in) {
          return consistency_sample_one_step(module_net(m), in[0], noise[0], o);
        },
        {c});
    BOOST_TEST(one.ok, "one step, " << rows << " condition rows: " << one.message);
    BOOST_TEST(one.checked == rows * 3);
    auto two = ag::gradcheck(
        [&](const std::vector<Var>& in) {
          return consistency_sample(module_net(m), in[0], ladder2, noise, o);
        },
        {c});
    BOOST_TEST(two.ok, "two steps, " << rows << " condition rows: " << two.message);
  }
  // §2.3: one-step ∂ŷ/∂c = c_out(σ_max) ∂F/∂c, nonzero.
  Var c(tensor::randn({1, 3}, DType::f64, &g), true);
  Var y = consistency_sample_one_step(module_net(m), c, noise[0], o);
  const auto gc = ag::grad({ag::sum(y)}, {c});
  Var cr = repeat_condition(c, n);
  Var f = m.forward(Var(noise[0]) * (o.sigma_max * consistency_precond(o.sigma_max, o).c_in),
                    tensor::full({n}, o.sigma_max, DType::f64), cr);
  const auto gf = ag::grad({ag::sum(f)}, {c});
  const double co = consistency_precond(o.sigma_max, o).c_out;
  const auto a = values(gc[0]), b = values(gf[0]);
  double norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(a[i] == co * b[i], boost::test_tools::tolerance(1e-10));
    norm += a[i] * a[i];
  }
  BOOST_TEST(norm > 1e-8);
}
