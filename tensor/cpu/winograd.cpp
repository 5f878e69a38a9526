// Winograd F(2x2, 3x3) convolution of f32 images on AVX-512 (see winograd.h).
#include "tensor/cpu/winograd.h"

#include <algorithm>
#include <cstring>

#include "tensor/cpu/avx512.h"
#include "tensor/cpu/conv3x3.h"
#include "tensor/cpu/winograd_common.h"
#include "tensor/error.h"

namespace difflab::tensor::cpu {

using namespace simd;  // kLanes (tiles per vector), kRows, kMaxVecs, round_up, ...

namespace {

constexpr int kXi = 16;  // the 4 x 4 transformed positions
// A full block's V and M together take about this many bytes (in L2 on one core).
constexpr int64_t kBlockBytes = int64_t(512) << 10;

bool g_enabled = true;

}  // namespace

int64_t WinogradPlan::block_rows() const {
  return winograd_block_rows(kXi, cin, cout, tiles_w(), kBlockBytes);
}
int64_t WinogradPlan::blocks() const { return (rows() + block_rows() - 1) / block_rows(); }
int64_t WinogradPlan::block_tiles() const { return round_up(block_rows() * tiles_w(), kLanes); }
int64_t WinogradPlan::packed_floats() const { return kXi * channel_blocks(cout) * cin * kRows; }
// V, then M.
int64_t WinogradPlan::scratch_floats() const {
  return kXi * (v_stride(*this, block_tiles()) + m_stride(*this, block_tiles()));
}

int64_t WinogradPlan::grad_tiles() const {
  const int64_t budget = kBlockBytes / (kXi * int64_t(sizeof(float)) *
                                        (round_up(cin, kLanes) + channel_blocks(cout) * kRows));
  return round_up(std::max(budget, tiles_w()), kLanes);
}
// The image in channels-last order, Vᵗ and dM (GradLayout in winograd.cpp).
int64_t WinogradPlan::weight_grad_scratch_floats() const {
  const int64_t cp = round_up(cin, kLanes), rows = channel_blocks(cout) * kRows, T = grad_tiles();
  return H * W * cp + kXi * ((T * cp + kLanes) + (rows * T + kLanes));
}
int64_t WinogradPlan::grad_sum_floats() const {
  return kXi * channel_blocks(cout) * kRows * round_up(cin, kLanes);
}

bool winograd_enabled() { return g_enabled && conv3x3_built(); }
void set_winograd_enabled(bool on) { g_enabled = on; }

void winograd_pack_weights(const WinogradPlan& plan, const float* w, bool transposed,
                           float* packed) {
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  pack_transformed_weights(G, plan.cin, plan.cout, w, transposed, packed);
}

#if defined(__AVX512F__)

namespace {

using Chunk = TileChunk<2>;

// The even and the odd lanes of the 32 floats a, b.
inline __m512 evens(__m512 a, __m512 b) {
  const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  return _mm512_permutex2var_ps(a, idx, b);
}
inline __m512 odds(__m512 a, __m512 b) {
  const __m512i idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  return _mm512_permutex2var_ps(a, idx, b);
}
// The 16 floats from lane 2 of a on (a, b concatenated).
inline __m512 from2(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(
      _mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 2));
}

// V [16][cin][T] of tile rows r0 .. r1 - 1 (tile t = (r - r0) tw + tx): Bᵀ d B of each 4x4 input
// block d, the columns T past the tiles zero.
void input_transform(const WinogradPlan& p, int64_t r0, int64_t r1, const float* x,
                     const Chunk* chunks, int nchunks, int64_t T, float* V) {
  const int64_t th = p.tiles_h(), tw = p.tiles_w(), H = p.H, W = p.W, cin = p.cin;
  const int64_t xi_stride = v_stride(p, T), used = (r1 - r0) * tw;
  for (int64_t ci = 0; ci < cin; ++ci) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / th, ty = r % th;
      const float* plane = x + (n * cin + ci) * H * W;
      for (int c = 0; c < nchunks; ++c) {
        const Chunk& ch = chunks[c];
        __m512 d[4][3];
        for (int i = 0; i < 4; ++i) {
          const int64_t row = 2 * ty - 1 + i;
          if (row < 0 || row >= H) {
            for (int k = 0; k < 3; ++k) d[i][k] = _mm512_setzero_ps();
            continue;
          }
          // Column 2 tx0 - 1 on; the lanes outside the row are masked (and read as zero).
          const float* src = plane + row * W + 2 * ch.tx0 - 1;
          for (int k = 0; k < 3; ++k) d[i][k] = _mm512_maskz_loadu_ps(ch.in[k], src + k * kLanes);
        }
        float* v = V + ci * T + (r - r0) * tw + ch.tx0;
        for (int i = 0; i < 4; ++i) {
          __m512 t[3];
          for (int k = 0; k < 3; ++k) {
            const __m512 d0 = d[0][k], d1 = d[1][k], d2 = d[2][k], d3 = d[3][k];
            t[k] = i == 0   ? _mm512_sub_ps(d0, d2)
                   : i == 1 ? _mm512_add_ps(d1, d2)
                   : i == 2 ? _mm512_sub_ps(d2, d1)
                            : _mm512_sub_ps(d1, d3);
          }
          // Columns 2 tx + j of the tiles, j = 0 .. 3.
          const __m512 s0 = from2(t[0], t[1]), s1 = from2(t[1], t[2]);
          const __m512 e0 = evens(t[0], t[1]), e1 = odds(t[0], t[1]);
          const __m512 e2 = evens(s0, s1), e3 = odds(s0, s1);
          float* vi = v + 4 * i * xi_stride;
          _mm512_mask_storeu_ps(vi, ch.tiles, _mm512_sub_ps(e0, e2));
          _mm512_mask_storeu_ps(vi + xi_stride, ch.tiles, _mm512_add_ps(e1, e2));
          _mm512_mask_storeu_ps(vi + 2 * xi_stride, ch.tiles, _mm512_sub_ps(e2, e1));
          _mm512_mask_storeu_ps(vi + 3 * xi_stride, ch.tiles, _mm512_sub_ps(e1, e3));
        }
      }
    }
    // The columns from `used` to T: zero (fewer than 16 but in a last, partial block).
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t q = used; q < T; q += kLanes)
        _mm512_mask_storeu_ps(V + xi * xi_stride + ci * T + q,
                              __mmask16((1u << std::min<int64_t>(kLanes, T - q)) - 1),
                              _mm512_setzero_ps());
  }
}

// y's tile rows r0 .. r1 - 1 from M: Aᵀ m A of each tile's 4 x 4 m, plus the bias.
void output_transform(const WinogradPlan& p, int64_t r0, int64_t r1, const float* M, int64_t T,
                      const Chunk* chunks, int nchunks, const float* bias, float* y) {
  const int64_t th = p.tiles_h(), tw = p.tiles_w(), H = p.H, W = p.W, cout = p.cout;
  const int64_t xi_stride = m_stride(p, T);
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t co = 0; co < cout; ++co) {
    const __m512 b = _mm512_set1_ps(bias ? bias[co] : 0.f);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / th, ty = r % th;
      float* plane = y + (n * cout + co) * H * W;
      for (int c = 0; c < nchunks; ++c) {
        const Chunk& ch = chunks[c];
        const float* m = M + co * T + (r - r0) * tw + ch.tx0;
        __m512 s[2][4];
        for (int j = 0; j < 4; ++j) {
          const __m512 m0 = _mm512_loadu_ps(m + j * xi_stride);
          const __m512 m1 = _mm512_loadu_ps(m + (4 + j) * xi_stride);
          const __m512 m2 = _mm512_loadu_ps(m + (8 + j) * xi_stride);
          const __m512 m3 = _mm512_loadu_ps(m + (12 + j) * xi_stride);
          s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
          s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int a = 0; a < 2; ++a) {
          const int64_t row = 2 * ty + a;
          if (row >= H) break;
          const __m512 y0 =
              _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]), b);
          const __m512 y1 =
              _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]), b);
          float* dst = plane + row * W + 2 * ch.tx0;
          _mm512_mask_storeu_ps(dst, ch.out[0], _mm512_permutex2var_ps(y0, lo, y1));
          _mm512_mask_storeu_ps(dst + kLanes, ch.out[1], _mm512_permutex2var_ps(y0, hi, y1));
        }
      }
    }
  }
}

}  // namespace

void winograd_block(const WinogradPlan& plan, int64_t block, const float* x, const float* packed,
                    const float* bias, float* y, float* scratch) {
  winograd_forward_block<2, kXi>("winograd_block", plan, block, x, packed, bias, y, scratch,
                                 input_transform, output_transform);
}

namespace {

// One thread's scratch for the weight gradient: the image channels-last, xt [H][W][cp];
// Vᵗ [16][T][cp] (each tile's transformed input, the input channels innermost); dM [16][rows][T]
// (the transformed output gradient); and the sum dU [16][rows][cp], the caller's. cp is cin
// rounded up to 16,
// rows cout rounded up to kRows; the 16 matrices of Vᵗ and dM are a vector apart, as V and M's.
struct GradLayout {
  int64_t cp, rows, T, vt_stride, dm_stride;
  float *xt, *vt, *dm, *du;
  GradLayout(const WinogradPlan& p, float* scratch, float* sum)
      : cp(round_up(p.cin, kLanes)),
        rows(channel_blocks(p.cout) * kRows),
        T(p.grad_tiles()),
        vt_stride(T * cp + kLanes),
        dm_stride(rows * T + kLanes),
        xt(scratch),
        vt(xt + p.H * p.W * cp),
        dm(vt + kXi * vt_stride),
        du(sum) {}
};

// Vᵗ's tiles t0 .. t0 + tw - 1 from tile row ty of xt: Bᵀ d B, 16 input channels at a time.
void input_transform_cl(const WinogradPlan& p, int64_t ty, int64_t t0, const GradLayout& L) {
  const int64_t H = p.H, W = p.W, cp = L.cp;
  for (int64_t tx = 0; tx < p.tiles_w(); ++tx) {
    const float* src[4][4];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int64_t row = 2 * ty - 1 + i, col = 2 * tx - 1 + j;
        src[i][j] =
            row >= 0 && row < H && col >= 0 && col < W ? L.xt + (row * W + col) * cp : nullptr;
      }
    float* dst = L.vt + (t0 + tx) * cp;
    for (int64_t c = 0; c < cp; c += kLanes) {
      __m512 t[4][4];
      for (int j = 0; j < 4; ++j) {
        __m512 d[4];
        for (int i = 0; i < 4; ++i)
          d[i] = src[i][j] ? _mm512_loadu_ps(src[i][j] + c) : _mm512_setzero_ps();
        t[0][j] = _mm512_sub_ps(d[0], d[2]);
        t[1][j] = _mm512_add_ps(d[1], d[2]);
        t[2][j] = _mm512_sub_ps(d[2], d[1]);
        t[3][j] = _mm512_sub_ps(d[1], d[3]);
      }
      for (int i = 0; i < 4; ++i) {
        float* o = dst + c + 4 * i * L.vt_stride;
        _mm512_storeu_ps(o, _mm512_sub_ps(t[i][0], t[i][2]));
        _mm512_storeu_ps(o + L.vt_stride, _mm512_add_ps(t[i][1], t[i][2]));
        _mm512_storeu_ps(o + 2 * L.vt_stride, _mm512_sub_ps(t[i][2], t[i][1]));
        _mm512_storeu_ps(o + 3 * L.vt_stride, _mm512_sub_ps(t[i][1], t[i][3]));
      }
    }
  }
}

// dM's tiles t0 .. t0 + tw - 1 from tile row ty of dy [cout][H][W]: A dY Aᵀ of each tile's 2x2
// output gradient dY (zero past the planes' edges), 16 tiles at a time.
void grad_transform(const WinogradPlan& p, const float* dy, int64_t ty, int64_t t0,
                    const Chunk* chunks, int nchunks, const GradLayout& L) {
  const int64_t H = p.H, W = p.W;
  for (int64_t co = 0; co < p.cout; ++co) {
    const float* plane = dy + co * H * W;
    for (int c = 0; c < nchunks; ++c) {
      const Chunk& ch = chunks[c];
      __m512 e[2], o[2];  // dY [a][0] and dY [a][1] of each tile, rows a = 0, 1
      for (int a = 0; a < 2; ++a) {
        const int64_t row = 2 * ty + a;
        __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
        if (row < H) {
          const float* src = plane + row * W + 2 * ch.tx0;
          // The next tile row's: the planes are visited 2 rows at a time, which the hardware
          // prefetcher does not follow.
          if (row + 2 < H) {
            _mm_prefetch(reinterpret_cast<const char*>(src + 2 * W), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(src + 2 * W + kLanes), _MM_HINT_T0);
          }
          lo = _mm512_maskz_loadu_ps(ch.out[0], src);
          hi = _mm512_maskz_loadu_ps(ch.out[1], src + kLanes);
        }
        e[a] = evens(lo, hi), o[a] = odds(lo, hi);
      }
      // Rows of A dY: (e0, o0), (e0 + e1, o0 + o1), (e0 - e1, o0 - o1), (-e1, -o1).
      const __m512 zero = _mm512_setzero_ps();
      const __m512 x0[4] = {e[0], _mm512_add_ps(e[0], e[1]), _mm512_sub_ps(e[0], e[1]),
                            _mm512_sub_ps(zero, e[1])};
      const __m512 x1[4] = {o[0], _mm512_add_ps(o[0], o[1]), _mm512_sub_ps(o[0], o[1]),
                            _mm512_sub_ps(zero, o[1])};
      float* dst = L.dm + co * L.T + t0 + ch.tx0;
      for (int i = 0; i < 4; ++i) {
        float* d = dst + 4 * i * L.dm_stride;
        _mm512_mask_storeu_ps(d, ch.tiles, x0[i]);
        _mm512_mask_storeu_ps(d + L.dm_stride, ch.tiles, _mm512_add_ps(x0[i], x1[i]));
        _mm512_mask_storeu_ps(d + 2 * L.dm_stride, ch.tiles, _mm512_sub_ps(x0[i], x1[i]));
        _mm512_mask_storeu_ps(d + 3 * L.dm_stride, ch.tiles, _mm512_sub_ps(zero, x1[i]));
      }
    }
  }
}

}  // namespace

void winograd_weight_grad(const WinogradPlan& plan, int64_t n0, int64_t n1, const float* x,
                          const float* dy, float* du, float* scratch) {
  const GradLayout L(plan, scratch, du);
  Chunk chunks[kWinogradMaxWidth / 2 / kLanes];
  DIFFLAB_CHECK(plan.W <= kWinogradMaxWidth, "winograd_weight_grad: planes wider than ",
                kWinogradMaxWidth, " columns are not supported (W = ", plan.W, ")");
  const int nchunks = make_tile_chunks(plan.W, plan.tiles_w(), chunks);
  const int64_t tw = plan.tiles_w(), hw = plan.H * plan.W;
  std::memset(L.du, 0, sizeof(float) * kXi * L.rows * L.cp);
  // dM's rows past cout stay zero; the tiles go in, a tile row at a time, until the next row
  // would not fit, then dU takes their products.
  for (int xi = 0; xi < kXi; ++xi)
    std::memset(L.dm + xi * L.dm_stride + plan.cout * L.T, 0,
                sizeof(float) * (L.rows - plan.cout) * L.T);
  const auto products = [&](int64_t n) {
    grad_products(kXi, n, L.dm, L.dm_stride, L.T, 1, L.rows, L.vt, L.vt_stride, L.cp, L.du);
  };
  int64_t filled = 0;
  for (int64_t n = n0; n < n1; ++n) {
    channels_last(plan.H, plan.W, plan.cin, L.cp, x + n * plan.cin * hw, L.xt);
    for (int64_t ty = 0; ty < plan.tiles_h(); ++ty) {
      if (filled + tw > L.T) products(filled), filled = 0;
      input_transform_cl(plan, ty, filled, L);
      grad_transform(plan, dy + n * plan.cout * hw, ty, filled, chunks, nchunks, L);
      filled += tw;
    }
  }
  if (filled > 0) products(filled);
}

void winograd_weight_grad_finish(const WinogradPlan& plan, const float* du, float* dw) {
  // Gᵀ u G with G's rows (1, 0, 0), (½, ½, ½), (½, -½, ½), (0, 0, 1): per 4-vector u,
  // Gᵀ u = (u0 + ½ (u1 + u2), ½ (u1 - u2), u3 + ½ (u1 + u2)).
  const __m512 half = _mm512_set1_ps(0.5f);
  weight_grad_finish<4>(plan.cin, plan.cout, du, dw, [&](const __m512* u, __m512* o) {
    const __m512 s = _mm512_mul_ps(half, _mm512_add_ps(u[1], u[2]));
    o[0] = _mm512_add_ps(u[0], s);
    o[1] = _mm512_mul_ps(half, _mm512_sub_ps(u[1], u[2]));
    o[2] = _mm512_add_ps(u[3], s);
  });
}

#else

void winograd_block(const WinogradPlan&, int64_t, const float*, const float*, const float*, float*,
                    float*) {
  DIFFLAB_FAIL("winograd_block: this build does not target AVX-512F (conv3x3_built() is false)");
}
void winograd_weight_grad(const WinogradPlan&, int64_t, int64_t, const float*, const float*, float*,
                          float*) {
  DIFFLAB_FAIL(
      "winograd_weight_grad: this build does not target AVX-512F (conv3x3_built() is "
      "false)");
}
void winograd_weight_grad_finish(const WinogradPlan&, const float*, float*) {
  DIFFLAB_FAIL("winograd_weight_grad_finish: this build does not target AVX-512F");
}

#endif

}  // namespace difflab::tensor::cpu
