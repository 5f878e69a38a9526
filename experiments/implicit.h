// `difflab implicit`: Implicit Diffusion's experiments. Experiment 1, the Langevin hexagon (spec
// §3.6, the official defaults): ID-∞ against nested loops and unrolled backprop at an equal
// budget of Langevin steps, each method named in implicit.methods:
//   id            one ULA step per θ update (single loop)
//   id_kl:λ       the same with λ·KL(π_ref ‖ π_θ), sign corrected (spec §3.8 3)
//   nested:M      M warm-started ULA steps per θ update
//   nested:MxF    the same with F times the budget
//   unrolled:M    backprop of the smooth reward through M ULA steps per θ update
// The report gives each method's final mean reward (particles, and exact draws of π_θ), softmax(θ),
// the reward against Langevin steps, ID-∞'s weights against steps, and the spec's reference
// numbers beside them.
#pragma once
#include <string>
#include <vector>

#include "experiments/command.h"
#include "matching/implicit.h"

namespace difflab::experiments {

Config implicit_config();

struct ImplicitMethod {
  std::string name;
  matching::LangevinSettings settings;
};
// Parses one method name against the base settings (budget, γ, η, ...); throws naming it.
ImplicitMethod parse_implicit_method(const std::string& name, const matching::LangevinSettings& base);

struct ImplicitRow {
  std::string method;
  matching::LangevinResult result;
  double exact_reward = 0;  // E[R] under π_θ final, from exact mixture draws
  std::vector<double> weights;
};
// Runs every method on the hexagon with n particles.
std::vector<ImplicitRow> run_hexagon(const std::vector<ImplicitMethod>& methods, int64_t n,
                                     uint64_t seed);

int run_implicit(const CommandArgs& args);

}  // namespace difflab::experiments
