// Fused optimizer and EMA updates on CUDA tensors, one kernel per parameter, element for
// element the arithmetic of nn/optim.cpp's CPU loops (PyTorch's single-tensor formulas).
#pragma once
#include "tensor/tensor.h"

namespace difflab::tensor::cuda {

// Scalars of one Adam/AdamW step, computed in double by the caller.
struct AdamStep {
  double beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt, shrink;
  bool l2, decoupled;
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

// shadow = torch.lerp(shadow, p, w), the EMA's update (the CPU's two-branch form).
void lerp_(const Tensor& shadow, const Tensor& p, double w);

}  // namespace difflab::tensor::cuda
