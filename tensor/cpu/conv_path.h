// The algorithm conv2d, conv2d_input_grad and conv2d_weight_grad took on the CPU, recorded per
// thread, so that tests can tell which path ran (results alone cannot: with some BLAS kernels the
// direct kernels and im2col + GEMM sum in the same order and give the same bits).
#pragma once

namespace difflab::tensor::cpu {

// winograd: F(2x2, 3x3); winograd4: F(4x4, 3x3).
enum class ConvPath { none, im2col, direct, winograd, winograd4 };

// The path of the calling thread's last convolution call: none before the first, for one that
// went to CUDA and for an empty one (nothing computed).
ConvPath last_conv_path();
const char* conv_path_name(ConvPath path);

}  // namespace difflab::tensor::cpu
