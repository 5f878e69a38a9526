// Drifting models (Deng et al. 2026) and their unified view with score matching (Lai et al. 2026):
// spec_mlgdf_concepts_drifting.md §1.2, §4, §5. A one-step generator x = f_θ(ε) is trained by
// regressing its output onto the frozen target x + V(x), where V is a kernel mean-shift field
// toward the data minus the one toward the generator's own samples (zero when they match).
//
// Radial kernels k(x, y) = exp(−φ(‖x − y‖)) with α(r) = φ'(r)/r:
//   laplace   φ = r/τ,        α = 1/(τ r)
//   gaussian  φ = r²/(2τ²),   α = 1/τ²
// Sample estimators with weights w_j(x) = softmax_j(−φ(‖x − y_j‖)) (log-sum-exp):
//   mean shift   V_p(x) = Σ_j w_j y_j − x
//   kernel score ∇log K_p(x) = Σ_j w_j α(r_j)(y_j − x)
//   ᾱ_p(x) = Σ_j w_j α(r_j),   residual c_p = ∇log K_p − ᾱ_p V_p   (zero for the Gaussian)
// so exactly V_p = (∇log K_p − c_p)/ᾱ_p, and for Δ = V_p − V_q:
//   Δ = [∇log K_p/ᾱ_p − ∇log K_q/ᾱ_q] + [c_q/ᾱ_q − c_p/ᾱ_p]   (preconditioned score + gap).
// With the Gaussian kernel ∇log K_p = ∇log p_τ (p_τ = p * N(0, τ²I)), hence Δ = τ²(∇log p_τ −
// ∇log q_τ) in the population limit (Theorem 1 of the unified view).
#pragma once
#include <string>
#include <vector>

#include "autograd/var.h"
#include "tensor/tensor.h"

namespace difflab::diffusion {

using ag::Var;
using tensor::Tensor;

enum class DriftKernel { laplace, gaussian };
const char* drift_kernel_name(DriftKernel k);  // "laplace", "gaussian"
// "laplace" or "gaussian"; anything else throws naming it.
DriftKernel parse_drift_kernel(const std::string& s);

// The sample estimators above at points x [N, D] from samples y [M, D] (f64 advised; the
// result has x's dtype). exclude_self drops y_i from x_i's sum (when y is x itself).
struct KernelStats {
  Tensor mean_shift;  // [N, D]
  Tensor score;       // [N, D]
  Tensor alpha_bar;   // [N]
  Tensor residual;    // [N, D]
};
KernelStats kernel_stats(const Tensor& x, const Tensor& y, DriftKernel kernel, double tau,
                         bool exclude_self = false);

// Δ = V_p − V_q at x and its unified-view decomposition, from samples of p and of q.
struct DriftDecomposition {
  Tensor field;           // Δ = V_p − V_q
  Tensor score_diff;      // Δs = ∇log K_p − ∇log K_q
  Tensor preconditioned;  // ∇log K_p/ᾱ_p − ∇log K_q/ᾱ_q
  Tensor gap;             // c_q/ᾱ_q − c_p/ᾱ_p
  Tensor alpha_bar_p, alpha_bar_q;
};
DriftDecomposition drift_decomposition(const Tensor& x, const Tensor& y_p, const Tensor& y_q,
                                       DriftKernel kernel, double tau);

// The training field of Deng et al. (Algorithm A1 with the official code's options) at the
// generated batch x [N, D], positives y_pos [P, D] and the batch itself as negatives (self
// excluded): logits −φ(d) over [positives, negatives]; with double_softmax
// A = sqrt(softmax_row ⊙ softmax_col) (else the row softmax); W_pos = A_pos·rowsum(A_neg),
// W_neg = A_neg·rowsum(A_pos); V_τ = W_pos y_pos − W_neg x. Summed over the temperatures.
// normalize: drift_loss.py's version: distances divided by their batch mean ("scale"), the
// double softmax floored at 1e-6 under the square root, each V_τ scaled to unit RMS in the
// coordinates where the mean distance is √D, and the sum returned in the caller's coordinates
// (× scale/√D), so the field scales with the data. Off, it is the plain field on raw distances
// (the official 2-D notebook).
struct DriftFieldOptions {
  DriftKernel kernel = DriftKernel::laplace;
  std::vector<double> temperatures{0.05};
  bool double_softmax = true;
  bool normalize = false;
};
Tensor drifting_field(const Tensor& x, const Tensor& y_pos, const DriftFieldOptions& opt);

// mean ‖x − sg(x + V)‖² over elements: its value is mean(V²) and its gradient −2V/numel moves
// every generated sample along V; V is never differentiated.
Var drifting_loss(const Var& x, const Tensor& field);

}  // namespace difflab::diffusion
