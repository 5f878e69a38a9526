// The backward engine: iterative graph walk (no recursion), gradient accumulation, saved
// values freed as soon as their node ran, `create_graph` for higher-order gradients.
#pragma once
#include <vector>

#include "autograd/var.h"

namespace difflab::ag {

// Accumulates d(outputs)/d(leaf) into every reachable leaf's .grad.
void backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// Gradients of outputs with respect to `inputs` (leaves or intermediate Vars) without touching
// any .grad. With create_graph the results are themselves differentiable. retain_graph defaults
// to create_graph. An input the outputs do not depend on is an error unless allow_unused, in
// which case its gradient is zeros.
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs = {}, bool create_graph = false,
                      bool allow_unused = false);
std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, bool create_graph, bool allow_unused,
                      bool retain_graph);

// Jacobian-vector product J·v of `output` (computed with grad recording on) with respect to
// `inputs`, by the double-VJP trick: u ↦ Jᵀu is linear in u, so differentiating ⟨Jᵀu, v⟩ with
// respect to u gives J v. With create_graph the result stays differentiable.
Var jvp(const Var& output, const std::vector<Var>& inputs, const std::vector<Var>& tangents,
        bool create_graph = false);

}  // namespace difflab::ag
