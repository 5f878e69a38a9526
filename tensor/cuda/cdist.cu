// cdist2: batched pairwise squared Euclidean distances, summed from direct differences like the
// CPU (never ||a||² + ||b||² - 2ab, so a distance is never negative), in 64 x 64 output tiles.
#include "tensor/checks/matmul.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

constexpr int kTile = 64;         // output tile: kTile rows of a x kTile rows of b
constexpr int kStep = 16;         // features staged in shared memory per step
constexpr int kSub = kTile / 16;  // outputs per thread along each side (16 x 16 threads)

// One block per (batch entry, row tile, column tile), grid-stride over them. Thread (tx, ty)
// owns outputs (n0 + ty + 16 i, m0 + tx + 16 j); each distance is summed over the features in
// order, so it depends only on its two rows.
template <typename T>
__global__ void __launch_bounds__(256)
    cdist2_kernel(const T* a, StridedIndex ai, const T* b, StridedIndex bi, T* out, int64_t nbatch,
                  int64_t N, int64_t M, int64_t D) {
  __shared__ T as[kTile][kStep + 1];
  __shared__ T bs[kTile][kStep + 1];
  const int tx = int(threadIdx.x) % 16, ty = int(threadIdx.x) / 16;
  const int64_t tn = (N + kTile - 1) / kTile, tm = (M + kTile - 1) / kTile;
  const int64_t tiles = nbatch * tn * tm;
  for (int64_t t = blockIdx.x; t < tiles; t += gridDim.x) {  // uniform over the block
    const int64_t z = t / (tn * tm), n0 = (t / tm % tn) * kTile, m0 = (t % tm) * kTile;
    const T* A = a + ai(z);
    const T* B = b + bi(z);
    T acc[kSub][kSub];
    for (int i = 0; i < kSub; ++i)
      for (int j = 0; j < kSub; ++j) acc[i][j] = T(0);
    for (int64_t d0 = 0; d0 < D; d0 += kStep) {
      for (int e = int(threadIdx.x); e < kTile * kStep; e += int(blockDim.x)) {
        const int r = e / kStep, c = e % kStep;
        const int64_t d = d0 + c;
        // Features past D are 0 in both tiles and add (0 - 0)² = 0.
        as[r][c] = (n0 + r < N && d < D) ? A[(n0 + r) * D + d] : T(0);
        bs[r][c] = (m0 + r < M && d < D) ? B[(m0 + r) * D + d] : T(0);
      }
      __syncthreads();
      for (int c = 0; c < kStep; ++c) {
        T av[kSub], bv[kSub];
        for (int i = 0; i < kSub; ++i) av[i] = as[ty + 16 * i][c];
        for (int j = 0; j < kSub; ++j) bv[j] = bs[tx + 16 * j][c];
        for (int i = 0; i < kSub; ++i)
          for (int j = 0; j < kSub; ++j) {
            const T diff = av[i] - bv[j];
            acc[i][j] += diff * diff;
          }
      }
      __syncthreads();
    }
    T* O = out + z * N * M;
    for (int i = 0; i < kSub; ++i) {
      const int64_t n = n0 + ty + 16 * i;
      if (n >= N) continue;
      for (int j = 0; j < kSub; ++j) {
        const int64_t m = m0 + tx + 16 * j;
        if (m < M) O[n * M + m] = acc[i][j];
      }
    }
  }
}

using checks::rows_contiguous;

// Storage offset of each batch entry's [R, D] block of t when its batch dims are broadcast to
// `batch`.
StridedIndex batch_index(const Tensor& t, const Shape& batch) {
  const size_t nb = size_t(t.dim() - 2);
  Shape sizes(t.shape().begin(), t.shape().begin() + nb);
  Shape strides(t.strides().begin(), t.strides().begin() + nb);
  return make_index(t.as_strided(sizes, strides, t.offset()), batch);
}

}  // namespace

Tensor cdist2(const Tensor& a_in, const Tensor& b_in) {
  OpLabel label_("cdist2");
  const checks::Cdist2Shapes c = checks::check_cdist2(a_in, b_in, checks::same_device);
  const Shape& batch = c.batch;
  const int64_t N = c.N, M = c.M, D = c.D;
  Tensor out = Tensor::empty(c.out, a_in.dtype(), a_in.device());
  if (out.numel() == 0) return out;
  cudaStream_t s = prepare(a_in);
  Tensor a = rows_contiguous(a_in), b = rows_contiguous(b_in);
  const StridedIndex ai = batch_index(a, batch), bi = batch_index(b, batch);
  const int64_t nbatch = shape_numel(batch);
  const int64_t tiles = nbatch * ((N + kTile - 1) / kTile) * ((M + kTile - 1) / kTile);
  const unsigned grid = unsigned(tiles < (int64_t(1) << 30) ? tiles : (int64_t(1) << 30));
  DIFFLAB_DISPATCH_FLOAT(a.dtype(), "cdist2", [&] {
    using T = scalar_t;
    cdist2_kernel<T><<<grid, 256, 0, s>>>(static_cast<const T*>(a.storage()->data), ai,
                                          static_cast<const T*>(b.storage()->data), bi,
                                          out.data<T>(), nbatch, N, M, D);
  });
  DIFFLAB_CUDA_LAUNCHED("cdist2");
  return out;
}

}  // namespace difflab::tensor::cuda
