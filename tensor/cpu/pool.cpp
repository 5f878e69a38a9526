// Nearest-neighbour upsampling, average pooling and their adjoints. Every output element is
// computed by one thread from a fixed-order sum (accumulated in f64), so results do not depend
// on the thread count.
#include <algorithm>

#include "tensor/checks/pool.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

// Runs before the shared checks of tensor/checks/pool.h: an undefined tensor counts as on the
// CPU, so theirs is still the error for it.
void check_on_cpu(const char* op, const Tensor& t) {
  DIFFLAB_CHECK(t.device().is_cpu(), op, ": tensor on ", t.device(),
                " but the CUDA backend is not built");
}

// out [NC, H*s, W*s]: each output row copies input row oh / s, every pixel repeated s times.
template <typename T>
void upsample_impl(const T* x, T* out, int64_t NC, int64_t H, int64_t W, int64_t s) {
  const int64_t Ho = H * s, Wo = W * s, rows = NC * Ho;
#pragma omp parallel for schedule(static) if (rows * Wo >= cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t nc = r / Ho, oh = r % Ho;
    const T* xr = x + (nc * H + oh / s) * W;
    T* o = out + r * Wo;
    for (int64_t iw = 0; iw < W; ++iw)
      for (int64_t j = 0; j < s; ++j) o[iw * s + j] = xr[iw];
  }
}

// out [NC, H, W] = sum over each s×s block of g [NC, H*s, W*s], rows then columns.
template <typename T>
void upsample_backward_impl(const T* g, T* out, int64_t NC, int64_t H, int64_t W, int64_t s) {
  const int64_t Wg = W * s, rows = NC * H;
#pragma omp parallel for schedule(static) if (rows * W * s * s >= cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* gb = g + r * s * Wg;  // first of the s grad rows feeding output row r
    T* o = out + r * W;
    for (int64_t w = 0; w < W; ++w) {
      double acc = 0;
      for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < s; ++j) acc += double(gb[i * Wg + w * s + j]);
      o[w] = T(acc);
    }
  }
}

template <typename T>
void avg_pool_impl(const T* x, T* out, int64_t NC, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                   int64_t k, int64_t s) {
  const int64_t rows = NC * Ho;
  const double inv = 1.0 / double(k * k);
#pragma omp parallel for schedule(static) if (rows * Wo * k * k >= cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t nc = r / Ho, oh = r % Ho;
    const T* xb = x + (nc * H + oh * s) * W;
    T* o = out + r * Wo;
    for (int64_t ow = 0; ow < Wo; ++ow) {
      double acc = 0;
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j) acc += double(xb[i * W + ow * s + j]);
      o[ow] = T(acc * inv);
    }
  }
}

// Output indices o with o * s <= i < o * s + k, clamped to [0, n): [lo, hi).
inline void windows_containing(int64_t i, int64_t k, int64_t s, int64_t n, int64_t& lo,
                               int64_t& hi) {
  lo = i >= k ? (i - k) / s + 1 : 0;
  hi = std::min(n, i / s + 1);
}

// Gather form of the adjoint: each input pixel sums the gradients of the windows that cover it.
template <typename T>
void avg_pool_backward_impl(const T* g, T* dx, int64_t NC, int64_t H, int64_t W, int64_t Ho,
                            int64_t Wo, int64_t k, int64_t s) {
  const int64_t rows = NC * H;
  const double inv = 1.0 / double(k * k);
#pragma omp parallel for schedule(static) if (rows * W * k * k >= cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t nc = r / H, ih = r % H;
    int64_t oh0, oh1;
    windows_containing(ih, k, s, Ho, oh0, oh1);
    const T* gp = g + nc * Ho * Wo;
    T* o = dx + r * W;
    for (int64_t iw = 0; iw < W; ++iw) {
      int64_t ow0, ow1;
      windows_containing(iw, k, s, Wo, ow0, ow1);
      double acc = 0;
      for (int64_t oh = oh0; oh < oh1; ++oh)
        for (int64_t ow = ow0; ow < ow1; ++ow) acc += double(gp[oh * Wo + ow]);
      o[iw] = T(acc * inv);
    }
  }
}

}  // namespace

Tensor upsample_nearest2d(const Tensor& x_in, int64_t scale) {
  OpLabel label_("upsample_nearest2d");
  DIFFLAB_CUDA_ROUTE(x_in, cuda::upsample_nearest2d(x_in, scale));
  check_on_cpu("upsample_nearest2d", x_in);
  Tensor out = Tensor::empty(checks::check_upsample_nearest2d(x_in, scale), x_in.dtype());
  const Shape& s = x_in.shape();
  if (out.numel() == 0) return out;
  Tensor x = x_in.contiguous();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), "upsample_nearest2d", [&] {
    upsample_impl(x.data<scalar_t>(), out.data<scalar_t>(), s[0] * s[1], s[2], s[3], scale);
  });
  return out;
}

Tensor upsample_nearest2d_backward(const Tensor& grad_out, int64_t scale) {
  OpLabel label_("upsample_nearest2d_backward");
  DIFFLAB_CUDA_ROUTE(grad_out, cuda::upsample_nearest2d_backward(grad_out, scale));
  const char* op = "upsample_nearest2d_backward";
  check_on_cpu(op, grad_out);
  Tensor out =
      Tensor::empty(checks::check_upsample_nearest2d_backward(grad_out, scale), grad_out.dtype());
  const Shape& s = grad_out.shape();
  if (out.numel() == 0) return out;
  Tensor g = grad_out.contiguous();
  DIFFLAB_DISPATCH_FLOAT(g.dtype(), op, [&] {
    upsample_backward_impl(g.data<scalar_t>(), out.data<scalar_t>(), s[0] * s[1], s[2] / scale,
                           s[3] / scale, scale);
  });
  return out;
}

Tensor avg_pool2d(const Tensor& x_in, int64_t kernel, int64_t stride) {
  OpLabel label_("avg_pool2d");
  DIFFLAB_CUDA_ROUTE(x_in, cuda::avg_pool2d(x_in, kernel, stride));
  check_on_cpu("avg_pool2d", x_in);
  const Shape os = checks::check_avg_pool2d(x_in, kernel, stride);
  const Shape& s = x_in.shape();
  const int64_t Ho = os[2], Wo = os[3];
  Tensor out = Tensor::empty(os, x_in.dtype());
  if (out.numel() == 0) return out;
  Tensor x = x_in.contiguous();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), "avg_pool2d", [&] {
    avg_pool_impl(x.data<scalar_t>(), out.data<scalar_t>(), s[0] * s[1], s[2], s[3], Ho, Wo, kernel,
                  stride);
  });
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, int64_t kernel,
                           int64_t stride) {
  OpLabel label_("avg_pool2d_backward");
  DIFFLAB_CUDA_ROUTE(grad_out, cuda::avg_pool2d_backward(grad_out, input_shape, kernel, stride));
  const char* op = "avg_pool2d_backward";
  check_on_cpu(op, grad_out);
  const Shape os = checks::check_avg_pool2d_backward(grad_out, input_shape, kernel, stride);
  const Shape& s = input_shape;
  const int64_t Ho = os[2], Wo = os[3];
  Tensor dx = Tensor::empty(s, grad_out.dtype());
  if (dx.numel() == 0) return dx;
  Tensor g = grad_out.contiguous();
  DIFFLAB_DISPATCH_FLOAT(g.dtype(), op, [&] {
    avg_pool_backward_impl(g.data<scalar_t>(), dx.data<scalar_t>(), s[0] * s[1], s[2], s[3], Ho, Wo,
                           kernel, stride);
  });
  return dx;
}

}  // namespace difflab::tensor
