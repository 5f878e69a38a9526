#include "matching/concept_select.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <queue>

#include "tensor/error.h"
#include "tensor/factory.h"

namespace difflab::matching {
namespace {

// Per group the objective's current level (facility location: max(b_p, max_{k∈S} ℓ_kp);
// log-sum: log(e^{b_p} + Σ_{k∈S} e^{ℓ_kp})) and F(S).
struct Cover {
  std::vector<double> level;
  double value = 0;
};

double log1p_exp(double d) { return d > 0 ? d + std::log1p(std::exp(-d)) : std::log1p(std::exp(d)); }

Cover empty_cover(const Evidence& e, SelectObjective objective) {
  Cover c{e.baseline, 0.0};
  if (objective == SelectObjective::log_sum)
    for (double b : e.baseline) c.value += b;
  return c;
}

double gain(const Evidence& e, SelectObjective objective, const Cover& c, int64_t k) {
  double g = 0;
  for (int64_t p = 0; p < e.groups; ++p) {
    const double d = e.at(k, p) - c.level[size_t(p)];
    g += objective == SelectObjective::facility_location ? std::max(0.0, d) : log1p_exp(d);
  }
  return g;
}

void add(const Evidence& e, SelectObjective objective, Cover& c, int64_t k) {
  c.value += gain(e, objective, c, k);
  for (int64_t p = 0; p < e.groups; ++p) {
    double& level = c.level[size_t(p)];
    level = objective == SelectObjective::facility_location ? std::max(level, e.at(k, p))
                                                            : level + log1p_exp(e.at(k, p) - level);
  }
}

void check_evidence(const Evidence& e, const char* op) {
  DIFFLAB_CHECK(e.candidates >= 1 && e.groups >= 1 &&
                    int64_t(e.ll.size()) == e.candidates * e.groups &&
                    int64_t(e.baseline.size()) == e.groups,
                op, ": evidence of ", e.candidates, " candidates and ", e.groups, " groups needs ",
                e.candidates * e.groups, " log-likelihoods and ", e.groups, " baselines, got ",
                e.ll.size(), " and ", e.baseline.size());
}

// The empty selection with F(∅) and F(all), after checking the inputs.
Selection begin_selection(const Evidence& e, const SelectOptions& o, const char* op) {
  check_evidence(e, op);
  DIFFLAB_CHECK(o.max_size >= 0 && o.stop_fraction >= 0, op, ": max_size (", o.max_size,
                ") and stop_fraction (", o.stop_fraction, ") must be >= 0");
  Selection s;
  s.f_empty = empty_cover(e, o.objective).value;
  std::vector<int64_t> all(size_t(e.candidates));
  for (int64_t k = 0; k < e.candidates; ++k) all[size_t(k)] = k;
  s.f_all = objective_value(e, o.objective, all);
  return s;
}

bool accept(const Selection& s, const SelectOptions& o, double g) {
  return g > 0 && g >= o.stop_fraction * (s.f_all - s.f_empty);
}

void take(const Evidence& e, const SelectOptions& o, Selection& s, Cover& c, int64_t k, double g) {
  s.chosen.push_back(k);
  s.gains.push_back(g);
  add(e, o.objective, c, k);
}

// A candidate's gain as of round `round` (the set size then); −1: not yet computed.
struct Bound {
  double gain;
  int64_t k, round;
};
struct BoundOrder {  // the largest gain on top; ties to the lower index
  bool operator()(const Bound& a, const Bound& b) const {
    return a.gain < b.gain || (a.gain == b.gain && a.k > b.k);
  }
};

}  // namespace

const char* select_objective_name(SelectObjective o) {
  return o == SelectObjective::facility_location ? "facility_location" : "log_sum";
}

SelectObjective parse_select_objective(const std::string& name) {
  for (SelectObjective o : {SelectObjective::facility_location, SelectObjective::log_sum})
    if (name == select_objective_name(o)) return o;
  DIFFLAB_FAIL("unknown selection objective '", name, "' (facility_location, log_sum)");
}

double objective_value(const Evidence& e, SelectObjective objective, const std::vector<int64_t>& set) {
  check_evidence(e, "objective_value");
  std::vector<bool> seen(size_t(e.candidates), false);
  Cover c = empty_cover(e, objective);
  for (int64_t k : set) {
    DIFFLAB_CHECK(k >= 0 && k < e.candidates && !seen[size_t(k)], "objective_value: candidate ",
                  k, " is out of range [0, ", e.candidates, ") or repeated");
    seen[size_t(k)] = true;
    add(e, objective, c, k);
  }
  return c.value;
}

Selection greedy_select(const Evidence& e, const SelectOptions& o) {
  Selection s = begin_selection(e, o, "greedy_select");
  Cover c = empty_cover(e, o.objective);
  std::priority_queue<Bound, std::vector<Bound>, BoundOrder> queue;
  for (int64_t k = 0; k < e.candidates; ++k)
    queue.push({std::numeric_limits<double>::infinity(), k, -1});
  while (int64_t(s.chosen.size()) < o.max_size && !queue.empty()) {
    const Bound top = queue.top();
    queue.pop();
    const int64_t round = int64_t(s.chosen.size());
    if (top.round != round) {  // stale: refresh and requeue
      queue.push({gain(e, o.objective, c, top.k), top.k, round});
      ++s.gain_evaluations;
      continue;
    }
    if (!accept(s, o, top.gain)) break;
    take(e, o, s, c, top.k, top.gain);
  }
  if (!s.chosen.empty()) s.rho = responsibilities(e, s.chosen);
  return s;
}

Selection greedy_select_plain(const Evidence& e, const SelectOptions& o) {
  Selection s = begin_selection(e, o, "greedy_select_plain");
  Cover c = empty_cover(e, o.objective);
  std::vector<bool> taken(size_t(e.candidates), false);
  while (int64_t(s.chosen.size()) < o.max_size) {
    int64_t best = -1;
    double best_gain = 0;
    for (int64_t k = 0; k < e.candidates; ++k) {
      if (taken[size_t(k)]) continue;
      const double g = gain(e, o.objective, c, k);
      ++s.gain_evaluations;
      if (best < 0 || g > best_gain) best = k, best_gain = g;
    }
    if (best < 0 || !accept(s, o, best_gain)) break;
    taken[size_t(best)] = true;
    take(e, o, s, c, best, best_gain);
  }
  if (!s.chosen.empty()) s.rho = responsibilities(e, s.chosen);
  return s;
}

std::vector<int64_t> best_subset(const Evidence& e, SelectObjective objective, int64_t size) {
  check_evidence(e, "best_subset");
  DIFFLAB_CHECK(e.candidates <= 24 && size >= 0, "best_subset: enumerates at most 24 candidates (got ",
                e.candidates, ") and needs size >= 0 (got ", size, ")");
  const int64_t n = std::min(size, e.candidates);
  std::vector<int64_t> best;
  double best_value = -std::numeric_limits<double>::infinity();
  for (uint32_t mask = 0; mask < (uint32_t(1) << e.candidates); ++mask) {
    if (std::popcount(mask) != n) continue;
    std::vector<int64_t> set;
    for (int64_t k = 0; k < e.candidates; ++k)
      if ((mask >> k) & 1u) set.push_back(k);
    const double v = objective_value(e, objective, set);
    if (v > best_value) best_value = v, best = set;
  }
  return best;
}

Tensor responsibilities(const Evidence& e, const std::vector<int64_t>& set) {
  check_evidence(e, "responsibilities");
  DIFFLAB_CHECK(!set.empty(), "responsibilities: the set is empty");
  for (int64_t k : set)
    DIFFLAB_CHECK(k >= 0 && k < e.candidates, "responsibilities: candidate ", k,
                  " is out of range [0, ", e.candidates, ")");
  const int64_t n = int64_t(set.size());
  std::vector<double> rho(size_t(n * e.groups), 0.0);
  for (int64_t p = 0; p < e.groups; ++p) {
    int64_t best = 0;
    for (int64_t s = 1; s < n; ++s)
      if (e.at(set[size_t(s)], p) > e.at(set[size_t(best)], p)) best = s;
    rho[size_t(best * e.groups + p)] = 1.0;
  }
  return tensor::from_vector<double>(rho, {n, e.groups});
}

}  // namespace difflab::matching
