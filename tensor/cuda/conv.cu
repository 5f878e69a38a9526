// 2-D convolution on cuBLAS: forward as im2col + strided-batched GEMM, input gradient as
// GEMM Wᵀ·dY + col2im (a gather, one thread per input pixel), weight gradient as one GEMM per
// chunk of images over the chunk's columns laid out [Cin·kh·kw, images·Ho·Wo], accumulated
// over the chunks in order. No atomics, and chunking depends only on the shapes: deterministic.
#include <algorithm>

#include "tensor/checks/conv.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

// Upper bound on the scratch a chunk of images uses; a single image larger than this still
// runs (one at a time).
constexpr int64_t kColBufferBytes = int64_t(256) << 20;

using checks::ConvGeom;
using checks::is_pointwise;

// Images per chunk when each image needs `per_image` scratch elements.
int64_t chunk_images(const ConvGeom& g, int64_t per_image, size_t elem) {
  const int64_t per = std::max<int64_t>(1, per_image * int64_t(elem));
  return std::clamp<int64_t>(kColBufferBytes / per, 1, std::max<int64_t>(1, g.N));
}

// What the kernels need of the geometry, by value.
struct ConvArgs {
  int64_t Cin, H, W, kh, kw, Ho, Wo, L;
  int64_t sh, sw, ph, pw, dh, dw;
};

ConvArgs conv_args(const ConvGeom& g, const Conv2dParams& p) {
  return {g.Cin, g.H,        g.W,        g.kh,    g.kw,    g.Ho,    g.Wo,
          g.L,   p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dil_h, p.dil_w};
}

// x: nb images [Cin, H, W] -> col, one thread per column element. Row (c, ki, kj) holds what
// tap (ki, kj) of channel c sees at each output position (0 in the padding). Layout
// [nb, Cin*kh*kw, L] (image-major), or with batch_inner [Cin*kh*kw, nb, L].
template <typename T>
__global__ void im2col_kernel(int64_t total, const T* x, T* col, ConvArgs a, int64_t nb,
                              bool batch_inner) {
  const int64_t taps = a.kh * a.kw, rows = a.Cin * taps;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t l = i % a.L, r = i / a.L;
    const int64_t b = batch_inner ? r % nb : r / rows;
    const int64_t row = batch_inner ? r / nb : r % rows;
    const int64_t c = row / taps, t = row % taps;
    const int64_t ki = t / a.kw, kj = t % a.kw;
    const int64_t ih = (l / a.Wo) * a.sh - a.ph + ki * a.dh;
    const int64_t iw = (l % a.Wo) * a.sw - a.pw + kj * a.dw;
    const bool in = ih >= 0 && ih < a.H && iw >= 0 && iw < a.W;
    col[i] = in ? x[((b * a.Cin + c) * a.H + ih) * a.W + iw] : T(0);
  }
}

// The adjoint of im2col (image-major layout): each input pixel of the nb images sums the
// column entries that read it, taps in the order (ki, kj) the CPU adds them.
template <typename T>
__global__ void col2im_kernel(int64_t total, const T* col, T* dx, ConvArgs a) {
  const int64_t taps = a.kh * a.kw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = i % a.W, ih = i / a.W % a.H, bc = i / (a.W * a.H);
    const T* cp = col + bc * taps * a.L;
    T acc = T(0);
    for (int64_t ki = 0; ki < a.kh; ++ki) {
      const int64_t h = ih + a.ph - ki * a.dh;
      if (h < 0) break;  // smaller still for larger ki
      if (h % a.sh != 0 || h / a.sh >= a.Ho) continue;
      const int64_t oh = h / a.sh;
      for (int64_t kj = 0; kj < a.kw; ++kj) {
        const int64_t w = iw + a.pw - kj * a.dw;
        if (w < 0) break;
        if (w % a.sw != 0 || w / a.sw >= a.Wo) continue;
        acc += cp[(ki * a.kw + kj) * a.L + oh * a.Wo + w / a.sw];
      }
    }
    dx[i] = acc;
  }
}

template <typename T>
__global__ void add_bias_kernel(int64_t total, T* y, const T* bias, int64_t C, int64_t L) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] += bias[i / L % C];
}

// im2col of images [n0, n0 + nb) of x into col (contiguous, nb * col_per_image elements).
void im2col(const char* op, const Tensor& x, int64_t n0, int64_t nb, const Tensor& col,
            const ConvGeom& g, const Conv2dParams& p, bool batch_inner, cudaStream_t s) {
  const int64_t total = nb * g.col_per_image();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    im2col_kernel<T>
        <<<blocks_for(total), kThreads, 0, s>>>(total, x.data<T>() + n0 * g.Cin * g.H * g.W,
                                                col.data<T>(), conv_args(g, p), nb, batch_inner);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
}

// Where the operand of product (image b, group grp) starts: base + b * per_b + grp * per_g.
struct Placement {
  int64_t base, per_b, per_g;
};

// The nb x G products of one chunk, all of shape s: one strided-batched call per group over
// the images, or per image over the groups, whichever takes fewer calls.
void gemm_grid(GemmSpec s, int64_t nb, int64_t G, const Tensor& a, Placement pa, const Tensor& b,
               Placement pb, const Tensor& c, Placement pc) {
  const bool per_group = G <= nb;
  const int64_t calls = per_group ? G : nb;
  s.count = per_group ? nb : G;
  s.stride_a = per_group ? pa.per_b : pa.per_g;
  s.stride_b = per_group ? pb.per_b : pb.per_g;
  s.stride_c = per_group ? pc.per_b : pc.per_g;
  for (int64_t i = 0; i < calls; ++i) {
    s.off_a = pa.base + i * (per_group ? pa.per_g : pa.per_b);
    s.off_b = pb.base + i * (per_group ? pb.per_g : pb.per_b);
    s.off_c = pc.base + i * (per_group ? pc.per_g : pc.per_b);
    gemm(s, 1.0, a, b, 0.0, c);
  }
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in,
              const Conv2dParams& p) {
  const char* op = "conv2d";
  OpLabel label_(op);
  const ConvGeom g = checks::check_conv2d(x_in, w_in, bias_in, p, checks::same_device);
  Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  Tensor out = Tensor::empty({g.N, g.Cout, g.Ho, g.Wo}, x_in.dtype(), x_in.device());
  if (out.numel() == 0) return out;
  cudaStream_t s = prepare(x_in);
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  const bool direct = is_pointwise(g, p);
  const int64_t cpi = g.col_per_image();
  const int64_t chunk = direct ? g.N : chunk_images(g, cpi, x.element_size());
  Tensor col = direct ? x : Tensor::empty({chunk * cpi}, x.dtype(), x.device());
  GemmSpec gs;
  gs.op = op;
  gs.m = g.Cout_g, gs.n = g.L, gs.k = g.Kg, gs.lda = g.Kg, gs.ldb = g.L, gs.ldc = g.L;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    if (!direct) im2col(op, x, n0, nb, col, g, p, false, s);
    gemm_grid(gs, nb, g.G, w, {0, 0, g.Cout_g * g.Kg}, col,
              {direct ? n0 * cpi : 0, cpi, g.Kg * g.L}, out,
              {n0 * g.Cout * g.L, g.Cout * g.L, g.Cout_g * g.L});
  }
  if (bias.defined()) {
    const int64_t total = out.numel();
    DIFFLAB_DISPATCH_FLOAT(out.dtype(), op, [&] {
      using T = scalar_t;
      add_bias_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(total, out.data<T>(),
                                                                bias.data<T>(), g.Cout, g.L);
    });
    DIFFLAB_CUDA_LAUNCHED(op);
  }
  return out;
}

Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& w_in, const Shape& input_shape,
                         const Conv2dParams& p) {
  const char* op = "conv2d_input_grad";
  OpLabel label_(op);
  const ConvGeom g =
      checks::check_conv2d_input_grad(grad_out, w_in, input_shape, p, checks::same_device);
  Tensor dx = Tensor::empty(input_shape, grad_out.dtype(), grad_out.device());
  if (dx.numel() == 0) return dx;
  if (g.L == 0) {
    dx.zero_();
    return dx;
  }
  cudaStream_t s = prepare(grad_out);
  Tensor dy = grad_out.contiguous(), w = w_in.contiguous();
  const bool direct = is_pointwise(g, p);
  const int64_t cpi = g.col_per_image();
  const int64_t chunk = direct ? g.N : chunk_images(g, cpi, dy.element_size());
  // Pointwise: the columns are dx itself.
  Tensor col = direct ? dx : Tensor::empty({chunk * cpi}, dy.dtype(), dy.device());
  GemmSpec gs;
  gs.op = op;
  gs.trans_a = true;
  gs.m = g.Kg, gs.n = g.L, gs.k = g.Cout_g, gs.lda = g.Kg, gs.ldb = g.L, gs.ldc = g.L;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    gemm_grid(gs, nb, g.G, w, {0, 0, g.Cout_g * g.Kg}, dy,
              {n0 * g.Cout * g.L, g.Cout * g.L, g.Cout_g * g.L}, col,
              {direct ? n0 * cpi : 0, cpi, g.Kg * g.L});
    if (direct) continue;
    const int64_t total = nb * g.Cin * g.H * g.W;
    DIFFLAB_DISPATCH_FLOAT(dy.dtype(), op, [&] {
      using T = scalar_t;
      col2im_kernel<T><<<blocks_for(total), kThreads, 0, s>>>(
          total, col.data<T>(), dx.data<T>() + n0 * g.Cin * g.H * g.W, conv_args(g, p));
    });
    DIFFLAB_CUDA_LAUNCHED(op);
  }
  return dx;
}

Tensor conv2d_weight_grad(const Tensor& grad_out, const Tensor& x_in, const Shape& weight_shape,
                          const Conv2dParams& p) {
  const char* op = "conv2d_weight_grad";
  OpLabel label_(op);
  const ConvGeom g =
      checks::check_conv2d_weight_grad(grad_out, x_in, weight_shape, p, checks::same_device);
  Tensor dw = Tensor::empty(weight_shape, grad_out.dtype(), grad_out.device());
  if (g.N == 0 || g.L == 0 || g.Cin == 0) {
    dw.zero_();
    return dw;
  }
  cudaStream_t s = prepare(grad_out);
  Tensor dy = grad_out.contiguous(), x = x_in.contiguous();
  const bool direct = is_pointwise(g, p);
  const int64_t rows = g.Cin * g.kh * g.kw;  // column rows over all groups
  // Per chunk: the columns [rows, nb * L] and dY transposed to [Cout, nb * L], so that the sum
  // over the chunk's images and positions is the inner dimension of one GEMM per group.
  const int64_t chunk = chunk_images(g, (rows + g.Cout) * g.L, dy.element_size());
  Tensor colbuf = direct ? Tensor() : Tensor::empty({chunk * rows * g.L}, x.dtype(), x.device());
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    const int64_t K = nb * g.L;
    Tensor col = colbuf;
    if (direct)  // x itself, [nb, Cin, L] -> [Cin, nb, L]
      col = x.slice(0, n0, n0 + nb).reshape({nb, g.Cin, g.L}).permute({1, 0, 2}).contiguous();
    else
      im2col(op, x, n0, nb, colbuf, g, p, true, s);
    Tensor dyt =
        dy.slice(0, n0, n0 + nb).reshape({nb, g.Cout, g.L}).permute({1, 0, 2}).contiguous();
    // dW_grp [Cout_g, Kg] (+)= dYt_grp [Cout_g, K] · col_grpᵀ [K, Kg], batched over groups;
    // the chunks add on in order (beta = 1 after the first).
    GemmSpec gs;
    gs.op = op;
    gs.trans_b = true;
    gs.m = g.Cout_g, gs.n = g.Kg, gs.k = K, gs.lda = K, gs.ldb = K, gs.ldc = g.Kg;
    gs.count = g.G;
    gs.stride_a = g.Cout_g * K, gs.stride_b = g.Kg * K, gs.stride_c = g.Cout_g * g.Kg;
    gemm(gs, 1.0, dyt, col, n0 == 0 ? 0.0 : 1.0, dw);
  }
  return dw;
}

}  // namespace difflab::tensor::cuda
