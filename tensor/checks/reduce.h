// Shapes and argument checks of the reductions (sum, mean, var, amax, argmax, logsumexp) and of
// softmax/log_softmax, shared by tensor/cpu/{reduce,softmax}.cpp and tensor/cuda/{reduce,
// softmax}.cu (the device of the single input is the backend's to check first).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

// Which dims of x `dims` reduces (all of them when empty); throws on a repeated dim.
std::vector<bool> reduce_mask(const Tensor& x, const std::vector<int64_t>& dims, const char* op);
// x's shape without the reduced dims (or with them as 1 under keepdim).
Shape reduced_shape(const Tensor& x, const std::vector<bool>& mask, bool keepdim);
// Elements reduced into each output.
int64_t reduced_count(const Tensor& x, const std::vector<bool>& mask);

// var: R elements per output must leave degrees of freedom after the correction.
void check_var_dof(const Tensor& x, int64_t R, int64_t correction);
// A max-like reduction (`op`) of R elements per output needs R > 0 unless there is no output.
void check_reducible(const char* op, const Tensor& x, int64_t R, int64_t out_numel);
// argmax along dim: d gets dim normalised (its size must be positive); returns the output shape.
Shape argmax_shape(const Tensor& x, int64_t dim, bool keepdim, int64_t& d);

// softmax/log_softmax (named `op`) of x_in along dim, after the checks (defined, f32 or f64): x
// is x_in contiguous, or a 0-d x_in as a one-element row, viewed as [outer, R, inner] along d.
struct SoftmaxView {
  Tensor x;
  bool scalar;
  int64_t d, outer, R, inner;
};
SoftmaxView softmax_view(const char* op, const Tensor& x_in, int64_t dim);

}  // namespace difflab::tensor::checks
