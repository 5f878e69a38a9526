#include "tensor/checks/pool.h"

namespace difflab::tensor::checks {

namespace {

void check_4d(const char* op, const Tensor& t) {
  DIFFLAB_CHECK(t.defined(), op, ": undefined input");
  DIFFLAB_CHECK(t.dim() == 4, op, ": expected a 4-D [N, C, H, W] tensor, got ", t.shape());
}

// The checks of avg_pool2d's parameters against input shape `in`; returns the output shape.
Shape pool_shape(const char* op, const Shape& in, int64_t kernel, int64_t stride) {
  DIFFLAB_CHECK(kernel >= 1 && stride >= 1, op, ": kernel ", kernel, " and stride ", stride,
                " must be positive (input ", in, ")");
  DIFFLAB_CHECK(in.size() == 4, op, ": expected a 4-D [N, C, H, W] input shape, got ", in);
  DIFFLAB_CHECK(in[2] >= kernel && in[3] >= kernel, op, ": input ", in,
                " is smaller than the kernel ", kernel);
  return {in[0], in[1], (in[2] - kernel) / stride + 1, (in[3] - kernel) / stride + 1};
}

}  // namespace

Shape check_upsample_nearest2d(const Tensor& x, int64_t scale) {
  check_4d("upsample_nearest2d", x);
  DIFFLAB_CHECK(scale >= 1, "upsample_nearest2d: scale ", scale, " must be >= 1 (input ", x.shape(),
                ")");
  const Shape& s = x.shape();
  return {s[0], s[1], s[2] * scale, s[3] * scale};
}

Shape check_upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale) {
  const char* op = "upsample_nearest2d_backward";
  check_4d(op, grad_out);
  const Shape& s = grad_out.shape();
  DIFFLAB_CHECK(scale >= 1 && s[2] % scale == 0 && s[3] % scale == 0, op, ": grad_out ", s,
                " is not an upsampling by scale ", scale);
  return {s[0], s[1], s[2] / scale, s[3] / scale};
}

Shape check_avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride) {
  check_4d("avg_pool2d", x);
  return pool_shape("avg_pool2d", x.shape(), kernel, stride);
}

Shape check_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, int64_t kernel,
                                int64_t stride) {
  const char* op = "avg_pool2d_backward";
  check_4d(op, grad_out);
  const Shape expect = pool_shape(op, input_shape, kernel, stride);
  DIFFLAB_CHECK(grad_out.shape() == expect, op, ": grad_out ", grad_out.shape(),
                " does not match the output ", expect, " of avg_pool2d of input ", input_shape,
                " (kernel ", kernel, ", stride ", stride, ")");
  return expect;
}

}  // namespace difflab::tensor::checks
