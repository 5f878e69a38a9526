// Finite-difference gradient checks in f64: first order (central differences of a random
// projection of the output) and second order (the same check applied to the first gradient).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace difflab::ag {

using VarFn = std::function<Var(const std::vector<Var>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  uint64_t seed = 1234;  // for the random output projection
};

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0;  // over all checked elements
  int64_t checked = 0;     // elements compared
  std::string message;     // the first mismatch, or empty
};

// Compares ag::grad of ⟨fn(inputs), v⟩ (v random, fixed by the seed) with central differences.
// Inputs must be f64 and require grad; non-contiguous (strided) inputs are fine.
GradcheckResult gradcheck(const VarFn& fn, const std::vector<Var>& inputs,
                          const GradcheckOptions& opt = {});

// Second order: checks the gradient (create_graph) of ⟨∇⟨fn, v⟩, w⟩ by finite differences of the
// first-order gradient, so every backward formula is itself checked as a differentiable function.
GradcheckResult gradgradcheck(const VarFn& fn, const std::vector<Var>& inputs,
                              const GradcheckOptions& opt = {});

}  // namespace difflab::ag
