// Conditional consistency models trained by improved consistency training (iCT; Song & Dhariwal
// 2024), the fast inner sampler of MLGD-F (spec_mlgdf_concepts_drifting.md §1.5, §2.3, §2.6).
// Everything acts on a raw network callable F(x, σ, c) (a ConsistencyNet), never on nn/.
//
// Boundary-condition parameterisation (§1.5, EDM-style):
//   f(x, σ; c) = c_skip(σ) x + c_out(σ) F(c_in(σ) x, σ, c)
//   c_skip = σ_d²/((σ − σ_min)² + σ_d²),  c_out = σ_d (σ − σ_min)/sqrt(σ_d² + σ²),
//   c_in = 1/sqrt(σ² + σ_d²) (EDM's input scaling, as in Song et al. 2023 / iCT; set
//   scale_input = false for the spec's F(x, σ, c) literally), so f(x, σ_min; c) = x exactly.
// Training (§1.5 loop): N(k) Karras boundaries σ_1 < … < σ_N, an index i ~ P(i) (discretised
// lognormal), the same z for the student f(y + σ_{i+1} z, σ_{i+1}) and the teacher
// sg(f(y + σ_i z, σ_i)) (current weights, no EMA, evaluated under no-grad), pseudo-Huber
// distance weighted by λ = 1/(σ_{i+1} − σ_i), mean over the batch.
// Sampling takes its noise explicitly (reparameterised), so samples are differentiable
// functions of the condition (§2.3: MLGD-F backpropagates through the sampler into c).
#pragma once
#include <functional>
#include <vector>

#include "autograd/var.h"
#include "tensor/random.h"

namespace difflab::diffusion {

using ag::Var;
using tensor::Tensor;

// F(x [B, ...], σ [B] (x's dtype and device, σ itself, not c_noise), cond [B, ...] or undefined)
// -> [B, ...] of x's shape. Must be differentiable in cond for the samplers' gradients.
using ConsistencyNet = std::function<Var(const Var& x, const Tensor& sigma, const Var& cond)>;

struct ConsistencyOptions {
  double sigma_min = 0.002;
  double sigma_max = 80.0;  // spec: 10–80 × the data std
  double sigma_data = 0.5;  // σ_d, the data std of the preconditioning
  double rho = 7.0;         // Karras boundaries
  bool scale_input = true;  // feed c_in(σ) x to F
  // Discretisation curriculum N(k) = min(s0 · 2^⌊k/K'⌋, s1) + 1.
  int64_t s0 = 10, s1 = 1280;
  // Discretised lognormal over the boundary index (iCT).
  double p_mean = -1.1, p_std = 2.0;
  // Pseudo-Huber c; negative = 0.00054 · sqrt(dim) with dim the elements per sample.
  double huber_c = -1.0;

  void validate() const;
};

// ---- parameterisation ----
struct ConsistencyPrecond {
  double c_skip, c_out, c_in;
};
ConsistencyPrecond consistency_precond(double sigma, const ConsistencyOptions& o = {});
// f(x, σ; c) with one σ per sample (sigma.size() == B) or one for the whole batch.
Var consistency_function(const ConsistencyNet& net, const Var& x, const std::vector<double>& sigma,
                         const Var& cond, const ConsistencyOptions& o = {});
Var consistency_function(const ConsistencyNet& net, const Var& x, double sigma, const Var& cond,
                         const ConsistencyOptions& o = {});

// ---- iCT schedule ----
// Karras boundaries σ_i = (σ_min^{1/ρ} + (i−1)/(N−1)(σ_max^{1/ρ} − σ_min^{1/ρ}))^ρ, i = 1..N,
// ascending, f64, with σ_1 = σ_min and σ_N = σ_max exactly (N >= 2).
std::vector<double> ict_boundaries(int64_t n, const ConsistencyOptions& o = {});
// K' = ⌊K/(log2⌊s1/s0⌋ + 1)⌋ (at least 1), and N(k) = min(s0 · 2^⌊k/K'⌋, s1) + 1.
int64_t ict_curriculum_period(int64_t total_steps, const ConsistencyOptions& o = {});
int64_t ict_num_boundaries(int64_t step, int64_t total_steps, const ConsistencyOptions& o = {});
// P(i) for the pairs (σ_i, σ_{i+1}), i = 1..N−1 (returned 0-based, size N − 1), summing to 1:
// ∝ erf((ln σ_{i+1} − P_mean)/(√2 P_std)) − erf((ln σ_i − P_mean)/(√2 P_std)).
std::vector<double> ict_index_probabilities(const std::vector<double>& boundaries,
                                            const ConsistencyOptions& o = {});
// `batch` 0-based pair indices drawn from P by inverting its CDF at uniforms from `gen`.
std::vector<int64_t> draw_ict_indices(int64_t batch, const std::vector<double>& probabilities,
                                      tensor::Generator& gen);

// ---- loss ----
double pseudo_huber_c(int64_t elements_per_sample);
// d(a, b) = sqrt(‖a − b‖² + c²) − c per sample (the norm over all non-batch dims) -> [B].
Var pseudo_huber(const Var& a, const Var& b, double c);

struct IctLoss {
  Var loss;                    // scalar: mean_b λ_b d(student_b, teacher_b)
  Var per_sample;              // [B], λ d
  Tensor teacher;              // sg(f(y + σ_i z, σ_i)) [B, ...]
  std::vector<int64_t> index;  // 0-based i per sample: σ_i = boundaries[i], σ_{i+1} = [i + 1]
  std::vector<double> sigma_teacher, sigma_student;
  int64_t num_boundaries = 0;  // N(k)
};
// The iCT loss for given pair indices into `boundaries` and noise z (y's shape): the
// deterministic core of ict_loss.
IctLoss ict_loss_at(const ConsistencyNet& net, const Var& y, const Var& cond, const Tensor& z,
                    const std::vector<double>& boundaries, const std::vector<int64_t>& index,
                    const ConsistencyOptions& o = {});
// One training batch at iteration `step` of `total_steps`: N(k) boundaries, indices ~ P(i) and
// z ~ N(0, I) drawn from `gen` (indices first, then z), then ict_loss_at.
IctLoss ict_loss(const ConsistencyNet& net, const Var& y, const Var& cond, int64_t step,
                 int64_t total_steps, tensor::Generator& gen, const ConsistencyOptions& o = {});

// ---- sampling (differentiable in cond and in the network's parameters) ----
// The condition for n samples: cond with n rows is used as is; with m rows, m dividing n, row j
// is repeated for samples j·n/m .. (j+1)·n/m − 1 (one condition for a batch of noises, or J
// conditions × n/J noises each); undefined stays undefined. Gradients sum over the repeats.
Var repeat_condition(const Var& cond, int64_t n);
// x = f(σ_max z, σ_max; c), z [n, ...].
Var consistency_sample_one_step(const ConsistencyNet& net, const Var& cond, const Tensor& z,
                                const ConsistencyOptions& o = {});
// Multistep ladder τ_1 > … > τ_K (each in (σ_min, σ_max]) with noise[k] for step k:
// x ← f(τ_1 z_0, τ_1); x ← f(x + sqrt(τ_k² − σ_min²) z_k, τ_k) for k >= 2.
Var consistency_sample(const ConsistencyNet& net, const Var& cond,
                       const std::vector<double>& ladder, const std::vector<Tensor>& noise,
                       const ConsistencyOptions& o = {});
// The standard ladder for `steps` evaluations (K_s = 1, 2, 5, ...): the first `steps` points of
// the ρ-Karras discretisation of [σ_min, σ_max] with steps + 1 points, from σ_max down, i.e.
// ict_boundaries(steps + 1) reversed without σ_min (a step at σ_min would return its input).
// K_s = 1: {σ_max}; K_s = 2 (σ_max = 80, ρ = 7): {80, 2.52}; K_s = 5: {80, 24.4, 5.84, 0.965,
// 0.0851}: the same spacing that the training boundaries use.
std::vector<double> consistency_ladder(int64_t steps, const ConsistencyOptions& o = {});

}  // namespace difflab::diffusion
