#include "tensor/random.h"
#include "tensor/op_label.h"

#include <cmath>

#include "tensor/cpu/loops.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/ops.h"
#endif

namespace difflab::tensor {

std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
  // Salmon et al. 2011, Philox4x32 with 10 rounds (constants from the Random123 paper).
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = uint64_t(M0) * c[0], p1 = uint64_t(M1) * c[2];
    uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    c = {hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0};
    k[0] += W0;
    k[1] += W1;
  }
  return c;
}

Generator& default_generator() {
  static Generator g(0);
  return g;
}

void manual_seed(uint64_t seed) { default_generator() = Generator(seed); }

namespace {

// Calls f(i, u[4]) for each block i of 4 uint32 outputs starting at counter `base`.
template <typename F>
void philox_blocks(const Generator& g, uint64_t base, int64_t nblocks, F f) {
  const std::array<uint32_t, 2> key = {uint32_t(g.seed()), uint32_t(g.seed() >> 32)};
#pragma omp parallel for schedule(static) if (nblocks >= 32768)
  for (int64_t i = 0; i < nblocks; ++i) {
    uint64_t c = base + uint64_t(i);
    f(i, philox4x32_10({uint32_t(c), uint32_t(c >> 32), 0u, 0u}, key));
  }
}

inline double u01_53(uint32_t a, uint32_t b) {
  // 53 random bits in (0, 1]: never 0 so log() in Box-Muller is finite.
  uint64_t v = (uint64_t(a) << 21) ^ uint64_t(b >> 11);
  return (double(v & ((uint64_t(1) << 53) - 1)) + 1.0) / 9007199254740992.0;
}

inline float u01_24(uint32_t a) { return float(a >> 8) * (1.0f / 16777216.0f); }

// Whether a draw runs on a CUDA device; throws when `device` cannot be used (no backend built,
// no GPU).
bool on_cuda(const Device& device) {
  if (device.is_cpu()) return false;
  check_device_available(device);
  return true;
}

}  // namespace

Tensor uniform(const Shape& shape, double lo, double hi, DType dtype, Generator* gen,
               Device device) {
  OpLabel label_("uniform");
  Generator& g = gen ? *gen : default_generator();
  if (on_cuda(device)) {
#if DIFFLAB_HAVE_CUDA
    return cuda::uniform(shape, lo, hi, dtype, g, device);
#endif
  }
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  DIFFLAB_DISPATCH_FLOAT(dtype, "uniform", [&] {
    using T = scalar_t;
    T* p = t.data<T>();
    const double span = hi - lo;
    // An explicit fma: the same rounding in every build (contracted or not) and on a GPU.
    if constexpr (std::is_same_v<T, float>) {
      const int64_t nb = (n + 3) / 4;
      uint64_t base = g.advance(uint64_t(nb));
      philox_blocks(g, base, nb, [&](int64_t i, std::array<uint32_t, 4> u) {
        for (int k = 0; k < 4 && 4 * i + k < n; ++k)
          p[4 * i + k] = T(std::fma(span, double(u01_24(u[k])), lo));
      });
    } else {
      const int64_t nb = (n + 1) / 2;
      uint64_t base = g.advance(uint64_t(nb));
      philox_blocks(g, base, nb, [&](int64_t i, std::array<uint32_t, 4> u) {
        for (int k = 0; k < 2 && 2 * i + k < n; ++k)
          p[2 * i + k] = T(std::fma(span, u01_53(u[2 * k], u[2 * k + 1]) - 0x1p-53, lo));
      });
    }
  });
  return t;
}

Tensor rand(const Shape& shape, DType dtype, Generator* gen, Device device) {
  return uniform(shape, 0.0, 1.0, dtype, gen, device);
}

Tensor randn(const Shape& shape, DType dtype, Generator* gen, Device device) {
  OpLabel label_("randn");
  Generator& g = gen ? *gen : default_generator();
  if (on_cuda(device)) {
#if DIFFLAB_HAVE_CUDA
    return cuda::randn(shape, dtype, g, device);
#endif
  }
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  // Box-Muller: one Philox block (4 x 32 bits) gives two normals at 53-bit resolution.
  const int64_t nb = (n + 1) / 2;
  uint64_t base = g.advance(uint64_t(nb));
  DIFFLAB_DISPATCH_FLOAT(dtype, "randn", [&] {
    using T = scalar_t;
    T* p = t.data<T>();
    philox_blocks(g, base, nb, [&](int64_t i, std::array<uint32_t, 4> u) {
      double u1 = u01_53(u[0], u[1]), u2 = u01_53(u[2], u[3]);
      double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
      p[2 * i] = T(r * std::cos(th));
      if (2 * i + 1 < n) p[2 * i + 1] = T(r * std::sin(th));
    });
  });
  return t;
}

Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator* gen, Device device) {
  OpLabel label_("randint");
  DIFFLAB_CHECK(hi > lo, "randint: empty range [", lo, ", ", hi, ")");
  Generator& g = gen ? *gen : default_generator();
  if (on_cuda(device)) {
#if DIFFLAB_HAVE_CUDA
    return cuda::randint(lo, hi, shape, g, device);
#endif
  }
  Tensor t = Tensor::empty(shape, DType::i64);
  const int64_t n = t.numel();
  const uint64_t span = uint64_t(hi - lo);
  const int64_t nb = (n + 1) / 2;
  uint64_t base = g.advance(uint64_t(nb));
  int64_t* p = t.data<int64_t>();
  philox_blocks(g, base, nb, [&](int64_t i, std::array<uint32_t, 4> u) {
    for (int k = 0; k < 2 && 2 * i + k < n; ++k) {
      // 64 random bits, reduced by multiply-high (bias below 2^-64 * span).
      uint64_t v = (uint64_t(u[2 * k]) << 32) | u[2 * k + 1];
      p[2 * i + k] = lo + int64_t((__uint128_t(v) * span) >> 64);
    }
  });
  return t;
}

}  // namespace difflab::tensor
