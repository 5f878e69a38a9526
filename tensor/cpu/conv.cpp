// 2-D convolution as im2col + GEMM, its input gradient (GEMM Wᵀ·dY + col2im) and its weight
// gradient (GEMM dY·colᵀ summed over the batch in a fixed order). A batch of kImageParallelMin
// images or more runs image-parallel: one thread does an image's im2col (tensor/cpu/im2col.h),
// products and col2im in a row, on its own column buffer, while it is still in cache; images
// with short planes (7x7) go 8 at a time, as one product. A smaller batch is processed in
// chunks, each product cut into tiles (tensor/cpu/gemm.h). f32 3x3 convolutions with stride 1
// and padding 1 take Winograd F(2x2, 3x3) (tensor/cpu/winograd.h; F(4x4, 3x3) on planes 5 or
// more wide) with 16 channels or more on both sides, else, on planes of 14x14 or so and up,
// the direct kernels of tensor/cpu/conv3x3.h, parallel over blocks of tiles or images. The path
// and every product's shape depend on the shapes alone, so the convolution gives the same bits
// at any thread count; tensor/cpu/conv_path.h tells which path a call took.
#include <omp.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "tensor/checks/conv.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/conv3x3.h"
#include "tensor/cpu/conv_path.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/im2col.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/winograd.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

// Upper bound on the im2col buffer; a single image larger than this still runs (one at a time).
constexpr int64_t kColBufferBytes = int64_t(32) << 20;
// Batches of at least this many images run image-parallel.
constexpr int64_t kImageParallelMin = 4;
// The image-parallel weight gradient sums the batch in at most this many parts of consecutive
// images (threads share out parts), each into its own partial sum, and those use at most this
// many bytes; the parts are then added in order.
constexpr int64_t kMaxWeightParts = 16;
constexpr int64_t kWeightPartBytes = int64_t(16) << 20;

using checks::ConvGeom;
using checks::is_pointwise;
using cpu::ceil_div;
using cpu::col2im;
using cpu::ColLayout;
using cpu::im2col;
using cpu::stacked_layout;

int64_t chunk_images(const ConvGeom& g, size_t elem) {
  const int64_t per = std::max<int64_t>(1, g.col_per_image() * int64_t(elem));
  return std::clamp<int64_t>(kColBufferBytes / per, 1, std::max<int64_t>(1, g.N));
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

// Images whose output plane has fewer than kShortPlane positions run their products kGroup at a
// time, on a wide column matrix [K, kGroup L]: OpenBLAS runs a 7x7 level's per-image products
// (n = 49) at 137-158 GFLOP/s on one core and those of 8 images at 174-189 (BM_cblas_conv_gemm
// in bench/bench_ops.cpp); at 14x14 (n = 196) grouping bought little. The group size is fixed,
// so the bits still depend on the shapes alone.
constexpr int64_t kShortPlane = 128;
constexpr int64_t kGroup = 8;

int64_t group_size(const ConvGeom& g) { return g.L < kShortPlane ? std::min(kGroup, g.N) : 1; }

// The products' sizes must fit the 32-bit BLAS interface. gemm_serial checks that too, but
// from inside the parallel region, where an exception would end the process: check first.
void check_product_sizes(const ConvGeom& g, int64_t gs) {
  const int64_t big = std::max({g.Kg, g.Cout_g, gs * g.L});
  DIFFLAB_CHECK(big <= INT_MAX, "conv2d: a product dimension of ", big,
                " exceeds the 32-bit BLAS interface (input ", g.N, " x ", g.Cin, " x ", g.H, " x ",
                g.W, ", ", g.Cout, " output channels)");
}

// Per-thread scratch: the column matrix of one group of `gi` images (none for a pointwise conv
// with gi == 1, which reads x directly), and for gi > 1 a [Cout, gi L] matrix for the output or
// gradient in the wide layout.
template <typename T>
struct ThreadBufs {
  Tensor cols, wide;
  int64_t col_elems = 0, wide_elems = 0;
  ThreadBufs(const ConvGeom& g, const Conv2dParams& p, int threads, int64_t gi) {
    if (gi > 1 || !is_pointwise(g, p)) {
      col_elems = gi * g.col_per_image();
      cols = Tensor::empty({threads * col_elems}, DTypeOf<T>::value);
    }
    if (gi > 1) {
      wide_elems = g.Cout * gi * g.L;
      wide = Tensor::empty({threads * wide_elems}, DTypeOf<T>::value);
    }
  }
  T* col(int slot) const { return cols.data<T>() + slot * col_elems; }
  T* out(int slot) const { return wide.data<T>() + slot * wide_elems; }
};

// The column matrix of images [n, n + gi) as the products read it: x itself for a pointwise
// conv of single images, else im2col into the slot's buffer (wide when gi > 1).
template <typename T>
const T* group_columns(const T* x, int64_t n, int64_t gi, int slot, const ConvGeom& g,
                       const Conv2dParams& p, const ThreadBufs<T>& bufs) {
  const T* xin = x + n * g.Cin * g.H * g.W;
  if (!bufs.cols.defined()) return xin;
  T* col = bufs.col(slot);
  const ColLayout lay = gi > 1 ? ColLayout{g.L, gi * g.L} : stacked_layout(g);
  im2col(xin, col, gi, g, p, /*threaded=*/false, lay);
  return col;
}

// [gi, C, L] (images) <-> [C, gi L] (wide).
template <typename T>
void to_wide(const T* src, T* wide, int64_t gi, int64_t C, int64_t L) {
  for (int64_t b = 0; b < gi; ++b)
    for (int64_t c = 0; c < C; ++c)
      std::copy(src + (b * C + c) * L, src + (b * C + c + 1) * L, wide + (c * gi + b) * L);
}
template <typename T>
void from_wide(const T* wide, T* dst, int64_t gi, int64_t C, int64_t L) {
  for (int64_t b = 0; b < gi; ++b)
    for (int64_t c = 0; c < C; ++c)
      std::copy(wide + (c * gi + b) * L, wide + (c * gi + b + 1) * L, dst + (b * C + c) * L);
}

template <typename T>
void conv2d_forward_images(const T* x, const T* w, const T* bias, T* y, const ConvGeom& g,
                           const Conv2dParams& p) {
  const int64_t gs = group_size(g), groups = ceil_div(g.N, gs);
  check_product_sizes(g, gs);
  const int threads = item_threads(groups);
  const ThreadBufs<T> bufs(g, p, threads, gs);
  for_items(groups, threads, [&](int64_t q, int slot) {
    const int64_t n = q * gs, gi = std::min(gs, g.N - n), wn = gi * g.L;
    const T* col = group_columns(x, n, gi, slot, g, p, bufs);
    T* yn = y + n * g.Cout * g.L;
    T* out = gi > 1 ? bufs.out(slot) : yn;
    const cpu::GemmShape s{.m = g.Cout_g, .n = wn, .k = g.Kg, .lda = g.Kg, .ldb = wn, .ldc = wn};
    for (int64_t grp = 0; grp < g.G; ++grp)
      cpu::gemm_serial<T>(s, T(1), w + grp * g.Cout_g * g.Kg, col + grp * g.Kg * wn, T(0),
                          out + grp * g.Cout_g * wn);
    if (gi > 1) from_wide(out, yn, gi, g.Cout, g.L);
    if (bias) add_bias(yn, bias, gi, g.Cout, g.L, /*threaded=*/false);
  });
}

template <typename T>
void conv2d_input_grad_images(const T* dy, const T* w, T* dx, const ConvGeom& g,
                              const Conv2dParams& p) {
  const int64_t gs = group_size(g), groups = ceil_div(g.N, gs);
  check_product_sizes(g, gs);
  const int threads = item_threads(groups);
  const ThreadBufs<T> bufs(g, p, threads, gs);
  for_items(groups, threads, [&](int64_t q, int slot) {
    const int64_t n = q * gs, gi = std::min(gs, g.N - n), wn = gi * g.L;
    T* dxn = dx + n * g.Cin * g.H * g.W;
    T* col = bufs.cols.defined() ? bufs.col(slot) : dxn;
    const T* dyn = dy + n * g.Cout * g.L;
    if (gi > 1) to_wide(dyn, bufs.out(slot), gi, g.Cout, g.L), dyn = bufs.out(slot);
    const cpu::GemmShape s{
        .trans_a = true, .m = g.Kg, .n = wn, .k = g.Cout_g, .lda = g.Kg, .ldb = wn, .ldc = wn};
    for (int64_t grp = 0; grp < g.G; ++grp)
      cpu::gemm_serial<T>(s, T(1), w + grp * g.Cout_g * g.Kg, dyn + grp * g.Cout_g * wn, T(0),
                          col + grp * g.Kg * wn);
    if (bufs.cols.defined())
      col2im(col, dxn, gi, g, p, /*threaded=*/false,
             gi > 1 ? ColLayout{g.L, wn} : stacked_layout(g));
  });
}

// Parts of the batch's weight gradient: `items` groups of images, `bytes` per partial sum, all
// the partial sums within `budget` bytes.
int64_t weight_parts(int64_t bytes, int64_t items, int64_t budget = kWeightPartBytes) {
  return std::clamp<int64_t>(budget / std::max<int64_t>(1, bytes), 1,
                             std::min(kMaxWeightParts, items));
}

// dw = the partial sums (`stride` elements apart, numel by default) added in order.
template <typename T>
void sum_parts(const T* part, int64_t parts, int64_t numel, T* dw, int64_t stride = 0) {
  if (stride == 0) stride = numel;
#pragma omp parallel for schedule(static) if (parts * numel >= cpu::kParallelGrain)
  for (int64_t i = 0; i < numel; ++i) {
    T sum = part[i];
    for (int64_t q = 1; q < parts; ++q) sum += part[q * stride + i];
    dw[i] = sum;
  }
}

template <typename T>
void conv2d_weight_grad_images(const T* dy, const T* x, T* dw, const ConvGeom& g,
                               const Conv2dParams& p) {
  const int64_t numel = g.Cout * g.Kg, gs = group_size(g), groups = ceil_div(g.N, gs);
  const int64_t parts = weight_parts(numel * int64_t(sizeof(T)), groups);
  check_product_sizes(g, gs);
  const int threads = item_threads(parts);
  const ThreadBufs<T> bufs(g, p, threads, gs);
  const Tensor partials =
      parts > 1 ? Tensor::empty({parts * numel}, DTypeOf<T>::value) : Tensor();
  for_items(parts, threads, [&](int64_t part, int slot) {
    T* acc = parts > 1 ? partials.data<T>() + part * numel : dw;
    const int64_t q0 = part * groups / parts, q1 = (part + 1) * groups / parts;
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n = q * gs, gi = std::min(gs, g.N - n), wn = gi * g.L;
      const T* col = group_columns(x, n, gi, slot, g, p, bufs);
      const T* dyn = dy + n * g.Cout * g.L;
      if (gi > 1) to_wide(dyn, bufs.out(slot), gi, g.Cout, g.L), dyn = bufs.out(slot);
      const cpu::GemmShape s{
          .trans_b = true, .m = g.Cout_g, .n = g.Kg, .k = wn, .lda = wn, .ldb = wn, .ldc = g.Kg};
      for (int64_t grp = 0; grp < g.G; ++grp)
        cpu::gemm_serial<T>(s, T(1), dyn + grp * g.Cout_g * wn, col + grp * g.Kg * wn,
                            q == q0 ? T(0) : T(1), acc + grp * g.Cout_g * g.Kg);
    }
  });
  if (parts > 1) sum_parts(partials.data<T>(), parts, numel, dw);
}

// ---- Direct 3x3 path (tensor/cpu/conv3x3.h): f32, stride 1, padding 1, one group ----

// The direct kernels compute H (W + 2) positions (rounded up to 16) for H W outputs. Where that
// wastes more than a fifth they lose their edge: at 7x7 (49 of 64) the direct forward ran at
// 137 GFLOP/s against im2col + GEMM's 145 and the weight gradient at half its speed; at 14x14
// (196 of 224) the forward ran at 161 against 130 (BM_conv2d_unet_level_part, one core).
constexpr double kMinDirectUse = 0.8;

thread_local cpu::ConvPath t_last_path = cpu::ConvPath::none;

// f32, 3x3, stride 1, padding 1, one group, not empty.
bool same_3x3(const ConvGeom& g, const Conv2dParams& p, DType dt) {
  return dt == DType::f32 && g.kh == 3 && g.kw == 3 && g.G == 1 && p.stride_h == 1 &&
         p.stride_w == 1 && p.pad_h == 1 && p.pad_w == 1 && p.dil_h == 1 && p.dil_w == 1 &&
         g.L > 0 && g.Cin > 0;
}

bool direct_3x3(const ConvGeom& g, const Conv2dParams& p, DType dt) {
  if (!same_3x3(g, p, dt) || !image_parallel(g) || !cpu::conv3x3_enabled()) return false;
  const cpu::Conv3x3Plan plan{.cin = g.Cin, .cout = g.Cout, .H = g.H, .W = g.W};
  return double(g.L) >= kMinDirectUse * double(plan.positions());
}

// out [N, cout, H, W] from in [N, cin, H, W], image by image; `transposed` for the input
// gradient (in = dy, out = dx, w the forward weights).
void conv3x3_images(const float* in, const float* w, const float* bias, float* out,
                    const ConvGeom& g, bool transposed) {
  const cpu::Conv3x3Plan plan{.cin = transposed ? g.Cout : g.Cin,
                              .cout = transposed ? g.Cin : g.Cout, .H = g.H, .W = g.W};
  const Tensor packed = Tensor::empty({plan.packed_floats()}, DType::f32);
  cpu::conv3x3_pack_weights(plan, w, transposed, packed.data<float>());
  const int threads = item_threads(g.N);
  const int64_t per = plan.scratch_floats();
  const Tensor scratch = Tensor::empty({threads * per}, DType::f32);
  for_items(g.N, threads, [&](int64_t n, int slot) {
    cpu::conv3x3_image(plan, in + n * plan.cin * g.L, packed.data<float>(), bias,
                       out + n * plan.cout * g.L, scratch.data<float>() + slot * per);
  });
}

// dw from dy and x in parts of consecutive images, as conv2d_weight_grad_images does; a part's
// images go through the kernel at most `chunk` at a time (chunk fixed by the shape), so that
// each thread's scratch stays under kColBufferBytes.
void conv3x3_weight_grad_images(const float* dy, const float* x, float* dw, const ConvGeom& g) {
  const cpu::Conv3x3Plan plan{.cin = g.Cin, .cout = g.Cout, .H = g.H, .W = g.W};
  const int64_t numel = g.Cout * g.Cin * 9;
  const int64_t parts = weight_parts(numel * int64_t(sizeof(float)), g.N);
  const int64_t per_image = plan.weight_grad_scratch_floats(1);
  const int64_t chunk = std::clamp<int64_t>(
      kColBufferBytes / (per_image * int64_t(sizeof(float))), 1, ceil_div(g.N, parts));
  const int threads = item_threads(parts);
  const int64_t per = chunk * per_image;
  const Tensor scratch = Tensor::empty({threads * per}, DType::f32);
  const Tensor partials = parts > 1 ? Tensor::empty({parts * numel}, DType::f32) : Tensor();
  for_items(parts, threads, [&](int64_t part, int slot) {
    const int64_t n0 = part * g.N / parts, n1 = (part + 1) * g.N / parts;
    float* acc = parts > 1 ? partials.data<float>() + part * numel : dw;
    for (int64_t n = n0; n < n1; n += chunk)
      cpu::conv3x3_weight_grad(plan, x + n * g.Cin * g.L, dy + n * g.Cout * g.L,
                               std::min(chunk, n1 - n), /*accumulate=*/n > n0, acc,
                               scratch.data<float>() + slot * per);
  });
  if (parts > 1) sum_parts(partials.data<float>(), parts, numel, dw);
}

// ---- Winograd F(2x2, 3x3) path (tensor/cpu/winograd.h) ----

// The Winograd thresholds below and the measurements behind them: bench/README.md, "Thresholds
// in the kernels".
// Below this many channels on either side the transforms cost more than the products save.
constexpr int64_t kWinogradMinChannels = 16;
// The weight gradient's partial sums, 16 (4 x 4) per weight where im2col's have 9: with
// kWeightPartBytes adding up the parts took as long as computing them; 4 MiB makes 4 parts at
// 128 channels and 16 still at 32 and 64.
constexpr int64_t kWinogradPartBytes = int64_t(4) << 20;
// F(4x4, 3x3)'s have 36 per weight, 2.3 MiB a part at 128 channels: 10 MiB makes 4 parts there,
// which two threads share evenly, and 16 at 64 channels and fewer.
constexpr int64_t kWinograd4PartBytes = int64_t(10) << 20;

bool winograd_3x3(const ConvGeom& g, const Conv2dParams& p, DType dt) {
  return same_3x3(g, p, dt) && cpu::winograd_enabled() && g.Cin >= kWinogradMinChannels &&
         g.Cout >= kWinogradMinChannels && g.W <= cpu::kWinogradMaxWidth;
}

// The blocks of a Winograd plan (cpu::WinogradPlan or cpu::Winograd4Plan) with its weight
// packing and block kernel.
template <typename Plan, typename Pack, typename Block>
void winograd_blocks(const Plan& plan, Pack pack, Block run, const float* in, const float* w,
                     const float* bias, float* out, bool transposed) {
  const Tensor packed = Tensor::empty({plan.packed_floats()}, DType::f32);
  pack(plan, w, transposed, packed.data<float>());
  const int threads = item_threads(plan.blocks());
  const int64_t per = plan.scratch_floats();
  const Tensor scratch = Tensor::empty({threads * per}, DType::f32);
  for_items(plan.blocks(), threads, [&](int64_t block, int slot) {
    run(plan, block, in, packed.data<float>(), bias, out, scratch.data<float>() + slot * per);
  });
}

// F(4x4, 3x3) takes planes this wide or wider, where it beat F(2x2, 3x3); below they tied and
// F(4x4, 3x3) rounds more.
constexpr int64_t kWinograd4MinWidth = 5;

// out [N, cout, H, W] from in [N, cin, H, W], a block of tile rows at a time; `transposed` for
// the input gradient (in = dy, out = dx, w the forward weights). Returns the path taken.
cpu::ConvPath winograd_images(const float* in, const float* w, const float* bias, float* out,
                              const ConvGeom& g, bool transposed) {
  const int64_t cin = transposed ? g.Cout : g.Cin, cout = transposed ? g.Cin : g.Cout;
  if (cpu::winograd4_enabled() && g.W >= kWinograd4MinWidth) {
    winograd_blocks(cpu::Winograd4Plan{.images = g.N, .cin = cin, .cout = cout, .H = g.H, .W = g.W},
                    cpu::winograd4_pack_weights, cpu::winograd4_block, in, w, bias, out,
                    transposed);
    return cpu::ConvPath::winograd4;
  }
  winograd_blocks(cpu::WinogradPlan{.images = g.N, .cin = cin, .cout = cout, .H = g.H, .W = g.W},
                  cpu::winograd_pack_weights, cpu::winograd_block, in, w, bias, out, transposed);
  return cpu::ConvPath::winograd;
}

// dw from dy and x in parts of consecutive images, as conv2d_weight_grad_images does, through a
// Winograd plan's weight-gradient kernels (`grad` and `finish`).
template <typename Plan, typename Grad, typename Finish>
void winograd_weight_parts(const Plan& plan, Grad grad, Finish finish, const float* dy,
                           const float* x, float* dw, int64_t part_bytes) {
  const int64_t numel = plan.grad_sum_floats();
  // The partial sums a vector more than numel apart: at 2^k floats their same elements would
  // share a cache set.
  const int64_t stride = numel + 16;
  const int64_t parts = weight_parts(stride * int64_t(sizeof(float)), plan.images, part_bytes);
  const int threads = item_threads(parts);
  const int64_t per = plan.weight_grad_scratch_floats();
  const Tensor scratch = Tensor::empty({threads * per}, DType::f32);
  const Tensor sums = Tensor::empty({(parts > 1 ? parts + 1 : 1) * stride}, DType::f32);
  float* du = sums.data<float>();
  for_items(parts, threads, [&](int64_t part, int slot) {
    grad(plan, part * plan.images / parts, (part + 1) * plan.images / parts, x, dy,
         du + (parts > 1 ? (part + 1) * stride : 0), scratch.data<float>() + slot * per);
  });
  if (parts > 1) sum_parts(du + stride, parts, numel, du, stride);
  finish(plan, du, dw);
}

cpu::ConvPath winograd_weight_grad_images(const float* dy, const float* x, float* dw,
                                          const ConvGeom& g) {
  if (cpu::winograd4_enabled() && g.W >= kWinograd4MinWidth) {
    winograd_weight_parts(
        cpu::Winograd4Plan{.images = g.N, .cin = g.Cin, .cout = g.Cout, .H = g.H, .W = g.W},
        cpu::winograd4_weight_grad, cpu::winograd4_weight_grad_finish, dy, x, dw,
        kWinograd4PartBytes);
    return cpu::ConvPath::winograd4;
  }
  winograd_weight_parts(
      cpu::WinogradPlan{.images = g.N, .cin = g.Cin, .cout = g.Cout, .H = g.H, .W = g.W},
      cpu::winograd_weight_grad, cpu::winograd_weight_grad_finish, dy, x, dw,
      kWinogradPartBytes);
  return cpu::ConvPath::winograd;
}

Tensor make_colbuf(const ConvGeom& g, const Conv2dParams& p, DType dtype) {
  if (is_pointwise(g, p) || g.N == 0 || g.L == 0) return Tensor();
  const int64_t chunk = chunk_images(g, dtype_size(dtype));
  return Tensor::empty({chunk * g.col_per_image()}, dtype);
}

}  // namespace

cpu::ConvPath cpu::last_conv_path() { return t_last_path; }

const char* cpu::conv_path_name(ConvPath path) {
  switch (path) {
    case ConvPath::im2col: return "im2col";
    case ConvPath::direct: return "direct";
    case ConvPath::winograd: return "winograd";
    case ConvPath::winograd4: return "winograd4";
    default: return "none";
  }
}

Tensor conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in,
              const Conv2dParams& p) {
  OpLabel label_("conv2d");
  t_last_path = cpu::ConvPath::none;  // until the CPU path is chosen below
  DIFFLAB_CUDA_ROUTE(x_in, cuda::conv2d(x_in, w_in, bias_in, p));
  const ConvGeom g = checks::check_conv2d(x_in, w_in, bias_in, p, cpu::cpu_rule);
  Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  Tensor out = Tensor::empty({g.N, g.Cout, g.Ho, g.Wo}, x_in.dtype());
  if (out.numel() == 0) return out;
  Tensor x = x_in.contiguous(), w = w_in.contiguous();
  t_last_path = cpu::ConvPath::im2col;  // unless a branch below says otherwise
  if (winograd_3x3(g, p, x.dtype())) {
    t_last_path =
        winograd_images(x.data<float>(), w.data<float>(),
                        bias.defined() ? bias.data<float>() : nullptr, out.data<float>(), g,
                        /*transposed=*/false);
    return out;
  }
  if (direct_3x3(g, p, x.dtype())) {
    t_last_path = cpu::ConvPath::direct;
    conv3x3_images(x.data<float>(), w.data<float>(), bias.defined() ? bias.data<float>() : nullptr,
                   out.data<float>(), g, /*transposed=*/false);
    return out;
  }
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
  t_last_path = cpu::ConvPath::none;
  DIFFLAB_CUDA_ROUTE(grad_out, cuda::conv2d_input_grad(grad_out, w_in, input_shape, p));
  const ConvGeom g = checks::check_conv2d_input_grad(grad_out, w_in, input_shape, p, cpu::cpu_rule);
  Tensor dx = Tensor::empty(input_shape, grad_out.dtype());
  if (dx.numel() == 0) return dx;
  if (g.L == 0) {
    dx.zero_();
    return dx;
  }
  Tensor dy = grad_out.contiguous(), w = w_in.contiguous();
  t_last_path = cpu::ConvPath::im2col;
  if (winograd_3x3(g, p, dy.dtype())) {
    t_last_path = winograd_images(dy.data<float>(), w.data<float>(), nullptr, dx.data<float>(), g,
                                  /*transposed=*/true);
    return dx;
  }
  if (direct_3x3(g, p, dy.dtype())) {
    t_last_path = cpu::ConvPath::direct;
    conv3x3_images(dy.data<float>(), w.data<float>(), nullptr, dx.data<float>(), g,
                   /*transposed=*/true);
    return dx;
  }
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
  t_last_path = cpu::ConvPath::none;
  DIFFLAB_CUDA_ROUTE(grad_out, cuda::conv2d_weight_grad(grad_out, x_in, weight_shape, p));
  const ConvGeom g =
      checks::check_conv2d_weight_grad(grad_out, x_in, weight_shape, p, cpu::cpu_rule);
  Tensor dw = Tensor::empty(weight_shape, grad_out.dtype());
  if (g.N == 0 || g.L == 0 || g.Cin == 0) {
    dw.zero_();
    return dw;
  }
  Tensor dy = grad_out.contiguous(), x = x_in.contiguous();
  t_last_path = cpu::ConvPath::im2col;
  if (winograd_3x3(g, p, dy.dtype())) {
    t_last_path =
        winograd_weight_grad_images(dy.data<float>(), x.data<float>(), dw.data<float>(), g);
    return dw;
  }
  if (direct_3x3(g, p, dy.dtype())) {
    t_last_path = cpu::ConvPath::direct;
    conv3x3_weight_grad_images(dy.data<float>(), x.data<float>(), dw.data<float>(), g);
    return dw;
  }
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
