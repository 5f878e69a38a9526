// Implicit Diffusion for Langevin samplers: ULA's stationary variance, the Gibbs gradient
// estimator against closed forms, convergence to the optimum, the KL term's sign
// (spec_distillation_implicit §3.5; the hexagon experiment's headline, §3.10 Q1–Q2, is
// tested in experiments_implicit).
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/functions.h"
#include "matching/implicit.h"
#include "matching/implicit_denoising.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

using namespace difflab;
using matching::Var;
using tensor::DType;
using tensor::Tensor;

namespace {

// V(x, θ) = ½‖x − θ‖²: π_θ = N(θ, I), ∇_x V = x − θ, ∇_θ V = θ − x.
matching::GibbsPotential gaussian() {
  matching::GibbsPotential v;
  v.grad_x = [](const Var& x, const Var& theta) { return x - ag::reshape(theta, {1, -1}); };
  v.grad_theta = [](const Tensor& x, const Tensor& theta) {
    return tensor::binary(tensor::BinaryOp::sub, theta.reshape({1, -1}), x);
  };
  return v;
}

// R(x) = −½‖x − x*‖², x* = (1, −2): E_πθ[R] is maximal at θ = x*.
matching::Reward to_point() {
  return [](const Tensor& x) {
    const Tensor d = tensor::binary(tensor::BinaryOp::sub, x, tensor::from_vector<double>({1, -2}, {1, 2}));
    return tensor::affine(tensor::sum(tensor::binary(tensor::BinaryOp::mul, d, d), {1}), -0.5, 0.0);
  };
}

std::vector<double> vec(const Tensor& t) { return t.to(DType::f64).to_vector<double>(); }

}  // namespace

BOOST_AUTO_TEST_CASE(ula_stationary_variance_is_one_over_one_minus_half_gamma) {
  const double gamma = 0.2;
  const int64_t n = 20000;
  tensor::Generator g(1);
  Tensor x = tensor::randn({n, 1}, DType::f64, &g);
  const Tensor theta = tensor::zeros({1}, DType::f64);
  for (int i = 0; i < 100; ++i) x = matching::ula_step(gaussian(), x, theta, gamma, g);
  const double var = tensor::var(x, {}).item();
  const double want = 1.0 / (1.0 - gamma / 2.0), se = want * std::sqrt(2.0 / double(n));
  BOOST_TEST_MESSAGE("ULA variance " << var << ", closed form " << want << " ± " << se);
  BOOST_TEST(std::abs(var - want) <= 4 * se);
  BOOST_TEST(std::abs(var - 1.0) > 4 * se);  // and not the continuous-time 1
}

BOOST_AUTO_TEST_CASE(gibbs_gradient_is_minus_theta_minus_x_star_on_exact_samples) {
  // With X ~ N(θ, I) exactly, E[estimator] = ∇θ E[R] = −(θ − x*). 20 batches of 5,000.
  const Tensor theta = tensor::from_vector<double>({0.5, 0.5}, {2});
  std::vector<double> g0, g1;
  for (uint64_t b = 0; b < 20; ++b) {
    tensor::Generator g(100 + b);
    const Tensor x = tensor::binary(tensor::BinaryOp::add, tensor::randn({5000, 2}, DType::f64, &g),
                                    theta.reshape({1, 2}));
    const std::vector<double> est =
        vec(matching::reward_gradient(to_point()(x), gaussian().grad_theta(x, theta)));
    g0.push_back(est[0]);
    g1.push_back(est[1]);
  }
  auto check = [](const std::vector<double>& v, double want) {
    double m = 0, s2 = 0;
    for (double x : v) m += x / double(v.size());
    for (double x : v) s2 += (x - m) * (x - m) / double(v.size() - 1);
    BOOST_TEST(std::abs(m - want) <= 4 * std::sqrt(s2 / double(v.size())));
  };
  check(g0, -(0.5 - 1.0));
  check(g1, -(0.5 + 2.0));
}

BOOST_AUTO_TEST_CASE(id_infinity_converges_to_the_optimum) {
  matching::LangevinSettings s;
  s.steps = 3000;
  s.eta = 0.05;
  tensor::Generator g(3);
  const auto r = matching::implicit_langevin(gaussian(), to_point(), {},
                                             tensor::zeros({2}, DType::f64),
                                             tensor::randn({500, 2}, DType::f64, &g), s);
  const std::vector<double> th = vec(r.theta);
  BOOST_TEST_MESSAGE("theta " << th[0] << ", " << th[1]);
  BOOST_TEST(std::abs(th[0] - 1.0) < 0.15);  // tracking and sampling noise at η = 0.05, n = 500
  BOOST_TEST(std::abs(th[1] + 2.0) < 0.15);
  BOOST_TEST(r.updates == 3000);
}

BOOST_AUTO_TEST_CASE(the_kl_term_decreases_the_kl) {
  // No reward; λ KL(N(a, I) ‖ π_θ) = λ ½‖θ − a‖²: θ must go to a (the official code's sign
  // would push it away).
  matching::LangevinSettings s;
  s.steps = 1500;
  s.lambda_kl = 1.0;
  const Tensor a = tensor::from_vector<double>({2.0, -1.0}, {1, 2});
  auto reference = [a](tensor::Generator& g) {
    return tensor::binary(tensor::BinaryOp::add, tensor::randn({500, 2}, DType::f64, &g), a);
  };
  auto zero = [](const Tensor& x) { return tensor::zeros({x.size(0)}, DType::f64); };
  tensor::Generator g(4);
  const auto r = matching::implicit_langevin(gaussian(), zero, {}, tensor::zeros({2}, DType::f64),
                                             tensor::randn({500, 2}, DType::f64, &g), s, reference);
  const std::vector<double> th = vec(r.theta);
  BOOST_TEST(std::abs(th[0] - 2.0) < 0.15);
  BOOST_TEST(std::abs(th[1] + 1.0) < 0.15);
}

// ---- ID-T: the queue and the adjoint on recorded states (matching/implicit_denoising) ----
namespace {

// Data N(m, 1) per coordinate: the exact ε̂(z, t) = σ (z − α m) (α² + σ² = 1), m a parameter.
struct MeanModel {
  Var m{tensor::full({1}, 0.2, DType::f64), true};
  diffusion::VpModel model() const {
    const Var mv = m;
    return [mv](const Var& z, const diffusion::NoiseLevel& at) {
      const Var eps = (z - mv * at.alpha) * at.sigma;
      return diffusion::Denoised{(z - eps * at.sigma) * (1.0 / at.alpha), eps};
    };
  }
};

matching::DenoisingProblem mean_problem(const MeanModel& mm, const MeanModel& ref, double beta) {
  matching::DenoisingProblem p;
  p.model = mm.model();
  p.reference = ref.model();
  p.schedule = diffusion::make_schedule("cosine");
  p.times = p.schedule->time_grid(6);
  for (double& t : p.times) t *= 0.98;
  p.params = {mm.m};
  p.loss = [](const Var& z) { return -ag::mean(z, {1}); };
  p.beta = beta;
  p.sample_shape = {2};
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(recorded_adjoint_at_the_sampling_theta_is_backprop) {
  MeanModel mm;
  const auto p = mean_problem(mm, mm, 0.0);
  matching::Trajectory t = matching::start_trajectory(p, 5, 9, 40);
  for (int64_t k = 0; k < p.steps(); ++k) matching::advance(p, t);
  const auto r = matching::recorded_adjoint(p, t);
  const ag::ChainGradient ref = ag::chain_gradient(
      diffusion::sampler_chain(p.model, *p.schedule, p.times, diffusion::ChainSampler::ddpm, t.noise),
      p.params, t.states[0], p.steps(), diffusion::mean_loss(p.loss), {});
  BOOST_TEST(std::abs(r.grad[0].item() - ref.grad_params[0].item()) <= 1e-12 * std::abs(ref.grad_params[0].item()));
  BOOST_TEST(r.loss == ref.loss.item());
  BOOST_TEST(r.vjps == p.steps());
  // The same reference model at β > 0: the path KL is zero and changes nothing.
  const auto same = matching::recorded_adjoint(mean_problem(mm, mm, 1.0), t);
  BOOST_TEST(same.path_kl == 0.0);
  BOOST_TEST(std::abs(same.grad[0].item() - r.grad[0].item()) <= 1e-12);
}

BOOST_AUTO_TEST_CASE(the_queue_pops_what_sequential_sampling_draws) {
  MeanModel mm;
  const auto p = mean_problem(mm, mm, 0.0);
  matching::ImplicitQueue q(p, 3, 9);
  BOOST_TEST(q.warmup_forwards() == p.steps() * (p.steps() - 1) / 2);
  for (uint64_t i = 0; i < 3; ++i) {
    const matching::Trajectory got = q.step();
    matching::Trajectory want = matching::start_trajectory(p, 3, 9, 3 * i);
    for (int64_t k = 0; k < p.steps(); ++k) matching::advance(p, want);
    BOOST_REQUIRE(got.states.size() == want.states.size());
    BOOST_TEST(tensor::sum(tensor::binary(tensor::BinaryOp::ne, got.states.back(), want.states.back()).to(DType::f64), {}).item() == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(id_t_raises_the_reward_and_the_path_kl_holds_it_back) {
  auto run = [](double beta) {
    MeanModel mm, pre;
    const auto p = mean_problem(mm, pre, beta);
    matching::ImplicitQueue q(p, 16, 5);
    Var m = mm.m;
    for (int i = 0; i < 40; ++i) {
      const auto r = matching::recorded_adjoint(p, q.step());
      m.impl()->value = tensor::binary(tensor::BinaryOp::sub, m.value(), tensor::affine(r.grad[0], 0.05, 0.0));
    }
    return m.item();
  };
  const double free = run(0.0), held = run(0.1);
  BOOST_TEST_MESSAGE("m after 40 ID-T updates: " << free << " (beta 0), " << held << " (beta 0.1)");
  BOOST_TEST(free > 0.2 + 0.5);   // brightness pulls the mean up
  BOOST_TEST(held < free);        // the path KL to m = 0.2 holds it back
  BOOST_TEST(held > 0.2);
}
