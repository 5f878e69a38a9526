// Gradients through a K-step chain z_{k+1} = step(k, z_k) under a checkpointing schedule: full
// backprop, per-step checkpointing, √K segments, two-level, binomial (revolve) and O(1)
// recompute. Every schedule gives the gradient of full backprop (spec_distillation_implicit §4);
// they trade stored states and re-run forwards for activation memory, and report both.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace difflab::ag {

// One step of the chain. It must be a pure function of (k, z) and the params (a stochastic step
// regenerates its noise from k), because the schedules run a step again during the reversal.
using ChainStep = std::function<Var(int64_t k, const Var& z)>;
// The scalar loss on the final state.
using ChainLoss = std::function<Var(const Var& z_final)>;

enum class ChainMethod { full, per_step, segments, two_level, revolve, recompute };

struct ChainPlan {
  ChainMethod method = ChainMethod::full;
  int64_t slots = 0;    // revolve: state slots c, the initial state included (>= 1)
  int64_t segment = 0;  // segments / two_level: states kept every `segment` steps (0 = ⌈√K⌉)
};

// "full", "per_step", "segments", "two_level", "revolve:C", "recompute": the row names of the
// study; throws naming the allowed forms.
ChainPlan parse_chain_plan(const std::string& name);
std::string chain_plan_name(const ChainPlan& plan);

struct ChainCounts {
  int64_t forwards = 0;            // step evaluations, taped or not
  int64_t vjps = 0;                // step VJPs (one per step for every schedule)
  int64_t peak_states = 0;         // most chain states held at once by the schedule
  size_t peak_state_bytes = 0;     // their bytes
  size_t peak_saved_bytes = 0;     // largest taped graph's saved activations: graph_stats'
                                   // saved bytes less the parameters'
};

struct ChainGradient {
  Tensor loss;                     // L(z_K), a scalar
  Tensor final_state;              // z_K
  Tensor grad_initial;             // dL/dz_0
  std::vector<Tensor> grad_params; // dL/dθ, in the order of `params`
  ChainCounts counts;
};

// z_0 is a plain tensor; `params` are the Vars the step reads whose gradient is wanted (leaves).
ChainGradient chain_gradient(const ChainStep& step, const std::vector<Var>& params,
                             const Tensor& z0, int64_t steps, const ChainLoss& loss,
                             const ChainPlan& plan);

// Backprop through the last `last` steps only (DRaFT-K): the first K − last steps run without
// recording, so the gradient drops their dependence on θ (biased) and dL/dz_0 is zero.
ChainGradient truncated_chain_gradient(const ChainStep& step, const std::vector<Var>& params,
                                       const Tensor& z0, int64_t steps, int64_t last,
                                       const ChainLoss& loss);

// Binomial checkpointing (Griewank 1992): the fewest forward steps t(K, c) that reverse K steps
// with c state slots, r·K − C(c + r, r − 1) with r the smallest integer with C(c + r, c) >= K.
// A schedule's total forwards are t(K, c) + K (each reverse step re-tapes its own step).
int64_t revolve_forwards(int64_t steps, int64_t slots);
// The same by the dynamic program t(l, s) = min_m m + t(l − m, s − 1) + t(m, s), t(1, s) = 0,
// t(l, 1) = l(l − 1)/2, which the schedule follows (used to check the closed form).
int64_t revolve_forwards_dp(int64_t steps, int64_t slots);

// The exact total forward count of a schedule (the assertions of the study).
int64_t chain_forwards(const ChainPlan& plan, int64_t steps);

}  // namespace difflab::ag
