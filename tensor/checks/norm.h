// group_norm's and layer_norm's argument checks, shared by tensor/cpu/norm.cpp and
// tensor/cuda/norm.cu. Every operand is placed against the input x by the backend's rule.
#pragma once
#include <cstdint>

#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

struct GroupDims {
  int64_t N, C, HW;
};

struct RowDims {
  int64_t rows, D;
  Shape trailing;
};

// The CUDA rule for the norms: "<op>: <what> on cuda:1 but input on cuda:0".
void norm_same_device(const char* op, const Tensor& x, const char* x_what, const Tensor& t,
                      const char* what);

// x [N, C, *] with C divisible by groups; weight and bias undefined or [C].
GroupDims check_group_norm(const char* op, const Tensor& x, int64_t groups, const Tensor& weight,
                           const Tensor& bias, DeviceRule rule);
// The last normalized_ndim dims of x are normalised; weight and bias undefined or of their shape.
RowDims check_layer_norm(const char* op, const Tensor& x, int64_t normalized_ndim,
                         const Tensor& weight, const Tensor& bias, DeviceRule rule);
// The backward passes' extra operands: grad_out like x, mean and rstd of stats_shape.
void check_norm_backward(const char* op, const Tensor& grad_out, const Tensor& x,
                         const Tensor& mean, const Tensor& rstd, const Shape& stats_shape,
                         DeviceRule rule);

}  // namespace difflab::tensor::checks
