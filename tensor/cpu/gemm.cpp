// Thread-count-invariant GEMM (gemm.h). Two facts about Debian's OpenBLAS 0.3.21 (OpenMP build)
// decide the structure; both were checked by probing cblas_sgemm at OMP_NUM_THREADS=2 (bits
// compared with a call at 1 thread):
//  - a call runs single-threaded when omp_in_parallel() is true, or when m*n*k <= 65536 * 4
//    (GEMM_MULTITHREAD_THRESHOLD). Otherwise it uses omp_get_max_threads() threads, also inside
//    an inactive region (a team of 1, or an if(false) clause): 100x100x30 and 64x64x65 already
//    changed bits there, 64x64x64 did not.
//  - single-threaded, the bits of a tile depend only on its own (m, n, k), not on where it sits.
// So tiles run inside an active parallel region of at least 2 threads, or serially when the
// whole call is below that threshold or only one thread is allowed. A pthreads or serial
// OpenBLAS (the CMake fallback) is kept at one thread per call instead (threads.h).
#include "tensor/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <type_traits>

#include "tensor/error.h"
#include "tensor/threads.h"

namespace difflab::tensor::cpu {

namespace {

// The thresholds below and the measurements behind them: bench/README.md, "Thresholds in the
// kernels".
// Work items (product, tile) wanted per call: one per thread on up to 16 threads, several per
// thread on fewer. Each tile re-packs the rows of op(A) and columns of op(B) it reads, so more
// tiles cost efficiency.
constexpr int64_t kTargetItems = 16;
// A tile is not split below this many multiply-adds.
constexpr int64_t kMinTileWork = int64_t(1) << 22;
// A split never makes a tile edge shorter than this.
constexpr int64_t kMinEdge = 64;
// Nor a tile smaller than this: a conv weight gradient [64, 576] (K = 784 per image) in 8 tiles
// of 64 x 72 cost 6.5% more single-threaded than one call per image, in 4 of 64 x 144 3.8%.
constexpr int64_t kMinArea = 128 * 64;
// Tile boundaries fall on multiples of this, so inner tiles use OpenBLAS's full micro-kernels.
constexpr int64_t kEdgeAlign = 16;
// OpenBLAS 0.3.21 runs a call with m*n*k at most this single-threaded on its own (see the top).
constexpr double kBlasSerialWork = 65536.0 * 4;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Start of tile i of g along a dimension of size len: i·len/g to the nearest multiple of
// kEdgeAlign (tiles are at least kMinEdge long, so none becomes empty).
int64_t tile_start(int64_t i, int64_t g, int64_t len) {
  if (i >= g) return len;
  return (i * len + g * kEdgeAlign / 2) / (g * kEdgeAlign) * kEdgeAlign;
}

template <typename T>
void blas_call(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb),
                beta, c, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, opa, opb, int(m), int(n), int(k), alpha, a, int(lda), b, int(ldb),
                beta, c, int(ldc));
}

// Rows [r0, r1) x columns [c0, c1) of C_i: every term is one single-threaded call, in order.
template <typename T>
void run_tile(const GemmShape& s, T alpha, T beta, int64_t terms, const T* const* a,
              const T* const* b, T* c, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  T* ct = c + r0 * s.ldc + c0;
  for (int64_t t = 0; t < terms; ++t) {
    const T* at = a[t] + (s.trans_a ? r0 : r0 * s.lda);
    const T* bt = b[t] + (s.trans_b ? c0 * s.ldb : c0);
    blas_call<T>(s.trans_a, s.trans_b, r1 - r0, c1 - c0, s.k, alpha, at, s.lda, bt, s.ldb,
                 t == 0 ? beta : T(1), ct, s.ldc);
  }
}

// C = beta * C for an empty sum (k == 0 or no terms); beta == 0 writes zeros without reading.
template <typename T>
void scale_only(const GemmShape& s, T beta, std::span<T* const> c) {
  for (T* ci : c)
    for (int64_t r = 0; r < s.m; ++r) {
      T* row = ci + r * s.ldc;
      if (beta == T(0))
        std::fill(row, row + s.n, T(0));
      else
        for (int64_t j = 0; j < s.n; ++j) row[j] *= beta;
    }
}

void check_gemm_shape(const GemmShape& s, int64_t count, int64_t terms) {
  DIFFLAB_CHECK(s.m >= 0 && s.n >= 0 && s.k >= 0 && count >= 0 && terms >= 0,
                "gemm: negative size (m ", s.m, ", n ", s.n, ", k ", s.k, ", count ", count,
                ", terms ", terms, ")");
  const int64_t big = std::max({s.m, s.n, s.k, s.lda, s.ldb, s.ldc});
  DIFFLAB_CHECK(big <= INT_MAX, "gemm: size ", big, " (m ", s.m, ", n ", s.n, ", k ", s.k, ", lda ",
                s.lda, ", ldb ", s.ldb, ", ldc ", s.ldc, ") exceeds the 32-bit BLAS interface");
}

}  // namespace

GemmGrid gemm_grid(int64_t m, int64_t n, int64_t k, int64_t count, int64_t terms) {
  const double work = double(m) * double(n) * double(k) * double(terms);
  int64_t want = ceil_div(kTargetItems, std::max<int64_t>(1, count));
  want = std::min<int64_t>(want, std::max<int64_t>(1, int64_t(work / double(kMinTileWork))));
  GemmGrid g;
  // Halve the longer tile edge: near-square tiles re-pack the least (each tile packs its rows of
  // op(A) and its columns of op(B), so packing grows with 1/tile_m + 1/tile_n).
  while (g.gm * g.gn < want) {
    const int64_t tm = ceil_div(m, g.gm), tn = ceil_div(n, g.gn);
    const bool can_m = tm >= 2 * kMinEdge && (tm / 2) * tn >= kMinArea;
    const bool can_n = tn >= 2 * kMinEdge && tm * (tn / 2) >= kMinArea;
    if (can_m && (tm >= tn || !can_n))
      g.gm *= 2;
    else if (can_n)
      g.gn *= 2;
    else
      break;
  }
  return g;
}

template <typename T>
void gemm_batched(const GemmShape& s, T alpha, T beta, int64_t count, int64_t terms,
                  std::span<const T* const> a, std::span<const T* const> b, std::span<T* const> c) {
  check_gemm_shape(s, count, terms);
  DIFFLAB_CHECK(int64_t(a.size()) == count * terms && int64_t(b.size()) == count * terms &&
                    int64_t(c.size()) == count,
                "gemm: ", a.size(), " A and ", b.size(), " B operands and ", c.size(),
                " outputs for ", count, " products of ", terms, " terms");
  if (count == 0 || s.m == 0 || s.n == 0) return;
  if (s.k == 0 || terms == 0) return scale_only(s, beta, c);
  blas_threading_init();

  const GemmGrid g = gemm_grid(s.m, s.n, s.k, count, terms);
  const int64_t tiles = g.gm * g.gn, items = count * tiles;
  auto item = [&](int64_t it) {
    const int64_t i = it / tiles, tile = it % tiles, ti = tile / g.gn, tj = tile % g.gn;
    run_tile<T>(s, alpha, beta, terms, a.data() + i * terms, b.data() + i * terms, c[i],
                tile_start(ti, g.gm, s.m), tile_start(ti + 1, g.gm, s.m), tile_start(tj, g.gn, s.n),
                tile_start(tj + 1, g.gn, s.n));
  };
  const double work = double(count) * double(terms) * double(s.m) * double(s.n) * double(s.k);
  const int max_threads = omp_get_max_threads();
  if (omp_in_parallel() || max_threads == 1 || work <= kBlasSerialWork) {
    for (int64_t it = 0; it < items; ++it) item(it);
    return;
  }
  // At least 2 threads even for a single item: a team of 1 is not "in parallel" for OpenBLAS,
  // which would then partition the call over all threads.
  const int team = int(std::max<int64_t>(2, std::min<int64_t>(max_threads, items)));
#pragma omp parallel for num_threads(team) schedule(dynamic, 1)
  for (int64_t it = 0; it < items; ++it) item(it);
}

template <typename T>
void gemm_serial(const GemmShape& s, T alpha, const T* a, const T* b, T beta, T* c) {
  check_gemm_shape(s, 1, 1);
  if (s.m == 0 || s.n == 0) return;
  if (s.k == 0) return scale_only(s, beta, std::span<T* const>(&c, 1));
  blas_threading_init();
  const double work = double(s.m) * double(s.n) * double(s.k);
  DIFFLAB_CHECK(omp_in_parallel() || omp_get_max_threads() == 1 || work <= kBlasSerialWork,
                "gemm_serial: called outside a parallel region with ", omp_get_max_threads(),
                " threads allowed, where OpenBLAS would split the ", s.m, " x ", s.n, " x ", s.k,
                " product over threads (internal error)");
  blas_call<T>(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, a, s.lda, b, s.ldb, beta, c, s.ldc);
}

template void gemm_batched<float>(const GemmShape&, float, float, int64_t, int64_t,
                                  std::span<const float* const>, std::span<const float* const>,
                                  std::span<float* const>);
template void gemm_batched<double>(const GemmShape&, double, double, int64_t, int64_t,
                                   std::span<const double* const>, std::span<const double* const>,
                                   std::span<double* const>);

template void gemm_serial<float>(const GemmShape&, float, const float*, const float*, float,
                                 float*);
template void gemm_serial<double>(const GemmShape&, double, const double*, const double*, double,
                                  double*);

}  // namespace difflab::tensor::cpu
