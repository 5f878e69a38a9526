// Winograd F(4x4, 3x3) convolution of f32 images on AVX-512 (see winograd.h): the forward and
// the input gradient a block of tile rows at a time, as winograd.cpp's F(2x2, 3x3), and the
// weight gradient.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/cpu/avx512.h"
#include "tensor/cpu/winograd.h"
#include "tensor/cpu/winograd_common.h"
#include "tensor/error.h"

namespace difflab::tensor::cpu {

using namespace simd;  // kLanes (tiles per vector), kRows, kMaxVecs, round_up, ...

namespace {

constexpr int kXi = 36;  // the 6 x 6 transformed positions
// A full block's V and M together take about this many bytes (in L2 on one core).
constexpr int64_t kBlockBytes = int64_t(768) << 10;

bool g_enabled = true;

}  // namespace

bool winograd4_enabled() { return g_enabled && winograd_enabled(); }
void set_winograd4_enabled(bool on) { g_enabled = on; }

int64_t Winograd4Plan::block_rows() const {
  return winograd_block_rows(kXi, cin, cout, tiles_w(), kBlockBytes);
}
int64_t Winograd4Plan::blocks() const { return (rows() + block_rows() - 1) / block_rows(); }
int64_t Winograd4Plan::block_tiles() const { return round_up(block_rows() * tiles_w(), kLanes); }
// Gathers pay where a tile row has 3 tiles or fewer (bench/README.md, "Thresholds in the
// kernels").
bool Winograd4Plan::gathered() const {
  const int64_t images = block_rows() / tiles_h() + 2;  // at most, in one block
  return tiles_w() <= 3 &&
         images * std::max(cin, cout) * H * W <= std::numeric_limits<int32_t>::max();
}
int64_t Winograd4Plan::packed_floats() const { return kXi * channel_blocks(cout) * cin * kRows; }
int64_t Winograd4Plan::scratch_floats() const {
  return kXi * (v_stride(*this, block_tiles()) + m_stride(*this, block_tiles()));
}

// The weight gradient's tiles per batch of products: as many as keep Vᵗ and dMᵗ within
// kBlockBytes, 16 at least, and a tile row at least.
int64_t Winograd4Plan::grad_tiles() const {
  const int64_t per =
      kXi * int64_t(sizeof(float)) * (round_up(cin, kLanes) + round_up(cout, kLanes));
  return std::max({kLanes, kBlockBytes / per, tiles_w()});
}
// The image and the output gradient channels-last, Vᵗ and dMᵗ (Grad4Layout).
int64_t Winograd4Plan::weight_grad_scratch_floats() const {
  const int64_t cp = round_up(cin, kLanes), cop = round_up(cout, kLanes), T = grad_tiles();
  return H * W * (cp + cop) + kXi * ((T * cp + kLanes) + (T * cop + kLanes));
}
int64_t Winograd4Plan::grad_sum_floats() const {
  return kXi * channel_blocks(cout) * kRows * round_up(cin, kLanes);
}

void winograd4_pack_weights(const Winograd4Plan& plan, const float* w, bool transposed,
                            float* packed) {
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},
                                     {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                     {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                     {0, 0, 1}};
  pack_transformed_weights(G, plan.cin, plan.cout, w, transposed, packed);
}

#if defined(__AVX512F__)

namespace {

using Chunk4 = TileChunk<4>;

// Bᵀ of F(4x4, 3x3) applied to six values (rows of the block, or columns of a row):
// (4 d0 - 5 d2 + d4, -4 d1 - 4 d2 + d3 + d4, 4 d1 - 4 d2 - d3 + d4, -2 d1 - d2 + 2 d3 + d4,
//  2 d1 - d2 - 2 d3 + d4, 4 d1 - 5 d3 + d5).
inline void bt6(const __m512* d, __m512* o) {
  const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
  const __m512 a = _mm512_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const __m512 b = _mm512_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  const __m512 c = _mm512_sub_ps(d[4], d[2]);
  const __m512 e = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  o[0] = _mm512_fmadd_ps(four, d[0], _mm512_fnmadd_ps(five, d[2], d[4]));
  o[1] = _mm512_add_ps(a, b);
  o[2] = _mm512_sub_ps(a, b);
  o[3] = _mm512_add_ps(c, e);
  o[4] = _mm512_sub_ps(c, e);
  o[5] = _mm512_fmadd_ps(four, d[1], _mm512_fnmadd_ps(five, d[3], d[5]));
}

// Aᵀ of F(4x4, 3x3) applied to six values: (m0 + m1 + m2 + m3 + m4, m1 - m2 + 2 (m3 - m4),
// m1 + m2 + 4 (m3 + m4), m1 - m2 + 8 (m3 - m4) + m5).
inline void at6(const __m512* m, __m512* o) {
  const __m512 p = _mm512_add_ps(m[1], m[2]), q = _mm512_sub_ps(m[1], m[2]);
  const __m512 r = _mm512_add_ps(m[3], m[4]), s = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], p), r);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), s, q);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), r, p);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), s, q), m[5]);
}

// y = Aᵀ m A for the 16 tiles of the 6 x 6 matrices m (their elements 6 i + j, each a vector of
// tiles, `stride` floats apart).
inline void tile_outputs(const float* m, int64_t stride, __m512 (&y)[4][4]) {
  __m512 s[4][6];  // Aᵀ down the rows, per column j
  for (int j = 0; j < 6; ++j) {
    __m512 col[6], o[4];
    for (int i = 0; i < 6; ++i) col[i] = _mm512_loadu_ps(m + (6 * i + j) * stride);
    at6(col, o);
    for (int a = 0; a < 4; ++a) s[a][j] = o[a];
  }
  for (int a = 0; a < 4; ++a) at6(s[a], y[a]);
}

// Lanes 4k + j, k = 0 .. 15, of the 64 floats a0 .. a3 (j = 0 .. 3).
inline __m512 every4(const __m512* a, int j) {
  const __m512i idx =
      _mm512_add_epi32(_mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28),
                       _mm512_set1_epi32(j));
  const __m512 lo = _mm512_permutex2var_ps(a[0], idx, a[1]);
  const __m512 hi = _mm512_permutex2var_ps(a[2], idx, a[3]);
  return _mm512_shuffle_f32x4(lo, hi, 0x44);
}

// The 16 floats from lane 4 of a on (a, b concatenated).
inline __m512 from4(__m512 a, __m512 b) {
  return _mm512_castsi512_ps(
      _mm512_alignr_epi32(_mm512_castps_si512(b), _mm512_castps_si512(a), 4));
}

// V [36][cin][T] of tile rows r0 .. r1 - 1 (tile t = (r - r0) tw + tx): Bᵀ d B of each 6x6
// input block d, the columns T past the tiles zero.
void input_transform(const Winograd4Plan& p, int64_t r0, int64_t r1, const float* x,
                     const Chunk4* chunks, int nchunks, int64_t T, float* V) {
  const int64_t th = p.tiles_h(), tw = p.tiles_w(), H = p.H, W = p.W, cin = p.cin;
  const int64_t xi_stride = v_stride(p, T), used = (r1 - r0) * tw;
  for (int64_t ci = 0; ci < cin; ++ci) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / th, ty = r % th;
      const float* plane = x + (n * cin + ci) * H * W;
      for (int c = 0; c < nchunks; ++c) {
        const Chunk4& ch = chunks[c];
        // The six rows' columns 4 tx0 - 1 + [0, 80), combined by Bᵀ down the rows.
        __m512 t[6][5];
        for (int k = 0; k < 5; ++k) {
          __m512 d[6];
          for (int i = 0; i < 6; ++i) {
            const int64_t row = 4 * ty - 1 + i;
            d[i] = row < 0 || row >= H
                       ? _mm512_setzero_ps()
                       : _mm512_maskz_loadu_ps(ch.in[k],
                                               plane + row * W + 4 * ch.tx0 - 1 + k * kLanes);
          }
          __m512 o[6];
          bt6(d, o);
          for (int i = 0; i < 6; ++i) t[i][k] = o[i];
        }
        float* v = V + ci * T + (r - r0) * tw + ch.tx0;
        for (int i = 0; i < 6; ++i) {
          // Columns 4 tx + j of the tiles, then Bᵀ across them.
          const __m512 s[4] = {from4(t[i][0], t[i][1]), from4(t[i][1], t[i][2]),
                               from4(t[i][2], t[i][3]), from4(t[i][3], t[i][4])};
          const __m512 col[6] = {every4(t[i], 0), every4(t[i], 1), every4(t[i], 2),
                                 every4(t[i], 3), every4(s, 0),    every4(s, 1)};
          __m512 o[6];
          bt6(col, o);
          for (int j = 0; j < 6; ++j)
            _mm512_mask_storeu_ps(v + (6 * i + j) * xi_stride, ch.tiles, o[j]);
        }
      }
    }
    for (int xi = 0; xi < kXi; ++xi)
      for (int64_t q = used; q < T; q += kLanes)
        _mm512_mask_storeu_ps(V + xi * xi_stride + ci * T + q,
                              __mmask16((1u << std::min<int64_t>(kLanes, T - q)) - 1),
                              _mm512_setzero_ps());
  }
}

// y's tile rows r0 .. r1 - 1 from M: Aᵀ m A of each tile's 6 x 6 m, plus the bias.
void output_transform(const Winograd4Plan& p, int64_t r0, int64_t r1, const float* M, int64_t T,
                      const Chunk4* chunks, int nchunks, const float* bias, float* y) {
  const int64_t th = p.tiles_h(), tw = p.tiles_w(), H = p.H, W = p.W, cout = p.cout;
  const int64_t xi_stride = m_stride(p, T);
  // Interleaving y0 .. y3 (outputs 4k + b = y_b[k]): pairs, then pairs of pairs.
  const __m512i pair_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i pair_hi =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i quad_lo = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i quad_hi =
      _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  for (int64_t co = 0; co < cout; ++co) {
    const __m512 b = _mm512_set1_ps(bias ? bias[co] : 0.f);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t n = r / th, ty = r % th;
      float* plane = y + (n * cout + co) * H * W;
      for (int c = 0; c < nchunks; ++c) {
        const Chunk4& ch = chunks[c];
        __m512 y4[4][4];
        tile_outputs(M + co * T + (r - r0) * tw + ch.tx0, xi_stride, y4);
        for (int a = 0; a < 4; ++a) {
          const int64_t row = 4 * ty + a;
          if (row >= H) break;
          __m512 o[4];
          for (int k = 0; k < 4; ++k) o[k] = _mm512_add_ps(y4[a][k], b);
          const __m512 p01l = _mm512_permutex2var_ps(o[0], pair_lo, o[1]);
          const __m512 p01h = _mm512_permutex2var_ps(o[0], pair_hi, o[1]);
          const __m512 p23l = _mm512_permutex2var_ps(o[2], pair_lo, o[3]);
          const __m512 p23h = _mm512_permutex2var_ps(o[2], pair_hi, o[3]);
          float* dst = plane + row * W + 4 * ch.tx0;
          _mm512_mask_storeu_ps(dst, ch.out[0], _mm512_permutex2var_ps(p01l, quad_lo, p23l));
          _mm512_mask_storeu_ps(dst + kLanes, ch.out[1],
                                _mm512_permutex2var_ps(p01l, quad_hi, p23l));
          _mm512_mask_storeu_ps(dst + 2 * kLanes, ch.out[2],
                                _mm512_permutex2var_ps(p01h, quad_lo, p23h));
          _mm512_mask_storeu_ps(dst + 3 * kLanes, ch.out[3],
                                _mm512_permutex2var_ps(p01h, quad_hi, p23h));
        }
      }
    }
  }
}

// ---- Gathered transforms, for planes 3 tiles wide or narrower (Winograd4Plan::gathered): each
// lane takes its own tile, wherever it lies in the block, so that all 16 lanes work where a tile
// row has 2 or 3 tiles. Loads are gathers and stores scatters.

// Vector q of a block's tiles (t = 16 q + l in lane l): the offset of the element (4 ty + o,
// 4 tx + o) of each tile from the plane of the block's first image (images `channels` planes
// apart), and the lanes whose rows 4 ty + o + i and columns 4 tx + o + j lie in the plane
// (i, j < 6), rows only for tiles that exist.
struct LaneTiles {
  alignas(64) int32_t idx[kLanes];
  __mmask16 row[6], col[6];
};

std::vector<LaneTiles> lane_tiles(const Winograd4Plan& p, int64_t r0, int64_t r1, int64_t T,
                                  int64_t channels, int o) {
  const int64_t th = p.tiles_h(), tw = p.tiles_w(), used = (r1 - r0) * tw, n0 = r0 / th;
  std::vector<LaneTiles> lanes(size_t(T / kLanes));
  for (int64_t q = 0; q < T / kLanes; ++q) {
    LaneTiles& L = lanes[size_t(q)];
    L = LaneTiles{};
    for (int l = 0; l < kLanes; ++l) {
      const int64_t t = q * kLanes + l;
      if (t >= used) continue;
      const int64_t r = r0 + t / tw, n = r / th, y0 = 4 * (r % th) + o, x0 = 4 * (t % tw) + o;
      L.idx[l] = int32_t(((n - n0) * channels * p.H + y0) * p.W + x0);
      for (int i = 0; i < 6; ++i) {
        if (y0 + i >= 0 && y0 + i < p.H) L.row[i] |= __mmask16(1u << l);
        if (x0 + i >= 0 && x0 + i < p.W) L.col[i] |= __mmask16(1u << l);
      }
    }
  }
  return lanes;
}

// input_transform's V, each lane's 6 x 6 block gathered.
void gather_input_transform(const Winograd4Plan& p, int64_t r0, int64_t r1, const float* x,
                            const Chunk4*, int, int64_t T, float* V) {
  const int64_t H = p.H, W = p.W, cin = p.cin, xi_stride = v_stride(p, T);
  const std::vector<LaneTiles> lanes = lane_tiles(p, r0, r1, T, cin, -1);
  const float* x0 = x + r0 / p.tiles_h() * cin * H * W;
  for (int64_t ci = 0; ci < cin; ++ci) {
    const float* plane = x0 + ci * H * W;
    for (size_t q = 0; q < lanes.size(); ++q) {
      const LaneTiles& L = lanes[q];
      const __m512i idx = _mm512_load_si512(L.idx);
      __m512 t[6][6];  // Bᵀ down the rows, per column j
      for (int j = 0; j < 6; ++j) {
        __m512 d[6], o[6];
        for (int i = 0; i < 6; ++i)
          d[i] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), L.row[i] & L.col[j],
                                          _mm512_add_epi32(idx, _mm512_set1_epi32(int(i * W + j))),
                                          plane, 4);
        bt6(d, o);
        for (int i = 0; i < 6; ++i) t[i][j] = o[i];
      }
      float* v = V + ci * T + int64_t(q) * kLanes;
      for (int i = 0; i < 6; ++i) {
        __m512 o[6];
        bt6(t[i], o);
        for (int j = 0; j < 6; ++j) _mm512_storeu_ps(v + (6 * i + j) * xi_stride, o[j]);
      }
    }
  }
}

// output_transform's y, each lane's 4 x 4 outputs scattered.
void scatter_output_transform(const Winograd4Plan& p, int64_t r0, int64_t r1, const float* M,
                              int64_t T, const Chunk4*, int, const float* bias, float* y) {
  const int64_t H = p.H, W = p.W, cout = p.cout, xi_stride = m_stride(p, T);
  const std::vector<LaneTiles> lanes = lane_tiles(p, r0, r1, T, cout, 0);
  float* y0 = y + r0 / p.tiles_h() * cout * H * W;
  for (int64_t co = 0; co < cout; ++co) {
    const __m512 b = _mm512_set1_ps(bias ? bias[co] : 0.f);
    float* plane = y0 + co * H * W;
    for (size_t q = 0; q < lanes.size(); ++q) {
      const LaneTiles& L = lanes[q];
      const __m512i idx = _mm512_load_si512(L.idx);
      __m512 y4[4][4];
      tile_outputs(M + co * T + int64_t(q) * kLanes, xi_stride, y4);
      for (int a = 0; a < 4; ++a)
        for (int k = 0; k < 4; ++k)
          _mm512_mask_i32scatter_ps(plane, L.row[a] & L.col[k],
                                    _mm512_add_epi32(idx, _mm512_set1_epi32(int(a * W + k))),
                                    _mm512_add_ps(y4[a][k], b), 4);
    }
  }
}

}  // namespace

void winograd4_block(const Winograd4Plan& plan, int64_t block, const float* x, const float* packed,
                     const float* bias, float* y, float* scratch) {
  if (plan.gathered())
    winograd_forward_block<4, kXi>("winograd4_block", plan, block, x, packed, bias, y, scratch,
                                   gather_input_transform, scatter_output_transform);
  else
    winograd_forward_block<4, kXi>("winograd4_block", plan, block, x, packed, bias, y, scratch,
                                   input_transform, output_transform);
}

namespace {

// ---- The weight gradient: dU = Σ over tiles of (A dY Aᵀ) ⊙ (Bᵀ d B), then dw = Gᵀ dU G.

// One thread's scratch: the image and the output gradient channels-last, xt [H][W][cp] and
// gt [H][W][cop]; Vᵗ [36][T][cp] and dMᵗ [36][T][cop], each tile's transformed input and output
// gradient with the channels innermost, their 36 matrices a vector apart; and the caller's sum
// dU [36][rows][cp]. cp and cop are cin and cout rounded up to 16, rows cout rounded up to kRows.
struct Grad4Layout {
  int64_t cp, cop, rows, T, vt_stride, dm_stride;
  float *xt, *gt, *vt, *dm, *du;
  Grad4Layout(const Winograd4Plan& p, float* scratch, float* sum)
      : cp(round_up(p.cin, kLanes)),
        cop(round_up(p.cout, kLanes)),
        rows(channel_blocks(p.cout) * kRows),
        T(p.grad_tiles()),
        vt_stride(T * cp + kLanes),
        dm_stride(T * cop + kLanes),
        xt(scratch),
        gt(xt + p.H * p.W * cp),
        vt(gt + p.H * p.W * cop),
        dm(vt + kXi * vt_stride),
        du(sum) {}
};

// A of F(4x4, 3x3) applied to four values: (y0, y0 + y1 + y2 + y3, y0 - y1 + y2 - y3,
// y0 + 2 y1 + 4 y2 + 8 y3, y0 - 2 y1 + 4 y2 - 8 y3, y3).
inline void a6(const __m512* y, __m512* o) {
  const __m512 p = _mm512_add_ps(y[0], y[2]), q = _mm512_add_ps(y[1], y[3]);
  const __m512 r = _mm512_fmadd_ps(_mm512_set1_ps(4.f), y[2], y[0]);
  const __m512 s =
      _mm512_mul_ps(_mm512_set1_ps(2.f), _mm512_fmadd_ps(_mm512_set1_ps(4.f), y[3], y[1]));
  o[0] = y[0];
  o[1] = _mm512_add_ps(p, q);
  o[2] = _mm512_sub_ps(p, q);
  o[3] = _mm512_add_ps(r, s);
  o[4] = _mm512_sub_ps(r, s);
  o[5] = y[3];
}

// Tile row ty's tiles, stored as tiles t0 .. t0 + tw - 1, of a channels-last image src [H][W][c]:
// each tile's N x N elements from (4 ty + o, 4 tx + o) on (zero outside the plane), `f` (N values
// to 6) down the rows and then across, the 6 x 6 results at dst + (6 i + j) stride + t c.
template <int N, typename F>
void tiles_cl(const Winograd4Plan& p, int64_t ty, int64_t t0, const float* src, int64_t c, int o,
              F f, float* dst, int64_t stride) {
  for (int64_t tx = 0; tx < p.tiles_w(); ++tx) {
    const float* at[N][N];
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < N; ++j) {
        const int64_t row = 4 * ty + o + i, col = 4 * tx + o + j;
        at[i][j] =
            row >= 0 && row < p.H && col >= 0 && col < p.W ? src + (row * p.W + col) * c : nullptr;
      }
    float* d = dst + (t0 + tx) * c;
    for (int64_t c0 = 0; c0 < c; c0 += kLanes) {
      __m512 t[6][N];
      for (int j = 0; j < N; ++j) {
        __m512 col[N], out[6];
        for (int i = 0; i < N; ++i)
          col[i] = at[i][j] ? _mm512_loadu_ps(at[i][j] + c0) : _mm512_setzero_ps();
        f(col, out);
        for (int i = 0; i < 6; ++i) t[i][j] = out[i];
      }
      for (int i = 0; i < 6; ++i) {
        __m512 out[6];
        f(t[i], out);
        for (int j = 0; j < 6; ++j) _mm512_storeu_ps(d + c0 + (6 * i + j) * stride, out[j]);
      }
    }
  }
}

}  // namespace

void winograd4_weight_grad(const Winograd4Plan& plan, int64_t n0, int64_t n1, const float* x,
                           const float* dy, float* du, float* scratch) {
  const Grad4Layout L(plan, scratch, du);
  const int64_t tw = plan.tiles_w(), hw = plan.H * plan.W;
  std::memset(L.du, 0, sizeof(float) * kXi * L.rows * L.cp);
  // dMᵗ's element (row r, tile t) at r + t cop.
  const auto products = [&](int64_t n) {
    grad_products(kXi, n, L.dm, L.dm_stride, 1, L.cop, L.rows, L.vt, L.vt_stride, L.cp, L.du);
  };
  // The tiles go in, a tile row at a time, until the next row would not fit; then dU takes their
  // products.
  int64_t filled = 0;
  for (int64_t n = n0; n < n1; ++n) {
    channels_last(plan.H, plan.W, plan.cin, L.cp, x + n * plan.cin * hw, L.xt);
    channels_last(plan.H, plan.W, plan.cout, L.cop, dy + n * plan.cout * hw, L.gt);
    for (int64_t ty = 0; ty < plan.tiles_h(); ++ty) {
      if (filled + tw > L.T) products(filled), filled = 0;
      tiles_cl<6>(plan, ty, filled, L.xt, L.cp, -1, bt6, L.vt, L.vt_stride);
      tiles_cl<4>(plan, ty, filled, L.gt, L.cop, 0, a6, L.dm, L.dm_stride);
      filled += tw;
    }
  }
  if (filled > 0) products(filled);
}

void winograd4_weight_grad_finish(const Winograd4Plan& plan, const float* du, float* dw) {
  // Gᵀ of F(4x4, 3x3) applied to six values: (u0 / 4 - (u1 + u2) / 6 + (u3 + u4) / 24,
  // (u2 - u1) / 6 + (u3 - u4) / 12, ((u3 + u4) - (u1 + u2)) / 6 + u5).
  const __m512 quarter = _mm512_set1_ps(0.25f), sixth = _mm512_set1_ps(1.f / 6);
  const __m512 twelfth = _mm512_set1_ps(1.f / 12), r24 = _mm512_set1_ps(1.f / 24);
  weight_grad_finish<6>(plan.cin, plan.cout, du, dw, [&](const __m512* u, __m512* o) {
    const __m512 a = _mm512_add_ps(u[1], u[2]), b = _mm512_add_ps(u[3], u[4]);
    o[0] = _mm512_fmadd_ps(r24, b, _mm512_fnmadd_ps(sixth, a, _mm512_mul_ps(quarter, u[0])));
    o[1] = _mm512_fmadd_ps(twelfth, _mm512_sub_ps(u[3], u[4]),
                           _mm512_mul_ps(sixth, _mm512_sub_ps(u[2], u[1])));
    o[2] = _mm512_fmadd_ps(sixth, _mm512_sub_ps(b, a), u[5]);
  });
}

#else

void winograd4_block(const Winograd4Plan&, int64_t, const float*, const float*, const float*,
                     float*, float*) {
  DIFFLAB_FAIL("winograd4_block: this build does not target AVX-512F (conv3x3_built() is false)");
}
void winograd4_weight_grad(const Winograd4Plan&, int64_t, int64_t, const float*, const float*,
                           float*, float*) {
  DIFFLAB_FAIL("winograd4_weight_grad: this build does not target AVX-512F");
}
void winograd4_weight_grad_finish(const Winograd4Plan&, const float*, float*) {
  DIFFLAB_FAIL("winograd4_weight_grad_finish: this build does not target AVX-512F");
}

#endif

}  // namespace difflab::tensor::cpu
