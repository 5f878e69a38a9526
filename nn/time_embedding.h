// Sinusoidal time embedding followed by an MLP, exactly as the reference U-Net's TEmb
// (/work/shared/reference/torch_unet_anchor.py, after Ho et al. 2020 / the Transformer):
//   half = d/2, f_i = exp(−ln(10000)·i/half), e = t·f, features = [sin e, cos e]  (d values)
//   out = Linear(4d→4d)(SiLU(Linear(d→4d)(features)))
// The Linears are "mlp.0" and "mlp.2", matching PyTorch's nn.Sequential names.
#pragma once
#include <memory>

#include "nn/layers.h"

namespace difflab::nn {

class SinusoidalTimeEmbedding : public Module {
 public:
  explicit SinusoidalTimeEmbedding(int64_t dim, tensor::Generator* gen = nullptr);
  // t [B] (any floating dtype; used as given, e.g. already scaled by 1000) -> [B, 4·dim] Var.
  Var forward(const Tensor& t) const;
  // The [B, dim] sinusoidal features in `dtype`; computed in f64 and rounded once, since
  // t·f reaches ~1000 rad where f32 arithmetic would lose ~1e-4 of phase.
  Tensor features(const Tensor& t, DType dtype) const;
  int64_t dim() const { return dim_; }
  int64_t out_dim() const { return 4 * dim_; }

 private:
  int64_t dim_;
  std::shared_ptr<Linear> fc1_, fc2_;
};

}  // namespace difflab::nn
