#include "diffusion/flux.h"

#include <cmath>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::diffusion {

using tensor::BinaryOp;

namespace {

void check_batch(const char* who, const Tensor& z, const Tensor& data) {
  DIFFLAB_CHECK(z.defined() && data.defined() && z.dim() == 2 && data.dim() == 2 &&
                    z.size(1) == data.size(1) && data.size(0) >= 1,
                who, ": expects points [B, D] and data [M, D] with the same D, got ",
                z.defined() ? z.desc() : std::string("undefined"), " and ",
                data.defined() ? data.desc() : std::string("undefined"));
}

// Rademacher ±1 of z's shape and dtype.
Tensor rademacher(const Tensor& like, tensor::Generator& gen) {
  Tensor u = tensor::rand(like.shape(), like.dtype(), &gen, like.device());
  return tensor::unary(tensor::UnaryOp::sign, tensor::affine(u, 1.0, -0.5));
}

// One step of the smoothing dynamics: z + (1 − ρ)σ² s(z) + σ √(1 − ρ²) ξ, ρ = e^{−h}.
Tensor ou_step(const Tensor& z, const Tensor& data, double sigma2, double h,
               tensor::Generator& gen) {
  const double rho = std::exp(-h);
  Tensor s = kde_score(Var(z), data, sigma2).value();
  Tensor xi = tensor::randn(z.shape(), z.dtype(), &gen, z.device());
  return tensor::binary(
      BinaryOp::add,
      tensor::binary(BinaryOp::add, z, tensor::affine(s, (1 - rho) * sigma2, 0.0)),
      tensor::affine(xi, std::sqrt(sigma2 * (1 - rho * rho)), 0.0));
}

}  // namespace

Var kde_score(const Var& z, const Tensor& data, double sigma2) {
  check_batch("kde_score", z.value(), data);
  DIFFLAB_CHECK(sigma2 > 0 && std::isfinite(sigma2), "kde_score: sigma2 = ", sigma2,
                " must be positive");
  // −‖z − x_j‖²/(2σ²) up to a per-row constant (−‖z‖²/2σ² cancels in the softmax).
  Tensor xt = data.transpose(0, 1).contiguous();
  Tensor xsq = tensor::sum(tensor::binary(BinaryOp::mul, data, data), {1});  // [M]
  Var logits = ag::affine(ag::sub(ag::matmul(z, Var(xt)), Var(tensor::affine(xsq, 0.5, 0.0))),
                          1.0 / sigma2, 0.0);
  Var w = ag::softmax(logits, 1);
  return ag::affine(ag::sub(ag::matmul(w, Var(data)), z), 1.0 / sigma2, 0.0);
}

Var flux_residual(const VectorField& f, const Var& z, const Tensor& data, double sigma2,
                  const Tensor& probe) {
  DIFFLAB_CHECK(probe.defined() && probe.shape() == z.shape(), "flux_residual: probe ",
                probe.defined() ? probe.desc() : std::string("undefined"),
                " does not match the points ", z.value().desc());
  Var s = kde_score(z, data, sigma2);
  Var u = ag::sub(f(z), s);
  Var g = ag::grad({ag::sum(ag::mul(u, Var(probe)), {})}, {z}, {}, true)[0];
  return ag::add(ag::sum(ag::mul(g, Var(probe)), {1}), ag::sum(ag::mul(u, s), {1}));
}

Var flux_loss(const VectorField& f, const Tensor& data, const FluxOptions& opt,
              tensor::Generator& gen) {
  check_batch("flux_loss", data, data);
  DIFFLAB_CHECK(data.size(0) >= 2, "flux_loss: needs at least 2 data points, got ", data.desc());
  DIFFLAB_CHECK(opt.horizon > 0 && opt.sim_steps >= 1, "flux_loss: horizon ", opt.horizon,
                " must be positive and sim_steps ", opt.sim_steps, " >= 1");
  const double s2 = opt.sigma2, sigma = std::sqrt(s2);
  Tensor x0 = tensor::binary(BinaryOp::add, data,
                             tensor::affine(tensor::randn(data.shape(), data.dtype(), &gen, data.device()), sigma, 0.0));
  const double t = tensor::rand({1}, tensor::DType::f64, &gen).item() * opt.horizon;
  Tensor xt = x0;
  for (int64_t k = 0; k < opt.sim_steps; ++k)
    xt = ou_step(xt, data, s2, t / double(opt.sim_steps), gen);
  // ∇r at the endpoints (second derivatives of f), then detached.
  Tensor grad_r;
  {
    Var z(xt, true);
    Var r = flux_residual(f, z, data, s2, rademacher(xt, gen));
    grad_r = ag::grad({ag::sum(r, {})}, {z})[0].value();
  }
  // Responsibility of origin i for endpoint j under the one-step transition from μ_i.
  const double rho = std::exp(-t);
  Tensor s0 = kde_score(Var(x0), data, s2).value();
  Tensor mu = tensor::binary(BinaryOp::add, x0, tensor::affine(s0, (1 - rho) * s2, 0.0));
  const double var = std::max(s2 * (1 - rho * rho), 1e-12);
  Tensor logits = tensor::affine(tensor::cdist2(mu, xt), -0.5 / var, 0.0);  // [i, j]
  Tensor w = tensor::softmax(logits, 0);
  Tensor g_hat = tensor::affine(tensor::matmul(w, grad_r), rho * opt.horizon, 0.0);  // ρ/q(t)
  Var u0 = ag::sub(f(Var(x0)), Var(s0));
  return ag::affine(ag::mean(ag::sum(ag::mul(u0, Var(g_hat)), {1})), -2.0, 0.0);
}

Tensor langevin_sample(const VectorField& f, const Tensor& x, double step_size, int64_t steps,
                       tensor::Generator& gen) {
  DIFFLAB_CHECK(step_size > 0 && steps >= 0, "langevin_sample: step size ", step_size,
                " must be positive and steps ", steps, " >= 0");
  ag::NoGradGuard ng;
  Tensor z = x;
  for (int64_t k = 0; k < steps; ++k) {
    Tensor drift = f(Var(z)).value();
    Tensor xi = tensor::randn(z.shape(), z.dtype(), &gen, z.device());
    z = tensor::binary(BinaryOp::add,
                       tensor::binary(BinaryOp::add, z, tensor::affine(drift, step_size / 2, 0.0)),
                       tensor::affine(xi, std::sqrt(step_size), 0.0));
  }
  return z;
}

}  // namespace difflab::diffusion
