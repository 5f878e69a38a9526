#include "tensor/checks/elementwise.h"

namespace difflab::tensor::checks {

void check_clamp_bounds(double lo, double hi) {
  DIFFLAB_CHECK(lo <= hi, "clamp: lower bound ", lo, " exceeds upper bound ", hi);
}

void check_binary_dtype(const char* name, BinaryOp op, DType dtype) {
  const bool cmp = op >= BinaryOp::eq;
  DIFFLAB_CHECK(is_floating(dtype) || cmp || op == BinaryOp::add || op == BinaryOp::sub ||
                    op == BinaryOp::mul,
                name, ": not defined for dtype ", dtype);
}

Shape check_where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  DIFFLAB_CHECK(cond.dtype() == DType::u8, "where: condition must be u8, got ", cond.dtype());
  DIFFLAB_CHECK(a.dtype() == b.dtype(), "where: dtype mismatch, ", a.dtype(), " vs ", b.dtype());
  return broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
}

}  // namespace difflab::tensor::checks
