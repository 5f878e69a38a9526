// Single-head spatial self-attention block, exactly as the reference U-Net's Attn:
//   q, k, v = qkv(GroupNorm(x)) split into C channels each, over the H·W positions
//   a = softmax(qᵀk / √C) over positions; out = x + o(v·aᵀ)
// Parameter names: n (GroupNorm), qkv (1x1 conv to 3C), o (1x1 conv).
#pragma once
#include <memory>

#include "nn/layers.h"

namespace difflab::nn {

class AttentionBlock : public Module {
 public:
  explicit AttentionBlock(int64_t channels, int64_t groups = 8, tensor::Generator* gen = nullptr);
  Var forward(const Var& x) const;  // [B, C, H, W] -> same
  int64_t channels() const { return c_; }

 private:
  int64_t c_;
  std::shared_ptr<GroupNorm> n_;
  std::shared_ptr<Conv2d> qkv_, o_;
};

}  // namespace difflab::nn
