// Random fills on the device with the CPU's scheme (tensor/random.cpp): the same Philox4x32-10
// counters, key, float conversions and Box-Muller pairing, so one Generator state gives the
// same numbers on either device (randn up to an ulp of the device's log/sin/cos).
#include <curand_philox4x32_x.h>

#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

// The key and first counter of a draw: element block i uses counter (base + i), as on the CPU.
struct PhiloxArgs {
  uint2 key;
  uint64_t base;
};

void check_cuda_device(const char* op, const Device& device) {
  DIFFLAB_CHECK(device.is_cuda(), op, ": device ", device, " is not a CUDA device");
}

PhiloxArgs draw(Generator& g, int64_t nblocks) {
  PhiloxArgs a;
  a.key = make_uint2(uint32_t(g.seed()), uint32_t(g.seed() >> 32));
  a.base = g.advance(uint64_t(nblocks));
  return a;
}

__device__ uint4 block_of(const PhiloxArgs& a, int64_t i) {
  const uint64_t c = a.base + uint64_t(i);
  return curand_Philox4x32_10(make_uint4(uint32_t(c), uint32_t(c >> 32), 0u, 0u), a.key);
}

// 53 random bits in (0, 1], exactly as u01_53 in tensor/random.cpp.
__device__ double u01_53(uint32_t a, uint32_t b) {
  const uint64_t v = (uint64_t(a) << 21) ^ uint64_t(b >> 11);
  return (double(v & ((uint64_t(1) << 53) - 1)) + 1.0) / 9007199254740992.0;
}

__device__ float u01_24(uint32_t a) { return float(a >> 8) * (1.0f / 16777216.0f); }

__device__ uint32_t word(const uint4& u, int k) {
  return k == 0 ? u.x : (k == 1 ? u.y : (k == 2 ? u.z : u.w));
}

// f32: 4 values per block from 24 bits each.
__global__ void uniform_kernel(int64_t n, int64_t nb, float* p, PhiloxArgs a, double lo,
                               double span) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nb;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 u = block_of(a, i);
    for (int k = 0; k < 4 && 4 * i + k < n; ++k)
      p[4 * i + k] = float(fma(span, double(u01_24(word(u, k))), lo));
  }
}

// f64: 2 values per block from 53 bits each, in [0, 1) before scaling.
__global__ void uniform_kernel(int64_t n, int64_t nb, double* p, PhiloxArgs a, double lo,
                               double span) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nb;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 u = block_of(a, i);
    p[2 * i] = fma(span, u01_53(u.x, u.y) - 0x1p-53, lo);
    if (2 * i + 1 < n) p[2 * i + 1] = fma(span, u01_53(u.z, u.w) - 0x1p-53, lo);
  }
}

// Box-Muller: one block gives two normals.
template <typename T>
__global__ void randn_kernel(int64_t n, int64_t nb, T* p, PhiloxArgs a) {
  constexpr double kTwoPi = 2.0 * 3.14159265358979323846;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nb;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 u = block_of(a, i);
    const double u1 = u01_53(u.x, u.y), u2 = u01_53(u.z, u.w);
    const double r = sqrt(-2.0 * log(u1)), th = kTwoPi * u2;
    p[2 * i] = T(r * cos(th));
    if (2 * i + 1 < n) p[2 * i + 1] = T(r * sin(th));
  }
}

// 64 random bits per value, reduced by multiply-high.
__global__ void randint_kernel(int64_t n, int64_t nb, int64_t* p, PhiloxArgs a, int64_t lo,
                               uint64_t span) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nb;
       i += int64_t(gridDim.x) * blockDim.x) {
    const uint4 u = block_of(a, i);
    const uint64_t v0 = (uint64_t(u.x) << 32) | u.y, v1 = (uint64_t(u.z) << 32) | u.w;
    p[2 * i] = lo + int64_t(__umul64hi(v0, span));
    if (2 * i + 1 < n) p[2 * i + 1] = lo + int64_t(__umul64hi(v1, span));
  }
}

}  // namespace

Tensor uniform(const Shape& shape, double lo, double hi, DType dtype, Generator& gen,
               const Device& device) {
  OpLabel label_("uniform");
  check_cuda_device("uniform", device);
  Tensor t = Tensor::empty(shape, dtype, device);
  const int64_t n = t.numel();
  const double span = hi - lo;
  // The generator advances only for a floating dtype, as on the CPU.
  DIFFLAB_DISPATCH_FLOAT(dtype, "uniform", [&] {
    using T = scalar_t;
    const int64_t nb = std::is_same_v<T, float> ? (n + 3) / 4 : (n + 1) / 2;
    const PhiloxArgs a = draw(gen, nb);
    if (nb == 0) return;
    cudaStream_t s = prepare(t);
    uniform_kernel<<<blocks_for(nb), kThreads, 0, s>>>(n, nb, t.data<T>(), a, lo, span);
    DIFFLAB_CUDA_LAUNCHED("uniform");
  });
  return t;
}

Tensor rand(const Shape& shape, DType dtype, Generator& gen, const Device& device) {
  return uniform(shape, 0.0, 1.0, dtype, gen, device);
}

Tensor randn(const Shape& shape, DType dtype, Generator& gen, const Device& device) {
  OpLabel label_("randn");
  check_cuda_device("randn", device);
  Tensor t = Tensor::empty(shape, dtype, device);
  const int64_t n = t.numel();
  const int64_t nb = (n + 1) / 2;
  const PhiloxArgs a = draw(gen, nb);  // before the dtype check, as on the CPU
  DIFFLAB_DISPATCH_FLOAT(dtype, "randn", [&] {
    if (nb == 0) return;
    cudaStream_t s = prepare(t);
    randn_kernel<scalar_t><<<blocks_for(nb), kThreads, 0, s>>>(n, nb, t.data<scalar_t>(), a);
    DIFFLAB_CUDA_LAUNCHED("randn");
  });
  return t;
}

Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator& gen, const Device& device) {
  OpLabel label_("randint");
  DIFFLAB_CHECK(hi > lo, "randint: empty range [", lo, ", ", hi, ")");
  check_cuda_device("randint", device);
  Tensor t = Tensor::empty(shape, DType::i64, device);
  const int64_t n = t.numel();
  const int64_t nb = (n + 1) / 2;
  const PhiloxArgs a = draw(gen, nb);
  if (nb == 0) return t;
  cudaStream_t s = prepare(t);
  randint_kernel<<<blocks_for(nb), kThreads, 0, s>>>(n, nb, t.data<int64_t>(), a, lo,
                                                     uint64_t(hi - lo));
  DIFFLAB_CUDA_LAUNCHED("randint");
  return t;
}

}  // namespace difflab::tensor::cuda
