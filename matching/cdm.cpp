#include "matching/cdm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "autograd/engine.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "tensor/error.h"
#include "tensor/factory.h"

namespace difflab::matching {

const char* spread_name(Spread s) {
  switch (s) {
    case Spread::lgd: return "lgd";
    case Spread::beta: return "beta";
    case Spread::none: return "none";
  }
  return "?";
}

Spread parse_spread(const std::string& name) {
  for (Spread s : {Spread::lgd, Spread::beta, Spread::none})
    if (name == spread_name(s)) return s;
  DIFFLAB_FAIL("unknown Monte-Carlo spread '", name, "' (lgd, beta, none)");
}

GuidanceRule parse_guidance_rule(const std::string& name) {
  if (name == "constant") return GuidanceRule::constant;
  if (name == "mnist") return GuidanceRule::mnist;
  DIFFLAB_FAIL("unknown guidance rule '", name, "' (constant, mnist)");
}

double guidance_at(GuidanceRule rule, double zeta, const diffusion::NoiseLevel& at) {
  if (rule == GuidanceRule::constant) return zeta;
  return zeta * (at.sigma / (1.0 + at.sigma * at.sigma) + 5.0 * at.t);
}

namespace {

void check_settings(const CdmSettings& s) {
  DIFFLAB_CHECK(s.steps >= 1, "mlgd: steps must be >= 1, got ", s.steps);
  DIFFLAB_CHECK(s.n_cond >= 2 && s.n_target >= 2 && s.final_n >= 2,
                "mlgd: n_cond, n_target and final_n must be >= 2 (U-statistics), got ", s.n_cond,
                ", ", s.n_target, ", ", s.final_n);
  DIFFLAB_CHECK(s.mc >= 1, "mlgd: mc (J) must be >= 1, got ", s.mc);
  DIFFLAB_CHECK(s.restarts >= 1, "mlgd: restarts must be >= 1, got ", s.restarts);
  DIFFLAB_CHECK(std::isfinite(s.guidance) && s.guidance >= 0,
                "mlgd: guidance must be finite and >= 0, got ", s.guidance);
}

// [n, dX] rows of one condition [1, dX] (contiguous, so the inner network sees a plain batch).
Var repeat_rows(const Var& row, int64_t n) {
  return ag::contiguous(ag::expand(row, {n, row.size(1)}));
}

// r_t of the step t → t' (spec §2.11 item 3).
double mc_spread(Spread s, const diffusion::NoiseLevel& at, const diffusion::NoiseLevel& next) {
  if (s == Spread::lgd) return at.sigma;
  if (s == Spread::none) return 0.0;
  const double beta = 1.0 - (at.alpha * at.alpha) / (next.alpha * next.alpha);
  return beta / std::sqrt(1.0 + beta * beta);
}

std::vector<int64_t> ascending(const std::vector<double>& v) {
  std::vector<int64_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  // NaN losses sort last.
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    if (std::isnan(v[size_t(a)])) return false;
    if (std::isnan(v[size_t(b)])) return true;
    return v[size_t(a)] < v[size_t(b)];
  });
  return order;
}

}  // namespace

Var InnerSampler::conditions(const Var& rows, int64_t n) const {
  const Var f = encode ? encode(rows) : rows;
  DIFFLAB_CHECK(f.dim() == 2 && f.size(0) == rows.size(0), "InnerSampler: the encoder returned ",
                f.shape(), " for ", rows.size(0), " conditions");
  std::vector<Var> out;
  for (int64_t j = 0; j < f.size(0); ++j) out.push_back(repeat_rows(ag::slice(f, 0, j, j + 1), n));
  return out.size() == 1 ? out[0] : ag::cat(out, 0);
}

Tensor matching_gradient(const Tensor& x0_hat, double spread, const InnerSampler& inner,
                         const TargetSampler& target, const MatchingLoss& loss,
                         const CdmSettings& s, std::vector<tensor::Generator>& gens,
                         std::vector<double>& losses) {
  std::vector<Tensor> rows;
  for (int64_t r = 0; r < x0_hat.size(0); ++r) {
    const Var x0(x0_hat.slice(0, r, r + 1).contiguous(), true);
    const Var L = mc_matching_loss(x0, spread, inner, target, loss, s, gens[size_t(r)]);
    losses[size_t(r)] = L.item();
    rows.push_back(ag::grad({L}, {x0})[0].value());
  }
  return tensor::cat(rows, 0);
}

Var mc_matching_loss(const Var& x0_hat, double spread, const InnerSampler& inner,
                     const TargetSampler& target, const MatchingLoss& loss, const CdmSettings& s,
                     tensor::Generator& gen) {
  DIFFLAB_CHECK(x0_hat.dim() == 2 && x0_hat.size(0) == 1,
                "mc_matching_loss: x0_hat must be one row [1, dX], got ", x0_hat.shape());
  const int64_t J = s.mc, n = s.n_cond, dx = x0_hat.size(1);
  Var copies = ag::expand(x0_hat, {J, dx});
  if (spread > 0) copies = copies + Var(tensor::randn({J, dx}, x0_hat.dtype(), &gen)) * spread;
  const Var y = inner.sample(inner.conditions(copies, n), gen);
  DIFFLAB_CHECK(y.dim() == 2 && y.size(0) == J * n, "mc_matching_loss: the inner sampler returned ",
                y.shape(), " for ", J * n, " conditions (expected [", J * n, ", dY])");
  std::vector<Var> ells;
  for (int64_t j = 0; j < J; ++j) {
    const Tensor g = target(s.n_target, gen).to(y.device());
    ells.push_back(ag::reshape(loss(ag::slice(y, 0, j * n, (j + 1) * n), Var(g), gen), {1}));
  }
  // LGD-MC: −log (1/J) Σ_j exp(−ℓ_j).
  return -ag::logsumexp(-ag::cat(ells, 0), {0}) + std::log(double(J));
}

double final_matching_loss(const Tensor& x, const InnerSampler& inner, const TargetSampler& target,
                           const MatchingLoss& loss, int64_t n, tensor::Generator& gen) {
  DIFFLAB_CHECK(x.dim() == 2 && x.size(0) == 1, "final_matching_loss: x must be one row [1, dX], got ",
                x.shape());
  ag::NoGradGuard ng;
  const Var y = inner.sample(inner.conditions(Var(x), n), gen);
  return loss(y, Var(target(n, gen).to(y.device())), gen).item();
}

CdmRun mlgd(const diffusion::VpModel& prior, const diffusion::Schedule& schedule, int64_t dim_x,
            const InnerSampler& inner, const TargetSampler& target, const MatchingLoss& loss,
            const CdmSettings& s, const CdmCallback& callback) {
  check_settings(s);
  const auto start = std::chrono::steady_clock::now();
  const int64_t R = s.restarts;
  std::vector<tensor::Generator> gens;
  for (int64_t r = 0; r < R; ++r) gens.emplace_back(s.seed + uint64_t(r));
  Tensor x = tensor::zeros({R, dim_x}, s.dtype);
  if (!s.start_at_zero)
    for (int64_t r = 0; r < R; ++r)
      x.slice(0, r, r + 1).copy_(tensor::randn({1, dim_x}, s.dtype, &gens[size_t(r)]));
  const std::vector<double> times = schedule.time_grid(s.steps);
  CdmRun out;
  out.guided_loss.assign(size_t(R), NAN);
  for (size_t k = 0; k + 1 < times.size(); ++k) {
    const diffusion::NoiseLevel at = diffusion::noise_level(schedule, times[k]);
    const diffusion::NoiseLevel next = diffusion::noise_level(schedule, times[k + 1]);
    Var xt(x, true);
    const diffusion::Denoised d = prior(xt, at);
    // DDIM, η = 0: x_{t'} = α_{t'} x̂₀ + σ_{t'} ε̂.
    Var x_next = d.x0.detach() * next.alpha + d.eps.detach() * next.sigma;
    if (s.guidance > 0) {
      const Tensor g0 = matching_gradient(d.x0.value(), mc_spread(s.spread, at, next), inner,
                                          target, loss, s, gens, out.guided_loss);
      // One VJP through the prior for all restarts: ∇_{x_t} L = (∂x̂₀/∂x_t)ᵀ ∇_{x̂₀} L.
      const Var g = ag::grad({d.x0}, {xt}, {Var(g0)})[0];
      x_next = x_next - g.detach() * guidance_at(s.guidance_rule, s.guidance, at);
    }
    x = x_next.value();
    if (callback) callback(int64_t(k), int64_t(times.size()) - 1, x, out.guided_loss);
  }
  out.x = x;
  for (int64_t r = 0; r < R; ++r)
    out.final_loss.push_back(final_matching_loss(x.slice(0, r, r + 1), inner, target, loss,
                                                 s.final_n, gens[size_t(r)]));
  out.by_loss = ascending(out.final_loss);
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace difflab::matching
