#include "matching/implicit_denoising.h"

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {
namespace {

ag::ChainStep chain(const DenoisingProblem& p, const diffusion::NoiseSource& noise) {
  return diffusion::sampler_chain(p.model, *p.schedule, p.times, diffusion::ChainSampler::ddpm,
                                  noise);
}

// β ‖μ_θ − μ_pre‖²/(2σ²) at z for step k, averaged over the batch and over the coordinates
// (so that β weighs it against a per-pixel reward); μ differs only by cx·x̂.
Var path_kl(const DenoisingProblem& p, int64_t k, const Var& z, const Var& x0) {
  const auto c = diffusion::detail::ddpm_coefficients(*p.schedule, p.times, k,
                                                      diffusion::DdpmVariance::posterior);
  Tensor pre;
  {
    ag::NoGradGuard off;
    pre = p.reference(z.detach(), c.at).x0.value();
  }
  const Var d = (x0 - Var(pre)) * c.cx;
  const double scale = p.beta / (2 * c.std_dev * c.std_dev) / double(z.numel());
  return ag::sum(ag::square(d)) * scale;
}

}  // namespace

Trajectory start_trajectory(const DenoisingProblem& p, int64_t b, uint64_t seed, uint64_t first) {
  tensor::Shape shape{b};
  shape.insert(shape.end(), p.sample_shape.begin(), p.sample_shape.end());
  const diffusion::NoiseSource noise(seed, first);
  // In the parameters' dtype (f32 unless the model was converted).
  const tensor::DType dt = p.params.empty() ? tensor::DType::f32 : p.params.front().dtype();
  return {{noise.initial(shape, dt)}, noise};
}

void advance(const DenoisingProblem& p, Trajectory& t) {
  const int64_t k = int64_t(t.states.size()) - 1;
  DIFFLAB_CHECK(k < p.steps(), "advance: the trajectory has finished its ", p.steps(), " steps");
  ag::NoGradGuard off;
  t.states.push_back(chain(p, t.noise)(k, Var(t.states.back())).value());
}

AdjointResult recorded_adjoint(const DenoisingProblem& p, const Trajectory& t) {
  const int64_t n = p.steps();
  DIFFLAB_CHECK(int64_t(t.states.size()) == n + 1, "recorded_adjoint: the trajectory has ",
                t.states.size() - 1, " of ", n, " steps");
  DIFFLAB_CHECK(p.beta == 0 || p.reference, "recorded_adjoint: beta > 0 needs the reference model");
  AdjointResult out;
  for (const Var& q : p.params) out.grad.push_back(tensor::zeros_like(q.value()));
  const ag::ChainStep step = chain(p, t.noise);
  Tensor a;
  for (int64_t k = n - 1; k >= 0; --k) {
    ag::GradModeGuard on(true);
    const Var z(t.states[size_t(k)], true);
    const Var y = step(k, z);
    std::vector<Var> roots{y}, seeds;
    if (k == n - 1) {  // the loss's own gradient starts the adjoint
      roots = {ag::mean(p.loss(y))};
      seeds.push_back(Var(tensor::ones_like(roots[0].value())));
      out.loss = roots[0].item();
    } else {
      seeds.push_back(Var(a));
    }
    const auto c = diffusion::detail::ddpm_coefficients(*p.schedule, p.times, k,
                                                        diffusion::DdpmVariance::posterior);
    if (p.beta > 0 && c.std_dev > 0) {  // the final step adds no noise and has no KL term
      const Var kl = path_kl(p, k, z, p.model(z, c.at).x0);  // x̂ again: the step hides it
      out.path_kl += kl.item() / p.beta;
      out.forwards += 2;  // θ's x̂ for the KL and the reference's
      roots.push_back(kl);
      seeds.push_back(Var(tensor::ones_like(kl.value())));
    }
    std::vector<Var> wrt{z};
    wrt.insert(wrt.end(), p.params.begin(), p.params.end());
    const std::vector<Var> g = ag::grad(roots, wrt, seeds, false, true);
    a = g[0].value();
    for (size_t i = 0; i < p.params.size(); ++i)
      out.grad[i] = tensor::binary(tensor::BinaryOp::add, out.grad[i], g[i + 1].value());
    ++out.forwards;
    ++out.vjps;
  }
  return out;
}

ImplicitQueue::ImplicitQueue(const DenoisingProblem& p, int64_t batch, uint64_t seed)
    : p_(p), batch_(batch), seed_(seed) {
  DIFFLAB_CHECK(batch >= 1, "ImplicitQueue: batch = ", batch, " must be >= 1");
  // Slot j (front first) at stage T − 1 − j: push fresh batches and advance the older ones.
  for (int64_t j = 0; j < p.steps(); ++j) {
    for (auto& s : slots_) advance(p, s), ++warmup_;
    slots_.push_back(start_trajectory(p, batch, seed, next_index_));
    next_index_ += uint64_t(batch);
  }
}

Trajectory ImplicitQueue::step() {
  for (auto& s : slots_) advance(p_, s);
  Trajectory done = std::move(slots_.front());
  slots_.pop_front();
  slots_.push_back(start_trajectory(p_, batch_, seed_, next_index_));
  next_index_ += uint64_t(batch_);
  return done;
}

}  // namespace difflab::matching
