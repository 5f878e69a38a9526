#include "nn/attention.h"

#include <cmath>

namespace difflab::nn {

AttentionBlock::AttentionBlock(int64_t channels, int64_t groups, tensor::Generator* gen)
    : c_(channels) {
  n_ = register_module("n", std::make_shared<GroupNorm>(groups, channels));
  qkv_ = register_module(
      "qkv", std::make_shared<Conv2d>(channels, 3 * channels, 1, 1, 0, 1, 1, true, gen));
  o_ = register_module("o", std::make_shared<Conv2d>(channels, channels, 1, 1, 0, 1, 1, true, gen));
}

Var AttentionBlock::forward(const Var& x) const {
  DIFFLAB_CHECK(x.defined() && x.dim() == 4 && x.size(1) == c_, "AttentionBlock(", c_, "): input ",
                x.defined() ? x.value().desc() : std::string("undefined"), " must be [B, ", c_,
                ", H, W]");
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  Var qkv = ag::reshape(qkv_->forward(n_->forward(x)), {b, 3, c_, h * w});
  Var q = ag::select(qkv, 1, 0), k = ag::select(qkv, 1, 1), v = ag::select(qkv, 1, 2);
  Var logits = ag::matmul(ag::transpose(q, 1, 2), k) * (1.0 / std::sqrt(double(c_)));
  Var a = ag::softmax(logits, -1);                  // [B, HW(query), HW(key)]
  Var out = ag::matmul(v, ag::transpose(a, 1, 2));  // [B, C, HW]
  return ag::add(x, o_->forward(ag::reshape(out, {b, c_, h, w})));
}

}  // namespace difflab::nn
