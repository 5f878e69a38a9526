// softmax and log_softmax along any dim. Numerically stable (the row maximum is subtracted
// before exp); the sum of exponentials is accumulated in double, in a fixed order per row, one
// row per thread, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tensor/checks/reduce.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

// x viewed as contiguous [outer, R, inner]; reduces along R.
template <typename T, bool LOG>
void softmax_lastdim(const T* x, T* y, int64_t rows, int64_t R) {
#pragma omp parallel for schedule(static) if (rows * R >= cpu::kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* px = x + r * R;
    T* py = y + r * R;
    T m = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < R; ++i) m = std::max(m, px[i]);
    // An all -inf row keeps shift 0, giving exp = 0 and (as in PyTorch) NaN probabilities.
    if (std::isinf(m) && m < 0) m = T(0);
    double s = 0;
    if constexpr (LOG) {
      for (int64_t i = 0; i < R; ++i) s += double(std::exp(px[i] - m));
      const T shift = T(double(m) + std::log(s));
#pragma omp simd
      for (int64_t i = 0; i < R; ++i) py[i] = px[i] - shift;
    } else {
      for (int64_t i = 0; i < R; ++i) {
        const T e = std::exp(px[i] - m);
        py[i] = e;
        s += double(e);
      }
      const double inv = 1.0 / s;
      for (int64_t i = 0; i < R; ++i) py[i] = T(double(py[i]) * inv);
    }
  }
}

// Non-last dim: each (outer, block of inner columns) is one task; columns are reduced over R in
// order, vectorised across the columns.
template <typename T, bool LOG>
void softmax_middim(const T* x, T* y, int64_t outer, int64_t R, int64_t inner) {
  constexpr int64_t kCols = 128;
  const int64_t nblk = (inner + kCols - 1) / kCols;
  const int64_t tasks = outer * nblk;
#pragma omp parallel for schedule(static) if (outer * R * inner >= cpu::kParallelGrain && tasks > 1)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t o = t / nblk, j0 = (t % nblk) * kCols, j1 = std::min(inner, j0 + kCols);
    const int64_t nc = j1 - j0;
    const T* px = x + o * R * inner + j0;
    T* py = y + o * R * inner + j0;
    T m[kCols];
    double s[kCols];
    for (int64_t j = 0; j < nc; ++j) {
      m[j] = -std::numeric_limits<T>::infinity();
      s[j] = 0;
    }
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < nc; ++j) m[j] = std::max(m[j], px[r * inner + j]);
    for (int64_t j = 0; j < nc; ++j)
      if (std::isinf(m[j]) && m[j] < 0) m[j] = T(0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t j = 0; j < nc; ++j) {
        const T e = std::exp(px[r * inner + j] - m[j]);
        if constexpr (!LOG) py[r * inner + j] = e;
        s[j] += double(e);
      }
    if constexpr (LOG) {
      T shift[kCols];
      for (int64_t j = 0; j < nc; ++j) shift[j] = T(double(m[j]) + std::log(s[j]));
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < nc; ++j) py[r * inner + j] = px[r * inner + j] - shift[j];
    } else {
      double inv[kCols];
      for (int64_t j = 0; j < nc; ++j) inv[j] = 1.0 / s[j];
      for (int64_t r = 0; r < R; ++r)
        for (int64_t j = 0; j < nc; ++j) py[r * inner + j] = T(double(py[r * inner + j]) * inv[j]);
    }
  }
}

template <bool LOG>
Tensor softmax_impl(const Tensor& x_in, int64_t dim, const char* op) {
  OpLabel label_(op);
  DIFFLAB_CHECK(x_in.device().is_cpu(), op, ": input on ", x_in.device(),
                " but the CUDA backend is not built");
  const checks::SoftmaxView v = checks::softmax_view(op, x_in, dim);
  const Tensor& x = v.x;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() > 0) {
    const int64_t R = v.R, outer = v.outer, inner = v.inner;
    DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
      using T = scalar_t;
      if (inner == 1)
        softmax_lastdim<T, LOG>(x.data<T>(), y.data<T>(), outer, R);
      else
        softmax_middim<T, LOG>(x.data<T>(), y.data<T>(), outer, R, inner);
    });
  }
  return v.scalar ? y.reshape({}) : y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) {
  DIFFLAB_CUDA_ROUTE(x, cuda::softmax(x, dim));
  return softmax_impl<false>(x, dim, "softmax");
}

Tensor log_softmax(const Tensor& x, int64_t dim) {
  DIFFLAB_CUDA_ROUTE(x, cuda::log_softmax(x, dim));
  return softmax_impl<true>(x, dim, "log_softmax");
}

}  // namespace difflab::tensor
