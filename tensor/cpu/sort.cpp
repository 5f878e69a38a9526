// Sorting, cumulative sums and pairwise squared distances. Each output element is computed by
// one thread in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "tensor/checks/matmul.h"
#include "tensor/checks/sort.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

using cpu::check_cpu;

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return std::isnan(v);
  else
    return false;
}

// NaN sorts above every number (last ascending, first descending), as in torch.sort.
template <typename T>
void sort_rows(const T* x, T* vals, int64_t* idx, int64_t rows, int64_t n, bool desc) {
#pragma omp parallel for schedule(static) if (rows > 1 && rows * n >= cpu::kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    int64_t* ir = idx + r * n;
    std::iota(ir, ir + n, int64_t(0));
    if (desc)
      std::stable_sort(ir, ir + n, [xr](int64_t a, int64_t b) {
        return xr[a] > xr[b] || (is_nan(xr[a]) && !is_nan(xr[b]));
      });
    else
      std::stable_sort(ir, ir + n, [xr](int64_t a, int64_t b) {
        return xr[a] < xr[b] || (!is_nan(xr[a]) && is_nan(xr[b]));
      });
    T* vr = vals + r * n;
    for (int64_t i = 0; i < n; ++i) vr[i] = xr[ir[i]];
  }
}

// Cumulative sum over n of a contiguous [outer, n, inner] tensor, in double, serially along n.
template <typename T, bool REVERSE>
void cumsum_kernel(const T* x, T* out, int64_t outer, int64_t n, int64_t inner) {
  constexpr int64_t kBlock = 256;
  const int64_t nb = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (outer * nb > 1 && \
                                              outer * n * inner >= cpu::kParallelGrain)
  for (int64_t t = 0; t < outer * nb; ++t) {
    const int64_t o = t / nb, i0 = (t % nb) * kBlock, w = std::min(inner, i0 + kBlock) - i0;
    double acc[kBlock];
    for (int64_t i = 0; i < w; ++i) acc[i] = 0.0;
    for (int64_t kk = 0; kk < n; ++kk) {
      const int64_t k = REVERSE ? n - 1 - kk : kk;
      const T* xr = x + (o * n + k) * inner + i0;
      T* orow = out + (o * n + k) * inner + i0;
      for (int64_t i = 0; i < w; ++i) {
        acc[i] += double(xr[i]);
        orow[i] = T(acc[i]);
      }
    }
  }
}

template <bool REVERSE>
Tensor cumsum_impl(const Tensor& x, int64_t dim, const char* op) {
  OpLabel label_(op);
  DIFFLAB_CUDA_ROUTE(x, REVERSE ? cuda::cumsum_reverse(x, dim) : cuda::cumsum(x, dim));
  check_cpu(op, x, "input");
  const int64_t d = checks::check_cumsum(op, x, dim);
  if (x.dim() == 0) return cumsum_impl<REVERSE>(x.reshape({1}), d, op).reshape({});
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  int64_t outer, inner;
  checks::outer_inner(x.shape(), d, outer, inner);
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    cumsum_kernel<scalar_t, REVERSE>(xc.data<scalar_t>(), out.data<scalar_t>(), outer, x.shape()[d],
                                     inner);
  });
  return out;
}

// cdist2 works on 64 x 64 tiles of (a rows, b rows). Each distance is summed in an order fixed by
// D alone (not by the tile, the thread or the position in a tile), so results do not depend on
// the thread count, and a term (a - b)² is never negative, so neither is a distance.
constexpr int64_t kTile = 64;
// From this feature count on, each distance is summed in vector lanes over D; below it, a tile of
// b is transposed and 64 distances are accumulated side by side, one feature at a time.
constexpr int64_t kLaneMinD = 128;

typedef float f32x16 __attribute__((vector_size(64)));
typedef double f64x8 __attribute__((vector_size(64)));
template <typename T>
struct Lanes;
template <>
struct Lanes<float> {
  using type = f32x16;
};
template <>
struct Lanes<double> {
  using type = f64x8;
};

// Squared distances from R rows of a (row stride D) to one row of b: W fixed lanes over the
// features, then the tail and the lanes added in order.
template <typename T, int R>
void dist_lanes(const T* a, int64_t D, const T* b, T* res) {
  using V = typename Lanes<T>::type;
  constexpr int64_t W = int64_t(sizeof(V) / sizeof(T));
  V acc[R];
  for (int r = 0; r < R; ++r) acc[r] = V{};
  int64_t j = 0;
  for (; j + W <= D; j += W) {
    V bv;
    std::memcpy(&bv, b + j, sizeof(V));
    for (int r = 0; r < R; ++r) {
      V av;
      std::memcpy(&av, a + r * D + j, sizeof(V));
      const V t = av - bv;
      acc[r] += t * t;
    }
  }
  for (int r = 0; r < R; ++r) {
    T s = 0;
    for (int64_t k = j; k < D; ++k) {
      const T t = a[r * D + k] - b[k];
      s += t * t;
    }
    for (int64_t l = 0; l < W; ++l) s += acc[r][l];
    res[r] = s;
  }
}

// One tile, lane path: rows [n0, n1) of A against rows [m0, m1) of B into O (row stride M).
template <typename T>
void tile_lanes(const T* A, const T* B, T* O, int64_t n0, int64_t n1, int64_t m0, int64_t m1,
                int64_t M, int64_t D) {
  constexpr int R = 8;
  int64_t n = n0;
  for (; n + R <= n1; n += R)
    for (int64_t m = m0; m < m1; ++m) {
      T r[R];
      dist_lanes<T, R>(A + n * D, D, B + m * D, r);
      for (int k = 0; k < R; ++k) O[(n + k) * M + m] = r[k];
    }
  for (; n < n1; ++n)
    for (int64_t m = m0; m < m1; ++m) dist_lanes<T, 1>(A + n * D, D, B + m * D, O + n * M + m);
}

// One tile, transposed path: bt[j][m] = B[m0 + m][j]; each a row accumulates a whole tile row of
// distances feature by feature.
template <typename T>
void tile_transposed(const T* A, const T* B, T* O, int64_t n0, int64_t n1, int64_t m0, int64_t m1,
                     int64_t M, int64_t D, T* bt) {
  const int64_t w = m1 - m0;
  for (int64_t j = 0; j < D; ++j) {
    T* row = bt + j * kTile;
    for (int64_t m = 0; m < w; ++m) row[m] = B[(m0 + m) * D + j];
    for (int64_t m = w; m < kTile; ++m) row[m] = T(0);
  }
  for (int64_t n = n0; n < n1; ++n) {
    T acc[kTile] = {};
    const T* an = A + n * D;
    for (int64_t j = 0; j < D; ++j) {
      const T av = an[j];
      const T* row = bt + j * kTile;
      for (int64_t m = 0; m < kTile; ++m) {
        const T t = av - row[m];
        acc[m] += t * t;
      }
    }
    T* orow = O + n * M + m0;
    for (int64_t m = 0; m < w; ++m) orow[m] = acc[m];
  }
}

// a, b: per-batch base offsets into row-major [N, D] / [M, D] blocks; out contiguous.
template <typename T>
void cdist2_kernel(const T* a, const T* b, T* out, const std::vector<int64_t>& aoff,
                   const std::vector<int64_t>& boff, int64_t N, int64_t M, int64_t D) {
  const int64_t nbatch = int64_t(aoff.size());
  const int64_t tn = (N + kTile - 1) / kTile, tm = (M + kTile - 1) / kTile;
  const int64_t tasks = nbatch * tn * tm;
  const bool lanes = D >= kLaneMinD;
  const int64_t work = nbatch * N * M * std::max<int64_t>(D, 1);
#pragma omp parallel if (tasks > 1 && work >= cpu::kParallelGrain)
  {
    std::vector<T> bt(lanes ? 0 : size_t(std::max<int64_t>(D, 1) * kTile));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t bi = t / (tn * tm), n0 = (t / tm % tn) * kTile, m0 = (t % tm) * kTile;
      const int64_t n1 = std::min(N, n0 + kTile), m1 = std::min(M, m0 + kTile);
      const T* A = a + aoff[bi];
      const T* B = b + boff[bi];
      T* O = out + bi * N * M;
      if (lanes)
        tile_lanes(A, B, O, n0, n1, m0, m1, M, D);
      else
        tile_transposed(A, B, O, n0, n1, m0, m1, M, D, bt.data());
    }
  }
}

// Element offsets of each batch entry of `t` ([..., R, D] with row-major last two dims) when its
// batch dims are broadcast to `batch`.
std::vector<int64_t> batch_offsets(const Tensor& t, const Shape& batch) {
  const int64_t nb = shape_numel(batch);
  const int64_t tb = t.dim() - 2;  // t's batch rank
  const int64_t lead = int64_t(batch.size()) - tb;
  std::vector<int64_t> off(size_t(nb), 0);
  for (int64_t i = 0; i < nb; ++i) {
    int64_t rem = i, o = 0;
    for (int64_t d = int64_t(batch.size()) - 1; d >= 0; --d) {
      const int64_t c = rem % batch[d];
      rem /= batch[d];
      if (d >= lead && t.shape()[d - lead] != 1) o += c * t.strides()[d - lead];
    }
    off[size_t(i)] = o;
  }
  return off;
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
  OpLabel label_("sort");
  DIFFLAB_CUDA_ROUTE(x, cuda::sort(x, dim, descending));
  check_cpu("sort", x, "input");
  const int64_t d = checks::check_sort(x, dim);
  std::vector<int64_t> perm, inv;
  checks::last_dim_perm(x.dim(), d, perm, inv);
  Tensor xp = x.permute(perm).contiguous();
  Tensor vals = Tensor::empty(xp.shape(), x.dtype(), x.device());
  Tensor idx = Tensor::empty(xp.shape(), DType::i64, x.device());
  if (x.numel() > 0) {
    const int64_t n = x.shape()[d];
    const int64_t rows = x.numel() / n;
    DIFFLAB_DISPATCH_ALL(x.dtype(), "sort", [&] {
      sort_rows<scalar_t>(xp.data<scalar_t>(), vals.data<scalar_t>(), idx.data<int64_t>(), rows, n,
                          descending);
    });
  }
  return {vals.permute(inv).contiguous(), idx.permute(inv).contiguous()};
}

Tensor cumsum(const Tensor& x, int64_t dim) { return cumsum_impl<false>(x, dim, "cumsum"); }

Tensor cumsum_reverse(const Tensor& x, int64_t dim) {
  return cumsum_impl<true>(x, dim, "cumsum_reverse");
}

Tensor cdist2(const Tensor& a_in, const Tensor& b_in) {
  OpLabel label_("cdist2");
  DIFFLAB_CUDA_ROUTE(a_in, cuda::cdist2(a_in, b_in));
  const checks::Cdist2Shapes c = checks::check_cdist2(a_in, b_in, cpu::cpu_rule);
  const Shape& batch = c.batch;
  const int64_t N = c.N, M = c.M, D = c.D;
  Tensor out = Tensor::empty(c.out, a_in.dtype(), a_in.device());
  if (out.numel() == 0) return out;
  Tensor a = checks::rows_contiguous(a_in), b = checks::rows_contiguous(b_in);
  std::vector<int64_t> aoff = batch_offsets(a, batch), boff = batch_offsets(b, batch);
  DIFFLAB_DISPATCH_FLOAT(a.dtype(), "cdist2", [&] {
    cdist2_kernel<scalar_t>(a.data<scalar_t>(), b.data<scalar_t>(), out.data<scalar_t>(), aoff,
                            boff, N, M, D);
  });
  return out;
}

}  // namespace difflab::tensor
