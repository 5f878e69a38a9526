// Exponential moving average of parameters (Polyak averaging), the usual evaluation weights of
// diffusion models: shadow ← shadow + (1 − d)·(param − shadow), i.e. torch.lerp(shadow, param,
// 1 − d). Optional warm-up of the decay as TensorFlow's ExponentialMovingAverage with
// num_updates: d_t = min(d, (1 + t) / (10 + t)), t = updates done before this one.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "nn/module.h"

namespace difflab::nn {

struct EmaOptions {
  double decay = 0.9999;
  bool warmup = false;
  bool trainable_only = true;  // with a Module: average only parameters that require grad
};

class Ema {
 public:
  // Shadows start as copies of the parameters' current values.
  explicit Ema(std::vector<std::pair<std::string, Var>> params, EmaOptions opt = {});
  explicit Ema(const Module& module, EmaOptions opt = {});

  // The decay the next update() will use (after warm-up).
  double current_decay() const { return decay_at(opt_.decay); }
  // One update with options().decay (warmed up if enabled); returns the decay used.
  double update() { return update(opt_.decay); }
  // One update with `decay` (warmed up if enabled); returns the decay used.
  double update(double decay);

  // Writes the shadows into the tracked parameters' values.
  void copy_to() const;
  // Writes the shadows into `module`'s parameters of the same names (e.g. a separate
  // evaluation copy); every tracked name must exist there with the same shape and dtype.
  void copy_to(const Module& module) const;
  // Exchanges parameter values and shadows in place: swap(), evaluate, swap() restores.
  void swap();

  int64_t num_updates() const { return num_updates_; }
  void set_num_updates(int64_t n);
  const EmaOptions& options() const { return opt_; }
  // Shadows by parameter name (shared storage).
  StateDict state_dict() const;
  // Copies shadows in; the names must be exactly the tracked ones, with matching shape/dtype.
  void load_state_dict(const StateDict& sd);

 private:
  double decay_at(double decay) const;

  EmaOptions opt_;
  std::vector<std::pair<std::string, Var>> params_;
  std::vector<Tensor> shadow_;
  int64_t num_updates_ = 0;
};

}  // namespace difflab::nn
