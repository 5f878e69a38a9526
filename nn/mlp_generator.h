// A one-step generator for vectors: x = f(ε), an MLP noise_dim → hidden (× depth, SiLU) → dim
// (the official drifting toy notebook's 32 → 256 → 256 → 256 → 2 by default).
#pragma once
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"

namespace difflab::nn {

struct MLPGeneratorConfig {
  int64_t noise_dim = 32;
  int64_t hidden = 256;
  int64_t depth = 3;  // hidden layers
  int64_t dim = 2;    // output dimension
};

class MLPGenerator : public Module {
 public:
  explicit MLPGenerator(MLPGeneratorConfig cfg = {}, tensor::Generator* gen = nullptr);
  Var forward(const Var& noise) const;  // [B, noise_dim] -> [B, dim]
  const MLPGeneratorConfig& config() const { return cfg_; }

 private:
  MLPGeneratorConfig cfg_;
  std::vector<std::shared_ptr<Linear>> layers_;
};

}  // namespace difflab::nn
