// Var: a Tensor value plus its place in the autograd graph (the node that produced it, or the
// gradient-accumulating node of a leaf that requires grad).
#pragma once
#include <memory>
#include <string>

#include "tensor/tensor.h"

namespace difflab::ag {

using tensor::Device;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

struct Node;
class Var;

struct VarImpl {
  Tensor value;
  // Op node for results of differentiable functions; AccumulateGrad node for leaves that
  // require grad; null otherwise.
  std::shared_ptr<Node> node;
  std::shared_ptr<VarImpl> grad;  // accumulated by backward() on leaves
  std::string name;
};

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);
  Var(Tensor value, std::shared_ptr<Node> node);

  bool defined() const { return impl_ != nullptr && impl_->value.defined(); }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  int64_t dim() const { return value().dim(); }
  int64_t size(int64_t d) const { return value().size(d); }
  int64_t numel() const { return value().numel(); }
  DType dtype() const { return value().dtype(); }
  Device device() const { return value().device(); }
  double item() const { return value().item(); }

  bool requires_grad() const { return impl_ && impl_->node != nullptr; }
  // Only leaves (Vars not produced by a recorded op) can change requires_grad.
  Var& set_requires_grad(bool r);
  bool is_leaf() const;
  const std::shared_ptr<Node>& node() const;
  // A new Var sharing the value, cut from the graph.
  Var detach() const { return Var(value()); }

  // Gradient accumulated by backward() (undefined until then).
  Var grad() const;
  void set_grad(const Var& g);
  void zero_grad();

  const std::string& name() const;
  Var& set_name(std::string n);

  // Reverse-mode backward from this Var; grad_output defaults to 1 for single-element values.
  void backward(const Var& grad_output = Var(), bool retain_graph = false,
                bool create_graph = false) const;

  VarImpl* impl() const { return impl_.get(); }
  bool same(const Var& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<VarImpl> impl_;
};

}  // namespace difflab::ag
