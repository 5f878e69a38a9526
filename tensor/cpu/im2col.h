// im2col and its adjoint col2im for the CPU conv2d (tensor/cpu/conv.cpp): the column matrix
// whose row (c, ki, kj) holds the input pixels kernel tap (ki, kj) of channel c sees at every
// output position, in the stacked layout [B, K, L] or the wide layout [K, B L] of a group of
// images. Each (image, channel) plane is handled by one thread in a fixed order.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/checks/conv.h"
#include "tensor/cpu/loops.h"
#include "tensor/ops.h"

namespace difflab::tensor::cpu {

using checks::ConvGeom;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Output columns ow whose input column ow * stride + off lies in [0, W): [lo, hi).
inline void valid_range(int64_t off, int64_t stride, int64_t W, int64_t Wo, int64_t& lo,
                        int64_t& hi) {
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

inline bool flat_taps(const ConvGeom& g, const Conv2dParams& p) {
  return p.stride_h == 1 && p.stride_w == 1 && g.Wo == g.W;
}

inline FlatTap flat_tap(const ConvGeom& g, const Conv2dParams& p, int64_t ki, int64_t kj) {
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
inline std::vector<FlatTap> flat_taps_of(const ConvGeom& g, const Conv2dParams& p) {
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

// Where image b's row r of a column matrix starts: b * image + r * row. The usual layout
// [B, K, L] has image = K L and row = L; the wide layout [K, B L] of a group of images (one
// product for all of them) has image = L and row = B L.
struct ColLayout {
  int64_t image, row;
};

inline ColLayout stacked_layout(const ConvGeom& g) { return {g.col_per_image(), g.L}; }

// x [B, Cin, H, W] -> col; row (c, ki, kj) holds the input pixels that kernel tap (ki, kj) of
// channel c sees at every output position (0 in the padding).
template <typename T>
void im2col(const T* x, T* col, int64_t B, const ConvGeom& g, const Conv2dParams& p,
            bool threaded = true, ColLayout lay = {0, 0}) {
  if (lay.row == 0) lay = stacked_layout(g);
  const int64_t planes = B * g.Cin, taps = g.kh * g.kw;
  const std::vector<FlatTap> flat = flat_taps_of(g, p);
#pragma omp parallel for schedule(static) if (threaded && planes * taps * g.L >= kParallelGrain)
  for (int64_t bc = 0; bc < planes; ++bc) {
    const T* xp = x + bc * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row =
            col + (bc / g.Cin) * lay.image + ((bc % g.Cin) * taps + ki * g.kw + kj) * lay.row;
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
            bool threaded = true, ColLayout lay = {0, 0}) {
  if (lay.row == 0) lay = stacked_layout(g);
  const int64_t planes = B * g.Cin, taps = g.kh * g.kw;
  const std::vector<FlatTap> flat = flat_taps_of(g, p);
#pragma omp parallel for schedule(static) if (threaded && planes * taps * g.L >= kParallelGrain)
  for (int64_t bc = 0; bc < planes; ++bc) {
    T* xp = dx + bc * g.H * g.W;
    std::fill(xp, xp + g.H * g.W, T(0));
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* row =
            col + (bc / g.Cin) * lay.image + ((bc % g.Cin) * taps + ki * g.kw + kj) * lay.row;
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

}  // namespace difflab::tensor::cpu
