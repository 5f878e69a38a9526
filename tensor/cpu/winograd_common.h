// What the Winograd F(2x2, 3x3) and F(4x4, 3x3) kernels (tensor/cpu/winograd.cpp,
// winograd4.cpp) share: the weight transform, the block size, and (AVX-512) the
// register-blocked products M = U V of each transformed position and lane masks.
#pragma once
#include <algorithm>
#include <cstdint>

#include "tensor/cpu/avx512.h"
#include "tensor/cpu/winograd.h"
#include "tensor/error.h"

namespace difflab::tensor::cpu::simd {

// U = G g Gᵀ (A x A, G being A x 3) of every pair of channels of w [cout, cin, 3, 3], packed as
// [A²][cout rounded up to kRows, in blocks][cin][kRows]. With `transposed`, w is [cin, cout, 3, 3]
// of the forward convolution whose input gradient is wanted, read transposed with its taps
// flipped. Rows past cout are zero, computed and dropped. In double, the kRows output channels
// of a block and one input channel at a time as one vector, so that each position's kRows
// values are stored together.
template <int A>
void pack_transformed_weights(const double (&G)[A][3], int64_t cin, int64_t cout, const float* w,
                              bool transposed, float* packed) {
  using Rows = double __attribute__((vector_size(kRows * sizeof(double))));
  const int64_t cbs = channel_blocks(cout);
  for (int64_t cb = 0; cb < cbs; ++cb)
    for (int64_t ci = 0; ci < cin; ++ci) {
      Rows g[3][3] = {};
      for (int r = 0; r < kRows; ++r) {
        const int64_t co = cb * kRows + r;
        if (co >= cout) break;
        for (int t = 0; t < 9; ++t)
          g[t / 3][t % 3][r] =
              transposed ? w[(ci * cout + co) * 9 + (8 - t)] : w[(co * cin + ci) * 9 + t];
      }
      Rows gg[A][3];  // G g
      for (int a = 0; a < A; ++a)
        for (int l = 0; l < 3; ++l)
          gg[a][l] = G[a][0] * g[0][l] + G[a][1] * g[1][l] + G[a][2] * g[2][l];
      for (int a = 0; a < A; ++a)
        for (int b = 0; b < A; ++b) {
          const Rows u = gg[a][0] * G[b][0] + gg[a][1] * G[b][1] + gg[a][2] * G[b][2];
          float* dst = packed + (((a * A + b) * cbs + cb) * cin + ci) * kRows;
          for (int r = 0; r < kRows; ++r) dst[r] = float(u[r]);
        }
    }
}

// The floats from one transformed position's matrix to the next in V [positions][cin][T] and
// M [positions][cout rounded up to kRows][T]: one vector more than the matrix, so that the rows
// a transform reads or writes together (one per position) do not fall in the same cache set (T
// is a multiple of 16 floats, and the matrices are often a multiple of 4 KiB).
template <typename Plan>
int64_t v_stride(const Plan& p, int64_t T) {
  return p.cin * T + kLanes;
}
template <typename Plan>
int64_t m_stride(const Plan& p, int64_t T) {
  return channel_blocks(p.cout) * kRows * T + kLanes;
}

// Tile rows per block: about as many as keep a block's V [nxi][cin][tiles] and M [nxi][cout][tiles]
// within `budget` bytes (16 tiles at least), at least one. The products run over the tiles
// rounded up to 16, so of the counts from half that many rows on, the one that wastes the
// smallest share of those (the most rows of equals): at 7x7, 20 tiles would leave 12 of 32
// columns idle, 16 none.
inline int64_t winograd_block_rows(int nxi, int64_t cin, int64_t cout, int64_t tiles_w,
                                   int64_t budget) {
  const int64_t tiles = std::max<int64_t>(
      kLanes, budget / (nxi * int64_t(sizeof(float)) * (cin + channel_blocks(cout) * kRows)));
  const int64_t most = std::max<int64_t>(1, tiles / tiles_w);
  int64_t best = most;
  for (int64_t r = most; 2 * r >= most; --r)  // waste r tw / T below best's, cross-multiplied
    if (r * tiles_w * round_up(best * tiles_w, kLanes) >
        best * tiles_w * round_up(r * tiles_w, kLanes))
      best = r;
  return best;
}

}  // namespace difflab::tensor::cpu::simd

#if defined(__AVX512F__)

namespace difflab::tensor::cpu::simd {

// The lanes l of a vector whose index first + l lies in [0, end).
inline __mmask16 lanes_in(int64_t first, int64_t end) {
  unsigned m = 0;
  for (int l = 0; l < kLanes; ++l)
    if (first + l >= 0 && first + l < end) m |= 1u << l;
  return __mmask16(m);
}

// Up to 16 tiles of a tile row from tile tx0 on, for tiles of E x E outputs (E = 2 or 4): which
// of the input columns E tx0 - 1 + [0, 16 (E + 1)) lie in [0, W), which of the output columns
// E tx0 + [0, 16 E) do, and the tiles present.
template <int E>
struct TileChunk {
  int64_t tx0 = 0;
  __mmask16 in[E + 1] = {}, out[E] = {}, tiles = 0;
};

// The chunks of a tile row of tw tiles over a plane W wide; returns how many.
template <int E>
int make_tile_chunks(int64_t W, int64_t tw, TileChunk<E>* c) {
  int count = 0;
  for (int64_t tx0 = 0; tx0 < tw; tx0 += kLanes, ++count) {
    c[count].tx0 = tx0;
    for (int k = 0; k <= E; ++k) c[count].in[k] = lanes_in(E * tx0 - 1 + k * kLanes, W);
    for (int k = 0; k < E; ++k) c[count].out[k] = lanes_in(E * tx0 + k * kLanes, W);
    c[count].tiles = lanes_in(tx0, tw);
  }
  return count;
}

// The register block of both products: out [kRows rows, out_row floats apart][NR vectors] =
// (or += with Accumulate) the sum over k < n of a_k's kRows scalars (at a + k a_step + r a_row)
// times b_k's NR vectors (at b + k b_step). The forward's M = U V takes k over the input
// channels; the weight gradient's dU += dM Vᵗ over the tiles.
template <int NR, bool Accumulate>
inline void outer_products(const float* a, int64_t a_row, int64_t a_step, const float* b,
                           int64_t b_step, int64_t n, float* out, int64_t out_row) {
  __m512 acc[kRows][NR];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < n; ++k, a += a_step, b += b_step) {
    __m512 bv[NR];
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) bv[j] = _mm512_loadu_ps(b + j * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * a_row]);
#pragma GCC unroll 3
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) {
      float* o = out + r * out_row + j * kLanes;
      _mm512_storeu_ps(o, Accumulate ? _mm512_add_ps(_mm512_loadu_ps(o), acc[r][j]) : acc[r][j]);
    }
}

// kRows x NR vectors of M [rows][T] from tile q0 on: U's block [cin][kRows] times V [cin][T].
template <int NR>
inline void winograd_product(const float* v, int64_t T, const float* u, int64_t cin, float* m) {
  outer_products<NR, false>(u, 1, kRows, v, T, cin, m, T);
}

// For each of `nxi` transformed positions xi: M [xi][cbs kRows][T] = U [xi][cbs][cin][kRows] times
// V [xi][cin][T], over the first `vecs` vectors of tiles. The positions' matrices are
// `v_stride` and `m_stride` floats apart.
inline void winograd_products(int nxi, int64_t cin, int64_t cbs, const float* packed,
                              const float* V, int64_t v_stride, int64_t T, int64_t vecs, float* M,
                              int64_t m_stride) {
  for (int xi = 0; xi < nxi; ++xi) {
    const float* v = V + xi * v_stride;
    for (int64_t cb = 0; cb < cbs; ++cb) {
      const float* u = packed + (xi * cbs + cb) * cin * kRows;
      float* m = M + xi * m_stride + cb * kRows * T;
      for (int64_t v0 = 0; v0 < vecs; v0 += kMaxVecs) {
        const int64_t q0 = v0 * kLanes;
        switch (std::min<int64_t>(kMaxVecs, vecs - v0)) {
          case 3:
            winograd_product<3>(v + q0, T, u, cin, m + q0);
            break;
          case 2:
            winograd_product<2>(v + q0, T, u, cin, m + q0);
            break;
          default:
            winograd_product<1>(v + q0, T, u, cin, m + q0);
            break;
        }
      }
    }
  }
}

// r[j][i] = r[i][j]: 16 x 16 floats, in 64 shuffles.
inline void transpose16(__m512* r) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // pairs of rows interleaved within 128-bit lanes
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  auto lo = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  auto hi = [](__m512 a, __m512 b) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
  };
  __m512 u[16];  // u[4m + s], lane k: column 4k + s of rows 4m .. 4m + 3
  for (int m = 0; m < 4; ++m) {
    u[4 * m] = lo(t[4 * m], t[4 * m + 2]);
    u[4 * m + 1] = hi(t[4 * m], t[4 * m + 2]);
    u[4 * m + 2] = lo(t[4 * m + 1], t[4 * m + 3]);
    u[4 * m + 3] = hi(t[4 * m + 1], t[4 * m + 3]);
  }
  for (int s = 0; s < 4; ++s) {  // the 4 x 4 lanes of u[s], u[4 + s], u[8 + s], u[12 + s]
    const __m512 v0 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0x44);
    const __m512 v1 = _mm512_shuffle_f32x4(u[s], u[4 + s], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0x44);
    const __m512 v3 = _mm512_shuffle_f32x4(u[8 + s], u[12 + s], 0xEE);
    r[s] = _mm512_shuffle_f32x4(v0, v2, 0x88);
    r[4 + s] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
    r[8 + s] = _mm512_shuffle_f32x4(v1, v3, 0x88);
    r[12 + s] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
  }
}

// xt [H][W][cp] of image x [c][H][W], the channels past c zero (cp is c rounded up to 16): 16 x 16
// blocks transposed.
inline void channels_last(int64_t H, int64_t W, int64_t c, int64_t cp, const float* x, float* xt) {
  const int64_t hw = H * W, cin = c;
  for (int64_t q0 = 0; q0 < hw; q0 += kLanes) {
    const int64_t nq = std::min(kLanes, hw - q0);
    const __mmask16 mq = __mmask16((1u << nq) - 1);
    for (int64_t c0 = 0; c0 < cp; c0 += kLanes) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i)
        r[i] =
            c0 + i < cin ? _mm512_maskz_loadu_ps(mq, x + (c0 + i) * hw + q0) : _mm512_setzero_ps();
      transpose16(r);
      for (int64_t j = 0; j < nq; ++j) _mm512_storeu_ps(xt + (q0 + j) * cp + c0, r[j]);
    }
  }
}

// dU [kRows rows][NR vectors of channels] (rows cp floats apart) += the rows of dM times Vᵗ
// [tiles][cp] over tiles 0 .. n - 1, dM's element (row r, tile t) at dm [r dm_row + t dm_t].
template <int NR>
inline void grad_product(const float* dm, int64_t dm_row, int64_t dm_t, const float* vt, int64_t cp,
                         int64_t n, float* du) {
  outer_products<NR, true>(dm, dm_row, dm_t, vt, cp, n, du, cp);
}

// dU [nxi][rows][cp] += dM Vᵗ over the first n tiles, for each of the nxi positions: dM's
// positions dm_stride floats apart, each with (row r, tile t) at r dm_row + t dm_t; Vᵗ's
// [tiles][cp] vt_stride apart. The channel vectors go in groups of at most 3, as even as can be
// (4 = 2 + 2, 8 = 3 + 3 + 2).
inline void grad_products(int nxi, int64_t n, const float* dm, int64_t dm_stride, int64_t dm_row,
                          int64_t dm_t, int64_t rows, const float* vt, int64_t vt_stride,
                          int64_t cp, float* du) {
  const int64_t vecs = cp / kLanes, groups = (vecs + kMaxVecs - 1) / kMaxVecs;
  for (int xi = 0; xi < nxi; ++xi)
    for (int64_t r0 = 0; r0 < rows; r0 += kRows) {
      const float* d = dm + xi * dm_stride + r0 * dm_row;
      int64_t v0 = 0;
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t nv = (vecs - v0) / (groups - g);
        const float* v = vt + xi * vt_stride + v0 * kLanes;
        float* u = du + (xi * rows + r0) * cp + v0 * kLanes;
        switch (nv) {
          case 3:
            grad_product<3>(d, dm_row, dm_t, v, cp, n, u);
            break;
          case 2:
            grad_product<2>(d, dm_row, dm_t, v, cp, n, u);
            break;
          default:
            grad_product<1>(d, dm_row, dm_t, v, cp, n, u);
            break;
        }
        v0 += nv;
      }
    }
}

// dw [cout, cin, 3, 3] = Gᵀ dU G from the summed dU [A²][rows][cp] (rows: cout rounded up to
// kRows, cp: cin rounded up to 16), 16 input channels at a time; gt (A vectors to 3) applies
// Gᵀ down the rows of dU and then across.
template <int A, typename Gt>
void weight_grad_finish(int64_t cin, int64_t cout, const float* du, float* dw, Gt gt) {
  const int64_t cp = round_up(cin, kLanes), rows = channel_blocks(cout) * kRows;
  alignas(64) float out[9][kLanes];
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t c0 = 0; c0 < cin; c0 += kLanes) {
      __m512 g[3][A];  // Gᵀ down the rows, per column j
      for (int j = 0; j < A; ++j) {
        __m512 col[A], o[3];
        for (int i = 0; i < A; ++i)
          col[i] = _mm512_loadu_ps(du + ((A * i + j) * rows + co) * cp + c0);
        gt(col, o);
        for (int k = 0; k < 3; ++k) g[k][j] = o[k];
      }
      for (int k = 0; k < 3; ++k) {
        __m512 o[3];
        gt(g[k], o);
        for (int l = 0; l < 3; ++l) _mm512_store_ps(out[k * 3 + l], o[l]);
      }
      for (int64_t ci = c0; ci < std::min(cin, c0 + kLanes); ++ci)
        for (int t = 0; t < 9; ++t) dw[(co * cin + ci) * 9 + t] = out[t][ci - c0];
    }
}

// Block `block` of a forward kernel with NXI transformed positions and tiles of E x E outputs:
// `in` writes V from x, the products give M, `out` writes y (plus the bias) from M. `name`
// names the kernel in the error for a plane wider than kWinogradMaxWidth (winograd.h).
template <int E, int NXI, typename Plan, typename In, typename Out>
void winograd_forward_block(const char* name, const Plan& plan, int64_t block, const float* x,
                            const float* packed, const float* bias, float* y, float* scratch, In in,
                            Out out) {
  const int64_t r0 = block * plan.block_rows();
  const int64_t r1 = std::min(plan.rows(), r0 + plan.block_rows());
  const int64_t T = plan.block_tiles();
  TileChunk<E> chunks[kWinogradMaxWidth / E / kLanes];
  DIFFLAB_CHECK(plan.W <= kWinogradMaxWidth, name, ": planes wider than ", kWinogradMaxWidth,
                " columns are not supported (W = ", plan.W, ")");
  const int nchunks = make_tile_chunks(plan.W, plan.tiles_w(), chunks);
  float* V = scratch;
  float* M = scratch + NXI * v_stride(plan, T);
  in(plan, r0, r1, x, chunks, nchunks, T, V);
  // All T columns, those past the tiles zero, and the vector after each matrix zero: the
  // output transform's vectors read only finite values.
  winograd_products(NXI, plan.cin, channel_blocks(plan.cout), packed, V, v_stride(plan, T), T,
                    T / kLanes, M, m_stride(plan, T));
  for (int xi = 0; xi < NXI; ++xi)
    _mm512_storeu_ps(M + (xi + 1) * m_stride(plan, T) - kLanes, _mm512_setzero_ps());
  out(plan, r0, r1, M, T, chunks, nchunks, bias, y);
}

}  // namespace difflab::tensor::cpu::simd

#endif
