// Fused in-place parameter updates, element for element PyTorch's single-tensor formulas: one
// Adam/AdamW step, one SGD step and the EMA's lerp. The CPU kernels are in tensor/cpu/optim.cpp,
// the CUDA ones in tensor/cuda/optim.cu; a CUDA tensor is routed there, so nn/'s optimizers and
// EMA call these and include no backend.
#pragma once
#include "tensor/tensor.h"

namespace difflab::tensor {

// Scalars of one Adam/AdamW step, computed in double by the caller (as in Python) and cast to
// the parameter's type by the kernels (as PyTorch's are).
struct AdamStep {
  double beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt, shrink;
  bool l2, decoupled;  // l2: Adam's grad + wd·p; decoupled: AdamW's p·(1 − lr·wd)
};
// p, g, m, v (and vmax for amsgrad, else undefined): contiguous, same shape, dtype and device.
void adam_step(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& vmax, const AdamStep& s);

struct SgdStep {
  double lr, weight_decay, momentum, dampening;
  bool nesterov, first;  // first: the momentum buffer takes the gradient itself
};
// buf undefined without momentum.
void sgd_step(const Tensor& p, const Tensor& g, const Tensor& buf, const SgdStep& s);

// shadow = torch.lerp(shadow, p, w), the EMA's update: for w < 0.5, start + w·(end − start);
// otherwise end − (end − start)·(1 − w), which keeps end exact at w = 1.
void lerp_(const Tensor& shadow, const Tensor& p, double w);

}  // namespace difflab::tensor
