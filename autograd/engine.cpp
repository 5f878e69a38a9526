#include "autograd/engine.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "autograd/function.h"
#include "autograd/functions.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/factory.h"
#include "tensor/op_label.h"

namespace difflab::ag {

namespace {

struct NodeInfo {
  int deps = 0;          // consumers inside the reachable graph not yet processed
  bool needed = true;    // on a path to a requested input (grad mode only)
  Node* via = nullptr;   // first consumer that reached this node (anomaly messages)
  Var grad;              // accumulated incoming gradient
};

std::string node_path(Node* n, std::unordered_map<Node*, NodeInfo>& info) {
  std::string p = n->op;
  int hops = 0;
  for (Node* c = info[n].via; c && hops < 8; c = info[c].via, ++hops) p += " <- " + c->op;
  return p;
}

Var accumulate(const Var& a, const Var& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return add(a, b);
}

// The roots of the walk: each output with its incoming gradient (ones for a single-element
// output when none is given).
std::vector<std::pair<std::shared_ptr<Node>, Var>> walk_roots(
    const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs) {
  DIFFLAB_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), "backward: got ",
                grad_outputs.size(), " grad_outputs for ", outputs.size(), " outputs");
  std::vector<std::pair<std::shared_ptr<Node>, Var>> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Var& out = outputs[i];
    DIFFLAB_CHECK(out.defined(), "backward: output ", i, " is undefined");
    DIFFLAB_CHECK(out.requires_grad(), "backward: output ", i, " (", out.value().desc(),
                  ") does not require grad; no recorded op leads to it");
    Var g = grad_outputs.empty() ? Var() : grad_outputs[i];
    if (!g.defined()) {
      DIFFLAB_CHECK(out.numel() == 1, "backward: output ", i, " of '", out.node()->op,
                    "' has shape ", out.shape(),
                    "; a gradient can only be implied for a single-element output, pass "
                    "grad_outputs");
      g = Var(tensor::ones(out.shape(), out.dtype(), out.device()));
    }
    DIFFLAB_CHECK(g.shape() == out.shape(), "backward: grad_output ", i, " has shape ", g.shape(),
                  " but output of '", out.node()->op, "' has shape ", out.shape());
    DIFFLAB_CHECK(g.dtype() == out.dtype(), "backward: grad_output ", i, " has dtype ", g.dtype(),
                  " but the output has dtype ", out.dtype());
    roots.emplace_back(out.node(), g);
  }
  return roots;
}

// One backward walk: `targets` maps requested nodes to their output slots (ag::grad); without
// inputs, gradients are accumulated into leaves' .grad (backward()).
class Walk {
 public:
  Walk(const std::vector<Var>* inputs, bool allow_unused, bool retain_graph, bool create_graph)
      : inputs_(inputs),
        allow_unused_(allow_unused),
        retain_graph_(retain_graph),
        create_graph_(create_graph) {}

  std::vector<Var> run(const std::vector<std::pair<std::shared_ptr<Node>, Var>>& roots) {
    const std::vector<Node*> post = discover(roots);
    if (inputs_) mark_needed(post);
    auto cmp = [](Node* a, Node* b) { return a->seq < b->seq; };
    std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
    for (auto& [n, g] : roots) info_[n.get()].grad = accumulate(info_[n.get()].grad, g);
    std::unordered_set<Node*> pushed;
    for (auto& [n, g] : roots)
      if (info_[n.get()].deps == 0 && pushed.insert(n.get()).second) ready.push(n.get());
    GradModeGuard mode(create_graph_);
    while (!ready.empty()) {
      Node* n = ready.top();
      ready.pop();
      for (Node* c : visit(n)) ready.push(c);
    }
    return finish();
  }

 private:
  // Discovers the graph iteratively, counting consumers; returns it in post-order.
  std::vector<Node*> discover(const std::vector<std::pair<std::shared_ptr<Node>, Var>>& roots) {
    std::vector<Node*> post;
    std::vector<std::pair<Node*, size_t>> stack;
    std::unordered_set<Node*> seen;
    for (auto& [n, g] : roots) {
      if (seen.insert(n.get()).second) stack.emplace_back(n.get(), 0);
      info_[n.get()];
    }
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      if (i < n->inputs.size()) {
        Node* c = n->inputs[i++].get();
        if (!c) continue;
        NodeInfo& ci = info_[c];
        ci.deps++;
        if (!ci.via) ci.via = n;
        if (seen.insert(c).second) stack.emplace_back(c, 0);
      } else {
        post.push_back(n);
        stack.pop_back();
      }
    }
    return post;
  }

  // ag::grad: the requested inputs' slots, and which nodes lie on a path to one of them.
  void mark_needed(const std::vector<Node*>& post) {
    results_.resize(inputs_->size());
    for (size_t i = 0; i < inputs_->size(); ++i) {
      const Var& x = (*inputs_)[i];
      DIFFLAB_CHECK(x.defined() && x.requires_grad(), "grad: input ", i,
                    " does not require grad");
      targets_[x.node().get()].push_back(i);
    }
    for (Node* n : post) {
      bool need = targets_.count(n) > 0;
      for (auto& c : n->inputs)
        if (c && info_[c.get()].needed) need = true;
      info_[n].needed = need;
    }
  }

  // Takes node n's gradient: records it for a requested input, accumulates it into a leaf, or
  // runs n's backward and passes the results on. Returns the inputs now ready.
  std::vector<Node*> visit(Node* n) {
    NodeInfo& ni = info_[n];
    Var g = std::move(ni.grad);
    ni.grad = Var();
    auto tit = targets_.find(n);
    if (tit != targets_.end())
      for (size_t slot : tit->second) results_[slot] = g;
    if (n->is_leaf) {
      if (!inputs_ && g.defined()) accumulate_into_leaf(n, g);
      return {};
    }
    std::vector<bool> needs(n->inputs.size());
    bool any_need = false;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      needs[i] = n->inputs[i] && (!inputs_ || info_[n->inputs[i].get()].needed);
      any_need = any_need || needs[i];
    }
    const bool run_node = g.defined() && any_need;
    const std::vector<Var> in_grads = run_node ? run_backward(n, g, needs) : std::vector<Var>{};
    std::vector<Node*> ready;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Node* c = n->inputs[i].get();
      if (!c) continue;
      if (run_node && in_grads[i].defined()) pass_on(n, i, in_grads[i]);
      if (--info_[c].deps == 0) ready.push_back(c);
    }
    // Only a node that ran gives up its saved values: ag::grad with respect to an intermediate
    // Var walks past it without running what lies behind, which a later backward still needs
    // (a checkpointed step whose params include a conditioning Var with its own history).
    if (!retain_graph_ && run_node) n->release();
    return ready;
  }

  void accumulate_into_leaf(Node* n, const Var& g) {
    auto leaf = n->leaf.lock();
    if (!leaf) return;
    Var prev = leaf->grad ? Var(leaf->grad->value, leaf->grad->node) : Var();
    if (!create_graph_ && prev.defined()) prev = prev.detach();
    Var total = accumulate(prev, create_graph_ ? g : g.detach());
    if (!create_graph_ && total.requires_grad()) total = total.detach();
    leaf->grad = std::make_shared<VarImpl>(*total.impl());
  }

  std::vector<Var> run_backward(Node* n, const Var& g, const std::vector<bool>& needs) {
    DIFFLAB_CHECK(!n->released, "backward: trying to backward through '", n->op,
                  "' a second time, but its saved values were already freed; pass "
                  "retain_graph=true to the first backward");
    BackwardContext ctx{g, n->unpack_saved(), needs};
    tensor::OpLabel label(n->op.c_str(), "backward of");  // named in out-of-memory errors
    std::vector<Var> in_grads;
    if (AnomalyGuard::is_enabled()) {
      BackwardScope scope("backward of '" + n->op + "' (path " + node_path(n, info_) + ")");
      in_grads = n->backward(ctx);
    } else {
      in_grads = n->backward(ctx);
    }
    DIFFLAB_CHECK(in_grads.size() == n->inputs.size(), "backward of '", n->op, "' returned ",
                  in_grads.size(), " gradients for ", n->inputs.size(), " inputs");
    return in_grads;
  }

  // Adds gradient gi of node n's input i to that input's incoming gradient.
  void pass_on(Node* n, size_t i, const Var& gi) {
    if (gi.shape() != n->input_shapes[i])
      DIFFLAB_FAIL("backward of '", n->op, "' produced a gradient of shape ", gi.shape(),
                   " for input ", i, " of shape ", n->input_shapes[i]);
    if (AnomalyGuard::is_enabled())
      check_anomaly(gi.value(), "backward of '" + n->op + "' (input " + std::to_string(i) +
                                    ", path " + node_path(n, info_) + ")");
    NodeInfo& ci = info_[n->inputs[i].get()];
    ci.grad = accumulate(ci.grad, gi);
  }

  // ag::grad's results: zeros for unreachable inputs when allowed, detached unless recording.
  std::vector<Var> finish() {
    if (!inputs_) return {};
    for (size_t i = 0; i < results_.size(); ++i) {
      if (results_[i].defined()) continue;
      DIFFLAB_CHECK(allow_unused_, "grad: input ", i, " (", (*inputs_)[i].value().desc(),
                    ") is not reachable from the outputs; pass allow_unused=true");
      results_[i] = Var(tensor::zeros_like((*inputs_)[i].value()));
    }
    if (!create_graph_)
      for (auto& r : results_) r = r.detach();
    return results_;
  }

 private:
  const std::vector<Var>* inputs_;
  bool allow_unused_, retain_graph_, create_graph_;
  std::unordered_map<Node*, NodeInfo> info_;
  std::unordered_map<Node*, std::vector<size_t>> targets_;
  std::vector<Var> results_;
};

// The core walk, in its phases: roots, discovery, the needed pass, the ready queue, results.
std::vector<Var> run(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
                     bool retain_graph, bool create_graph, const std::vector<Var>* inputs,
                     bool allow_unused) {
  const auto roots = walk_roots(outputs, grad_outputs);
  return Walk(inputs, allow_unused, retain_graph, create_graph).run(roots);
}

}  // namespace

void backward(const std::vector<Var>& outputs, const std::vector<Var>& grad_outputs,
              bool retain_graph, bool create_graph) {
  run(outputs, grad_outputs, retain_graph || create_graph, create_graph, nullptr, false);
}

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, bool create_graph, bool allow_unused,
                      bool retain_graph) {
  return run(outputs, grad_outputs, retain_graph, create_graph, &inputs, allow_unused);
}

std::vector<Var> grad(const std::vector<Var>& outputs, const std::vector<Var>& inputs,
                      const std::vector<Var>& grad_outputs, bool create_graph,
                      bool allow_unused) {
  return grad(outputs, inputs, grad_outputs, create_graph, allow_unused, create_graph);
}

Var jvp(const Var& output, const std::vector<Var>& inputs, const std::vector<Var>& tangents,
        bool create_graph) {
  DIFFLAB_CHECK(inputs.size() == tangents.size(), "jvp: ", inputs.size(), " inputs but ",
                tangents.size(), " tangents");
  for (size_t i = 0; i < inputs.size(); ++i)
    DIFFLAB_CHECK(tangents[i].shape() == inputs[i].shape(), "jvp: tangent ", i, " has shape ",
                  tangents[i].shape(), " but input has shape ", inputs[i].shape());
  Var u(tensor::zeros_like(output.value()), true);
  // Jᵀu with its graph (linear in u); keep the forward graph for the caller.
  std::vector<Var> vjp = grad({output}, inputs, {u}, true, true, true);
  Var dot;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Var t = sum(mul(vjp[i], tangents[i]));
    dot = dot.defined() ? add(dot, t) : t;
  }
  return grad({dot}, {u}, {}, create_graph, true, create_graph)[0];
}

}  // namespace difflab::ag

