// Gradients of a loss on a VP sampler's final samples with respect to the model parameters and
// the initial noise: the sampler's K steps as a chain for the checkpointing schedules of
// autograd/chain_gradient.h, and the two estimators that need the sampler's form — the continuous
// adjoint of the probability-flow ODE (DDIM, η = 0) and the score-function estimator (ancestral
// DDPM). spec_distillation_implicit §4.2–4.3.
#pragma once
#include <vector>

#include "autograd/chain_gradient.h"
#include "diffusion/sampler.h"

namespace difflab::diffusion {

enum class ChainSampler { ddim, ddpm };  // DDIM η = 0, or ancestral DDPM (posterior variance)

// Step k of the sampler over `times`: what sample_ddim / sample_ddpm do, one step at a time.
// DDPM's noise for step k comes from `noise` stream k + 1 and is redrawn when a schedule re-runs
// the step, so no noise is stored.
ag::ChainStep sampler_chain(const VpModel& model, const Schedule& schedule,
                            const std::vector<double>& times, ChainSampler sampler,
                            const NoiseSource& noise);

// A loss per sample [B] on the final samples; the chain's loss is its mean.
using SampleLoss = std::function<Var(const Var& z_final)>;
ag::ChainLoss mean_loss(const SampleLoss& loss);

// The continuous adjoint of DDIM's ODE. In y = z/α and ρ = σ/α DDIM is Euler's method on
// dy/dρ = ε̂(αy, t); the adjoint a = dL/dy solves da/dρ = −(∂ε̂/∂y)ᵀa, here by Euler steps run
// backward from each step's end (ρ_s) to its start (ρ_t), with dL/dθ accumulated alongside.
// The exact discrete adjoint would evaluate at the start instead: that is per-step checkpointing.
// `recorded` takes the end states from the forward pass (K states stored); `reintegrated` runs
// y back by y_t = y_s − (ρ_s − ρ_t) ε̂(y_s) (no states, and a second error from the reversal).
// Both converge to the exact gradient as K grows. ε̂ must be finite at the final time (the grid
// ends at t = 0: an ε-parameterised model is fine; x or v ones divide by σ = 0 there).
enum class AdjointStates { recorded, reintegrated };
ag::ChainGradient adjoint_gradient(const VpModel& model, const std::vector<Var>& params,
                                   const Schedule& schedule, const std::vector<double>& times,
                                   const Tensor& z0, const ag::ChainLoss& loss,
                                   AdjointStates states);

// REINFORCE through ancestral DDPM: dE[L]/dθ = E[(L − b) Σ_k ∇θ log p(z_{k+1} | z_k)] over the
// noisy steps, with the leave-one-out batch mean as the baseline b, plus the pathwise gradient of
// the final step (which adds no noise). No ∇L is needed; no dL/dz_0 (returned as zeros).
// Runs the sampler twice (the second time re-taping one step at a time), so memory is one
// state plus one step's activations. Unbiased for E[∇θ L] and noisy; needs a batch >= 2.
ag::ChainGradient score_function_gradient(const VpModel& model, const std::vector<Var>& params,
                                          const Schedule& schedule,
                                          const std::vector<double>& times,
                                          const NoiseSource& noise, const Tensor& z0,
                                          const SampleLoss& loss);

}  // namespace difflab::diffusion
