#include "tensor/checks/norm.h"

namespace difflab::tensor::checks {

namespace {

// Defined, placed by `rule` against x, and f32 or f64.
void check_float(const char* op, const char* what, const Tensor& t, const Tensor& x,
                 DeviceRule rule) {
  check_operand(op, x, "input", t, what, rule);
  DIFFLAB_CHECK(is_floating(t.dtype()), op, ": ", what, " must be f32 or f64, got ", t.dtype());
}

// weight/bias: undefined, or of `shape` with x's dtype and device.
void check_param(const char* op, const char* what, const Tensor& p, const Tensor& x,
                 const Shape& shape, const char* expect) {
  if (!p.defined()) return;
  DIFFLAB_CHECK(p.shape() == shape, op, ": ", what, " ", p.shape(), " does not match input ",
                x.shape(), " (expected ", shape, ", ", expect, ")");
  DIFFLAB_CHECK(p.dtype() == x.dtype(), op, ": ", what, " has dtype ", p.dtype(),
                " but input has dtype ", x.dtype());
  norm_same_device(op, x, "input", p, what);
}

}  // namespace

void norm_same_device(const char* op, const Tensor& x, const char*, const Tensor& t,
                      const char* what) {
  DIFFLAB_CHECK(t.device() == x.device(), op, ": ", what, " on ", t.device(), " but input on ",
                x.device());
}

GroupDims check_group_norm(const char* op, const Tensor& x, int64_t groups, const Tensor& weight,
                           const Tensor& bias, DeviceRule rule) {
  check_float(op, "input", x, x, rule);
  DIFFLAB_CHECK(x.dim() >= 2, op, ": input must be [N, C, *] (at least 2 dims), got ", x.shape());
  const int64_t C = x.shape()[1];
  DIFFLAB_CHECK(groups >= 1, op, ": groups must be positive, got ", groups, " for input ",
                x.shape());
  DIFFLAB_CHECK(C % groups == 0, op, ": input ", x.shape(), " has ", C,
                " channels, not divisible by ", groups, " groups");
  check_param(op, "weight", weight, x, {C}, "one per channel");
  check_param(op, "bias", bias, x, {C}, "one per channel");
  const int64_t N = x.shape()[0];
  const int64_t HW = (N * C) > 0 ? x.numel() / (N * C) : 0;
  return {N, C, HW};
}

RowDims check_layer_norm(const char* op, const Tensor& x, int64_t normalized_ndim,
                         const Tensor& weight, const Tensor& bias, DeviceRule rule) {
  check_float(op, "input", x, x, rule);
  DIFFLAB_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.dim(), op,
                ": cannot normalise the last ", normalized_ndim, " dims of input ", x.shape(),
                " (rank ", x.dim(), ")");
  Shape trailing(x.shape().end() - normalized_ndim, x.shape().end());
  check_param(op, "weight", weight, x, trailing, "the normalised trailing dims");
  check_param(op, "bias", bias, x, trailing, "the normalised trailing dims");
  const int64_t D = shape_numel(trailing);
  const int64_t rows =
      D > 0 ? x.numel() / D
            : shape_numel(Shape(x.shape().begin(), x.shape().end() - normalized_ndim));
  return {rows, D, trailing};
}

void check_norm_backward(const char* op, const Tensor& grad_out, const Tensor& x,
                         const Tensor& mean, const Tensor& rstd, const Shape& stats_shape,
                         DeviceRule rule) {
  check_float(op, "grad_out", grad_out, x, rule);
  DIFFLAB_CHECK(grad_out.shape() == x.shape(), op, ": grad_out ", grad_out.shape(),
                " does not match input ", x.shape());
  DIFFLAB_CHECK(grad_out.dtype() == x.dtype(), op, ": grad_out has dtype ", grad_out.dtype(),
                " but input has dtype ", x.dtype());
  check_float(op, "mean", mean, x, rule);
  check_float(op, "rstd", rstd, x, rule);
  DIFFLAB_CHECK(mean.shape() == stats_shape && rstd.shape() == stats_shape, op, ": mean ",
                mean.shape(), " and rstd ", rstd.shape(), " must both be ", stats_shape,
                " for input ", x.shape());
  DIFFLAB_CHECK(mean.dtype() == x.dtype() && rstd.dtype() == x.dtype(), op, ": mean (",
                mean.dtype(), ") and rstd (", rstd.dtype(), ") must have the input dtype ",
                x.dtype());
}

}  // namespace difflab::tensor::checks
