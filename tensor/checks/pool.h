// Argument checks and output shapes of nearest-neighbour upsampling and average pooling (and
// their adjoints), shared by tensor/cpu/pool.cpp and tensor/cuda/pool.cu (the device of the
// single input is the backend's to check first).
#pragma once
#include <cstdint>

#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

// Each returns the shape of the op's result.
Shape check_upsample_nearest2d(const Tensor& x, int64_t scale);
Shape check_upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale);
Shape check_avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride);
// The result is input_shape; this returns the forward output shape [N, C, Ho, Wo] (grad_out's).
Shape check_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, int64_t kernel,
                                int64_t stride);

}  // namespace difflab::tensor::checks
