// What the Winograd F(2x2, 3x3) and F(4x4, 3x3) kernels (tensor/cpu/winograd.cpp,
// winograd4.cpp) share: the register-blocked products M = U V of each transformed position, and
// lane masks. AVX-512 only.
#pragma once
#include <algorithm>
#include <cstdint>

#include "tensor/cpu/avx512.h"

#if defined(__AVX512F__)

namespace difflab::tensor::cpu::simd {

// The lanes l of a vector whose index first + l lies in [0, end).
inline __mmask16 lanes_in(int64_t first, int64_t end) {
  unsigned m = 0;
  for (int l = 0; l < kLanes; ++l)
    if (first + l >= 0 && first + l < end) m |= 1u << l;
  return __mmask16(m);
}

// kRows x NR vectors of M [rows][T] from tile q0 on: U's block [cin][kRows] times V [cin][T].
template <int NR>
inline void winograd_product(const float* v, int64_t T, const float* u, int64_t cin, float* m) {
  __m512 acc[kRows][NR];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
  for (int64_t ci = 0; ci < cin; ++ci, v += T, u += kRows) {
    __m512 b[NR];
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) b[j] = _mm512_loadu_ps(v + j * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512 a = _mm512_set1_ps(u[r]);
#pragma GCC unroll 3
      for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(a, b[j], acc[r][j]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) _mm512_storeu_ps(m + r * T + j * kLanes, acc[r][j]);
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

}  // namespace difflab::tensor::cpu::simd

#endif
