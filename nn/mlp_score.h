// Time-conditioned residual MLP for N-D data (toy 2-D mixtures, low-dimensional experiments):
//   e = temb(t) [+ label_emb(label)]                  (SinusoidalTimeEmbedding, 4·time_embed_dim)
//   h = inp(x)
//   h = h + blocks.k.fc2(act(blocks.k.fc1(act(h)) + blocks.k.t(e)))     for k < depth
//   out = out(act(h))                                  [B, dim]
// Labels follow the U-Net's convention: num_classes + 1 rows, the last is the null class.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nn/layers.h"
#include "nn/time_embedding.h"

namespace difflab::nn {

struct MLPScoreNetConfig {
  int64_t dim = 2;
  int64_t hidden = 128;
  int64_t depth = 3;  // residual blocks
  int64_t time_embed_dim = 32;
  int64_t num_classes = 0;
  Activation activation = Activation::silu;

  void validate() const;
  std::string str() const;
};

class MLPScoreBlock;  // mlp_score.cpp

class MLPScoreNet : public Module {
 public:
  explicit MLPScoreNet(MLPScoreNetConfig cfg = {}, tensor::Generator* gen = nullptr);
  // x [B, dim], t [B] floating, labels i64 [B] in [0, num_classes] or undefined -> [B, dim]
  Var forward(const Var& x, const Tensor& t, const Tensor& labels = Tensor()) const;
  const MLPScoreNetConfig& config() const { return cfg_; }

 private:
  MLPScoreNetConfig cfg_;
  std::shared_ptr<SinusoidalTimeEmbedding> temb_;
  std::shared_ptr<Embedding> label_emb_;
  std::shared_ptr<Linear> inp_, out_;
  std::vector<std::shared_ptr<MLPScoreBlock>> blocks_;
};

}  // namespace difflab::nn
