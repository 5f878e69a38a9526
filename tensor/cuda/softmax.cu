// softmax and log_softmax along any dim on the GPU, with the CPU's numerics: the row maximum
// (in the input dtype) is subtracted before exp and the exponentials are summed in double. A
// group of threads reduces each row with a fixed tree (max, then sum, then the write, all in one
// kernel); a wide inner size uses one thread per column walking the dim in order instead.
#include <cmath>

#include "tensor/checks/reduce.h"
#include "tensor/cuda/block_reduce.cuh"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

// An inner size from which (with enough columns) each column gets its own thread.
constexpr int64_t kColumnInner = 16;
constexpr int64_t kColumnMin = 8192;

// An all -inf row keeps shift 0, giving exp = 0 and (as in PyTorch) NaN probabilities.
template <typename T>
__device__ T finite_shift(T m) {
  return isinf(m) && m < T(0) ? T(0) : m;
}

// x, y contiguous [outer, R, inner]; element r of row (o, i) at (o * R + r) * inner + i.
template <typename T, bool LOG>
__global__ void softmax_rows(const T* x, T* y, int64_t outer, int64_t R, int64_t inner, int gs) {
  __shared__ double smem[kThreads / 32];
  const int upb = int(blockDim.x) / gs;
  const int lane = int(threadIdx.x) % gs, grp = int(threadIdx.x) / gs;
  const int64_t rows = outer * inner;
  for (int64_t base = int64_t(blockIdx.x) * upb; base < rows; base += int64_t(gridDim.x) * upb) {
    const int64_t row = base + grp;
    const bool live = row < rows;
    const int64_t o = row / inner, i = row % inner;
    const T* px = x + o * R * inner + i;
    T* py = y + o * R * inner + i;
    double m = MaxOp::identity();
    if (live)
      for (int64_t r = lane; r < R; r += gs) m = MaxOp::combine(m, double(px[r * inner]));
    const T shift = finite_shift(T(group_reduce<MaxOp>(m, smem, gs)));
    double s = 0.0;
    if (live)
      for (int64_t r = lane; r < R; r += gs) s += double(T(exp(px[r * inner] - shift)));
    s = group_reduce<SumOp>(s, smem, gs);
    if (!live) continue;
    if constexpr (LOG) {
      const T total = T(double(shift) + log(s));
      for (int64_t r = lane; r < R; r += gs) py[r * inner] = px[r * inner] - total;
    } else {
      const double inv = 1.0 / s;
      for (int64_t r = lane; r < R; r += gs)
        py[r * inner] = T(double(T(exp(px[r * inner] - shift))) * inv);
    }
  }
}

// One thread per column (o, i), each walking its R elements in order.
template <typename T, bool LOG>
__global__ void softmax_cols(const T* x, T* y, int64_t outer, int64_t R, int64_t inner) {
  const int64_t n = outer * inner;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = t / inner, i = t % inner;
    const T* px = x + o * R * inner + i;
    T* py = y + o * R * inner + i;
    double m = MaxOp::identity();
    for (int64_t r = 0; r < R; ++r) m = MaxOp::combine(m, double(px[r * inner]));
    const T shift = finite_shift(T(m));
    double s = 0.0;
    for (int64_t r = 0; r < R; ++r) s += double(T(exp(px[r * inner] - shift)));
    if constexpr (LOG) {
      const T total = T(double(shift) + log(s));
      for (int64_t r = 0; r < R; ++r) py[r * inner] = px[r * inner] - total;
    } else {
      const double inv = 1.0 / s;
      for (int64_t r = 0; r < R; ++r)
        py[r * inner] = T(double(T(exp(px[r * inner] - shift))) * inv);
    }
  }
}

template <bool LOG>
Tensor softmax_impl(const Tensor& x_in, int64_t dim, const char* op) {
  OpLabel label_(op);
  const checks::SoftmaxView v = checks::softmax_view(op, x_in, dim);
  const Tensor& x = v.x;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() > 0) {
    const int64_t R = v.R, outer = v.outer, inner = v.inner;
    cudaStream_t s = prepare(x);
    DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
      using T = scalar_t;
      if (inner >= kColumnInner && outer * inner >= kColumnMin) {
        softmax_cols<T, LOG><<<blocks_for(outer * inner), kThreads, 0, s>>>(
            x.data<T>(), y.data<T>(), outer, R, inner);
      } else {
        const int gs = group_size_for(R);
        softmax_rows<T, LOG><<<blocks_for(outer * inner, kThreads / gs), kThreads, 0, s>>>(
            x.data<T>(), y.data<T>(), outer, R, inner, gs);
      }
    });
    DIFFLAB_CUDA_LAUNCHED(op);
  }
  return v.scalar ? y.reshape({}) : y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl<false>(x, dim, "softmax"); }

Tensor log_softmax(const Tensor& x, int64_t dim) {
  return softmax_impl<true>(x, dim, "log_softmax");
}

}  // namespace difflab::tensor::cuda
