// 2-D convolution as im2col + GEMM, its input gradient (GEMM Wᵀ·dY + col2im) and its weight
// gradient (GEMM dY·colᵀ summed over the batch in a fixed order). A batch of kImageParallelMin
// images or more runs image-parallel: one thread does an image's im2col, products and col2im in
// a row, on its own column buffer, while it is still in cache. A smaller batch is processed in
// chunks, each product cut into tiles (tensor/cpu/gemm.h). The path and every product's shape
// depend on the shapes alone, so the convolution gives the same bits at any thread count.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "tensor/checks/conv.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

// Upper bound on the im2col buffer; a single image larger than this still runs (one at a time).
constexpr int64_t kColBufferBytes = int64_t(32) << 20;
// Batches of at least this many images run image-parallel.
constexpr int64_t kImageParallelMin = 4;
// The image-parallel weight gradient sums the batch in at most this many consecutive parts
// (threads share out parts), each into its own partial sum, and those use at most this many
// bytes; the parts are then added in order.
constexpr int64_t kMaxWeightParts = 16;
constexpr int64_t kWeightPartBytes = int64_t(16) << 20;

using checks::ConvGeom;
using checks::is_pointwise;

int64_t chunk_images(const ConvGeom& g, size_t elem) {
  const int64_t per = std::max<int64_t>(1, g.col_per_image() * int64_t(elem));
  return std::clamp<int64_t>(kColBufferBytes / per, 1, std::max<int64_t>(1, g.N));
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Output columns ow whose input column ow * stride + off lies in [0, W): [lo, hi).
void valid_range(int64_t off, int64_t stride, int64_t W, int64_t Wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : ceil_div(-off, stride);
  hi = off >= W ? 0 : std::min(Wo, ceil_div(W - off, stride));
  lo = std::min(lo, Wo);
  hi = std::max(hi, lo);
}

// dst[i] += src[i]; the two never overlap (a column row and an image row), which lets the
// compiler vectorize.
template <typename T>
void add_row(T* __restrict dst, const T* __restrict src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

// With unit strides and Wo == W, tap (ki, kj)'s column row is the input plane shifted by a
// constant: output rows [oh_lo, oh_hi) read input elements base + t for t in [0, (oh_hi -
// oh_lo) W), one contiguous block instead of a short copy per row. Of those, t in [t0, t1) lie
// inside the plane; entries whose column ow is outside [lo, hi) wrapped around a row edge (they
// are padding), and so are all entries outside [t0, t1).
struct FlatTap {
  int64_t oh_lo, oh_hi, lo, hi, base, t0, t1;
};

bool flat_taps(const ConvGeom& g, const Conv2dParams& p) {
  return p.stride_h == 1 && p.stride_w == 1 && g.Wo == g.W;
}

FlatTap flat_tap(const ConvGeom& g, const Conv2dParams& p, int64_t ki, int64_t kj) {
  FlatTap t;
  const int64_t off_w = kj * p.dil_w - p.pad_w, dh = ki * p.dil_h - p.pad_h;  // ih = oh + dh
  valid_range(off_w, 1, g.W, g.Wo, t.lo, t.hi);
  t.oh_lo = std::clamp<int64_t>(-dh, 0, g.Ho);
  t.oh_hi = std::clamp<int64_t>(g.H - dh, t.oh_lo, g.Ho);
  t.base = (t.oh_lo + dh) * g.W + off_w;
  const int64_t n = (t.oh_hi - t.oh_lo) * g.W;
  t.t0 = std::min(n, std::max<int64_t>(0, -t.base));
  t.t1 = std::max(t.t0, std::min(n, g.H * g.W - t.base));
  return t;
}

// flat_tap for every tap, in (ki, kj) order; empty when the layout is not flat.
std::vector<FlatTap> flat_taps_of(const ConvGeom& g, const Conv2dParams& p) {
  std::vector<FlatTap> taps;
  if (!flat_taps(g, p)) return taps;
  for (int64_t ki = 0; ki < g.kh; ++ki)
    for (int64_t kj = 0; kj < g.kw; ++kj) taps.push_back(flat_tap(g, p, ki, kj));
  return taps;
}

// Zeroes the wrapped entries (ow outside [lo, hi)) of rows [oh_lo, oh_hi) of a column row. The
// usual case, one column at one edge (3x3, padding 1), is a strided store per row: a loop over
// the few columns would become a memset call per row.
template <typename T>
void zero_wrapped(T* row, const ConvGeom& g, const FlatTap& t) {
  const int64_t right = g.Wo - t.hi;
  if (t.lo + right == 0) return;
  T* first = row + t.oh_lo * g.Wo;
  const int64_t rows = t.oh_hi - t.oh_lo;
  if (t.lo == 1 && right == 0) {
    for (int64_t r = 0; r < rows; ++r) first[r * g.Wo] = T(0);
  } else if (t.lo == 0 && right == 1) {
    for (int64_t r = 0; r < rows; ++r) first[r * g.Wo + g.Wo - 1] = T(0);
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      std::fill(first + r * g.Wo, first + r * g.Wo + t.lo, T(0));
      std::fill(first + r * g.Wo + t.hi, first + (r + 1) * g.Wo, T(0));
    }
  }
}

// x [B, Cin, H, W] -> col [B, Cin * kh * kw, Ho * Wo]; row (c, ki, kj) holds the input pixels
// that kernel tap (ki, kj) of channel c sees at every output position (0 in the padding).
template <typename T>
void im2col(const T* x, T* col, int64_t B, const ConvGeom& g, const Conv2dParams& p,
            bool threaded = true) {
  const int64_t planes = B * g.Cin, taps = g.kh * g.kw;
  const std::vector<FlatTap> flat = flat_taps_of(g, p);
#pragma omp parallel for schedule(static) if (threaded && planes * taps * g.L >= cpu::kParallelGrain)
  for (int64_t bc = 0; bc < planes; ++bc) {
    const T* xp = x + bc * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + (bc * taps + ki * g.kw + kj) * g.L;
        if (!flat.empty()) {
          const FlatTap& t = flat[size_t(ki * g.kw + kj)];
          std::fill(row, row + t.oh_lo * g.Wo, T(0));
          std::fill(row + t.oh_hi * g.Wo, row + g.L, T(0));
          std::copy(xp + t.base + t.t0, xp + t.base + t.t1, row + t.oh_lo * g.Wo + t.t0);
          zero_wrapped(row, g, t);
          continue;
        }
        const int64_t off_w = kj * p.dil_w - p.pad_w;
        int64_t lo, hi;
        valid_range(off_w, p.stride_w, g.W, g.Wo, lo, hi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          T* r = row + oh * g.Wo;
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dil_h;
          if (ih < 0 || ih >= g.H) {
            std::fill(r, r + g.Wo, T(0));
            continue;
          }
          const T* xr = xp + ih * g.W;
          std::fill(r, r + lo, T(0));
          if (p.stride_w == 1) {
            std::copy(xr + (lo + off_w), xr + (hi + off_w), r + lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow * p.stride_w + off_w];
          }
          std::fill(r + hi, r + g.Wo, T(0));
        }
      }
    }
  }
}

// The adjoint of im2col: dx [B, Cin, H, W] = sum of the column entries that read each pixel.
// One thread owns each (image, channel) plane and adds its taps in a fixed order.
// col is scratch: the flat path zeroes its wrapped entries, then adds a tap's rows as one block.
template <typename T>
void col2im(T* col, T* dx, int64_t B, const ConvGeom& g, const Conv2dParams& p,
            bool threaded = true) {
  const int64_t planes = B * g.Cin, taps = g.kh * g.kw;
  const std::vector<FlatTap> flat = flat_taps_of(g, p);
#pragma omp parallel for schedule(static) if (threaded && planes * taps * g.L >= cpu::kParallelGrain)
  for (int64_t bc = 0; bc < planes; ++bc) {
    T* xp = dx + bc * g.H * g.W;
    std::fill(xp, xp + g.H * g.W, T(0));
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row = col + (bc * taps + ki * g.kw + kj) * g.L;
        if (!flat.empty()) {
          const FlatTap& t = flat[size_t(ki * g.kw + kj)];
          zero_wrapped(row, g, t);
          add_row(xp + t.base + t.t0, row + t.oh_lo * g.Wo + t.t0, t.t1 - t.t0);
          continue;
        }
        const int64_t off_w = kj * p.dil_w - p.pad_w;
        int64_t lo, hi;
        valid_range(off_w, p.stride_w, g.W, g.Wo, lo, hi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dil_h;
          if (ih < 0 || ih >= g.H) continue;
          T* xr = xp + ih * g.W;
          const T* r = row + oh * g.Wo;
          if (p.stride_w == 1)
            add_row(xr + lo + off_w, r + lo, hi - lo);
          else
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow * p.stride_w + off_w] += r[ow];
        }
      }
    }
  }
}

template <typename T>
void add_bias(T* y, const T* bias, int64_t N, int64_t C, int64_t L, bool threaded = true) {
#pragma omp parallel for schedule(static) if (threaded && N * C * L >= cpu::kParallelGrain)
  for (int64_t nc = 0; nc < N * C; ++nc) {
    T* p = y + nc * L;
    const T b = bias[nc % C];
    for (int64_t i = 0; i < L; ++i) p[i] += b;
  }
}

// The column matrix of images n0 .. n0+nb-1: the input itself for a pointwise conv, else
// im2col into colbuf.
template <typename T>
const T* chunk_columns(const T* x, int64_t n0, int64_t nb, const ConvGeom& g, const Conv2dParams& p,
                       const Tensor& colbuf, bool direct) {
  const T* xin = x + n0 * g.Cin * g.H * g.W;
  if (direct) return xin;
  im2col(xin, colbuf.data<T>(), nb, g, p);
  return colbuf.data<T>();
}

// Operand pointers of the per-(image, group) products of one chunk, image-major.
template <typename T>
struct ChunkOperands {
  std::vector<const T*> a, b;
  std::vector<T*> c;
};

template <typename T>
void conv2d_forward_impl(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g,
                         const Conv2dParams& p, const Tensor& colbuf) {
  const bool direct = is_pointwise(g, p);
  const int64_t chunk = chunk_images(g, sizeof(T));
  const int64_t cpi = g.col_per_image();
  const cpu::GemmShape s{.m = g.Cout_g, .n = g.L, .k = g.Kg, .lda = g.Kg, .ldb = g.L, .ldc = g.L};
  ChunkOperands<T> ops;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    const T* col = chunk_columns(x, n0, nb, g, p, colbuf, direct);
    ops.a.clear(), ops.b.clear(), ops.c.clear();
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t grp = 0; grp < g.G; ++grp) {
        ops.a.push_back(w + grp * g.Cout_g * g.Kg);
        ops.b.push_back(col + b * cpi + grp * g.Kg * g.L);
        ops.c.push_back(y + (n0 + b) * g.Cout * g.L + grp * g.Cout_g * g.L);
      }
    cpu::gemm_batched<T>(s, T(1), T(0), nb * g.G, 1, ops.a, ops.b, ops.c);
  }
  if (bias) add_bias(y, bias, g.N, g.Cout, g.L);
}

template <typename T>
void conv2d_input_grad_impl(const T* dy, const T* w, T* dx, const ConvGeom& g,
                            const Conv2dParams& p, const Tensor& colbuf) {
  const bool direct = is_pointwise(g, p);
  const int64_t chunk = chunk_images(g, sizeof(T));
  const int64_t cpi = g.col_per_image();
  const cpu::GemmShape s{
      .trans_a = true, .m = g.Kg, .n = g.L, .k = g.Cout_g, .lda = g.Kg, .ldb = g.L, .ldc = g.L};
  ChunkOperands<T> ops;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    T* dxo = dx + n0 * g.Cin * g.H * g.W;
    T* col = direct ? dxo : colbuf.data<T>();
    ops.a.clear(), ops.b.clear(), ops.c.clear();
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t grp = 0; grp < g.G; ++grp) {
        ops.a.push_back(w + grp * g.Cout_g * g.Kg);
        ops.b.push_back(dy + (n0 + b) * g.Cout * g.L + grp * g.Cout_g * g.L);
        ops.c.push_back(col + b * cpi + grp * g.Kg * g.L);
      }
    cpu::gemm_batched<T>(s, T(1), T(0), nb * g.G, 1, ops.a, ops.b, ops.c);
    if (!direct) col2im(col, dxo, nb, g, p);
  }
}

template <typename T>
void conv2d_weight_grad_impl(const T* dy, const T* x, T* dw, const ConvGeom& g,
                             const Conv2dParams& p, const Tensor& colbuf) {
  const bool direct = is_pointwise(g, p);
  const int64_t chunk = chunk_images(g, sizeof(T));
  const int64_t cpi = g.col_per_image();
  const cpu::GemmShape s{
      .trans_b = true, .m = g.Cout_g, .n = g.Kg, .k = g.L, .lda = g.L, .ldb = g.L, .ldc = g.Kg};
  ChunkOperands<T> ops;
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.N - n0);
    const T* col = chunk_columns(x, n0, nb, g, p, colbuf, direct);
    // One product per group, summed over the chunk's images in order (the GEMM's terms) and
    // onto the earlier chunks (beta = 1): a fixed order over the batch.
    ops.a.clear(), ops.b.clear(), ops.c.clear();
    for (int64_t grp = 0; grp < g.G; ++grp) {
      for (int64_t b = 0; b < nb; ++b) {
        ops.a.push_back(dy + (n0 + b) * g.Cout * g.L + grp * g.Cout_g * g.L);
        ops.b.push_back(col + b * cpi + grp * g.Kg * g.L);
      }
      ops.c.push_back(dw + grp * g.Cout_g * g.Kg);
    }
    cpu::gemm_batched<T>(s, T(1), n0 == 0 ? T(0) : T(1), g.G, nb, ops.a, ops.b, ops.c);
  }
}

// ---- Image-parallel path (batches of kImageParallelMin images or more) ----

bool image_parallel(const ConvGeom& g) { return g.N >= kImageParallelMin; }

// Threads for `count` items: 1 when only one is allowed or the caller is already parallel, else
// at least 2, so that gemm_serial's calls run inside an active parallel region.
int item_threads(int64_t count) {
  if (omp_in_parallel() || omp_get_max_threads() == 1) return 1;
  return int(std::clamp<int64_t>(count, 2, omp_get_max_threads()));
}

// f(item, slot) for every item in [0, count); slot < threads names the calling thread's buffers.
template <typename F>
void for_items(int64_t count, int threads, F&& f) {
  if (threads == 1) {
    for (int64_t i = 0; i < count; ++i) f(i, 0);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t i = 0; i < count; ++i) f(i, omp_get_thread_num());
}

// One column buffer per thread (none for a pointwise convolution, which reads x directly).
template <typename T>
Tensor thread_colbufs(const ConvGeom& g, const Conv2dParams& p, int threads) {
  if (is_pointwise(g, p)) return Tensor();
  return Tensor::empty({int64_t(threads) * g.col_per_image()}, DTypeOf<T>::value);
}

// Image n's column matrix: x itself for a pointwise conv, else im2col into the slot's buffer.
template <typename T>
const T* image_columns(const T* x, int64_t n, int slot, const ConvGeom& g, const Conv2dParams& p,
                       const Tensor& colbufs) {
  const T* xin = x + n * g.Cin * g.H * g.W;
  if (!colbufs.defined()) return xin;
  T* col = colbufs.data<T>() + slot * g.col_per_image();
  im2col(xin, col, 1, g, p, /*threaded=*/false);
  return col;
}

template <typename T>
void conv2d_forward_images(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g,
                           const Conv2dParams& p) {
  const int threads = item_threads(g.N);
  const Tensor colbufs = thread_colbufs<T>(g, p, threads);
  const cpu::GemmShape s{.m = g.Cout_g, .n = g.L, .k = g.Kg, .lda = g.Kg, .ldb = g.L, .ldc = g.L};
  for_items(g.N, threads, [&](int64_t n, int slot) {
    const T* col = image_columns(x, n, slot, g, p, colbufs);
    T* yn = y + n * g.Cout * g.L;
    for (int64_t grp = 0; grp < g.G; ++grp)
      cpu::gemm_serial<T>(s, T(1), w + grp * g.Cout_g * g.Kg, col + grp * g.Kg * g.L, T(0),
                          yn + grp * g.Cout_g * g.L);
    if (bias) add_bias(yn, bias, 1, g.Cout, g.L, /*threaded=*/false);
  });
}

template <typename T>
void conv2d_input_grad_images(const T* dy, const T* w, T* dx, const ConvGeom& g,
                              const Conv2dParams& p) {
  const int threads = item_threads(g.N);
  const Tensor colbufs = thread_colbufs<T>(g, p, threads);
  const cpu::GemmShape s{
      .trans_a = true, .m = g.Kg, .n = g.L, .k = g.Cout_g, .lda = g.Kg, .ldb = g.L, .ldc = g.L};
  for_items(g.N, threads, [&](int64_t n, int slot) {
    T* dxn = dx + n * g.Cin * g.H * g.W;
    T* col = colbufs.defined() ? colbufs.data<T>() + slot * g.col_per_image() : dxn;
    const T* dyn = dy + n * g.Cout * g.L;
    for (int64_t grp = 0; grp < g.G; ++grp)
      cpu::gemm_serial<T>(s, T(1), w + grp * g.Cout_g * g.Kg, dyn + grp * g.Cout_g * g.L, T(0),
                          col + grp * g.Kg * g.L);
    if (colbufs.defined()) col2im(col, dxn, 1, g, p, /*threaded=*/false);
  });
}

template <typename T>
void conv2d_weight_grad_images(const T* dy, const T* x, T* dw, const ConvGeom& g,
                               const Conv2dParams& p) {
  const int64_t numel = g.Cout * g.Kg;
  const int64_t parts = std::clamp<int64_t>(
      kWeightPartBytes / std::max<int64_t>(1, numel * int64_t(sizeof(T))), 1,
      std::min(kMaxWeightParts, g.N));
  const int threads = item_threads(parts);
  const Tensor colbufs = thread_colbufs<T>(g, p, threads);
  const Tensor partials =
      parts > 1 ? Tensor::empty({parts * numel}, DTypeOf<T>::value) : Tensor();
  const cpu::GemmShape s{
      .trans_b = true, .m = g.Cout_g, .n = g.Kg, .k = g.L, .lda = g.L, .ldb = g.L, .ldc = g.Kg};
  for_items(parts, threads, [&](int64_t q, int slot) {
    T* acc = parts > 1 ? partials.data<T>() + q * numel : dw;
    const int64_t n0 = q * g.N / parts, n1 = (q + 1) * g.N / parts;
    for (int64_t n = n0; n < n1; ++n) {
      const T* col = image_columns(x, n, slot, g, p, colbufs);
      const T* dyn = dy + n * g.Cout * g.L;
      for (int64_t grp = 0; grp < g.G; ++grp)
        cpu::gemm_serial<T>(s, T(1), dyn + grp * g.Cout_g * g.L, col + grp * g.Kg * g.L,
                            n == n0 ? T(0) : T(1), acc + grp * g.Cout_g * g.Kg);
    }
  });
  if (parts == 1) return;
  const T* part = partials.data<T>();
#pragma omp parallel for schedule(static) if (parts * numel >= cpu::kParallelGrain)
  for (int64_t i = 0; i < numel; ++i) {
    T sum = part[i];
    for (int64_t q = 1; q < parts; ++q) sum += part[q * numel + i];
    dw[i] = sum;
  }
}

Tensor make_colbuf(const ConvGeom& g, const Conv2dParams& p, DType dtype) {
  if (is_pointwise(g, p) || g.N == 0 || g.L == 0) return Tensor();
  const int64_t chunk = chunk_images(g, dtype_size(dtype));
  return Tensor::empty({chunk * g.col_per_image()}, dtype);
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in,
              const Conv2dParams& p) {
  OpLabel label_("conv2d");
  DIFFLAB_CUDA_ROUTE(x_in, cuda::conv2d(x_in, w_in, bias_in, p));
  const ConvGeom g = checks::check_conv2d(x_in, w_in, bias_in, p, cpu::cpu_rule);
  Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  Tensor out = Tensor::empty({g.N, g.Cout, g.Ho, g.Wo}, x_in.dtype());
  if (out.numel() == 0) return out;
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
    using T = scalar_t;
    const T* b = bias.defined() ? bias.data<T>() : nullptr;
    if (image_parallel(g))
      conv2d_forward_images<T>(x.data<T>(), w.data<T>(), b, out.data<T>(), g, p);
    else
      conv2d_forward_impl<T>(x.data<T>(), w.data<T>(), b, out.data<T>(), g, p,
                             make_colbuf(g, p, x.dtype()));
  });
  return out;
}

Tensor conv2d_input_grad(const Tensor& grad_out, const Tensor& w_in, const Shape& input_shape,
                         const Conv2dParams& p) {
  const char* op = "conv2d_input_grad";
  OpLabel label_(op);
  DIFFLAB_CUDA_ROUTE(grad_out, cuda::conv2d_input_grad(grad_out, w_in, input_shape, p));
  const ConvGeom g = checks::check_conv2d_input_grad(grad_out, w_in, input_shape, p, cpu::cpu_rule);
  Tensor dx = Tensor::empty(input_shape, grad_out.dtype());
  if (dx.numel() == 0) return dx;
  if (g.L == 0) {
    dx.zero_();
    return dx;
  }
  Tensor dy = grad_out.contiguous(), w = w_in.contiguous();
  DIFFLAB_DISPATCH_FLOAT(dy.dtype(), op, [&] {
    using T = scalar_t;
    if (image_parallel(g))
      conv2d_input_grad_images<T>(dy.data<T>(), w.data<T>(), dx.data<T>(), g, p);
    else
      conv2d_input_grad_impl<T>(dy.data<T>(), w.data<T>(), dx.data<T>(), g, p,
                                make_colbuf(g, p, dy.dtype()));
  });
  return dx;
}

Tensor conv2d_weight_grad(const Tensor& grad_out, const Tensor& x_in, const Shape& weight_shape,
                          const Conv2dParams& p) {
  const char* op = "conv2d_weight_grad";
  OpLabel label_(op);
  DIFFLAB_CUDA_ROUTE(grad_out, cuda::conv2d_weight_grad(grad_out, x_in, weight_shape, p));
  const ConvGeom g =
      checks::check_conv2d_weight_grad(grad_out, x_in, weight_shape, p, cpu::cpu_rule);
  Tensor dw = Tensor::empty(weight_shape, grad_out.dtype());
  if (g.N == 0 || g.L == 0 || g.Cin == 0) {
    dw.zero_();
    return dw;
  }
  Tensor dy = grad_out.contiguous(), x = x_in.contiguous();
  DIFFLAB_DISPATCH_FLOAT(dy.dtype(), op, [&] {
    using T = scalar_t;
    if (image_parallel(g))
      conv2d_weight_grad_images<T>(dy.data<T>(), x.data<T>(), dw.data<T>(), g, p);
    else
      conv2d_weight_grad_impl<T>(dy.data<T>(), x.data<T>(), dw.data<T>(), g, p,
                                 make_colbuf(g, p, dy.dtype()));
  });
  return dw;
}

}  // namespace difflab::tensor
