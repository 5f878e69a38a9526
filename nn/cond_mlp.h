// Conditional MLP for consistency models (the F_θ(x, σ, c) of MLGD-F's fast sampler; spec
// spec_mlgdf_concepts_drifting.md §1.5 "condition embedding added to the hidden state", sizes
// blocks × units = 3×128 / 6×512 / 8×512 in §2.6):
//   s = temb(noise_scale · ln σ) + cond_emb(c)                (SinusoidalTimeEmbedding, E = 4·d)
//   h = act(layers.k.fc(h) + layers.k.emb(act(s)))            k = 0..blocks−1 (h_0 = x)
//   out = out(h)                                              [B, dim]
// With an image encoder (MNIST rotation, spec §2.6) the condition is a flattened image and
// cond_emb reads the encoder's features: s = temb(…) + cond_emb(cond_enc(c)).
// The noise input is EDM's c_noise = ¼ ln σ times 1000 (noise_scale = 250 on ln σ): the same
// ×1000 range as the VP networks' time input, so the sinusoid's frequencies resolve σ from
// σ_min = 0.002 (−1554) to σ_max = 80 (1095). No σ-dependent input scaling here: the EDM c_in
// belongs to the preconditioning (diffusion/consistency.h).
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/cond_encoder.h"
#include "nn/layers.h"
#include "nn/time_embedding.h"

namespace difflab::nn {

struct CondMLPConfig {
  int64_t dim = 2;       // y
  int64_t cond_dim = 1;  // c; 0 = unconditional (cond must then be undefined)
  int64_t hidden = 128;  // units
  int64_t blocks = 3;    // hidden layers
  int64_t time_embed_dim = 32;
  double noise_scale = 250.0;  // network time = noise_scale · ln σ
  Activation activation = Activation::silu;
  // A convolutional encoder of an image condition; cond_dim must then be its input_dim().
  std::optional<CondEncoderConfig> encoder;

  void validate() const;
  std::string str() const;
};

class CondMLPLayer;  // cond_mlp.cpp

class CondMLP : public Module {
 public:
  explicit CondMLP(CondMLPConfig cfg = {}, tensor::Generator* gen = nullptr);
  // x [B, dim], sigma [B] floating and > 0, cond [B, cond_dim] (differentiable) -> [B, dim].
  Var forward(const Var& x, const Tensor& sigma, const Var& cond) const;
  // The two halves of forward: the condition's features (the image encoder's output; the
  // condition itself without an encoder), and the network on those features. An MLGD-F inner
  // sampler encodes each distinct image once and repeats its features for its n samples.
  Var encode_condition(const Var& cond) const;
  Var forward_encoded(const Var& x, const Tensor& sigma, const Var& features) const;
  const CondMLPConfig& config() const { return cfg_; }

 private:
  CondMLPConfig cfg_;
  std::shared_ptr<SinusoidalTimeEmbedding> temb_;
  std::shared_ptr<ConvCondEncoder> cond_enc_;
  std::shared_ptr<Linear> cond_emb_, out_;
  std::vector<std::shared_ptr<CondMLPLayer>> layers_;
};

}  // namespace difflab::nn
