// Debiased Sinkhorn divergence between uniform point clouds (Feydy et al. 2019, "Interpolating
// between optimal transport and MMD using Sinkhorn divergences"; geomloss's SamplesLoss
// "sinkhorn" with debias=True):
//   S_ε(α, β) = OT_ε(α, β) − ½ OT_ε(α, α) − ½ OT_ε(β, β),   α = (1/N) Σ δ_{x_i}, β = (1/M) Σ
//   δ_{y_j} OT_ε(α, β) = min_π ⟨π, C⟩ + ε KL(π | α⊗β),   C(x, y) = ‖x − y‖^p / p,  p ∈ {1, 2}.
// ε is the entropic regularisation itself, in the units of C. geomloss takes a "blur" instead
// and uses ε = blur^p with the same C, so blur 0.05 with p = 2 is epsilon = 0.0025 here.
// S_ε ≥ 0, S_ε(α, α) = 0, and S_ε → W_p^p/p as ε → 0 (the ε log N entropy of OT_ε(α, β) and of
// the two self terms cancel to first order); as ε → ∞ it tends to ½ MMD² with kernel −C (half
// the energy distance for p = 1).
#pragma once
#include <cstdint>

#include "autograd/var.h"

namespace difflab::matching {

struct SinkhornOptions {
  double epsilon = 0.0025;        // entropic regularisation ε (> 0), units of C; geomloss blur^p
  int p = 2;                      // cost exponent, 1 or 2
  int64_t max_iterations = 1000;  // cap on the Sinkhorn updates, annealing steps included
  double tolerance = 1e-6;        // converged when no potential moved more than this (units of C)
  // ε-annealing (geomloss's ε-scaling): start at ε₀ = the largest cost between the points and
  // multiply by `scaling` after each update until ε is reached, then iterate at ε. Small ε needs
  // it (at fixed ε the contraction rate tends to 1 as ε → 0). 0 switches it off. In [0, 1).
  double scaling = 0.5;
};

// What the solver did, for the caller to check that the potentials (and so the envelope
// gradient) are trustworthy. The symmetric (averaged) updates contract at about (1 + σ₂)/2 per
// update, σ₂ the second singular value of the normalised plan: slow where ε is small against the
// gaps between groups of points but not yet small enough to decouple them (measured here: 1-D
// clouds of 7 points, 20,000 updates short of 1e-9 at ε = 0.1 yet 15 updates at ε = 0.001).
struct SinkhornReport {
  int64_t iterations = 0;  // updates run, annealing included
  double max_change = 0;   // largest |Δ| of any potential in the last update
  bool converged = false;  // max_change <= tolerance at the target ε within the cap
};

// S_ε between X [N, ...] and Y [M, ...] (N and M may differ; trailing dims are features).
// The iterations run without gradient; one differentiable extrapolation step from the detached
// converged potentials gives the value and, by the envelope theorem, the gradient w.r.t. X and Y
// (exact at convergence). `report`, when given, receives the convergence report.
ag::Var sinkhorn_divergence(const ag::Var& x, const ag::Var& y, const SinkhornOptions& opt = {},
                            SinkhornReport* report = nullptr);

// C(x_i, y_j) = ‖x_i − y_j‖^p / p, [N, M]; for p = 1 the norm has zero gradient at coincident
// points (pairwise_distance).
ag::Var sinkhorn_cost(const ag::Var& x, const ag::Var& y, int p);

}  // namespace difflab::matching
