// Argument checks and shapes of the batched matrix ops with broadcast batch dims, matmul and
// cdist2, shared by tensor/cpu/{matmul,sort}.cpp and tensor/cuda/{matmul,cdist}.cu.
#pragma once
#include <cstdint>

#include "tensor/checks/common.h"

namespace difflab::tensor::checks {

// matmul's device rule: throws unless a and b (both defined) may be multiplied together.
using PairDeviceRule = void (*)(const Tensor& a, const Tensor& b);

// matmul after its checks: a and b with a 1-D operand lifted to a matrix ([K] -> [1, K] for a,
// [K, 1] for b) and expanded to the broadcast batch; each entry is [M, K] @ [K, N], and the
// output is batch + [M, N] (before the lifted dims are squeezed away).
struct MatmulShapes {
  Tensor a, b;
  int64_t M, K, N;
  Shape batch, out;
};
MatmulShapes check_matmul(const Tensor& a, const Tensor& b, PairDeviceRule rule);

// BLAS layout of the last two dims of t: false if neither dim has unit stride.
bool blas_layout(const Tensor& t, bool& trans, int64_t& ld);

// cdist2 of a [..., N, D] and b [..., M, D]: out is batch + [N, M].
struct Cdist2Shapes {
  Shape batch, out;
  int64_t N, M, D;
};
Cdist2Shapes check_cdist2(const Tensor& a, const Tensor& b, DeviceRule rule);

// t, or a contiguous copy when its last two dims are not row-major (batch dims may stay strided
// or broadcast).
Tensor rows_contiguous(const Tensor& t);

}  // namespace difflab::tensor::checks
