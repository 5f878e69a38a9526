// Nearest-neighbour upsampling, average pooling and their adjoints: one thread per output
// element, each a gather summed in the CPU's fixed order (accumulated in f64), so no atomics.
#include "tensor/checks/pool.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

// out [NC, H*s, W*s] from x [NC, H, W].
template <typename T>
__global__ void upsample_kernel(int64_t total, const T* x, T* out, int64_t H, int64_t W,
                                int64_t s) {
  const int64_t Ho = H * s, Wo = W * s;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % Wo, oh = i / Wo % Ho, nc = i / (Wo * Ho);
    out[i] = x[(nc * H + oh / s) * W + ow / s];
  }
}

// out [NC, H, W] = sum over each s x s block of g [NC, H*s, W*s], rows then columns.
template <typename T>
__global__ void upsample_backward_kernel(int64_t total, const T* g, T* out, int64_t H, int64_t W,
                                         int64_t s) {
  const int64_t Wg = W * s;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = i % W, r = i / W;  // r = nc * H + h
    const T* gb = g + r * s * Wg + w * s;
    double acc = 0;
    for (int64_t a = 0; a < s; ++a)
      for (int64_t b = 0; b < s; ++b) acc += double(gb[a * Wg + b]);
    out[i] = T(acc);
  }
}

template <typename T>
__global__ void avg_pool_kernel(int64_t total, const T* x, T* out, int64_t H, int64_t W, int64_t Ho,
                                int64_t Wo, int64_t k, int64_t s, double inv) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = i % Wo, oh = i / Wo % Ho, nc = i / (Wo * Ho);
    const T* xb = x + (nc * H + oh * s) * W + ow * s;
    double acc = 0;
    for (int64_t a = 0; a < k; ++a)
      for (int64_t b = 0; b < k; ++b) acc += double(xb[a * W + b]);
    out[i] = T(acc * inv);
  }
}

// Output indices o with o * s <= i < o * s + k, clamped to [0, n): [lo, hi).
__device__ inline void windows_containing(int64_t i, int64_t k, int64_t s, int64_t n, int64_t& lo,
                                          int64_t& hi) {
  lo = i >= k ? (i - k) / s + 1 : 0;
  hi = i / s + 1 < n ? i / s + 1 : n;
}

// Gather form of the adjoint: each input pixel sums the gradients of the windows covering it.
template <typename T>
__global__ void avg_pool_backward_kernel(int64_t total, const T* g, T* dx, int64_t H, int64_t W,
                                         int64_t Ho, int64_t Wo, int64_t k, int64_t s, double inv) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % W, ih = i / W % H, nc = i / (W * H);
    int64_t oh0, oh1, ow0, ow1;
    windows_containing(ih, k, s, Ho, oh0, oh1);
    windows_containing(iw, k, s, Wo, ow0, ow1);
    const T* gp = g + nc * Ho * Wo;
    double acc = 0;
    for (int64_t oh = oh0; oh < oh1; ++oh)
      for (int64_t ow = ow0; ow < ow1; ++ow) acc += double(gp[oh * Wo + ow]);
    dx[i] = T(acc * inv);
  }
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale) {
  const char* op = "upsample_nearest2d";
  OpLabel label_(op);
  Tensor out =
      Tensor::empty(checks::check_upsample_nearest2d(x_in, scale), x_in.dtype(), x_in.device());
  const Shape& s = x_in.shape();
  if (out.numel() == 0) return out;
  cudaStream_t st = prepare(x_in);
  Tensor x = x_in.contiguous();
  const int64_t total = out.numel();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    upsample_kernel<T><<<blocks_for(total), kThreads, 0, st>>>(total, x.data<T>(), out.data<T>(),
                                                               s[2], s[3], scale);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
  return out;
}

Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale) {
  const char* op = "upsample_nearest2d_backward";
  OpLabel label_(op);
  Tensor out = Tensor::empty(checks::check_upsample_nearest2d_backward(grad_out, scale),
                             grad_out.dtype(), grad_out.device());
  const Shape& s = grad_out.shape();
  if (out.numel() == 0) return out;
  cudaStream_t st = prepare(grad_out);
  Tensor g = grad_out.contiguous();
  const int64_t total = out.numel();
  DIFFLAB_DISPATCH_FLOAT(g.dtype(), op, [&] {
    using T = scalar_t;
    upsample_backward_kernel<T><<<blocks_for(total), kThreads, 0, st>>>(
        total, g.data<T>(), out.data<T>(), s[2] / scale, s[3] / scale, scale);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
  return out;
}

Tensor avg_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride) {
  const char* op = "avg_pool2d";
  OpLabel label_(op);
  const Shape os = checks::check_avg_pool2d(x_in, kernel, stride);
  const Shape& s = x_in.shape();
  const int64_t Ho = os[2], Wo = os[3];
  Tensor out = Tensor::empty(os, x_in.dtype(), x_in.device());
  if (out.numel() == 0) return out;
  cudaStream_t st = prepare(x_in);
  Tensor x = x_in.contiguous();
  const int64_t total = out.numel();
  const double inv = 1.0 / double(kernel * kernel);
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    avg_pool_kernel<T><<<blocks_for(total), kThreads, 0, st>>>(
        total, x.data<T>(), out.data<T>(), s[2], s[3], Ho, Wo, kernel, stride, inv);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, int64_t kernel,
                           int64_t stride) {
  const char* op = "avg_pool2d_backward";
  OpLabel label_(op);
  const Shape os = checks::check_avg_pool2d_backward(grad_out, input_shape, kernel, stride);
  const Shape& s = input_shape;
  const int64_t Ho = os[2], Wo = os[3];
  Tensor dx = Tensor::empty(s, grad_out.dtype(), grad_out.device());
  if (dx.numel() == 0) return dx;
  cudaStream_t st = prepare(grad_out);
  Tensor g = grad_out.contiguous();
  const int64_t total = dx.numel();
  const double inv = 1.0 / double(kernel * kernel);
  DIFFLAB_DISPATCH_FLOAT(g.dtype(), op, [&] {
    using T = scalar_t;
    avg_pool_backward_kernel<T><<<blocks_for(total), kThreads, 0, st>>>(
        total, g.data<T>(), dx.data<T>(), s[2], s[3], Ho, Wo, kernel, stride, inv);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
  return dx;
}

}  // namespace difflab::tensor::cuda
