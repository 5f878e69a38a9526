// Deterministic in-block reductions for the reduce, softmax and norm kernels: each group of
// `gs` threads (32, 64, 128 or 256 consecutive threads of a kThreads block) reduces one row with
// a warp-shuffle tree and a fixed-order combine of its warps' partials. The tree depends only on
// gs, never on timing, so results are bit-identical from run to run.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "tensor/cuda/common.cuh"

namespace difflab::tensor::cuda {

// Threads per row for rows of `len` elements: small rows share a block (kThreads / gs rows).
inline int group_size_for(int64_t len) {
  return len <= 64 ? 32 : len <= 128 ? 64 : len <= 256 ? 128 : kThreads;
}

// Largest value with the lowest index; any NaN beats every number (lowest-index NaN wins). A
// total order on (value, index), so every combine tree gives the same winner: the CPU's
// first-maximum / first-NaN rule.
struct MaxIdx {
  double v;
  int64_t i;
};

// Running count, mean and centred sum of squares (Welford / Chan et al.).
struct Welford {
  double n, mean, m2;
};

struct PairSum {
  double a, b;
};

__device__ inline double shfl_down(double v, int off) {
  return __shfl_down_sync(0xffffffffu, v, off);
}
__device__ inline int64_t shfl_down(int64_t v, int off) {
  return int64_t(__shfl_down_sync(0xffffffffu, static_cast<long long>(v), off));
}
__device__ inline MaxIdx shfl_down(MaxIdx m, int off) {
  return {shfl_down(m.v, off), shfl_down(m.i, off)};
}
__device__ inline Welford shfl_down(Welford w, int off) {
  return {shfl_down(w.n, off), shfl_down(w.mean, off), shfl_down(w.m2, off)};
}
__device__ inline PairSum shfl_down(PairSum p, int off) {
  return {shfl_down(p.a, off), shfl_down(p.b, off)};
}

struct SumOp {
  using Acc = double;
  __device__ static Acc identity() { return 0.0; }
  __device__ static Acc combine(Acc a, Acc b) { return a + b; }
};

// The larger value; NaN never wins against a number (std::max(m, v) as the CPU's softmax).
struct MaxOp {
  using Acc = double;
  __device__ static Acc identity() { return -INFINITY; }
  __device__ static Acc combine(Acc a, Acc b) { return a < b ? b : a; }
};

struct MaxIdxOp {
  using Acc = MaxIdx;
  __device__ static Acc identity() { return {-INFINITY, INT64_MAX}; }
  // True when `a` ranks before `b`.
  __device__ static bool before(const Acc& a, const Acc& b) {
    const bool an = isnan(a.v), bn = isnan(b.v);
    if (an != bn) return an;
    if (!an && a.v != b.v) return a.v > b.v;
    return a.i < b.i;
  }
  __device__ static Acc combine(Acc a, Acc b) { return before(b, a) ? b : a; }
};

struct WelfordOp {
  using Acc = Welford;
  __device__ static Acc identity() { return {0.0, 0.0, 0.0}; }
  __device__ static void add(Acc& w, double v) {
    w.n += 1.0;
    const double d = v - w.mean;
    w.mean += d / w.n;
    w.m2 += d * (v - w.mean);
  }
  __device__ static Acc combine(Acc a, Acc b) {
    if (b.n == 0.0) return a;
    if (a.n == 0.0) return b;
    const double n = a.n + b.n, d = b.mean - a.mean, f = b.n / n;
    return {n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f};
  }
};

struct PairSumOp {
  using Acc = PairSum;
  __device__ static Acc identity() { return {0.0, 0.0}; }
  __device__ static Acc combine(Acc x, Acc y) { return {x.a + y.a, x.b + y.b}; }
};

// Reduces `a` over each group of `gs` consecutive threads (gs a multiple of 32 that divides
// blockDim.x <= kThreads); every thread of the group gets the group's result. `smem` holds
// kThreads / 32 entries. Every thread of the block must call it: it synchronises.
template <typename Op>
__device__ typename Op::Acc group_reduce(typename Op::Acc a, typename Op::Acc* smem, int gs) {
  for (int off = 16; off > 0; off >>= 1) a = Op::combine(a, shfl_down(a, off));
  const int warp = int(threadIdx.x) >> 5;
  if ((threadIdx.x & 31) == 0) smem[warp] = a;
  __syncthreads();
  const int wpg = gs >> 5, first = (warp / wpg) * wpg;
  typename Op::Acc r = smem[first];
  for (int k = 1; k < wpg; ++k) r = Op::combine(r, smem[first + k]);
  __syncthreads();  // smem may be reused right away
  return r;
}

}  // namespace difflab::tensor::cuda
