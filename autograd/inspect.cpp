#include "autograd/inspect.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "autograd/node.h"
#include "tensor/allocator.h"

namespace difflab::ag {

namespace {
// Nodes reachable from root in discovery order (iterative), with ids.
std::vector<Node*> collect(const Var& root, std::unordered_map<Node*, int64_t>& ids) {
  std::vector<Node*> order;
  if (!root.defined() || !root.node()) return order;
  std::vector<Node*> stack{root.node().get()};
  ids[root.node().get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    order.push_back(n);
    for (auto& in : n->inputs) {
      if (in && !ids.count(in.get())) {
        ids[in.get()] = int64_t(ids.size());
        stack.push_back(in.get());
      }
    }
  }
  return order;
}

std::string desc(const Node* n) {
  std::ostringstream os;
  os << tensor::dtype_name(n->out_dtype) << n->out_shape;
  return os.str();
}
}  // namespace

GraphStats graph_stats(const Var& root, const std::vector<Var>& listed) {
  std::unordered_map<Node*, int64_t> ids;
  GraphStats s;
  std::unordered_set<const void*> storages, listed_storages;
  for (const auto& v : listed)
    if (v.value().defined()) listed_storages.insert(v.value().storage().get());
  for (Node* n : collect(root, ids)) {
    if (n->is_leaf) s.leaves++;
    else s.nodes++;
    for (const auto& sv : n->saved) {
      if (!sv.value.defined() || !storages.insert(sv.value.storage().get()).second) continue;
      s.saved_bytes += sv.value.storage()->nbytes;
      if (listed_storages.count(sv.value.storage().get()))
        s.saved_listed_bytes += sv.value.storage()->nbytes;
    }
  }
  return s;
}

std::string dump_graph(const Var& root) {
  std::unordered_map<Node*, int64_t> ids;
  std::ostringstream os;
  size_t total = 0;
  for (Node* n : collect(root, ids)) {
    os << "#" << ids[n] << " " << n->op << " -> " << desc(n);
    if (!n->is_leaf) {
      os << "  saved " << n->saved_bytes() << " B";
      if (n->released) os << " (released)";
      os << "  inputs [";
      bool first = true;
      for (auto& in : n->inputs) {
        os << (first ? "" : ", ") << (in ? "#" + std::to_string(ids[in.get()]) : "-");
        first = false;
      }
      os << "]";
    } else if (auto v = n->leaf.lock(); v && !v->name.empty()) {
      os << "  '" << v->name << "'";
    }
    total += n->saved_bytes();
    os << "\n";
  }
  os << "total saved " << total << " B\n";
  return os.str();
}

std::string dump_graph_dot(const Var& root) {
  std::unordered_map<Node*, int64_t> ids;
  std::ostringstream os;
  os << "digraph difflab {\n  rankdir=BT;\n  node [shape=box, fontname=monospace];\n";
  for (Node* n : collect(root, ids)) {
    os << "  n" << ids[n] << " [label=\"" << n->op << "\\n" << desc(n);
    if (!n->is_leaf) os << "\\nsaved " << n->saved_bytes() << " B";
    os << "\"" << (n->is_leaf ? ", style=filled, fillcolor=lightblue" : "") << "];\n";
    for (auto& in : n->inputs)
      if (in) os << "  n" << ids[in.get()] << " -> n" << ids[n] << ";\n";
  }
  os << "}\n";
  return os.str();
}

MemoryScope::MemoryScope(tensor::Device device) : device_(device) {
  baseline_ = tensor::memory_stats(device_).live_bytes;
  outer_peak_ = tensor::reset_peak(device_);
}

MemoryScope::~MemoryScope() { tensor::raise_peak(device_, outer_peak_); }

size_t MemoryScope::peak_bytes() const {
  size_t p = tensor::memory_stats(device_).peak_bytes;
  return p > baseline_ ? p - baseline_ : 0;
}

int64_t MemoryScope::live_delta() const {
  return int64_t(tensor::memory_stats(device_).live_bytes) - int64_t(baseline_);
}

}  // namespace difflab::ag
