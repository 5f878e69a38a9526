// Direct 3x3 convolution of one image on AVX-512 (see conv3x3.h).
#include "tensor/cpu/conv3x3.h"

#include <algorithm>
#include <cstring>

#include "tensor/error.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace difflab::tensor::cpu {

namespace {

constexpr int64_t kLanes = 16;  // floats per vector
constexpr int kRows = 8;        // output channels per register block
constexpr int kMaxVecs = 3;     // vectors of positions per register block

bool g_enabled = true;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t channel_blocks(int64_t c) { return (c + kRows - 1) / kRows; }

}  // namespace

bool conv3x3_enabled() { return g_enabled && conv3x3_built(); }
void set_conv3x3_enabled(bool on) { g_enabled = on; }

int64_t Conv3x3Plan::positions() const { return round_up(H * row(), kLanes); }
// The last position reads up to 2 rows and 2 columns past itself.
int64_t Conv3x3Plan::plane() const { return round_up(positions() + 2 * row() + 2, kLanes); }
int64_t Conv3x3Plan::packed_floats() const { return channel_blocks(cout) * cin * 9 * kRows; }
int64_t Conv3x3Plan::scratch_floats() const { return cin * plane() + kRows * positions(); }

void conv3x3_pack_weights(const Conv3x3Plan& plan, const float* w, bool transposed,
                          float* packed) {
  const int64_t cin = plan.cin, cout = plan.cout;
  for (int64_t cb = 0; cb < channel_blocks(cout); ++cb)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int t = 0; t < 9; ++t)
        for (int r = 0; r < kRows; ++r) {
          const int64_t co = cb * kRows + r;
          float v = 0;  // rows past cout are zero, computed and dropped
          if (co < cout)
            v = transposed ? w[(ci * cout + co) * 9 + (8 - t)] : w[(co * cin + ci) * 9 + t];
          packed[((cb * cin + ci) * 9 + t) * kRows + r] = v;
        }
}

#if defined(__AVX512F__)

bool conv3x3_built() { return true; }

namespace {

// kRows x NR vectors of outputs from positions q0 on: the sum over input channels and taps.
template <int NR>
inline void block(const float* xp, int64_t plane, const int64_t* tap, const float* wpk,
                  int64_t cin, int64_t q0, float* out, int64_t positions) {
  __m512 acc[kRows][NR];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
  const float* xb = xp + q0;
  for (int64_t ci = 0; ci < cin; ++ci, xb += plane) {
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t, wpk += kRows) {
      __m512 v[NR];
#pragma GCC unroll 3
      for (int j = 0; j < NR; ++j) v[j] = _mm512_loadu_ps(xb + tap[t] + j * kLanes);
#pragma GCC unroll 8
      for (int r = 0; r < kRows; ++r) {
        const __m512 b = _mm512_set1_ps(wpk[r]);
#pragma GCC unroll 3
        for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(b, v[j], acc[r][j]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j)
      _mm512_storeu_ps(out + r * positions + q0 + j * kLanes, acc[r][j]);
}

}  // namespace

void conv3x3_image(const Conv3x3Plan& plan, const float* x, const float* packed,
                   const float* bias, float* y, float* scratch) {
  const int64_t H = plan.H, W = plan.W, Wp = plan.row(), cin = plan.cin, cout = plan.cout;
  const int64_t L = plan.positions(), P = plan.plane();
  float* xp = scratch;
  float* out = scratch + cin * P;
  // Zero-padded planes: a zero row above and below, a zero column left and right, zero slack.
  for (int64_t ci = 0; ci < cin; ++ci) {
    float* p = xp + ci * P;
    std::memset(p, 0, sizeof(float) * (Wp + 1));
    for (int64_t yy = 0; yy < H; ++yy) {
      float* dst = p + (yy + 1) * Wp + 1;
      std::memcpy(dst, x + (ci * H + yy) * W, sizeof(float) * W);
      dst[W] = 0, dst[W + 1] = 0;  // this row's right pad, the next row's left pad
    }
    std::memset(p + (H + 1) * Wp + 1, 0, sizeof(float) * (P - (H + 1) * Wp - 1));
  }
  int64_t tap[9];
  for (int t = 0; t < 9; ++t) tap[t] = (t / 3) * Wp + t % 3;
  const int64_t vecs = L / kLanes;
  for (int64_t cb = 0; cb < channel_blocks(cout); ++cb) {
    const float* wpk = packed + cb * cin * 9 * kRows;
    for (int64_t v0 = 0; v0 < vecs; v0 += kMaxVecs) {
      const int64_t q0 = v0 * kLanes;
      switch (std::min<int64_t>(kMaxVecs, vecs - v0)) {
        case 3: block<3>(xp, P, tap, wpk, cin, q0, out, L); break;
        case 2: block<2>(xp, P, tap, wpk, cin, q0, out, L); break;
        default: block<1>(xp, P, tap, wpk, cin, q0, out, L); break;
      }
    }
    // The block's rows without their padding columns, plus the bias.
    for (int r = 0; r < kRows && cb * kRows + r < cout; ++r) {
      const int64_t co = cb * kRows + r;
      const float b = bias ? bias[co] : 0.f;
      for (int64_t yy = 0; yy < H; ++yy) {
        const float* src = out + r * L + yy * Wp;
        float* dst = y + (co * H + yy) * W;
        for (int64_t i = 0; i < W; ++i) dst[i] = src[i] + b;
      }
    }
  }
}

#else

bool conv3x3_built() { return false; }

void conv3x3_image(const Conv3x3Plan&, const float*, const float*, const float*, float*, float*) {
  DIFFLAB_FAIL("conv3x3_image: this build does not target AVX-512F (conv3x3_built() is false)");
}

#endif

}  // namespace difflab::tensor::cpu
