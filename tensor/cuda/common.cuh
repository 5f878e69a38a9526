// Shared by the .cu files: error checks that throw difflab::Error, launch geometry, and
// StridedIndex, which maps a linear element index of a (broadcast) shape to an element offset.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "tensor/cuda/runtime.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

#define DIFFLAB_CUDA_CHECK(expr, ...)                                                       \
  do {                                                                                      \
    cudaError_t err_ = (expr);                                                              \
    if (err_ != cudaSuccess)                                                                \
      DIFFLAB_FAIL(__VA_ARGS__, ": ", cudaGetErrorName(err_), " (", cudaGetErrorString(err_), \
                   ")");                                                                    \
  } while (0)

// Checks the launch that was just queued (bad configuration, no kernel image for this GPU).
#define DIFFLAB_CUDA_LAUNCHED(opname) DIFFLAB_CUDA_CHECK(cudaGetLastError(), opname, ": kernel launch")

namespace difflab::tensor::cuda {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;

inline cudaStream_t stream_of(const Tensor& t) {
  return static_cast<cudaStream_t>(stream(t.device().index));
}

// Sets the tensor's device current and returns its stream.
inline cudaStream_t prepare(const Tensor& t) {
  set_device(t.device().index);
  return stream_of(t);
}

// At least one block (an empty launch is an error; the kernels' loops simply do nothing), at
// most 2^20 (grid-stride loops cover the rest).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  int64_t b = (n + threads - 1) / threads;
  return unsigned(std::clamp<int64_t>(b, 1, int64_t(1) << 20));
}

// Element offsets of a tensor viewed with a broadcast shape of up to kMaxDims dims (size-1 dims
// dropped). Passed to kernels by value.
struct StridedIndex {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];  // in elements; 0 for broadcast dims
  int64_t offset = 0;

  __host__ __device__ int64_t operator()(int64_t linear) const {
    int64_t off = offset;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t i = linear % sizes[d];
      linear /= sizes[d];
      off += i * strides[d];
    }
    return off;
  }
};

// `t` broadcast to `shape` (which t must broadcast to). Consecutive dims that are contiguous
// with each other are merged, so most tensors end up with one or two dims.
StridedIndex make_index(const Tensor& t, const Shape& shape);

}  // namespace difflab::tensor::cuda
