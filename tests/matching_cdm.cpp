// MLGD-F (matching/cdm.h) on problems with closed-form answers: a Gaussian prior and a Gaussian
// conditional whose matching x* is known, the x-gradient of the LGD-MC loss against finite
// differences, the unrolled K⋆-step baseline with and without checkpointing, restarts that do
// not depend on how many run beside them, and the errors.
#include <boost/test/unit_test.hpp>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/gradcheck.h"
#include "diffusion/schedule.h"
#include "matching/cdm.h"
#include "matching/divergence.h"
#include "matching/inner_sampler.h"
#include "tensor/factory.h"
#include "tensor/ops.h"
#include "tensor/random.h"
#include "tests/support/check_message.h"

using namespace difflab;
using namespace difflab::matching;
using difflab::testing::message_has;
using tensor::DType;

namespace {

constexpr double kPriorStd = 2.0;  // X ~ N(0, 2² I)
constexpr double kNoise = 0.5;     // Y | X = x ~ N(x, 0.5²): the conditional's mean is x
constexpr double kTarget = 1.5;    // G = N(1.5, 0.5²), so x* = 1.5

// The exact posterior mean of a N(0, s² I) prior: x̂₀ = α s² z / (α² s² + σ²).
diffusion::VpModel gaussian_prior() {
  return [](const Var& z, const diffusion::NoiseLevel& at) {
    const double s2 = kPriorStd * kPriorStd;
    const Var x0 = z * (at.alpha * s2 / (at.alpha * at.alpha * s2 + at.sigma * at.sigma));
    return diffusion::Denoised{x0, (z - x0 * at.alpha) / at.sigma};
  };
}

ConditionalSampler shift_sampler() {
  return [](const Var& cond, tensor::Generator& gen) {
    return cond + Var(tensor::randn(cond.shape(), cond.dtype(), &gen)) * kNoise;
  };
}

TargetSampler gaussian_target(double mean) {
  return [mean](int64_t n, tensor::Generator& gen) {
    return tensor::affine(tensor::randn({n, 1}, DType::f64, &gen), kNoise, mean);
  };
}

MatchingLoss mmd_loss(double bandwidth) {
  return
      [bandwidth](const Var& y, const Var& t, tensor::Generator&) { return mmd2(y, t, bandwidth); };
}

double el(const Tensor& x, int64_t r) { return x.select(0, r).select(0, 0).item(); }

CdmSettings small_settings() {
  CdmSettings s;
  s.steps = 40;
  s.n_cond = s.n_target = s.final_n = 64;
  s.mc = 2;
  s.restarts = 3;
  s.dtype = DType::f64;
  return s;
}

}  // namespace

BOOST_AUTO_TEST_CASE(cdmo_recovers_the_closed_form_x_star) {
  const auto schedule = diffusion::make_schedule("linear");
  CdmSettings s = small_settings();  // ζ = 1, the paper's; ζ = 2 already overshoots here
  const CdmRun run = mlgd(gaussian_prior(), *schedule, 1, shift_sampler(), gaussian_target(kTarget),
                          mmd_loss(1.0), s);
  const double best = el(run.x, run.best());
  BOOST_TEST_INFO("best restart x = " << best << ", final loss " << run.final_loss[size_t(run.best())]);
  BOOST_TEST(std::abs(best - kTarget) < 0.2);
  for (int64_t r = 0; r < s.restarts; ++r) BOOST_TEST(std::abs(el(run.x, r) - kTarget) < 0.2);
  BOOST_TEST(run.final_loss[size_t(run.best())] < 0.02);  // population MMD² at x = 0: 0.86
  // Without guidance the same loop returns the prior's DDIM sample from x_T = 0: x = 0, far away.
  s.guidance = 0.0;
  const CdmRun free = mlgd(gaussian_prior(), *schedule, 1, shift_sampler(),
                           gaussian_target(kTarget), mmd_loss(1.0), s);
  BOOST_TEST(std::abs(el(free.x, 0)) < 1e-12);
  BOOST_TEST(free.final_loss[0] > 0.5);
}

// ∇ of the LGD-MC loss with respect to x̂₀ through a small nonlinear one-step sampler (a fixed
// network of (cond, z)) against central differences; the noise is the same in every evaluation.
BOOST_AUTO_TEST_CASE(x_gradient_through_a_one_step_sampler_matches_finite_differences) {
  tensor::Generator wg(5);
  const Var w1(tensor::randn({3, 8}, DType::f64, &wg)), w2(tensor::randn({8, 2}, DType::f64, &wg));
  const ConditionalSampler net = [w1, w2](const Var& cond, tensor::Generator& gen) {
    const Var z(tensor::randn({cond.size(0), 1}, DType::f64, &gen));
    return ag::matmul(ag::tanh(ag::matmul(ag::cat({cond, z}, 1), w1)), w2) + z * 0.3;
  };
  const TargetSampler target = [](int64_t n, tensor::Generator& gen) {
    return tensor::randn({n, 2}, DType::f64, &gen);
  };
  CdmSettings s = small_settings();
  s.n_cond = s.n_target = 16;
  s.mc = 3;
  const ag::VarFn fn = [&](const std::vector<Var>& in) {
    tensor::Generator gen(11);
    return mc_matching_loss(in[0], 0.3, net, target, mmd_loss(0.7), s, gen);
  };
  tensor::Generator xg(3);
  const auto r = ag::gradcheck(fn, {Var(tensor::randn({1, 2}, DType::f64, &xg), true)});
  BOOST_TEST_INFO(r.message);
  BOOST_TEST(r.ok);
}

// The slow baseline's x-gradient through a 12-step unrolled DDIM is the same with per-step
// checkpointing (and matches finite differences).
BOOST_AUTO_TEST_CASE(unrolled_baseline_gradient_is_the_same_with_checkpointing) {
  tensor::Generator wg(8);
  const Var w(tensor::randn({4, 1}, DType::f64, &wg));  // [z, cond (2), t]
  UnrolledDdim u;
  u.net = [w](const Var& z, const Tensor& t_net, const Var& cond) {
    const Var t(t_net.reshape({t_net.numel(), 1}));
    return ag::tanh(ag::matmul(ag::cat({z, cond, t * 1e-3}, 1), w));
  };
  u.schedule = diffusion::make_schedule("linear");
  u.steps = 12;
  const TargetSampler target = gaussian_target(kTarget);
  CdmSettings s = small_settings();
  s.n_cond = s.n_target = 12;
  auto grad_at = [&](bool checkpoint) {
    u.checkpoint = checkpoint;
    const ConditionalSampler inner = unrolled_ddim_sampler(u);
    Var x0(tensor::full({1, 2}, 0.4, DType::f64), true);
    tensor::Generator gen(4);
    return ag::grad({mc_matching_loss(x0, 0.2, inner, target, mmd_loss(1.0), s, gen)}, {x0})[0].value();
  };
  const Tensor plain = grad_at(false), ckpt = grad_at(true);
  for (int64_t j = 0; j < 2; ++j) {
    BOOST_TEST(plain.select(0, 0).select(0, j).item() == ckpt.select(0, 0).select(0, j).item());
    BOOST_TEST(std::abs(plain.select(0, 0).select(0, j).item()) > 1e-6);  // a gradient that can differ
  }
  u.checkpoint = true;
  const ConditionalSampler inner = unrolled_ddim_sampler(u);
  const ag::VarFn fn = [&](const std::vector<Var>& in) {
    tensor::Generator gen(4);
    return mc_matching_loss(in[0], 0.2, inner, target, mmd_loss(1.0), s, gen);
  };
  const auto r = ag::gradcheck(fn, {Var(tensor::full({1, 2}, 0.4, DType::f64), true)});
  BOOST_TEST_INFO(r.message);
  BOOST_TEST(r.ok);
}

// Restart r draws from seed + r alone: a batch of 3 gives restart 2 what a single run seeded
// seed + 2 gives (to rounding of the batched prior evaluation).
BOOST_AUTO_TEST_CASE(a_restart_does_not_depend_on_the_others) {
  const auto schedule = diffusion::make_schedule("linear");
  CdmSettings s = small_settings();
  s.steps = 10;
  const CdmRun three = mlgd(gaussian_prior(), *schedule, 1, shift_sampler(),
                            gaussian_target(kTarget), mmd_loss(1.0), s);
  s.restarts = 1;
  s.seed += 2;
  const CdmRun one = mlgd(gaussian_prior(), *schedule, 1, shift_sampler(),
                          gaussian_target(kTarget), mmd_loss(1.0), s);
  BOOST_TEST(std::abs(el(three.x, 2) - el(one.x, 0)) < 1e-12);
  BOOST_TEST(std::abs(three.final_loss[2] - one.final_loss[0]) < 1e-12);
  BOOST_TEST(std::abs(el(three.x, 0) - el(one.x, 0)) > 1e-6);  // the restarts do differ
  // by_loss orders the restarts by final loss.
  for (size_t i = 1; i < three.by_loss.size(); ++i)
    BOOST_TEST(three.final_loss[size_t(three.by_loss[i - 1])] <= three.final_loss[size_t(three.by_loss[i])]);
}

BOOST_AUTO_TEST_CASE(bad_settings_are_named) {
  const auto schedule = diffusion::make_schedule("linear");
  auto refuses = [&](CdmSettings s, const char* what) {
    BOOST_CHECK_EXCEPTION(mlgd(gaussian_prior(), *schedule, 1, shift_sampler(),
                               gaussian_target(kTarget), mmd_loss(1.0), s),
                          difflab::Error, [&](const difflab::Error& e) { return message_has(e, {what}); });
  };
  CdmSettings s = small_settings();
  s.n_cond = 1;
  refuses(s, "n_cond");
  s = small_settings();
  s.mc = 0;
  refuses(s, "mc (J)");
  s = small_settings();
  s.guidance = -1;
  refuses(s, "guidance");
  BOOST_CHECK_EXCEPTION(parse_spread("sqrt"), difflab::Error,
                        [](const difflab::Error& e) { return message_has(e, {"lgd, beta, none"}); });
  BOOST_TEST(int(parse_spread("lgd")) == int(Spread::lgd));
}

// An encoder that runs once per distinct condition gives the loss and x-gradient of encoding
// every repeated row (here the encoder is a per-row map: 2·tanh(x), then the shift sampler).
BOOST_AUTO_TEST_CASE(inner_encoder_once_per_condition_equals_per_row) {
  auto enc = [](const Var& c) { return ag::tanh(c) * 2.0; };
  const ConditionalSampler raw = [enc](const Var& cond, tensor::Generator& gen) {
    return shift_sampler()(enc(cond), gen);
  };
  const InnerSampler encoded(shift_sampler(), enc);
  CdmSettings s = small_settings();
  s.mc = 3;
  auto loss_and_grad = [&](const InnerSampler& inner) {
    tensor::Generator gen(17);
    Var x0(tensor::full({1, 1}, 0.4, DType::f64), true);
    const Var L = mc_matching_loss(x0, 0.3, inner, gaussian_target(kTarget), mmd_loss(1.0), s, gen);
    return std::pair<double, double>{L.item(), ag::grad({L}, {x0})[0].item()};
  };
  const auto [l1, g1] = loss_and_grad(raw);
  const auto [l2, g2] = loss_and_grad(encoded);
  BOOST_TEST(l1 == l2, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(g1 == g2, boost::test_tools::tolerance(1e-10));
  BOOST_TEST(std::abs(g1) > 1e-3);
  tensor::Generator a(3), b(3);
  BOOST_TEST(final_matching_loss(tensor::full({1, 1}, 0.4, DType::f64), raw,
                                 gaussian_target(kTarget), mmd_loss(1.0), 32, a) ==
                 final_matching_loss(tensor::full({1, 1}, 0.4, DType::f64), encoded,
                                     gaussian_target(kTarget), mmd_loss(1.0), 32, b),
             boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(guidance_rules) {
  const diffusion::NoiseLevel at{0.3, 0.6, 0.8};
  BOOST_TEST(guidance_at(GuidanceRule::constant, 1.5, at) == 1.5);
  // ζ (σ/(1 + σ²) + 5t) with σ = 0.8, t = 0.3: 2 (0.8/1.64 + 1.5).
  BOOST_TEST(guidance_at(GuidanceRule::mnist, 2.0, at) == 2.0 * (0.8 / 1.64 + 1.5),
             boost::test_tools::tolerance(1e-14));
  BOOST_TEST(guidance_at(GuidanceRule::mnist, 2.0, diffusion::NoiseLevel{0.0, 1.0, 0.0}) == 0.0);
  BOOST_TEST((parse_guidance_rule("mnist") == GuidanceRule::mnist));
  BOOST_CHECK_EXCEPTION(parse_guidance_rule("cosine"), Error, [](const Error& e) {
    return message_has(e, {"cosine", "constant, mnist"});
  });
}
