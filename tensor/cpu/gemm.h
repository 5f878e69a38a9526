// The one CPU GEMM: row-major C = alpha * op(A) op(B) + beta * C on OpenBLAS, giving the same
// bits whatever the OpenMP thread count. OpenBLAS partitions a product by its thread count and the
// partition changes the bits (DESIGN.md, Randomness and determinism), so C is cut into tiles whose
// boundaries depend only on the shape, and every tile is one single-threaded OpenBLAS call; the
// threads share out whole tiles.
#pragma once
#include <cstdint>
#include <span>

namespace difflab::tensor::cpu {

// op(A) is m x k, op(B) is k x n, C is m x n; ld* are the row strides of A, B and C as stored
// (A is k x m when trans_a). Dimensions and leading dims must fit the 32-bit BLAS interface.
struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
};

// How C is cut: gm x gn tiles, boundaries on multiples of 16 except at the end. Depends only on
// the arguments, never on the thread count.
struct GemmGrid {
  int64_t gm = 1, gn = 1;
};
GemmGrid gemm_grid(int64_t m, int64_t n, int64_t k, int64_t count, int64_t terms);

// `count` independent products of one shape, each a sum of `terms` products added in order:
// C_i = alpha * sum_t op(A_it) op(B_it) + beta * C_i, with A_it = a[i * terms + t] (same for b)
// and C_i = c[i]. With beta == 0, C is not read. Terms let a sum over images (a convolution's
// weight gradient) run in a fixed order inside each tile while the tiles run in parallel.
template <typename T>
void gemm_batched(const GemmShape& s, T alpha, T beta, int64_t count, int64_t terms,
                  std::span<const T* const> a, std::span<const T* const> b, std::span<T* const> c);

// One product as one single-threaded OpenBLAS call, for callers that share whole products out
// over their own threads; its bits depend only on the shape. Must run inside an active parallel
// region or with one thread allowed (checked): elsewhere OpenBLAS would split the call.
template <typename T>
void gemm_serial(const GemmShape& s, T alpha, const T* a, const T* b, T beta, T* c);

template <typename T>
void gemm(const GemmShape& s, T alpha, const T* a, const T* b, T beta, T* c) {
  gemm_batched<T>(s, alpha, beta, 1, 1, {&a, 1}, {&b, 1}, {&c, 1});
}

}  // namespace difflab::tensor::cpu
