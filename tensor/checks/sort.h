// Argument checks of sort and cumsum, shared by tensor/cpu/sort.cpp and tensor/cuda/sort.cu
// (the device of the single input is the backend's to check first).
#pragma once
#include <cstdint>

#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

// x defined with at least 1 dim; returns dim normalised.
int64_t check_sort(const Tensor& x, int64_t dim);

// cumsum and cumsum_reverse (named `op`): x defined; returns dim normalised. A 0-d x counts as a
// one-element line: dim must be 0 or -1, and the result (0) is the dim of x.reshape({1}).
int64_t check_cumsum(const char* op, const Tensor& x, int64_t dim);

}  // namespace difflab::tensor::checks
