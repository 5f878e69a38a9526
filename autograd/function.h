// Helper for writing differentiable functions: records a node when grad mode is on and some
// input requires grad, otherwise returns a plain Var. Used by autograd/functions/*.cpp.
#pragma once
#include <vector>

#include "autograd/node.h"

namespace difflab::ag {

bool any_requires_grad(const std::vector<Var>& inputs);
// True when a result of these inputs would be recorded.
bool should_record(const std::vector<Var>& inputs);

// Builds the result Var of `op`. `saved` and `fn` are only kept when recording; save the
// output with save_output() by passing `save_out` = true (it is appended last to `saved`).
Var make_result(Tensor value, const char* op, const std::vector<Var>& inputs,
                std::vector<SavedVar> saved, BackwardFn fn, bool save_out = false);

// Checks for NaN/Inf when anomaly mode is on; names the op (and the node whose backward is
// running, if any).
void check_anomaly(const Tensor& t, const std::string& what);

// Set by the engine while a node's backward runs, so anomalies inside it name that node.
class BackwardScope {
 public:
  explicit BackwardScope(std::string what);
  ~BackwardScope();
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;

 private:
  std::string prev_;
};

}  // namespace difflab::ag
