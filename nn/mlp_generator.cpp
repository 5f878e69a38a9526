#include "nn/mlp_generator.h"

#include <string>

#include "autograd/functions.h"
#include "tensor/error.h"

namespace difflab::nn {

MLPGenerator::MLPGenerator(MLPGeneratorConfig cfg, tensor::Generator* gen) : cfg_(cfg) {
  DIFFLAB_CHECK(cfg_.noise_dim > 0 && cfg_.hidden > 0 && cfg_.depth >= 1 && cfg_.dim > 0,
                "MLPGenerator: noise_dim=", cfg_.noise_dim, " hidden=", cfg_.hidden, " dim=",
                cfg_.dim, " must be positive and depth=", cfg_.depth, " >= 1");
  int64_t in = cfg_.noise_dim;
  for (int64_t k = 0; k <= cfg_.depth; ++k) {
    const int64_t out = k == cfg_.depth ? cfg_.dim : cfg_.hidden;
    layers_.push_back(
        register_module("fc" + std::to_string(k), std::make_shared<Linear>(in, out, true, gen)));
    in = out;
  }
}

Var MLPGenerator::forward(const Var& noise) const {
  DIFFLAB_CHECK(noise.defined() && noise.dim() == 2 && noise.size(1) == cfg_.noise_dim,
                "MLPGenerator: noise ", noise.defined() ? noise.value().desc() : "undefined",
                " must be [B, ", cfg_.noise_dim, "]");
  Var h = noise;
  for (size_t k = 0; k < layers_.size(); ++k) {
    h = layers_[k]->forward(h);
    if (k + 1 < layers_.size()) h = ag::silu(h);
  }
  return h;
}

}  // namespace difflab::nn
