// A one-step generator for images: x = f(ε) as a U-Net-style decoder without skips: a linear map
// of the noise to C₀ × (S/2^L)², then L stages of (nearest ×2 upsample, GroupNorm, SiLU, 3×3
// conv, GroupNorm, SiLU, 3×3 conv), and a 3×3 conv to the image channels with tanh (images in
// [−1, 1]). For 28×28: 7×7 → 14×14 → 28×28.
#pragma once
#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"

namespace difflab::nn {

struct ConvGeneratorConfig {
  int64_t noise_dim = 64;
  int64_t channels = 64;  // C₀ at the lowest resolution, halved at every stage (at least 16)
  int64_t stages = 2;     // upsampling stages L
  int64_t image_size = 28;
  int64_t out_channels = 1;
};

class ConvGenerator : public Module {
 public:
  explicit ConvGenerator(ConvGeneratorConfig cfg = {}, tensor::Generator* gen = nullptr);
  Var forward(const Var& noise) const;  // [B, noise_dim] -> [B, out_channels, S, S]
  const ConvGeneratorConfig& config() const { return cfg_; }

 private:
  struct Stage {
    std::shared_ptr<GroupNorm> n1, n2;
    std::shared_ptr<Conv2d> c1, c2;
  };
  ConvGeneratorConfig cfg_;
  int64_t base_size_;
  std::shared_ptr<Linear> fc_;
  std::vector<Stage> stages_;
  std::shared_ptr<GroupNorm> out_norm_;
  std::shared_ptr<Conv2d> out_;
};

}  // namespace difflab::nn
