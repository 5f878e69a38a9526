// Input checks shared by the CPU kernels, and the CUDA route: each public op first sends CUDA
// inputs to its tensor/cuda/ kernel (DIFFLAB_CUDA_ROUTE, a no-op in builds without the backend),
// then checks that what remains is defined and on the CPU.
#pragma once
#include "tensor/checks/common.h"
#include "tensor/tensor.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/ops.h"
#endif

// `return call;` when `t` is a CUDA tensor. Used as the first statement of an op, after the
// OpLabel, with `call` a tensor/cuda/ops.h function taking the same arguments.
#if DIFFLAB_HAVE_CUDA
#define DIFFLAB_CUDA_ROUTE(t, call)                        \
  do {                                                     \
    if ((t).defined() && (t).device().is_cuda()) return call; \
  } while (0)
#else
#define DIFFLAB_CUDA_ROUTE(t, call) \
  do {                              \
  } while (0)
#endif

namespace difflab::tensor::cpu {

inline void check_cpu(const char* op, const Tensor& t, const char* what = "input") {
  DIFFLAB_CHECK(t.defined(), op, ": ", what, " is undefined");
  DIFFLAB_CHECK(t.device().is_cpu(), op, ": ", what, " on ", t.device(),
                DIFFLAB_HAVE_CUDA ? " while the other inputs are on cpu"
                                  : " but the CUDA backend is not built");
}

// check_cpu as a checks::DeviceRule for the shared checks of tensor/checks/ (the operand the op
// was routed on plays no part: every operand must be on the CPU).
inline void cpu_rule(const char* op, const Tensor&, const char*, const Tensor& t,
                     const char* what) {
  check_cpu(op, t, what);
}

}  // namespace difflab::tensor::cpu
