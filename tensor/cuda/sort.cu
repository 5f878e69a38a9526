// Stable sort (values and i64 indices) and cumulative sums along a dim on the device, with the
// semantics of tensor/cpu/sort.cpp: NaN sorts above every number, sums accumulate in double in
// index order. The sorted dim is moved last and made contiguous first.
#include <type_traits>

#include "tensor/checks/sort.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

#define DIFFLAB_GRID_LOOP(i, n)                                             \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__device__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>)
    return isnan(v);
  else
    return false;
}

// Whether a sorts strictly before b: the CPU's comparators (NaN last ascending, first
// descending; NaNs, and equal numbers, are equivalent).
template <typename T>
__device__ bool before(T a, T b, bool desc) {
  if (desc) return a > b || (is_nan(a) && !is_nan(b));
  return a < b || (!is_nan(a) && is_nan(b));
}

// vals = x, idx = position in the row, over contiguous rows of length n.
template <typename T>
__global__ void sort_init(int64_t total, int64_t n, const T* x, T* vals, int64_t* idx) {
  DIFFLAB_GRID_LOOP(t, total) {
    vals[t] = x[t];
    idx[t] = t % n;
  }
}

// One pass of a bottom-up merge sort: within each row, runs [b, b + w) and [b + w, b + 2w)
// (each sorted) are merged. Every element finds its place independently: its position in its
// own run plus the number of elements of the other run that go before it, found by binary
// search. The left run holds the lower original positions, so it wins ties: the sort is stable.
template <typename T>
__global__ void merge_pass(int64_t total, int64_t n, int64_t w, const T* vin, const int64_t* iin,
                           T* vout, int64_t* iout, bool desc) {
  DIFFLAB_GRID_LOOP(t, total) {
    const int64_t row = t / n, pos = t % n;
    const T* v = vin + row * n;
    const int64_t base = pos / (2 * w) * (2 * w);
    const int64_t mid = base + w < n ? base + w : n;
    const int64_t end = base + 2 * w < n ? base + 2 * w : n;
    const T x = v[pos];
    int64_t dst;
    if (pos < mid) {  // left run: count right-run elements strictly before x
      int64_t lo = mid, hi = end;
      while (lo < hi) {
        const int64_t m = lo + (hi - lo) / 2;
        if (before(v[m], x, desc))
          lo = m + 1;
        else
          hi = m;
      }
      dst = pos + (lo - mid);
    } else {  // right run: count left-run elements not after x
      int64_t lo = base, hi = mid;
      while (lo < hi) {
        const int64_t m = lo + (hi - lo) / 2;
        if (!before(x, v[m], desc))
          lo = m + 1;
        else
          hi = m;
      }
      dst = base + (pos - mid) + (lo - base);
    }
    vout[row * n + dst] = x;
    iout[row * n + dst] = iin[t];
  }
}

// Cumulative sum over n of a contiguous [outer, n, inner] tensor: one thread per (o, i) sums
// serially along n in double, as the CPU does.
template <typename T, bool REVERSE>
__global__ void cumsum_kernel(int64_t total, const T* x, T* out, int64_t n, int64_t inner) {
  DIFFLAB_GRID_LOOP(t, total) {
    const int64_t o = t / inner, i = t % inner;
    double acc = 0.0;
    for (int64_t kk = 0; kk < n; ++kk) {
      const int64_t k = REVERSE ? n - 1 - kk : kk;
      const int64_t p = (o * n + k) * inner + i;
      acc += double(x[p]);
      out[p] = T(acc);
    }
  }
}

template <bool REVERSE>
Tensor cumsum_impl(const Tensor& x, int64_t dim, const char* op) {
  OpLabel label_(op);
  const int64_t d = checks::check_cumsum(op, x, dim);
  if (x.dim() == 0) return cumsum_impl<REVERSE>(x.reshape({1}), d, op).reshape({});
  Tensor xc = x.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  int64_t outer, inner;
  checks::outer_inner(x.shape(), d, outer, inner);
  const int64_t total = outer * inner;
  cudaStream_t s = prepare(x);
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    cumsum_kernel<scalar_t, REVERSE><<<blocks_for(total), kThreads, 0, s>>>(
        total, xc.data<scalar_t>(), out.data<scalar_t>(), x.shape()[d], inner);
  });
  DIFFLAB_CUDA_LAUNCHED(op);
  return out;
}

}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
  OpLabel label_("sort");
  const int64_t d = checks::check_sort(x, dim);
  std::vector<int64_t> perm, inv;
  checks::last_dim_perm(x.dim(), d, perm, inv);
  Tensor xp = x.permute(perm).contiguous();
  // Ping-pong buffers; after the passes, vals/idx name the ones holding the result.
  Tensor vals = Tensor::empty(xp.shape(), x.dtype(), x.device());
  Tensor idx = Tensor::empty(xp.shape(), DType::i64, x.device());
  const int64_t total = x.numel();
  if (total > 0) {
    const int64_t n = x.shape()[d];
    Tensor vals2 = Tensor::empty(xp.shape(), x.dtype(), x.device());
    Tensor idx2 = Tensor::empty(xp.shape(), DType::i64, x.device());
    cudaStream_t s = prepare(x);
    DIFFLAB_DISPATCH_ALL(x.dtype(), "sort", [&] {
      using T = scalar_t;
      sort_init<T><<<blocks_for(total), kThreads, 0, s>>>(total, n, xp.data<T>(), vals.data<T>(),
                                                          idx.data<int64_t>());
      DIFFLAB_CUDA_LAUNCHED("sort");
      for (int64_t w = 1; w < n; w *= 2) {
        merge_pass<T><<<blocks_for(total), kThreads, 0, s>>>(total, n, w, vals.data<T>(),
                                                             idx.data<int64_t>(), vals2.data<T>(),
                                                             idx2.data<int64_t>(), descending);
        DIFFLAB_CUDA_LAUNCHED("sort");
        std::swap(vals, vals2);
        std::swap(idx, idx2);
      }
    });
  }
  return {vals.permute(inv).contiguous(), idx.permute(inv).contiguous()};
}

Tensor cumsum(const Tensor& x, int64_t dim) { return cumsum_impl<false>(x, dim, "cumsum"); }

Tensor cumsum_reverse(const Tensor& x, int64_t dim) {
  return cumsum_impl<true>(x, dim, "cumsum_reverse");
}

}  // namespace difflab::tensor::cuda
