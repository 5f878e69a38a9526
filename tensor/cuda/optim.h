// Fused optimizer and EMA updates on CUDA tensors, one kernel per parameter, element for
// element the arithmetic of tensor/cpu/optim.cpp (PyTorch's single-tensor formulas); reached
// through tensor/optim.h.
#pragma once
#include "tensor/optim.h"

namespace difflab::tensor::cuda {

// p, g, m, v (and vmax for amsgrad, else undefined): contiguous, same shape, dtype and device.
void adam_step(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& vmax, const AdamStep& s);

// buf undefined without momentum.
void sgd_step(const Tensor& p, const Tensor& g, const Tensor& buf, const SgdStep& s);

// shadow = torch.lerp(shadow, p, w), the EMA's update (the CPU's two-branch form).
void lerp_(const Tensor& shadow, const Tensor& p, double w);

}  // namespace difflab::tensor::cuda
