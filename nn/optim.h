// Optimizers over leaf parameters (SGD with momentum/Nesterov, Adam, AdamW), updating values in
// place with the update formulas of PyTorch 1.13 (torch/optim/{sgd,adam,adamw}.py, single-tensor
// path), each as one fused elementwise loop per parameter, so results do not depend on the
// thread count. Per-parameter state (buffers with PyTorch's names and a step count) is exposed
// for checkpoints (nn/train_state.h).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"

namespace difflab::nn {

// One parameter's optimizer state: buffers ("momentum_buffer", "exp_avg", "exp_avg_sq",
// "max_exp_avg_sq"), each of the parameter's shape and dtype, and the number of updates taken.
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

class Optimizer {
 public:
  // Parameters must be distinct defined leaves; those without a gradient at step() are skipped.
  Optimizer(std::vector<Var> params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter whose grad() is defined, in place. Parameters must be contiguous
  // CPU f32/f64 tensors with gradients of the same shape and dtype.
  void step();
  // Drops every gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  virtual const char* type() const = 0;  // "SGD", "Adam", "AdamW"
  double lr() const { return lr_; }
  void set_lr(double lr);
  const std::vector<Var>& params() const { return params_; }
  size_t size() const { return params_.size(); }
  const ParamState& state(size_t i) const { return state_.at(i); }
  ParamState& state(size_t i) { return state_.at(i); }

  // Name-keyed view for checkpoints, names[i] naming params()[i]: "<name>.<buffer>" for each
  // buffer and "<name>.step" (i64, shape []) for parameters that took a step. Tensors share
  // storage with the state; clone them for a snapshot.
  StateDict state_dict(const std::vector<std::string>& names) const;
  // Replaces all state by copies from such a dict. Throws naming the key on unknown keys, on a
  // shape or dtype that differs from the parameter's, or on buffers missing after step > 0.
  void load_state_dict(const StateDict& sd, const std::vector<std::string>& names);

 protected:
  // The buffers a parameter has once it took a step.
  virtual std::vector<std::string> buffer_names() const = 0;
  // One update of p (contiguous) with gradient g (contiguous, same shape and dtype); st.step
  // already counts this update.
  virtual void update(const Tensor& p, const Tensor& g, ParamState& st) = 0;
  // The buffer `name` of st, created as zeros like p when absent.
  static Tensor& buffer(ParamState& st, const std::string& name, const Tensor& p);

  double lr_;

 private:
  std::vector<Var> params_;
  std::vector<ParamState> state_;
};

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2: added to the gradient
  bool nesterov = false;
};

// torch.optim.SGD: g += wd·p; b = g on the first step, else b = μ·b + (1−τ)·g; with Nesterov
// g += μ·b, else g = b; p −= lr·g.
class SGD : public Optimizer {
 public:
  SGD(std::vector<Var> params, SGDOptions opt);
  const char* type() const override { return "SGD"; }
  const SGDOptions& options() const { return opt_; }

 protected:
  std::vector<std::string> buffer_names() const override;
  void update(const Tensor& p, const Tensor& g, ParamState& st) override;

 private:
  SGDOptions opt_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // Adam: L2 added to the gradient; AdamW: decoupled
  bool amsgrad = false;
};

// torch.optim.Adam (Kingma & Ba, Algorithm 1): m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g²,
// p −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε) — ε outside the square root, added after
// the bias correction. With weight decay, g += wd·p first (L2 regularisation).
class Adam : public Optimizer {
 public:
  Adam(std::vector<Var> params, AdamOptions opt);
  const char* type() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return opt_; }

 protected:
  Adam(std::vector<Var> params, AdamOptions opt, bool decoupled);
  std::vector<std::string> buffer_names() const override;
  void update(const Tensor& p, const Tensor& g, ParamState& st) override;

 private:
  AdamOptions opt_;
  bool decoupled_;
};

// torch.optim.AdamW (Loshchilov & Hutter, decoupled weight decay): p *= 1 − lr·wd, then the
// Adam update without the L2 term. PyTorch's default weight decay is 1e-2.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Var> params, AdamOptions opt) : Adam(std::move(params), opt, true) {}
};

}  // namespace difflab::nn
