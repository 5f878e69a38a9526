#include "matching/sinkhorn.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "matching/divergence.h"
#include "matching/sample_sets.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::matching {

using ag::Var;

namespace {

// Dual potentials of the three OT problems (Feydy et al. 2019, §3): f on X and g on Y for
// OT_ε(α, β); p on X for OT_ε(α, α); q on Y for OT_ε(β, β).
struct Potentials {
  Var f, g, p, q;
};

// The four cost matrices. Right-hand sides are detached, as geomloss does, so that each
// extrapolated potential depends on the points only through its own (left) argument: see
// extrapolate() for why that gives the right gradient.
struct Costs {
  Var xy, yx, xx, yy;
};

Costs make_costs(const Var& fx, const Var& fy, int p) {
  Var dx(fx.value()), dy(fy.value());
  return {sinkhorn_cost(fx, dy, p), sinkhorn_cost(fy, dx, p), sinkhorn_cost(fx, dx, p),
          sinkhorn_cost(fy, dy, p)};
}

// softmin_ε(C, h)_i = −ε log Σ_j exp(h_j − C_ij/ε) with h = log w + u/ε (w = 1/n uniform
// weights): the c-transform u ↦ −ε log Σ_j w_j exp((u_j − C_ij)/ε) in log-sum-exp form, which
// stays finite for any ε (Feydy's thesis, eq. 3.179).
Var softmin(double eps, const Var& cost, const Var& u, int64_t n) {
  Var h = ag::affine(u, 1.0 / eps, -std::log(double(n)));
  Var z = ag::affine(cost, -1.0 / eps, 0.0) + ag::unsqueeze(h, 0);
  return ag::affine(ag::logsumexp(z, {1}), -eps, 0.0);
}

// One symmetric update (Jacobi: every new potential from the old ones). `average` takes the
// mean of old and new, geomloss's symmetric Sinkhorn, which damps the 2-cycle of the plain
// alternating form and converges faster; the first update from zero is taken as is.
Potentials sinkhorn_step(const Costs& c, const Potentials& u, double eps, bool average) {
  const int64_t n = c.xx.size(0), m = c.yy.size(0);
  Potentials v{softmin(eps, c.xy, u.g, m), softmin(eps, c.yx, u.f, n), softmin(eps, c.xx, u.p, n),
               softmin(eps, c.yy, u.q, m)};
  if (!average) return v;
  return {0.5 * (u.f + v.f), 0.5 * (u.g + v.g), 0.5 * (u.p + v.p), 0.5 * (u.q + v.q)};
}

double max_abs(const Var& a) {
  return tensor::amax(tensor::unary(tensor::UnaryOp::abs, a.value()), 0).item();
}

double max_change(const Potentials& a, const Potentials& b) {
  return std::max({max_abs(a.f - b.f), max_abs(a.g - b.g), max_abs(a.p - b.p), max_abs(a.q - b.q)});
}

// The largest cost between any two points: the annealing's starting ε (geomloss: diameter^p).
double largest_cost(const Costs& c) {
  auto top = [](const Var& m) { return ag::amax(ag::flatten(m), 0).item(); };
  return std::max({top(c.xy), top(c.xx), top(c.yy)});
}

void check_options(const SinkhornOptions& o) {
  DIFFLAB_CHECK(o.epsilon > 0 && std::isfinite(o.epsilon), "sinkhorn_divergence: epsilon ",
                o.epsilon, " is not > 0");
  DIFFLAB_CHECK(o.p == 1 || o.p == 2, "sinkhorn_divergence: p must be 1 or 2, got ", o.p);
  DIFFLAB_CHECK(o.max_iterations >= 1, "sinkhorn_divergence: max_iterations must be >= 1, got ",
                o.max_iterations);
  DIFFLAB_CHECK(o.tolerance >= 0, "sinkhorn_divergence: tolerance ", o.tolerance, " is < 0");
  DIFFLAB_CHECK(o.scaling >= 0 && o.scaling < 1, "sinkhorn_divergence: scaling ", o.scaling,
                " is not in [0, 1)");
}

// The Sinkhorn loop without gradient: annealing from the largest cost down to ε, then updates
// at ε until the potentials stop moving or the cap is reached.
Potentials solve(const Costs& c, const SinkhornOptions& o, SinkhornReport& rep) {
  ag::NoGradGuard no_grad;
  auto zeros = [](const Var& m) { return Var(tensor::zeros({m.size(0)}, m.dtype(), m.device())); };
  Potentials u{zeros(c.xy), zeros(c.yx), zeros(c.xx), zeros(c.yy)};
  rep = {};
  rep.max_change = std::numeric_limits<double>::infinity();
  double eps = o.scaling > 0 ? std::max(o.epsilon, largest_cost(c)) : o.epsilon;
  while (rep.iterations < o.max_iterations) {
    const bool annealing = eps > o.epsilon;
    Potentials v = sinkhorn_step(c, u, annealing ? eps : o.epsilon, rep.iterations > 0);
    rep.max_change = max_change(u, v);
    u = v;
    ++rep.iterations;
    if (annealing) {
      eps *= o.scaling;
    } else if (rep.max_change <= o.tolerance) {
      rep.converged = true;
      break;
    }
  }
  return u;
}

// The envelope-theorem step (geomloss's last extrapolation). At the optimum the dual value is
// OT_ε(α, β) = ⟨α, f⟩ + ⟨β, g⟩ and dOT_ε/dC = π (the plan). One more softmin from the detached
// potentials, f_i = softmin_ε(C(x_i, ŷ), g*), has ∂(⟨α, f⟩)/∂C_ij = π_ij, so with ŷ detached
// ∇_{x_i} = Σ_j π_ij ∇₁C(x_i, y_j), exactly dOT/dx_i; g from C(y_j, x̂) gives dOT/dy_j. For the
// self term ½OT_ε(α, α) = ⟨α, p⟩ the single softmin over C(x_i, x̂_k) gives Σ_k π^αα_ik ∇₁C, which
// by the symmetry of C and π^αα is the derivative of ½OT_ε(α, α). Hence
// S_ε = ⟨α, f − p⟩ + ⟨β, g − q⟩ with the right gradient wherever the potentials have converged.
Var extrapolate(const Costs& c, const Potentials& u, double eps) {
  const int64_t n = c.xx.size(0), m = c.yy.size(0);
  Var f = softmin(eps, c.xy, u.g, m), g = softmin(eps, c.yx, u.f, n);
  Var p = softmin(eps, c.xx, u.p, n), q = softmin(eps, c.yy, u.q, m);
  return ag::mean(f - p) + ag::mean(g - q);
}

}  // namespace

Var sinkhorn_cost(const Var& x, const Var& y, int p) {
  DIFFLAB_CHECK(p == 1 || p == 2, "sinkhorn_cost: p must be 1 or 2, got ", p);
  auto [fx, fy] = as_features(x, y, "sinkhorn_cost");
  return p == 2 ? ag::affine(ag::cdist2(fx, fy), 0.5, 0.0) : pairwise_distance(fx, fy);
}

Var sinkhorn_divergence(const Var& x, const Var& y, const SinkhornOptions& opt,
                        SinkhornReport* report) {
  check_options(opt);
  auto [fx, fy] = as_features(x, y, "sinkhorn_divergence");
  const Costs costs = make_costs(fx, fy, opt.p);
  SinkhornReport rep;
  Potentials u;
  {
    // The loop reads the cost values only; solve() holds no graph.
    ag::NoGradGuard no_grad;
    const Costs plain{costs.xy.detach(), costs.yx.detach(), costs.xx.detach(), costs.yy.detach()};
    u = solve(plain, opt, rep);
  }
  if (report) *report = rep;
  return extrapolate(costs, u, opt.epsilon);
}

}  // namespace difflab::matching
