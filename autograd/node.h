// Node: one recorded op in the graph. It holds edges to its inputs' nodes, exactly the values
// its backward reads (SavedVar, so saved bytes are exact) and the backward closure.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace difflab::ag {

// A value saved for backward. An input keeps its node, so under create_graph the gradient of
// the backward flows back into the graph; the op's own output is stored without its node (that
// would be a cycle) and reconnected to this node when unpacked.
struct SavedVar {
  Tensor value;
  std::shared_ptr<Node> node;
  bool is_output = false;
};

SavedVar save(const Var& v);
SavedVar save_output(const Var& out);
SavedVar save_tensor(const Tensor& t);  // a constant (no gradient flows into it)

struct BackwardContext {
  const Var& grad_output;
  std::vector<Var> saved;  // unpacked in the order they were saved
  const std::vector<bool>& needs;
  bool needs_input_grad(size_t i) const { return i < needs.size() && needs[i]; }
};

// Returns one gradient per input (undefined where not needed or zero).
using BackwardFn = std::function<std::vector<Var>(BackwardContext&)>;

struct Node : std::enable_shared_from_this<Node> {
  std::string op;
  std::vector<std::shared_ptr<Node>> inputs;  // null where that input needs no gradient
  std::vector<Shape> input_shapes;
  std::vector<SavedVar> saved;
  BackwardFn backward;
  Shape out_shape;
  DType out_dtype = DType::f32;
  uint64_t seq = 0;              // creation order
  std::weak_ptr<VarImpl> leaf;   // set for AccumulateGrad nodes
  bool is_leaf = false;
  bool released = false;         // saved values freed after backward (no retain_graph)

  ~Node();
  size_t saved_bytes() const;
  void release();
  std::vector<Var> unpack_saved();
};

std::shared_ptr<Node> make_leaf_node(const std::shared_ptr<VarImpl>& v);
uint64_t next_node_seq();

}  // namespace difflab::ag
