#include "autograd/node.h"

#include <atomic>

namespace difflab::ag {

uint64_t next_node_seq() {
  static std::atomic<uint64_t> seq{0};
  return seq.fetch_add(1, std::memory_order_relaxed);
}

SavedVar save(const Var& v) {
  SavedVar s;
  if (!v.defined()) return s;
  s.value = v.value();
  s.node = v.node();
  return s;
}

SavedVar save_output(const Var& out) {
  SavedVar s;
  s.value = out.value();
  s.is_output = true;
  return s;
}

SavedVar save_tensor(const Tensor& t) {
  SavedVar s;
  s.value = t;
  return s;
}

namespace {
// Iterative teardown: a node's destructor hands its edges to the outermost destructor's stack
// instead of releasing them recursively, so a 10^5-deep graph cannot overflow the stack.
thread_local std::vector<std::shared_ptr<Node>>* g_pending = nullptr;
}  // namespace

Node::~Node() {
  auto take = [this](std::vector<std::shared_ptr<Node>>& out) {
    for (auto& in : inputs)
      if (in) out.push_back(std::move(in));
    for (auto& s : saved)
      if (s.node) out.push_back(std::move(s.node));
    backward = nullptr;  // a closure could hold nodes too
  };
  if (g_pending) {
    take(*g_pending);
    return;
  }
  std::vector<std::shared_ptr<Node>> stack;
  g_pending = &stack;
  take(stack);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    n.reset();
  }
  g_pending = nullptr;
}

size_t Node::saved_bytes() const {
  size_t b = 0;
  for (const auto& s : saved)
    if (s.value.defined()) b += s.value.nbytes();
  return b;
}

void Node::release() {
  saved.clear();
  saved.shrink_to_fit();
  backward = nullptr;
  released = true;
}

std::vector<Var> Node::unpack_saved() {
  std::vector<Var> out;
  out.reserve(saved.size());
  for (const auto& s : saved) {
    if (!s.value.defined()) out.emplace_back();
    else if (s.is_output) out.emplace_back(s.value, shared_from_this());
    else out.emplace_back(s.value, s.node);
  }
  return out;
}

std::shared_ptr<Node> make_leaf_node(const std::shared_ptr<VarImpl>& v) {
  auto n = std::make_shared<Node>();
  n->op = "AccumulateGrad";
  n->is_leaf = true;
  n->leaf = v;
  n->out_shape = v->value.shape();
  n->out_dtype = v->value.dtype();
  n->seq = next_node_seq();
  return n;
}

}  // namespace difflab::ag
