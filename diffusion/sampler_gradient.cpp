#include "diffusion/sampler_gradient.h"

#include <cmath>
#include <memory>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/inspect.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::diffusion {
namespace {

Tensor add(const Tensor& a, const Tensor& b) { return tensor::binary(tensor::BinaryOp::add, a, b); }
Tensor scaled(const Tensor& x, double c) { return tensor::affine(x, c, 0.0); }

int64_t check_grid(const std::vector<double>& times, const char* who) {
  detail::check_times(times, who, true);
  return int64_t(times.size()) - 1;
}

std::vector<Tensor> zeros_like_all(const std::vector<Var>& params) {
  std::vector<Tensor> z;
  for (const auto& p : params) z.push_back(tensor::zeros_like(p.value()));
  return z;
}

// Accumulates scale · g[offset + i] into acc[i].
void accumulate(std::vector<Tensor>& acc, const std::vector<Var>& g, size_t offset, double scale) {
  for (size_t i = 0; i < acc.size(); ++i) acc[i] = add(acc[i], scaled(g[offset + i].value(), scale));
}

size_t activation_bytes(const Var& root, const std::vector<Var>& params) {
  const ag::GraphStats s = ag::graph_stats(root, params);
  return s.saved_bytes - s.saved_listed_bytes;
}

// dL/dz at z (a plain tensor), with L's value.
std::pair<Tensor, Tensor> loss_gradient(const ag::ChainLoss& loss, const Tensor& z) {
  ag::GradModeGuard on(true);
  const Var zv(z, true);
  const Var l = loss(zv);
  return {l.value(), ag::grad({l}, {zv})[0].value()};
}

Tensor run_forward(const ag::ChainStep& step, Tensor z, int64_t steps,
                   std::vector<Tensor>* states) {
  ag::NoGradGuard off;
  if (states) states->push_back(z);
  for (int64_t k = 0; k < steps; ++k) {
    z = step(k, Var(z)).value();
    if (states) states->push_back(z);
  }
  return z;
}

}  // namespace

ag::ChainStep sampler_chain(const VpModel& model, const Schedule& schedule,
                            const std::vector<double>& times, ChainSampler sampler,
                            const NoiseSource& noise) {
  const int64_t n = check_grid(times, "sampler_chain");
  DIFFLAB_CHECK(bool(model), "sampler_chain: empty model callable");
  auto steps = std::make_shared<std::vector<detail::StepFn>>();
  for (int64_t k = 0; k < n; ++k)
    steps->push_back(sampler == ChainSampler::ddim
                         ? detail::ddim_step(model, schedule, times, k, 0.0, noise)
                         : detail::ddpm_step(model, schedule, times, k, noise,
                                             DdpmVariance::posterior));
  return [steps](int64_t k, const Var& z) {
    DIFFLAB_CHECK(k >= 0 && k < int64_t(steps->size()), "sampler_chain: step ", k,
                  " outside 0..", steps->size() - 1);
    Var x0;
    return (*steps)[size_t(k)](z, x0);
  };
}

ag::ChainLoss mean_loss(const SampleLoss& loss) {
  return [loss](const Var& z) { return ag::mean(loss(z)); };
}

ag::ChainGradient adjoint_gradient(const VpModel& model, const std::vector<Var>& params,
                                   const Schedule& schedule, const std::vector<double>& times,
                                   const Tensor& z0, const ag::ChainLoss& loss,
                                   AdjointStates states) {
  const int64_t n = check_grid(times, "adjoint_gradient");
  std::vector<NoiseLevel> lv;
  for (double t : times) lv.push_back(noise_level(schedule, t));
  const bool recorded = states == AdjointStates::recorded;
  ag::ChainGradient out;
  std::vector<Tensor> zs;
  const Tensor zk = run_forward(sampler_chain(model, schedule, times, ChainSampler::ddim,
                                              NoiseSource(0)),
                                z0, n, recorded ? &zs : nullptr);
  out.counts.forwards = n;
  out.counts.peak_states = recorded ? n + 1 : 1;
  out.counts.peak_state_bytes = size_t(out.counts.peak_states) * z0.nbytes();
  out.final_state = zk;
  auto [l, dz] = loss_gradient(loss, zk);
  out.loss = l;
  Tensor a = scaled(dz, lv[size_t(n)].alpha);  // dL/dy_K, y = z/α
  Tensor y = scaled(zk, 1.0 / lv[size_t(n)].alpha);
  out.grad_params = zeros_like_all(params);
  for (int64_t k = n - 1; k >= 0; --k) {
    const NoiseLevel& s = lv[size_t(k) + 1];
    const double h = s.sigma / s.alpha - lv[size_t(k)].sigma / lv[size_t(k)].alpha;
    if (recorded) y = scaled(zs[size_t(k) + 1], 1.0 / s.alpha);
    ag::GradModeGuard on(true);
    const Var ys(y, true);
    const Var eps = model(ys * s.alpha, s).eps;
    DIFFLAB_CHECK(std::isfinite(tensor::sum(eps.value(), {}).item()), "adjoint_gradient: eps-hat is not finite at t = ",
                  s.t, " (sigma = ", s.sigma, "): the continuous adjoint needs an eps-prediction "
                  "model there");
    out.counts.peak_saved_bytes = std::max(out.counts.peak_saved_bytes, activation_bytes(eps, params));
    std::vector<Var> wrt{ys};
    wrt.insert(wrt.end(), params.begin(), params.end());
    const std::vector<Var> g = ag::grad({eps}, wrt, {Var(a)}, false, true);
    ++out.counts.forwards;
    ++out.counts.vjps;
    accumulate(out.grad_params, g, 1, h);
    a = add(a, scaled(g[0].value(), h));
    if (!recorded) y = add(y, scaled(eps.value(), -h));
  }
  out.grad_initial = scaled(a, 1.0 / lv[0].alpha);
  return out;
}

ag::ChainGradient score_function_gradient(const VpModel& model, const std::vector<Var>& params,
                                          const Schedule& schedule,
                                          const std::vector<double>& times,
                                          const NoiseSource& noise, const Tensor& z0,
                                          const SampleLoss& loss) {
  const int64_t n = check_grid(times, "score_function_gradient");
  const int64_t b = z0.size(0);
  DIFFLAB_CHECK(b >= 2, "score_function_gradient: the leave-one-out baseline needs a batch >= 2 "
                "(got ", b, ")");
  const ag::ChainStep step = sampler_chain(model, schedule, times, ChainSampler::ddpm, noise);
  ag::ChainGradient out;
  out.final_state = run_forward(step, z0, n, nullptr);
  Tensor per;
  {
    ag::NoGradGuard off;
    per = loss(Var(out.final_state)).value().to(tensor::DType::f64);
  }
  out.loss = tensor::mean(per, {}).to(z0.dtype());
  // w_b = (L_b − mean of the others)/B: the weight of sample b's score.
  const Tensor others = scaled(add(scaled(per, -1.0), tensor::sum(per, {})), 1.0 / double(b - 1));
  const Tensor w = scaled(tensor::binary(tensor::BinaryOp::sub, per, others), 1.0 / double(b));
  out.grad_params = zeros_like_all(params);
  out.grad_initial = tensor::zeros_like(z0);
  Tensor z = z0;
  for (int64_t k = 0; k < n; ++k) {
    const detail::DdpmCoefficients c =
        detail::ddpm_coefficients(schedule, times, k, DdpmVariance::posterior);
    ag::GradModeGuard on(true);
    const Var y = step(k, Var(z));
    Var root = y;
    std::vector<Var> seed;
    if (c.std_dev > 0) {  // ∇θ log p = (noise/σ) · ∇θ mean, weighted per sample
      Tensor cot = scaled(detail::step_noise(noise, y, k), 1.0 / c.std_dev);
      tensor::Shape ws(size_t(cot.dim()), 1);
      ws[0] = b;
      cot = tensor::binary(tensor::BinaryOp::mul, cot, w.to(cot.dtype()).reshape(ws));
      seed.push_back(Var(cot));
    } else {  // the deterministic final step: pathwise
      root = ag::mean(loss(y));
    }
    out.counts.peak_saved_bytes = std::max(out.counts.peak_saved_bytes, activation_bytes(root, params));
    accumulate(out.grad_params, ag::grad({root}, params, seed, false, true), 0, 1.0);
    z = y.value();
    ++out.counts.vjps;
  }
  out.counts.forwards = 2 * n;
  out.counts.peak_states = 1;
  out.counts.peak_state_bytes = z0.nbytes();
  return out;
}

}  // namespace difflab::diffusion
