// Gradients through DDIM/DDPM samplers: the step chain is the sampler, the checkpointing
// schedules match full backprop on a stochastic sampler (noise redrawn), the continuous adjoint
// converges to the exact gradient as steps grow, and the score-function estimator is unbiased.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/functions.h"
#include "diffusion/sampler_gradient.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"

using namespace difflab;
using ag::Var;
using diffusion::ChainSampler;
using tensor::Tensor;

namespace {

// Data N(0, θ I): the exact ε̂(z, t) = σ z / (α² θ + σ²), with θ the parameter (f64, [1]).
struct GaussianModel {
  Var theta{tensor::full({1}, 0.6, tensor::DType::f64), true};
  diffusion::VpModel model() const {
    const Var th = theta;
    return [th](const Var& z, const diffusion::NoiseLevel& at) {
      const Var eps = z * (ag::reciprocal(th * (at.alpha * at.alpha) + at.sigma * at.sigma) *
                           at.sigma);
      return diffusion::Denoised{(z - eps * at.sigma) * (1.0 / at.alpha), eps};
    };
  }
};

Tensor noise0(int64_t b, int64_t d, uint64_t seed = 3) {
  tensor::Generator g(seed);
  return tensor::randn({b, d}, tensor::DType::f64, &g);
}

// Per-sample squared distance to (1, ..., 1).
diffusion::SampleLoss to_point() {
  return [](const Var& z) { return ag::sum(ag::square(z - 1.0), {1}); };
}

double rel_err(const Tensor& a, const Tensor& b) {
  const Tensor d = tensor::binary(tensor::BinaryOp::sub, a, b);
  auto norm = [](const Tensor& x) {
    return std::sqrt(tensor::sum(tensor::binary(tensor::BinaryOp::mul, x, x), {}).item());
  };
  return norm(d) / norm(b);
}

std::shared_ptr<const diffusion::Schedule> cosine() { return diffusion::make_schedule("cosine"); }

std::vector<double> grid(int64_t k) {
  // Stop short of t = 1, where the cosine schedule's α vanishes.
  std::vector<double> t = cosine()->time_grid(k);
  for (double& x : t) x *= 0.98;
  return t;
}

ag::ChainGradient exact(const GaussianModel& m, ChainSampler s, int64_t k, const Tensor& z0,
                        const char* plan = "per_step") {
  return ag::chain_gradient(
      diffusion::sampler_chain(m.model(), *cosine(), grid(k), s, diffusion::NoiseSource(5)),
      {m.theta}, z0, k, diffusion::mean_loss(to_point()), ag::parse_chain_plan(plan));
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_chain_is_the_sampler) {
  GaussianModel m;
  const Tensor z0 = noise0(6, 2);
  const diffusion::NoiseSource noise(5);
  const Tensor ddim = diffusion::sample_ddim(m.model(), *cosine(), Var(z0), grid(7)).value();
  const Tensor ddpm =
      diffusion::sample_ddpm(m.model(), *cosine(), Var(z0), grid(7), noise).value();
  BOOST_TEST(rel_err(exact(m, ChainSampler::ddim, 7, z0, "full").final_state, ddim) == 0.0);
  BOOST_TEST(rel_err(exact(m, ChainSampler::ddpm, 7, z0, "revolve:2").final_state, ddpm) == 0.0);
}

BOOST_AUTO_TEST_CASE(schedules_match_full_backprop_on_the_stochastic_sampler) {
  GaussianModel m;
  const Tensor z0 = noise0(6, 2);
  const ag::ChainGradient ref = exact(m, ChainSampler::ddpm, 8, z0, "full");
  for (const char* plan : {"per_step", "two_level", "revolve:2", "recompute"}) {
    BOOST_TEST_CONTEXT(plan) {
      const ag::ChainGradient g = exact(m, ChainSampler::ddpm, 8, z0, plan);
      BOOST_TEST(rel_err(g.grad_params[0], ref.grad_params[0]) <= 1e-10);
      BOOST_TEST(rel_err(g.grad_initial, ref.grad_initial) <= 1e-10);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_continuous_adjoint_converges_as_steps_grow) {
  GaussianModel m;
  const Tensor z0 = noise0(16, 2);
  // Euler in ρ = σ/α on a grid uniform in t: the first step spans ρ from ~30 to ~2, so dL/dz_0
  // converges slowly (first order); dL/dθ gathers over all steps and is close sooner.
  for (auto states : {diffusion::AdjointStates::recorded, diffusion::AdjointStates::reintegrated}) {
    double prev_theta = 1e9, prev_z0 = 1e9;
    for (int64_t k : {4, 16, 64}) {
      BOOST_TEST_CONTEXT("K=" << k << " recorded=" << (states == diffusion::AdjointStates::recorded)) {
        const ag::ChainGradient ref = exact(m, ChainSampler::ddim, k, z0);
        const ag::ChainGradient adj =
            diffusion::adjoint_gradient(m.model(), {m.theta}, *cosine(), grid(k), z0,
                                        diffusion::mean_loss(to_point()), states);
        BOOST_TEST(adj.loss.item() == ref.loss.item());
        BOOST_TEST(adj.counts.forwards == 2 * k);
        const double e_theta = rel_err(adj.grad_params[0], ref.grad_params[0]);
        const double e_z0 = rel_err(adj.grad_initial, ref.grad_initial);
        BOOST_TEST(e_theta < prev_theta / 3);
        BOOST_TEST(e_z0 < prev_z0 / 3);
        if (k == 4) BOOST_TEST(e_theta > 1e-2);  // an approximation, not the discrete gradient
        if (k == 64) BOOST_TEST(e_theta < 0.05);
        prev_theta = e_theta;
        prev_z0 = e_z0;
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_score_function_estimator_is_unbiased) {
  // E[dL/dθ] by the score function and by pathwise backprop over the same noise distribution:
  // 8 batches of 2,000 each; the means agree within 4 standard errors.
  GaussianModel m;
  const int64_t k = 4, n = 8, b = 2000;
  std::vector<double> sf, pw;
  for (int64_t r = 0; r < n; ++r) {
    const Tensor z0 = noise0(b, 1, 100 + uint64_t(r));
    const diffusion::NoiseSource noise(200 + uint64_t(r));
    sf.push_back(diffusion::score_function_gradient(m.model(), {m.theta}, *cosine(), grid(k),
                                                    noise, z0, to_point())
                     .grad_params[0]
                     .item());
    pw.push_back(ag::chain_gradient(
                     diffusion::sampler_chain(m.model(), *cosine(), grid(k), ChainSampler::ddpm,
                                              noise),
                     {m.theta}, z0, k, diffusion::mean_loss(to_point()), {})
                     .grad_params[0]
                     .item());
  }
  auto stats = [&](const std::vector<double>& v) {
    double mean = 0, var = 0;
    for (double x : v) mean += x / double(n);
    for (double x : v) var += (x - mean) * (x - mean) / double(n - 1);
    return std::pair{mean, var / double(n)};
  };
  const auto [ms, vs] = stats(sf);
  const auto [mp, vp] = stats(pw);
  BOOST_TEST_MESSAGE("score function " << ms << " ± " << std::sqrt(vs) << ", pathwise " << mp
                                       << " ± " << std::sqrt(vp));
  BOOST_TEST(std::abs(mp) > 4 * std::sqrt(vp));  // a gradient that is not zero
  BOOST_TEST(std::abs(ms - mp) <= 4 * std::sqrt(vs + vp));
  BOOST_TEST(vs > vp);  // and noisier
}

BOOST_AUTO_TEST_CASE(bad_input_is_named) {
  GaussianModel m;
  BOOST_CHECK_THROW(diffusion::score_function_gradient(m.model(), {m.theta}, *cosine(), grid(4),
                                                       diffusion::NoiseSource(1), noise0(1, 2),
                                                       to_point()),
                    Error);
  BOOST_CHECK_THROW(diffusion::sampler_chain(m.model(), *cosine(), {0.5, 0.7},
                                             ChainSampler::ddim, diffusion::NoiseSource(1)),
                    Error);
}
