// Graph and memory inspection: dump_graph (text or Graphviz DOT, with saved bytes per node),
// graph_stats, and MemoryScope (peak allocator bytes inside a block).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace difflab::ag {

struct GraphStats {
  int64_t nodes = 0;         // op nodes (leaves excluded)
  int64_t leaves = 0;        // AccumulateGrad nodes
  size_t saved_bytes = 0;    // bytes held by saved values (shared tensors counted once)
  size_t saved_listed_bytes = 0;  // the part of saved_bytes that is the `listed` Vars' storage
};

// `listed`: Vars whose saved storage is counted apart (parameters: saved, but not activations).
GraphStats graph_stats(const Var& root, const std::vector<Var>& listed = {});
// One line per node: id, op, output dtype/shape, saved bytes, input ids.
std::string dump_graph(const Var& root);
std::string dump_graph_dot(const Var& root);

// Measures allocator bytes of one device (the CPU by default) inside a scope; nests correctly
// (the outer peak is restored to at least the inner one on exit).
class MemoryScope {
 public:
  explicit MemoryScope(tensor::Device device = tensor::Device::cpu());
  ~MemoryScope();
  size_t baseline_bytes() const { return baseline_; }
  // Highest live bytes seen since the scope started, minus the live bytes at its start.
  size_t peak_bytes() const;
  // Live bytes now minus at the start (negative if the block freed memory).
  int64_t live_delta() const;
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;

 private:
  tensor::Device device_;
  size_t baseline_ = 0;
  size_t outer_peak_ = 0;
};

}  // namespace difflab::ag
