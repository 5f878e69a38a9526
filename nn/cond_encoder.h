// The image condition encoder of MLGD-F's MNIST-rotation consistency model (spec
// spec_mlgdf_concepts_drifting.md §2.6: conv32-conv32-pool-conv64-conv64-pool with GroupNorm,
// SiLU and dropout, to a 128-d feature). A flattened image [B, C·H·W] goes in (the conditional
// data sets store conditions as rows); each conv is 3×3 with padding 1, each pool a 2×2 average
// (smooth, so MLGD-F's gradient with respect to the image reaches every pixel; the spec's code
// uses max pooling), and the last layer is Linear(64·(H/4)·(W/4) → features).
#pragma once
#include <memory>
#include <string>

#include "nn/layers.h"

namespace difflab::nn {

struct CondEncoderConfig {
  int64_t channels = 1, height = 28, width = 28;  // the image; H and W divisible by 4
  int64_t features = 128;                         // output width
  int64_t groups = 8;                             // GroupNorm groups (divide 32 and 64)
  double dropout = 0.1;                           // after each pool, in training mode

  int64_t input_dim() const { return channels * height * width; }
  void validate() const;
  std::string str() const;
};

class ConvCondEncoder : public Module {
 public:
  explicit ConvCondEncoder(CondEncoderConfig cfg = {}, tensor::Generator* gen = nullptr);
  // cond [B, C·H·W] -> [B, features].
  Var forward(const Var& cond) const;
  const CondEncoderConfig& config() const { return cfg_; }

 private:
  CondEncoderConfig cfg_;
  std::shared_ptr<Conv2d> c1_, c2_, c3_, c4_;
  std::shared_ptr<GroupNorm> n1_, n2_, n3_, n4_;
  std::shared_ptr<Dropout> drop_;
  std::shared_ptr<Linear> out_;
};

}  // namespace difflab::nn
