// Test-time concept discovery, step 1 (spec_mlgdf_concepts_drifting.md §3.4): mode ascent on
// the noisy marginals p_t of a pretrained ε-prediction model, knowing nothing of the network
// but the callable ε̂(x, t). At a level t with ᾱ = ᾱ_t, the score is s = −ε̂/√(1−ᾱ) and
//   x ← x + γ(1−ᾱ) s(x) = (1−γ) x + γ √ᾱ x̂₀(x),   x̂₀(x) = (x − √(1−ᾱ) ε̂(x, t))/√ᾱ
// (γ = 1 is the Gaussian mean-shift fixed point). Starts: the noise-free √ᾱ x_q (start 0) and
// √ᾱ x_q + √(1−ᾱ) ξ_r (starts r = 1..R), all R+1 run as one batch. A start stops (and stays
// frozen) once ‖Δx‖ < tol·√(D(1−ᾱ)); the level ends when every start stopped or after max_steps.
// Modes at one level closer than dedup·√(D(1−ᾱ)) are merged (the lower start index is kept).
// A mode m of p_t is a mode m/√ᾱ of the data density smoothed at σ_t = √((1−ᾱ)/ᾱ).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "autograd/var.h"
#include "tensor/random.h"

namespace difflab::matching {

using ag::Var;
using tensor::Tensor;

// ε̂(x, t) for a batch x [B, ...] at the model's step t: the same shape and dtype as x, each
// row depending on its own row only (the batched Hutchinson probes rely on it), and
// differentiable in x where ag::jvp is used (concept_gaussian.h).
using EpsFn = std::function<Var(const Var& x, int64_t t)>;

// One noise level: the model's step t and its ᾱ_t ∈ (0, 1).
struct AscentLevel {
  int64_t t = 0;
  double alpha_bar = 0;
};

struct AscentOptions {
  int64_t restarts = 4;      // R noisy starts besides the noise-free one
  double gamma = 0.5;        // step size γ ∈ (0, 1]
  int64_t max_steps = 200;   // K_max
  double tol = 1e-4;         // a start stops when ‖Δx‖ < tol·√(D(1−ᾱ))
  double dedup = 0.05;       // modes at one t closer than dedup·√(D(1−ᾱ)) merge (0: keep all)
  int64_t record_every = 0;  // trajectory: the state every n steps (0: no trajectory)
};

struct Mode {
  int64_t t = 0;
  double alpha_bar = 0;
  Tensor x;                // the mode in x_t space, [1, ...] like the query
  int64_t start = 0;       // 0: the noise-free start; r = 1..R: the r-th noisy start
  int64_t steps = 0;       // ascent steps taken
  bool converged = false;  // stopped on the tolerance (not on max_steps)
  // States at steps 0, n, 2n, ... and the final state (empty when record_every = 0).
  std::vector<Tensor> trajectory;
};

// Tweedie's posterior mean x̂₀(x) = (x − √(1−ᾱ) ε̂(x, t))/√ᾱ for a batch x [B, ...] (no grad).
Tensor tweedie_mean(const EpsFn& eps, const Tensor& x, int64_t t, double alpha_bar);

// The de-duplicated modes of every level, level by level in the given order, each level's in
// start order. The query x_q is [1, ...] (f32 or f64; the ascent runs in its dtype); the noisy
// starts draw their ξ_r from gen, [R, ...] per level.
std::vector<Mode> ascend_modes(const EpsFn& eps, const Tensor& query,
                               const std::vector<AscentLevel>& levels, const AscentOptions& o,
                               tensor::Generator& gen);

}  // namespace difflab::matching
