#include "autograd/checkpoint.h"

#include "autograd/engine.h"
#include "autograd/function.h"
#include "autograd/grad_mode.h"

namespace difflab::ag {

Var checkpoint(const std::function<Var(const std::vector<Var>&)>& fn,
               const std::vector<Var>& inputs, const std::vector<Var>& params) {
  Tensor out;
  {
    NoGradGuard ng;
    std::vector<Var> detached;
    for (const auto& x : inputs) detached.push_back(x.detach());
    out = fn(detached).value();
  }
  std::vector<Var> all = inputs;
  all.insert(all.end(), params.begin(), params.end());
  std::vector<SavedVar> saved;
  for (const auto& x : inputs) saved.push_back(save(x));
  const size_t n_in = inputs.size();
  // Params are captured (not saved): they are long-lived leaves, not per-call activations.
  return make_result(out, "checkpoint", all, std::move(saved),
                     [fn, n_in, params](BackwardContext& c) {
                       // Recompute with recording on. Without create_graph the recomputed
                       // inputs are fresh leaves; with it, the saved inputs keep their graph.
                       const bool create_graph = GradMode::is_enabled();
                       GradModeGuard on(true);
                       std::vector<Var> xs;
                       for (size_t i = 0; i < n_in; ++i) {
                         const Var& s = c.saved[i];
                         if (create_graph || !s.requires_grad()) xs.push_back(s);
                         else xs.push_back(Var(s.value(), true));
                       }
                       Var y = fn(xs);
                       std::vector<Var> wrt;
                       std::vector<size_t> slot;
                       for (size_t i = 0; i < xs.size() + params.size(); ++i) {
                         const Var& v = i < n_in ? xs[i] : params[i - n_in];
                         if (c.needs_input_grad(i) && v.requires_grad()) {
                           wrt.push_back(v);
                           slot.push_back(i);
                         }
                       }
                       std::vector<Var> g(n_in + params.size());
                       if (wrt.empty() || !y.requires_grad()) return g;
                       std::vector<Var> r =
                           grad({y}, wrt, {c.grad_output}, create_graph, true, create_graph);
                       for (size_t k = 0; k < r.size(); ++k) g[slot[k]] = r[k];
                       return g;
                     });
}

}  // namespace difflab::ag
