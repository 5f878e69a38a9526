// Nearest-neighbour upsampling, average pooling and their adjoints: one thread per output
// element, each a gather summed in the CPU's fixed order (accumulated in f64), so no atomics.
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

void check_4d(const char* op, const Tensor& t) {
  DIFFLAB_CHECK(t.defined(), op, ": undefined input");
  DIFFLAB_CHECK(t.dim() == 4, op, ": expected a 4-D [N, C, H, W] tensor, got ", t.shape());
}

void check_pool_params(const char* op, const Shape& in, int64_t kernel, int64_t stride) {
  DIFFLAB_CHECK(kernel >= 1 && stride >= 1, op, ": kernel ", kernel, " and stride ", stride,
                " must be positive (input ", in, ")");
  DIFFLAB_CHECK(in.size() == 4, op, ": expected a 4-D [N, C, H, W] input shape, got ", in);
  DIFFLAB_CHECK(in[2] >= kernel && in[3] >= kernel, op, ": input ", in,
                " is smaller than the kernel ", kernel);
}

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
  check_4d(op, x_in);
  DIFFLAB_CHECK(scale >= 1, "upsample_nearest2d: scale ", scale, " must be >= 1 (input ",
                x_in.shape(), ")");
  const Shape& s = x_in.shape();
  Tensor out = Tensor::empty({s[0], s[1], s[2] * scale, s[3] * scale}, x_in.dtype(), x_in.device());
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
  check_4d(op, grad_out);
  const Shape& s = grad_out.shape();
  DIFFLAB_CHECK(scale >= 1 && s[2] % scale == 0 && s[3] % scale == 0, op, ": grad_out ", s,
                " is not an upsampling by scale ", scale);
  Tensor out =
      Tensor::empty({s[0], s[1], s[2] / scale, s[3] / scale}, grad_out.dtype(), grad_out.device());
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
  check_4d(op, x_in);
  const Shape& s = x_in.shape();
  check_pool_params(op, s, kernel, stride);
  const int64_t Ho = (s[2] - kernel) / stride + 1, Wo = (s[3] - kernel) / stride + 1;
  Tensor out = Tensor::empty({s[0], s[1], Ho, Wo}, x_in.dtype(), x_in.device());
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
  check_4d(op, grad_out);
  check_pool_params(op, input_shape, kernel, stride);
  const Shape& s = input_shape;
  const int64_t Ho = (s[2] - kernel) / stride + 1, Wo = (s[3] - kernel) / stride + 1;
  const Shape expect{s[0], s[1], Ho, Wo};
  DIFFLAB_CHECK(grad_out.shape() == expect, op, ": grad_out ", grad_out.shape(),
                " does not match the output ", expect, " of avg_pool2d of input ", s, " (kernel ",
                kernel, ", stride ", stride, ")");
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
