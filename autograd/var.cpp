#include "autograd/var.h"

#include "autograd/engine.h"
#include "autograd/node.h"

namespace difflab::ag {

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<VarImpl>()) {
  impl_->value = std::move(value);
  if (requires_grad) set_requires_grad(true);
}

Var::Var(Tensor value, std::shared_ptr<Node> node) : impl_(std::make_shared<VarImpl>()) {
  impl_->value = std::move(value);
  impl_->node = std::move(node);
}

const Tensor& Var::value() const {
  DIFFLAB_CHECK(impl_ != nullptr, "Var: use of an undefined Var");
  return impl_->value;
}

Var& Var::set_requires_grad(bool r) {
  DIFFLAB_CHECK(impl_ != nullptr, "Var::set_requires_grad: undefined Var");
  DIFFLAB_CHECK(is_leaf(), "Var::set_requires_grad: only leaves can change requires_grad (this "
                "Var was produced by '", impl_->node->op, "'); use detach()");
  if (r) {
    DIFFLAB_CHECK(tensor::is_floating(impl_->value.dtype()),
                  "Var::set_requires_grad: only floating tensors can require grad, got ",
                  impl_->value.dtype());
    if (!impl_->node) impl_->node = make_leaf_node(impl_);
  } else {
    impl_->node.reset();
  }
  return *this;
}

bool Var::is_leaf() const { return !impl_ || !impl_->node || impl_->node->is_leaf; }

const std::shared_ptr<Node>& Var::node() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->node : none;
}

Var Var::grad() const {
  if (!impl_ || !impl_->grad) return Var();
  Var g;
  g.impl_ = impl_->grad;
  return g;
}

void Var::set_grad(const Var& g) {
  DIFFLAB_CHECK(impl_ != nullptr, "Var::set_grad: undefined Var");
  if (g.defined())
    DIFFLAB_CHECK(g.shape() == shape(), "Var::set_grad: gradient shape ", g.shape(),
                  " does not match value shape ", shape());
  impl_->grad = g.impl_;
}

void Var::zero_grad() {
  if (impl_) impl_->grad.reset();
}

const std::string& Var::name() const {
  static const std::string empty;
  return impl_ ? impl_->name : empty;
}

Var& Var::set_name(std::string n) {
  DIFFLAB_CHECK(impl_ != nullptr, "Var::set_name: undefined Var");
  impl_->name = std::move(n);
  return *this;
}

void Var::backward(const Var& grad_output, bool retain_graph, bool create_graph) const {
  ag::backward({*this}, grad_output.defined() ? std::vector<Var>{grad_output} : std::vector<Var>{},
               retain_graph, create_graph);
}

}  // namespace difflab::ag
