// Strided N-d iteration for CPU kernels: coalesces dims, parallelises the outer index with
// OpenMP and hands the innermost run (pointers, byte strides, length) to a callback.
#pragma once
#include <omp.h>

#include <array>
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::tensor::cpu {

// Elements below which a loop stays serial: a parallel region costs microseconds (more when
// the machine is oversubscribed and idle threads spin), more than small memory-bound ops take.
constexpr int64_t kParallelGrain = 131072;

// K operands, all of the same `shape`; strides in bytes. fn(char* ptrs[K], const int64_t*
// inner_strides, int64_t n) processes one innermost run.
template <int K, typename F>
void strided_loop(const Shape& shape_in, std::array<char*, K> base,
                  std::array<Shape, K> strides_in, F&& fn) {
  // Coalesce: drop size-1 dims, merge contiguous neighbours.
  Shape shape;
  std::array<Shape, K> st;
  for (size_t d = 0; d < shape_in.size(); ++d) {
    if (shape_in[d] == 1) continue;
    if (!shape.empty()) {
      bool merge = true;
      for (int k = 0; k < K; ++k)
        if (st[k].back() != strides_in[k][d] * shape_in[d]) merge = false;
      if (merge) {
        shape.back() *= shape_in[d];
        for (int k = 0; k < K; ++k) st[k].back() = strides_in[k][d];
        continue;
      }
    }
    shape.push_back(shape_in[d]);
    for (int k = 0; k < K; ++k) st[k].push_back(strides_in[k][d]);
  }
  if (shape.empty()) {
    shape.push_back(1);
    for (int k = 0; k < K; ++k) st[k].push_back(0);
  }
  const int64_t nd = int64_t(shape.size());
  const int64_t inner = shape[nd - 1];
  std::array<int64_t, K> inner_st;
  for (int k = 0; k < K; ++k) inner_st[k] = st[k][nd - 1];
  int64_t outer = 1;
  for (int64_t d = 0; d < nd - 1; ++d) outer *= shape[d];

  auto run_outer = [&](int64_t o) {
    std::array<char*, K> p = base;
    int64_t rem = o;
    for (int64_t d = nd - 2; d >= 0; --d) {
      int64_t i = rem % shape[d];
      rem /= shape[d];
      for (int k = 0; k < K; ++k) p[k] += i * st[k][d];
    }
    fn(p.data(), inner_st.data(), inner);
  };
  if (outer == 1) {
    // A single long run: split it into chunks so it still parallelises.
    if (inner >= 2 * kParallelGrain) {
      const int64_t chunk = kParallelGrain;
      const int64_t nchunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
      for (int64_t c = 0; c < nchunks; ++c) {
        std::array<char*, K> p = base;
        for (int k = 0; k < K; ++k) p[k] += c * chunk * inner_st[k];
        fn(p.data(), inner_st.data(), std::min(chunk, inner - c * chunk));
      }
    } else {
      run_outer(0);
    }
    return;
  }
  if (outer * inner >= kParallelGrain && outer > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < outer; ++o) run_outer(o);
  } else {
    for (int64_t o = 0; o < outer; ++o) run_outer(o);
  }
}

// Byte strides of a tensor viewed with the given (broadcast) shape: size-1 or missing leading
// dims get stride 0.
inline Shape broadcast_byte_strides(const Tensor& t, const Shape& shape) {
  Shape out(shape.size(), 0);
  const int64_t off = int64_t(shape.size()) - t.dim();
  const int64_t es = int64_t(t.element_size());
  for (int64_t d = 0; d < t.dim(); ++d)
    out[off + d] = (t.shape()[d] == 1 && shape[off + d] != 1) ? 0 : t.strides()[d] * es;
  return out;
}

// Element count at which reductions split their work into fixed blocks: the blocking, not the
// thread count, fixes the summation order, so results are bit-identical for any thread count.
constexpr int64_t kReduceBlock = 4096;

}  // namespace difflab::tensor::cpu
