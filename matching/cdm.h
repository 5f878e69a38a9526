// MLGD-F (spec_mlgdf_concepts_drifting.md §2): conditional distribution matching. Given a
// diffusion prior over X and a fast conditional sampler for P(Y | X), find inputs x whose
// conditional matches a target G(Y) known through samples. Nothing is trained here: the loop
// moves x only, by gradients that flow through the matching loss, the inner conditional sampler
// and the prior's denoiser (spec §2.3).
//
// One guided reverse diffusion (spec §2.4, the synthetic version): DDIM (η = 0) over the prior;
// at each step x̂₀ = x̂₀(x_t) with the graph kept through ε_θ, J Monte-Carlo copies
// x₀⁽ʲ⁾ = x̂₀ + r_t ξ_j, n inner samples Y_j = f(x₀⁽ʲ⁾, z) each, ℓ_j = D(Y_j, S_j) against n_target
// samples of G, L = −log (1/J) Σ_j exp(−ℓ_j) (LGD-MC), and x_{t'} = DDIM(x_t) − ζ ∇_{x_t} L.
// CDMS keeps the samples of all restarts; CDMO the best by the final matching loss.
//
// Restarts share the prior's batched evaluation: row r of x is restart r; each restart's loss is
// differentiated on its own (matching_gradient) and one VJP through the prior carries all rows to
// x_t, so each row gets its own gradient. Restart r draws all its noise
// from its own generator, seeded seed + r (the code's 42 + r), so it does not depend on R.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"
#include "diffusion/denoiser.h"
#include "diffusion/schedule.h"
#include "tensor/random.h"

namespace difflab::matching {

using ag::Var;
using tensor::Tensor;

// Samples of Y, one row per row of `cond` [m, dX] (m = J·n conditions), differentiable in cond;
// the sampler draws its own noise from gen (reparameterised: z does not depend on cond).
using ConditionalSampler = std::function<Var(const Var& cond, tensor::Generator& gen)>;
// The inner model as the loop uses it: `sample` draws Y for per-row conditions; `encode`, when
// set, maps each distinct condition [k, dX] to what `sample` reads [k, F] before the loop
// repeats it for its n samples (an image encoder then runs once per image, not n times).
// Implicit from a bare sampler (no encoder).
struct InnerSampler {
  ConditionalSampler sample;
  std::function<Var(const Var& cond)> encode;
  InnerSampler(ConditionalSampler s, std::function<Var(const Var&)> e = {})  // NOLINT: implicit
      : sample(std::move(s)), encode(std::move(e)) {}
  // The sampler's input for `rows` [k, dX], each repeated n times: [k·n, F].
  Var conditions(const Var& rows, int64_t n) const;
};
// n samples of the target G [n, dY] (constants).
using TargetSampler = std::function<Tensor(int64_t n, tensor::Generator& gen)>;
// The matching loss D(Y, S) between inner samples and target samples: a scalar Var; `gen` (the
// restart's generator) feeds divergences that draw, such as the sliced ones' projections.
using MatchingLoss = std::function<Var(const Var& y, const Var& target, tensor::Generator& gen)>;

// The Monte-Carlo spread r_t of x₀⁽ʲ⁾ = x̂₀ + r_t ξ (spec §2.11 item 3): `lgd` is LGD's
// sqrt(1 − ᾱ_t) = σ_t; `beta` the simulations code's β/sqrt(1 + β²) with the step's
// β = 1 − ᾱ_t/ᾱ_{t'}; `none` gives DPS's point estimate (use J = 1).
enum class Spread { lgd, beta, none };
const char* spread_name(Spread s);
Spread parse_spread(const std::string& name);  // "lgd", "beta", "none"; throws listing them

// The step size of the matching gradient at noise level (t, α_t, σ_t), t ∈ [0, 1]:
// `constant` is ζ (the simulations); `mnist` is ζ·(σ_t/(1 + σ_t²) + 5t), the MNIST-rotation
// code's η_t = m(r_t/(1 + r_t²) + 5t/1000) with r_t = sqrt(1 − ᾱ_t) = σ_t (spec §2.6).
enum class GuidanceRule { constant, mnist };
GuidanceRule parse_guidance_rule(const std::string& name);  // "constant", "mnist"
double guidance_at(GuidanceRule rule, double zeta, const diffusion::NoiseLevel& at);

struct CdmSettings {
  int64_t steps = 99;         // outer DDIM steps (time_grid of the prior's schedule)
  int64_t n_cond = 250;       // inner samples per Monte-Carlo copy
  int64_t n_target = 250;     // target samples per loss evaluation (fresh every evaluation)
  int64_t mc = 3;             // J, Monte-Carlo copies of x̂₀ per step
  double guidance = 1.0;      // ζ
  GuidanceRule guidance_rule = GuidanceRule::constant;
  Spread spread = Spread::beta;
  bool start_at_zero = true;  // the simulations start x_T = 0; else x_T ~ N(0, I)
  int64_t restarts = 25;      // R
  int64_t final_n = 250;      // inner and target samples of the final loss
  uint64_t seed = 42;
  tensor::DType dtype = tensor::DType::f32;  // of x (the prior's and the inner sampler's dtype)
};

struct CdmRun {
  Tensor x;                         // the recovered x of every restart [R, dX]
  std::vector<double> final_loss;   // D(f(x_r), G) per restart, fresh draws
  std::vector<double> guided_loss;  // the LGD-MC loss L of the last guided step per restart
  std::vector<int64_t> by_loss;     // restart indices, ascending final loss (CDMO: by_loss[0])
  double seconds = 0;               // wall time of the whole batch of restarts
  int64_t best() const { return by_loss.front(); }
};

// The LGD-MC loss of one x̂₀ [1, dX] (a scalar): J copies x̂₀ + spread·ξ_j, n_cond inner
// samples each (one batched inner call), ℓ_j = D against fresh n_target samples of G,
// L = −logsumexp_j(−ℓ_j) + log J.
Var mc_matching_loss(const Var& x0_hat, double spread, const InnerSampler& inner,
                     const TargetSampler& target, const MatchingLoss& loss, const CdmSettings& s,
                     tensor::Generator& gen);

// ∇_{x̂₀} L for every row of x0_hat [R, dX] (a constant: the prior is not in this graph), restart
// r drawing from gens[r]; L per row into `losses`. One restart's inner graph lives at a time, so
// memory does not grow with R (an unrolled K*-step inner sampler keeps K* steps per restart).
Tensor matching_gradient(const Tensor& x0_hat, double spread, const InnerSampler& inner,
                         const TargetSampler& target, const MatchingLoss& loss,
                         const CdmSettings& s, std::vector<tensor::Generator>& gens,
                         std::vector<double>& losses);

// D(f(x), G) for one x [1, dX] with n fresh inner and target samples (no grad).
double final_matching_loss(const Tensor& x, const InnerSampler& inner, const TargetSampler& target,
                           const MatchingLoss& loss, int64_t n, tensor::Generator& gen);

// Per-step hook: step index, number of steps, the state after the step [R, dX], L per row.
using CdmCallback =
    std::function<void(int64_t step, int64_t steps, const Tensor& x, const std::vector<double>& L)>;

// MLGD-F with s.restarts restarts. The prior is a VP model over X (x̂₀ and ε̂) on `schedule`; x has shape [R, dX].
CdmRun mlgd(const diffusion::VpModel& prior, const diffusion::Schedule& schedule, int64_t dim_x,
            const InnerSampler& inner, const TargetSampler& target, const MatchingLoss& loss,
            const CdmSettings& s, const CdmCallback& callback = {});

}  // namespace difflab::matching
