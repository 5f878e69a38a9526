// Argument checks of the elementwise ops (clamp, binary, where) shared by
// tensor/cpu/elementwise.cpp and tensor/cuda/elementwise.cu; operand devices are the backend's.
#pragma once

#include "tensor/checks/common.h"
#include "tensor/ops.h"

namespace difflab::tensor::checks {

// clamp's bounds: lo <= hi.
void check_clamp_bounds(double lo, double hi);
// Binary op `op` (named `name`) on `dtype`: integer dtypes have only add, sub, mul and the
// comparisons.
void check_binary_dtype(const char* name, BinaryOp op, DType dtype);
// where: cond u8, a and b of one dtype; returns the shape the three broadcast to.
Shape check_where(const Tensor& cond, const Tensor& a, const Tensor& b);

}  // namespace difflab::tensor::checks
