// Noise schedules. VP schedules in continuous time t ∈ [0, 1]: z_t = α_t x₀ + σ_t ε with
// α_t² + σ_t² = 1, t = 0 clean, t = 1 (nearly) pure noise; log-SNR λ_t = log(α_t²/σ_t²) and its
// inverse. Everything is computed in f64; samplers cast a coefficient once when they apply it.
// Also the EDM/Karras σ steps (a VE noise level: x = x₀ + σ n), and the one place that fixes the
// network's time input.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tensor/random.h"
#include "tensor/tensor.h"

namespace difflab::diffusion {

using tensor::DType;
using tensor::Tensor;

// The network's time input for a VP schedule is kNetTimeScale·t (so a DDPM network sees its
// 1-based step index i = T·t with T = 1000, and cosine-schedule networks the same range).
// EDM-preconditioned networks take c_noise = ¼ ln σ instead (parameterization.h).
inline constexpr double kNetTimeScale = 1000.0;
double net_time(double t);
// [batch] tensor filled with net_time(t), in the network's dtype, on `device` (the state's).
Tensor net_time_tensor(double t, int64_t batch, DType dtype, tensor::Device device = tensor::Device::cpu());
// One entry per sample (training draws a t per sample).
Tensor net_time_tensor(const std::vector<double>& t, DType dtype, tensor::Device device = tensor::Device::cpu());

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual std::string name() const = 0;
  virtual double alpha(double t) const = 0;
  virtual double sigma(double t) const = 0;
  // λ_t = log(α_t²/σ_t²): +inf at t = 0, decreasing in t.
  virtual double log_snr(double t) const;
  // The t with log_snr(t) = λ (λ = +inf gives 0, λ = -inf gives 1 where the schedule reaches
  // α = 0, else the largest t).
  virtual double t_from_log_snr(double lambda) const = 0;
  // dα/dt and dσ/dt, for the probability-flow ODE dz/dt = α̇ x̂ + σ̇ ε̂ (sample_ode.cpp).
  // Where the slope jumps (the discrete schedule's grid points i/T) these are one-sided: from
  // the segment below t or the one above it. An ODE step over [s, t] takes the slope at t from
  // below and at s from above, so both stay inside the step (otherwise Heun stops converging).
  enum class Side { below, above };
  virtual double dalpha_dt(double t, Side side) const = 0;
  virtual double dsigma_dt(double t, Side side) const = 0;
  // Descending times 1 = t_0 > t_1 > ... > t_N = 0 for an N-step sampler (uniform in t; the
  // discrete schedule rounds to its grid).
  virtual std::vector<double> time_grid(int64_t steps) const;
  // n training times: continuous U(0, 1] (never t = 0, where σ = 0); discrete uniform on the
  // grid {1/T, ..., 1}.
  virtual std::vector<double> sample_times(int64_t n, tensor::Generator& gen) const;

  // The VE (EDM) noise level of z_t/α_t: σ_t/α_t = exp(-λ_t/2), and back.
  double edm_sigma(double t) const;
  double t_from_edm_sigma(double edm_sigma) const;
};

// DDPM (Ho et al. 2020): β_i linear from beta_start to beta_end for i = 1..T,
// ᾱ_i = Π_{s ≤ i} (1 − β_s) (f64 product), α = sqrt(ᾱ), σ = sqrt(1 − ᾱ). Step i sits at
// t = i/T (so t = 0 is ᾱ_0 = 1, clean data, and t = 1 is step T). Between grid points log ᾱ is
// interpolated linearly in t (β held constant within a step), which keeps λ monotone and gives
// the ODE samplers a continuous-time schedule; on the grid the values are exactly ᾱ_i.
class LinearDiscreteSchedule : public Schedule {
 public:
  explicit LinearDiscreteSchedule(int64_t T = 1000, double beta_start = 1e-4,
                                  double beta_end = 0.02);
  std::string name() const override { return "linear"; }
  int64_t num_steps() const { return T_; }
  double beta(int64_t i) const;       // i in 1..T
  double alpha_bar(int64_t i) const;  // i in 0..T
  double alpha(double t) const override;
  double sigma(double t) const override;
  double log_snr(double t) const override;
  double t_from_log_snr(double lambda) const override;
  double dalpha_dt(double t, Side side) const override;
  double dsigma_dt(double t, Side side) const override;
  std::vector<double> time_grid(int64_t steps) const override;
  std::vector<double> sample_times(int64_t n, tensor::Generator& gen) const override;

 private:
  double log_alpha_bar(double t) const;
  double dlog_alpha_bar_dt(double t, Side side) const;
  int64_t T_;
  std::vector<double> beta_;           // beta_[i], i = 1..T (beta_[0] unused)
  std::vector<double> log_alpha_bar_;  // i = 0..T
};

// Cosine VP schedule in its trigonometric form: α_t = cos(πt/2), σ_t = sin(πt/2),
// λ_t = -2 log tan(πt/2). At t = 1 α is exactly 0 (not cos(π/2) ≈ 6e-17), so eps-prediction
// is undefined there (x̂ = (z − σε̂)/α); x- and v-prediction are fine.
class CosineSchedule : public Schedule {
 public:
  std::string name() const override { return "cosine"; }
  double alpha(double t) const override;
  double sigma(double t) const override;
  double log_snr(double t) const override;
  double t_from_log_snr(double lambda) const override;
  double dalpha_dt(double t, Side side) const override;
  double dsigma_dt(double t, Side side) const override;
};

// "linear" (DDPM, T = 1000) or "cosine"; anything else throws naming the name.
std::shared_ptr<const Schedule> make_schedule(const std::string& name);

// Karras et al. 2022 eq. 5: σ_i = (σ_max^{1/ρ} + i/(N−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ for
// i = 0..N−1, followed by σ_N = 0 (N + 1 entries, as k-diffusion's get_sigmas_karras).
std::vector<double> karras_sigmas(int64_t n, double sigma_min = 0.002, double sigma_max = 80.0,
                                  double rho = 7.0);

// Per-sample coefficient as a [B, 1, ..., 1] tensor with `ndim` dims (broadcasts over a batch
// of that rank), cast once from f64, on `device`.
Tensor per_sample(const std::vector<double>& values, int64_t ndim, DType dtype, tensor::Device device = tensor::Device::cpu());

}  // namespace difflab::diffusion
