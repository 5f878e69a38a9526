// Test-time concept discovery, step 3a (spec_mlgdf_concepts_drifting.md §3.6): the evidence
// table that selection maximises over. The query's D coordinates are split into P disjoint
// groups G_p (an i64 group id per coordinate: p×p spatial patches × all channels for images,
// one group per coordinate for vectors). For candidate Gaussians N(μ_k, diag v_k):
//   ℓ_kp = Σ_{i∈G_p} log N(x_q,i; μ_k,i, v_k,i),   b_p = log N(x_q[G_p]; x̄[G_p], I)
// with b_p the background baseline of a mean image x̄. The `matched` baseline replaces b_p by the
// candidate's own likelihood ratio against x̄ at its own variances (not in the spec):
//   ℓ'_kp = ℓ_kp − Σ_{i∈G_p} log N(x_q,i; x̄_i, v_k,i),   b'_p = 0,
// so a tiny-variance candidate earns nothing where it only repeats the mean image (the blank
// background), and evidence is how much better than x̄ a candidate explains each patch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "matching/concept_gaussian.h"

namespace difflab::matching {

// i64 [C·H·W]: the id of each coordinate of a [C, H, W] image (row-major) under non-overlapping
// patch×patch spatial patches over all channels, numbered row-major over patches; the last row
// and column of patches are smaller when patch does not divide H or W.
Tensor patch_groups(int64_t channels, int64_t height, int64_t width, int64_t patch);
// i64 [D]: one group per coordinate (0, 1, ..., D−1).
Tensor coordinate_groups(int64_t d);

// f64 [K, P]: ℓ_kp for means and vars [K, ...] against the query [1, ...] (the same trailing
// shape, D coordinates) and groups i64 [D] with ids in [0, P), P = max id + 1.
Tensor group_log_likelihoods(const Tensor& query, const Tensor& means, const Tensor& vars,
                             const Tensor& groups);

// ℓ (row-major [K, P]) and b [P] in f64, as selection reads them.
struct Evidence {
  int64_t candidates = 0, groups = 0;
  std::vector<double> ll;
  std::vector<double> baseline;
  double at(int64_t k, int64_t p) const { return ll[size_t(k * groups + p)]; }
};

// The evidence of the candidates against the query, with the baseline of mean_image [1, ...].
enum class EvidenceBaseline { identity, matched };
const char* evidence_baseline_name(EvidenceBaseline b);  // "identity", "matched"
EvidenceBaseline parse_evidence_baseline(const std::string& name);  // throws listing the names
Evidence build_evidence(const std::vector<ConceptGaussian>& candidates, const Tensor& query,
                        const Tensor& mean_image, const Tensor& groups,
                        EvidenceBaseline baseline = EvidenceBaseline::identity);

// Per-coordinate masks from per-group responsibilities ρ [S, P] (f64) and groups [D]: mask s
// is ρ_s spread over each group's coordinates, f64 of `shape` ([1, ...], D coordinates), one
// per row of ρ (the masks of the masked product, concept_poe.h).
std::vector<Tensor> coordinate_masks(const Tensor& rho, const Tensor& groups,
                                     const tensor::Shape& shape);

}  // namespace difflab::matching
