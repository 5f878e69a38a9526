// Module: a tree of named parameters (leaf Vars), buffers and child modules, with PyTorch-style
// dotted state_dict names ("down.0.conv1.weight"), train/eval mode and parameter counting.
// Forward methods are plain member functions of each module (their signatures differ).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"

namespace difflab::nn {

using ag::Var;
using tensor::DType;
using tensor::Shape;
using tensor::Tensor;

using StateDict = std::map<std::string, Tensor>;

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Recursive, in registration order, with dotted names.
  std::vector<std::pair<std::string, Var>> named_parameters(bool trainable_only = false) const;
  std::vector<Var> parameters(bool trainable_only = false) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const {
    return children_;
  }
  // Parameters and buffers by dotted name (tensors share storage with the module).
  StateDict state_dict() const;
  // Copies values in. Shape or dtype mismatches throw naming the key; with `strict`, missing or
  // unexpected keys throw too (listing them). Values of another dtype must be converted first.
  void load_state_dict(const StateDict& sd, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  int64_t num_parameters(bool trainable_only = false) const;
  void zero_grad();
  // Converts every parameter and floating buffer (e.g. to f64 for gradient checks).
  void to(DType dtype);
  // Moves every parameter and buffer to `device` (gradients are dropped; an optimizer built
  // before the move must be rebuilt).
  void to(tensor::Device device);
  // The device of the first parameter (cpu for a module without parameters).
  tensor::Device device() const;
  // Freezes or unfreezes every parameter of this subtree.
  void requires_grad_(bool on);
  // One line per parameter: name, shape, count; then the total.
  std::string summary() const;

 protected:
  Var& register_parameter(const std::string& name, Tensor init, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  void collect_params(const std::string& prefix,
                      std::vector<std::pair<std::string, Var>>& out) const;
  void collect_buffers(const std::string& prefix,
                       std::vector<std::pair<std::string, Tensor>>& out) const;

  std::vector<std::pair<std::string, Var>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// A list of child modules named "0", "1", ... (PyTorch's nn.ModuleList).
template <typename M = Module>
class ModuleList : public Module {
 public:
  void push_back(std::shared_ptr<M> m) {
    add_child(std::to_string(items_.size()), m);
    items_.push_back(std::move(m));
  }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_.at(i); }
  const std::vector<std::shared_ptr<M>>& items() const { return items_; }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace difflab::nn
