// `difflab drift-align`: the unified view's alignment experiment (spec_mlgdf_concepts_drifting.md
// §5.7, E2). For Ring MoG and Raw MoG pairs (p, q) in dimensions D = 2 … 1024, evaluate at
// x ~ q the Laplace mean-shift field Δ = V_p − V_q and the kernel-score difference Δs from 4096
// reference samples of each, and record (a) E‖Δ − C_th Δs‖², (b) that error relative to E‖Δ‖²,
// (c) the mean ᾱ_p/ᾱ_q, (d) the covariance-gap energy E‖δgap‖² relative to E‖Δ‖², (e) the
// least-squares scale C* = E⟨Δ, Δs⟩/E‖Δs‖² against the predicted C_th = ρτ (ρ² = E‖x − y‖²),
// and the mean cosine of (Δ, Δs); as the Gaussian-kernel control, the relative error of
// Δ = τ²Δs (exact up to rounding). Writes metrics.csv (step = D) and report.html with the curves.
#pragma once
#include "experiments/command.h"

namespace difflab::experiments {

Config drift_align_config();
int run_drift_align(const CommandArgs& args);

}  // namespace difflab::experiments
