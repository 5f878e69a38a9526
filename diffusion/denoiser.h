// A network is a callable. `Denoiser` is the raw network: (z, t_net, labels) -> its output in
// its own parameterization, with t_net = net_time(t) per sample (schedule.h) and labels an i64
// [B] tensor, or undefined for an unconditional model. Adapters turn it into what samplers
// consume: x̂ and ε̂ at a VP noise level (VpModel), or the EDM denoiser D(x; σ) (SigmaDenoiser).
//
// Lifetime: samplers copy these callables into checkpointed steps, which run again during
// backward; whatever a closure captures by reference (a module, a conditioning Var) must stay
// alive until the backward pass has run.
#pragma once
#include <functional>
#include <memory>

#include "diffusion/parameterization.h"
#include "diffusion/schedule.h"

namespace difflab::diffusion {

using Denoiser = std::function<Var(const Var& z, const Tensor& t_net, const Tensor& labels)>;

// A noise level shared by the whole batch: VP time and its α_t, σ_t (f64).
struct NoiseLevel {
  double t, alpha, sigma;
};
NoiseLevel noise_level(const Schedule& s, double t);

// x̂ and ε̂ at one noise level for a batch z.
using VpModel = std::function<Denoised(const Var& z, const NoiseLevel& at)>;
// Evaluates `net` at t_net = net_time(t) in z's dtype with `labels`, converting from p with the
// exact VP formulas (parameterization.h).
VpModel vp_model(Denoiser net, Parameterization p, Tensor labels = Tensor());

// D(x; σ): the posterior mean of x₀ given x = x₀ + σ n (VE, Karras et al. 2022 eq. 2).
using SigmaDenoiser = std::function<Var(const Var& x, double sigma)>;
// A VP model in EDM variables (Karras et al. 2022 §2, s(t) = α_t): with σ_e = σ_t/α_t the VP
// state is z = α x, α = 1/sqrt(1 + σ_e²); t is recovered from σ_e by the schedule's inverse
// log-SNR (λ = −2 log σ_e), which the network needs as its time input.
SigmaDenoiser sigma_denoiser(VpModel model, std::shared_ptr<const Schedule> schedule);
// Karras et al. 2022 eq. 7: D(x; σ) = c_skip x + c_out F(c_in x; c_noise) with F = `net`
// (its output taken as F's, whatever it predicts) and t_net = c_noise = ¼ ln σ.
SigmaDenoiser edm_denoiser(Denoiser net, Tensor labels = Tensor(),
                           double sigma_data = kEdmSigmaData);

}  // namespace difflab::diffusion
