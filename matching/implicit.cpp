#include "matching/implicit.h"

#include <chrono>
#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {
namespace {

Tensor axpy(const Tensor& y, double a, const Tensor& x) {  // y + a x
  return tensor::binary(tensor::BinaryOp::add, y, tensor::affine(x, a, 0.0));
}

double mean_of(const Tensor& r) { return tensor::mean(r, {}).item(); }

// One θ update's gradient by backprop of the smooth reward through `m` ULA steps from x
// (the noise from gen); returns ∇θ mean R(x_m) and leaves x at x_m.
Tensor unrolled_gradient(const GibbsPotential& v, const SmoothReward& smooth, const Tensor& theta,
                         Tensor& x, int64_t m, double gamma, tensor::Generator& gen) {
  ag::GradModeGuard on(true);
  const Var th(theta, true);
  Var xv(x);
  for (int64_t i = 0; i < m; ++i) {
    const Tensor xi = tensor::randn(x.shape(), x.dtype(), &gen);
    xv = xv - v.grad_x(xv, th) * gamma + Var(tensor::affine(xi, std::sqrt(2 * gamma), 0.0));
  }
  const Var r = ag::mean(smooth(xv));
  x = xv.value();
  return ag::grad({r}, {th})[0].value();
}

}  // namespace

Tensor ula_step(const GibbsPotential& v, const Tensor& x, const Tensor& theta, double gamma,
                tensor::Generator& gen) {
  ag::NoGradGuard off;
  const Tensor g = v.grad_x(Var(x), Var(theta)).value();
  const Tensor xi = tensor::randn(x.shape(), x.dtype(), &gen);
  return axpy(axpy(x, -gamma, g), std::sqrt(2 * gamma), xi);
}

Tensor reward_gradient(const Tensor& reward, const Tensor& gv) {
  DIFFLAB_CHECK(reward.dim() == 1 && gv.dim() == 2 && gv.size(0) == reward.size(0),
                "reward_gradient: reward ", reward.desc(), " and grad_theta_v ", gv.desc(),
                " must be [n] and [n, p]");
  const Tensor r = reward.reshape({reward.size(0), 1});
  const Tensor e_gv = tensor::mean(gv, {0});
  const Tensor e_rgv = tensor::mean(tensor::binary(tensor::BinaryOp::mul, r, gv), {0});
  return axpy(tensor::affine(e_gv, mean_of(reward), 0.0), -1.0, e_rgv);
}

Tensor kl_gradient(const Tensor& gv_ref, const Tensor& gv) {
  return axpy(tensor::mean(gv_ref, {0}), -1.0, tensor::mean(gv, {0}));
}

LangevinResult implicit_langevin(const GibbsPotential& v, const Reward& reward,
                                 const SmoothReward& smooth, const Tensor& theta0,
                                 const Tensor& x0, const LangevinSettings& s,
                                 const std::function<Tensor(tensor::Generator&)>& reference) {
  DIFFLAB_CHECK(v.grad_x && v.grad_theta && reward, "implicit_langevin: needs a potential and a reward");
  DIFFLAB_CHECK(s.per_update >= 1 && s.steps >= s.per_update, "implicit_langevin: per_update (",
                s.per_update, ") must be in [1, steps = ", s.steps, "]");
  DIFFLAB_CHECK(!s.unrolled || smooth, "implicit_langevin: the unrolled baseline needs a smooth reward");
  DIFFLAB_CHECK(s.lambda_kl == 0 || reference, "implicit_langevin: lambda_kl = ", s.lambda_kl,
                " needs a reference sampler");
  const auto t0 = std::chrono::steady_clock::now();
  tensor::Generator gen(s.seed * 104729 + 17), ref_gen(s.seed * 7919 + 3);
  LangevinResult out{theta0.clone(), x0.clone(), {}, 0, 0};
  auto log = [&](int64_t step) {
    out.trace.step.push_back(step);
    out.trace.reward.push_back(mean_of(reward(out.particles)));
    out.trace.theta.push_back(out.theta.clone());
  };
  log(0);
  for (int64_t done = 0; done + s.per_update <= s.steps; done += s.per_update) {
    Tensor g;
    if (s.unrolled) {
      g = unrolled_gradient(v, smooth, out.theta, out.particles, s.per_update, s.gamma, gen);
    } else {
      for (int64_t i = 0; i < s.per_update; ++i)
        out.particles = ula_step(v, out.particles, out.theta, s.gamma, gen);
      g = reward_gradient(reward(out.particles), v.grad_theta(out.particles, out.theta));
    }
    if (s.lambda_kl != 0)
      g = axpy(g, -s.lambda_kl,
               kl_gradient(v.grad_theta(reference(ref_gen), out.theta),
                           v.grad_theta(out.particles, out.theta)));
    const double eta = s.decay ? s.eta / std::sqrt(double(out.updates) + 1) : s.eta;
    out.theta = axpy(out.theta, eta, g);
    ++out.updates;
    const int64_t now = done + s.per_update;
    if (now / s.log_every != done / s.log_every || now + s.per_update > s.steps) log(now);
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace difflab::matching
