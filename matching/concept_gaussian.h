// Test-time concept discovery, step 2 (spec_mlgdf_concepts_drifting.md §3.5): a point x of
// x_t space (a mode from concept_ascent.h) becomes a clean-space Gaussian with diagonal
// covariance by Tweedie's formulas, with σ_t² = (1−ᾱ)/ᾱ and J = ∂ε̂/∂x at (x, t):
//   mean      μ = x̂₀(x) = (x − √(1−ᾱ) ε̂(x, t))/√ᾱ
//   isotropic v = σ_t²                                      (ignores curvature)
//   diagonal  v = σ_t² (1 − √(1−ᾱ) diag J),  diag J ≈ (1/M) Σ_u u ⊙ (J u)   (the default)
//   trace     v = σ_t² (1 − √(1−ᾱ) tr(J)/D), tr(J)/D ≈ the mean of that diagonal estimate
// (Σ = σ_t²(I − √(1−ᾱ) J) is Cov[x₀ | x_t]). u are Rademacher probes; J u comes from ag::jvp
// on a batch of probes (ε̂ must treat rows independently). Variances are clipped to
// [min(v_min, σ_t²), σ_t²].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "matching/concept_ascent.h"

namespace difflab::matching {

enum class CovarianceKind { isotropic, diagonal, trace };
const char* covariance_kind_name(CovarianceKind k);  // "isotropic", "diagonal", "trace"
CovarianceKind parse_covariance_kind(const std::string& name);  // throws listing the names

struct GaussianOptions {
  CovarianceKind kind = CovarianceKind::diagonal;
  int64_t probes = 16;       // M Rademacher probes (diagonal, trace)
  int64_t probe_batch = 16;  // probes per JVP call (the batch ε̂ sees)
  double v_min = 1e-3;       // the variance floor (data in [−1, 1])
};

// A clean-space Gaussian N(mean, diag(var)) found at level (t, ᾱ).
struct ConceptGaussian {
  int64_t t = 0;
  double alpha_bar = 0;
  Tensor mean, var;  // [1, ...] like the mode, in its dtype
};

// diag J ≈ (1/M) Σ u ⊙ (J u) at x [1, ...], J = ∂ε̂(x, t)/∂x, with M = probes drawn from gen.
Tensor jacobian_diagonal(const EpsFn& eps, const Tensor& x, int64_t t, int64_t probes,
                         int64_t probe_batch, tensor::Generator& gen);

// The Gaussian of the point x [1, ...] at level (t, ᾱ).
ConceptGaussian concept_gaussian(const EpsFn& eps, const Tensor& x, int64_t t, double alpha_bar,
                                 const GaussianOptions& o, tensor::Generator& gen);
// One Gaussian per mode, in order.
std::vector<ConceptGaussian> mode_gaussians(const EpsFn& eps, const std::vector<Mode>& modes,
                                            const GaussianOptions& o, tensor::Generator& gen);

}  // namespace difflab::matching
