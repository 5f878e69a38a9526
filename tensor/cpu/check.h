// Input checks shared by the CPU kernels: defined, and on the CPU (the CUDA seam: a CUDA tensor
// reaching a CPU kernel is an error naming the op and the argument).
#pragma once
#include "tensor/tensor.h"

namespace difflab::tensor::cpu {

inline void check_cpu(const char* op, const Tensor& t, const char* what = "input") {
  DIFFLAB_CHECK(t.defined(), op, ": ", what, " is undefined");
  DIFFLAB_CHECK(t.device().is_cpu(), op, ": ", what, " on ", t.device(),
                " but the CUDA backend is not built");
}

}  // namespace difflab::tensor::cpu
