// Residual block of the U-Net, exactly as the reference's Res, with two optional extras:
//   h = c1(SiLU(n1(x))) + t(e)[:, :, None, None]
//   h = c2(Dropout(SiLU(n2(h))))          (dropout only when p > 0, active in train mode)
//   out = h + skip(x)                     (skip: 1x1 conv only when cin ≠ cout)
// Class conditioning is not handled here: it arrives already added into the embedding e.
#pragma once
#include <memory>

#include "nn/layers.h"

namespace difflab::nn {

class ResBlock : public Module {
 public:
  ResBlock(int64_t in_channels, int64_t out_channels, int64_t embed_dim, int64_t groups = 8,
           double dropout = 0.0, tensor::Generator* gen = nullptr);
  // x [B, cin, H, W], e [B, embed_dim] -> [B, cout, H, W]
  Var forward(const Var& x, const Var& e) const;
  int64_t in_channels() const { return cin_; }
  int64_t out_channels() const { return cout_; }
  std::string desc() const;

 private:
  int64_t cin_, cout_, edim_;
  std::shared_ptr<GroupNorm> n1_, n2_;
  std::shared_ptr<Conv2d> c1_, c2_, skip_;
  std::shared_ptr<Linear> t_;
  std::shared_ptr<Dropout> drop_;
};

}  // namespace difflab::nn
