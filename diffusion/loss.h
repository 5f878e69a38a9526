// Denoising losses. Every weighting is a weight w(λ) on the x-space error, as in Salimans & Ho
// 2022 §4 / Kingma et al. 2021: L = E_t,ε[w(λ_t) ‖x₀ − x̂‖²], written for each parameterization
// in terms of the quantity the network predicts, so no division by α or σ is taken where the
// factor can be simplified (‖x₀ − x̂‖² = (σ²/α²)‖ε − ε̂‖² for eps, σ²‖v − v̂‖² for v):
//   snr            w = SNR = α²/σ²       (the eps-MSE of Ho et al.)
//   snr_plus_one   w = SNR + 1           (the v-MSE; "SNR+1")
//   truncated_snr  w = max(SNR, 1)       (Salimans & Ho's truncated SNR)
//   x0_mse         w = 1                 (plain MSE on x)
//   prediction_mse MSE on the predicted quantity itself: eps → SNR, x0 → 1, v → SNR + 1.
// Squared errors are means over each sample's elements, then averaged over the batch.
#pragma once
#include <string>
#include <vector>

#include "diffusion/denoiser.h"
#include "tensor/random.h"

namespace difflab::diffusion {

enum class LossWeighting { snr, snr_plus_one, truncated_snr, x0_mse, prediction_mse };
const char* loss_weighting_name(LossWeighting w);
// "snr", "snr+1" (or "snr_plus_one"), "truncated_snr", "x0_mse", "prediction_mse".
LossWeighting parse_loss_weighting(const std::string& s);

// The factor multiplying the mean squared error of the predicted quantity for one sample:
// w(λ) · ‖x₀ − x̂‖²/‖target − out‖² (1 for prediction_mse). Infinite where the weighting is (e.g.
// eps-prediction with snr_plus_one at α = 0).
double loss_factor(LossWeighting w, Parameterization p, double alpha, double sigma);

// Per-sample weighted losses [B] for a network output `out` in parameterization p, given the
// clean data x₀ and the noise ε that made z = α x₀ + σ ε (α, σ one value per sample).
Var denoising_loss_per_sample(const Var& out, Parameterization p, const Var& x0, const Var& eps,
                              const std::vector<double>& alpha, const std::vector<double>& sigma,
                              LossWeighting w);

struct DiffusionLoss {
  Var loss;               // batch mean, scalar
  Var per_sample;         // [B]
  std::vector<double> t;  // the drawn times
};
// Draws t (Schedule::sample_times) and ε ~ N(0, I) for the batch from `gen`, forms
// z = α_t x₀ + σ_t ε, evaluates net(z, net_time(t), labels) and returns the weighted loss.
// For classifier-free guidance pass labels through drop_labels (guidance.h) first.
DiffusionLoss diffusion_loss(const Denoiser& net, Parameterization p, const Schedule& schedule,
                             const Var& x0, const Tensor& labels, LossWeighting w,
                             tensor::Generator& gen);

}  // namespace difflab::diffusion
