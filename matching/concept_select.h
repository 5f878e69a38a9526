// Test-time concept discovery, step 3b (spec_mlgdf_concepts_drifting.md §3.6): greedy
// submodular selection of the candidates that explain the query, on an evidence table
// (concept_evidence.h). Objectives, both monotone submodular:
//   facility location  F(S) = Σ_p max(0, max_{k∈S} ℓ_kp − b_p)        (F(∅) = 0)
//   log-sum            F(S) = Σ_p log(e^{b_p} + Σ_{k∈S} e^{ℓ_kp})       (F(∅) = Σ_p b_p)
// Greedy (Nemhauser–Wolsey–Fisher; ≥ (1 − 1/e) of the best F(S) − F(∅) with |S| ≤ K): add the
// candidate of largest gain F(S ∪ {k}) − F(S) until |S| = max_size or the best gain is ≤ 0 or
// < stop_fraction·(F(all) − F(∅)). The lazy version keeps stale gains as upper bounds in a
// priority queue (valid by submodularity) and picks the same candidates as the plain one: ties
// go to the lower index in both. Responsibilities ρ_kp = 1[k = argmax_{k'∈S} ℓ_k'p].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "matching/concept_evidence.h"

namespace difflab::matching {

enum class SelectObjective { facility_location, log_sum };
const char* select_objective_name(SelectObjective o);  // "facility_location", "log_sum"
SelectObjective parse_select_objective(const std::string& name);  // throws listing the names

struct SelectOptions {
  SelectObjective objective = SelectObjective::facility_location;
  int64_t max_size = 4;         // K_max
  double stop_fraction = 0.05;  // ε: stop when the best gain < ε·(F(all) − F(∅))
};

struct Selection {
  std::vector<int64_t> chosen;  // candidate indices, in the order chosen
  std::vector<double> gains;    // the marginal gain of each
  double f_empty = 0, f_all = 0;
  Tensor rho;                   // f64 [|S|, P]: ρ, row s for chosen[s] (undefined if S = ∅)
  int64_t gain_evaluations = 0; // marginal gains computed (lazy greedy needs fewer)
};

// F(S) for any set of candidate indices.
double objective_value(const Evidence& e, SelectObjective objective, const std::vector<int64_t>& set);

// Lazy greedy (the one to use) and plain greedy (the reference: every gain every round).
Selection greedy_select(const Evidence& e, const SelectOptions& o);
Selection greedy_select_plain(const Evidence& e, const SelectOptions& o);

// The best set of exactly min(size, K) candidates by enumeration (ascending indices; K <= 24).
std::vector<int64_t> best_subset(const Evidence& e, SelectObjective objective, int64_t size);

// ρ [|S|, P] for the chosen set, row s for set[s]; ties go to the earlier entry of set.
Tensor responsibilities(const Evidence& e, const std::vector<int64_t>& set);

}  // namespace difflab::matching
