// conv2d's argument checks and geometry, shared by tensor/cpu/conv.cpp and tensor/cuda/conv.cu.
#pragma once
#include <cstdint>
#include <string>

#include "tensor/checks/common.h"
#include "tensor/ops.h"

namespace difflab::tensor::checks {

// "stride (1, 1), padding (0, 0), dilation (1, 1), groups 1".
std::string conv_params_str(const Conv2dParams& p);

struct ConvGeom {
  int64_t N, Cin, H, W, Cout, kh, kw, Ho, Wo;
  int64_t G, Cin_g, Cout_g;
  int64_t Kg;  // rows of the column matrix per group: Cin_g * kh * kw
  int64_t L;   // output positions per image: Ho * Wo
  int64_t col_per_image() const { return Cin * kh * kw * L; }
};

// 1x1 kernels with unit stride and no padding read the input directly as the column matrix.
bool is_pointwise(const ConvGeom& g, const Conv2dParams& p);

// Validates the input shape xs, the weight shape ws and the parameters.
ConvGeom conv_geometry(const char* op, const Shape& xs, const Shape& ws, const Conv2dParams& p);

// Every check of conv2d (x routes the op; bias may be undefined), and of its two gradients
// (grad_out routes them; grad_out must have conv2d's output shape). `rule` places the operands.
ConvGeom check_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                      DeviceRule rule);
ConvGeom check_conv2d_input_grad(const Tensor& grad_out, const Tensor& w, const Shape& input_shape,
                                 const Conv2dParams& p, DeviceRule rule);
ConvGeom check_conv2d_weight_grad(const Tensor& grad_out, const Tensor& x,
                                  const Shape& weight_shape, const Conv2dParams& p,
                                  DeviceRule rule);

}  // namespace difflab::tensor::checks
