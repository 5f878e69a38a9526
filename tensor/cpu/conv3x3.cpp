// Direct 3x3 convolution of one image on AVX-512 (see conv3x3.h).
#include "tensor/cpu/conv3x3.h"

#include <algorithm>
#include <cstring>

#include "tensor/cpu/avx512.h"
#include "tensor/error.h"

namespace difflab::tensor::cpu {

using namespace simd;  // kLanes (positions per vector), kRows, kMaxVecs, round_up, ...

namespace {

bool g_enabled = true;

}  // namespace

bool conv3x3_enabled() { return g_enabled && conv3x3_built(); }
void set_conv3x3_enabled(bool on) { g_enabled = on; }

int64_t Conv3x3Plan::positions() const { return round_up(H * row(), kLanes); }
// The last position reads up to 2 rows and 2 columns past itself.
int64_t Conv3x3Plan::plane() const { return round_up(positions() + 2 * row() + 2, kLanes); }
int64_t Conv3x3Plan::packed_floats() const { return channel_blocks(cout) * cin * 9 * kRows; }
int64_t Conv3x3Plan::scratch_floats() const { return cin * plane() + kRows * positions(); }
int64_t Conv3x3Plan::weight_grad_scratch_floats(int64_t images) const {
  return images * (cin * plane() + cout * positions());
}

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

// x [cin, H, W] into zero-padded planes of plane() floats: a zero row above and below, a zero
// column left and right (shared by neighbouring rows), zero slack after.
void pad_planes(const Conv3x3Plan& plan, const float* x, float* xp) {
  const int64_t H = plan.H, W = plan.W, Wp = plan.row(), P = plan.plane();
  for (int64_t ci = 0; ci < plan.cin; ++ci) {
    float* p = xp + ci * P;
    std::memset(p, 0, sizeof(float) * (Wp + 1));
    for (int64_t yy = 0; yy < H; ++yy) {
      float* dst = p + (yy + 1) * Wp + 1;
      std::memcpy(dst, x + (ci * H + yy) * W, sizeof(float) * W);
      dst[W] = 0, dst[W + 1] = 0;  // this row's right pad, the next row's left pad
    }
    std::memset(p + (H + 1) * Wp + 1, 0, sizeof(float) * (P - (H + 1) * Wp - 1));
  }
}

// Offsets of the 9 taps (ky, kx) in a padded plane, row-major.
void taps(const Conv3x3Plan& plan, int64_t* tap) {
  for (int t = 0; t < 9; ++t) tap[t] = (t / 3) * plan.row() + t % 3;
}

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
  pad_planes(plan, x, xp);
  int64_t tap[9];
  taps(plan, tap);
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

namespace {

// The sum of v's lanes by halving, a fixed order (GCC 12's _mm512_reduce_add_ps trips
// -Wmaybe-uninitialized): 256-bit halves, 128-bit quarters, then within each 128 bits.
inline float lane_sum(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_cvtss_f32(v);
}

// dw rows co .. co + CO - 1 for input channel ci: CO x 9 accumulators summed over the images'
// positions in order, then across lanes.
template <int CO>
void weight_rows(const Conv3x3Plan& plan, const float* xp, const float* dyf, int64_t images,
                 int64_t co, int64_t ci, const int64_t* tap, bool accumulate, float* dw) {
  const int64_t L = plan.positions(), P = plan.plane();
  __m512 acc[CO][9];
#pragma GCC unroll 3
  for (int j = 0; j < CO; ++j)
#pragma GCC unroll 9
    for (int t = 0; t < 9; ++t) acc[j][t] = _mm512_setzero_ps();
  const int64_t t1 = tap[1], t2 = tap[2], t3 = tap[3], t4 = tap[4], t5 = tap[5], t6 = tap[6],
                t7 = tap[7], t8 = tap[8];
  for (int64_t n = 0; n < images; ++n) {
    const float* d = dyf + (n * plan.cout + co) * L;
    const float* x = xp + (n * plan.cin + ci) * P;
    for (int64_t q = 0; q < L; q += kLanes) {
      __m512 dv[CO];
#pragma GCC unroll 3
      for (int j = 0; j < CO; ++j) dv[j] = _mm512_loadu_ps(d + j * L + q);
      const float* xq = x + q;
      const int64_t off[9] = {0, t1, t2, t3, t4, t5, t6, t7, t8};
#pragma GCC unroll 9
      for (int t = 0; t < 9; ++t) {
        __m512 v = _mm512_loadu_ps(xq + off[t]);
        // Loaded once into a register: folded into each FMA instead, the mostly cache-line-
        // splitting load would run CO times.
        asm("" : "+v"(v));
#pragma GCC unroll 3
        for (int j = 0; j < CO; ++j) acc[j][t] = _mm512_fmadd_ps(dv[j], v, acc[j][t]);
      }
    }
  }
  for (int j = 0; j < CO; ++j)
    for (int t = 0; t < 9; ++t) {
      float& out = dw[((co + j) * plan.cin + ci) * 9 + t];
      out = accumulate ? out + lane_sum(acc[j][t]) : lane_sum(acc[j][t]);
    }
}

}  // namespace

void conv3x3_weight_grad(const Conv3x3Plan& plan, const float* x, const float* dy,
                         int64_t images, bool accumulate, float* dw, float* scratch) {
  const int64_t H = plan.H, W = plan.W, Wp = plan.row(), L = plan.positions();
  const int64_t cin = plan.cin, cout = plan.cout;
  float* xp = scratch;
  float* dyf = scratch + images * cin * plan.plane();
  for (int64_t n = 0; n < images; ++n) {
    pad_planes(plan, x + n * cin * H * W, xp + n * cin * plan.plane());
    // dy in the positions' layout: zero at the two padding columns of each row and past H rows.
    for (int64_t co = 0; co < cout; ++co) {
      float* d = dyf + (n * cout + co) * L;
      const float* src = dy + (n * cout + co) * H * W;
      for (int64_t yy = 0; yy < H; ++yy) {
        std::memcpy(d + yy * Wp, src + yy * W, sizeof(float) * W);
        d[yy * Wp + W] = 0, d[yy * Wp + W + 1] = 0;
      }
      std::memset(d + H * Wp, 0, sizeof(float) * (L - H * Wp));
    }
  }
  int64_t tap[9];
  taps(plan, tap);
  for (int64_t ci = 0; ci < cin; ++ci) {
    int64_t co = 0;
    for (; co + 3 <= cout; co += 3)
      weight_rows<3>(plan, xp, dyf, images, co, ci, tap, accumulate, dw);
    if (cout - co == 2) weight_rows<2>(plan, xp, dyf, images, co, ci, tap, accumulate, dw);
    if (cout - co == 1) weight_rows<1>(plan, xp, dyf, images, co, ci, tap, accumulate, dw);
  }
}

#else

bool conv3x3_built() { return false; }

void conv3x3_image(const Conv3x3Plan&, const float*, const float*, const float*, float*, float*) {
  DIFFLAB_FAIL("conv3x3_image: this build does not target AVX-512F (conv3x3_built() is false)");
}
void conv3x3_weight_grad(const Conv3x3Plan&, const float*, const float*, int64_t, bool, float*,
                         float*) {
  DIFFLAB_FAIL("conv3x3_weight_grad: this build does not target AVX-512F (conv3x3_built() is "
               "false)");
}

#endif

}  // namespace difflab::tensor::cpu
