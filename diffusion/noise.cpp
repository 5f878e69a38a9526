#include "diffusion/noise.h"

#include <array>
#include <cmath>
#include <numbers>

#include "tensor/ops.h"
#include "tensor/random.h"

namespace difflab::diffusion {

namespace {

// 53 random bits in (0, 1]: never 0, so log() in Box-Muller is finite (as tensor/random.cpp).
inline double u01_53(uint32_t a, uint32_t b) {
  uint64_t v = (uint64_t(a) << 21) ^ uint64_t(b >> 11);
  return (double(v & ((uint64_t(1) << 53) - 1)) + 1.0) / 9007199254740992.0;
}

template <typename T>
void fill_rows(T* out, int64_t rows, int64_t per_row, uint64_t seed, uint64_t first_index,
               uint64_t stream) {
  const std::array<uint32_t, 2> key = {uint32_t(seed), uint32_t(seed >> 32)};
  const int64_t blocks = (per_row + 1) / 2;  // one Philox block gives two normals
// About 50 ns a block: threads only pay off for large draws (a sampler draws every step).
#pragma omp parallel for collapse(2) schedule(static) if (rows * blocks >= 65536)
  for (int64_t b = 0; b < rows; ++b) {
    for (int64_t j = 0; j < blocks; ++j) {
      const uint64_t g = first_index + uint64_t(b);
      const std::array<uint32_t, 4> u = tensor::philox4x32_10(
          {uint32_t(j), uint32_t(stream), uint32_t(g), uint32_t(g >> 32)}, key);
      const double u1 = u01_53(u[0], u[1]), u2 = u01_53(u[2], u[3]);
      const double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * std::numbers::pi * u2;
      T* row = out + b * per_row;
      row[2 * j] = T(r * std::cos(th));
      if (2 * j + 1 < per_row) row[2 * j + 1] = T(r * std::sin(th));
    }
  }
}

}  // namespace

tensor::Tensor NoiseSource::normal(const tensor::Shape& shape, uint64_t stream,
                                   tensor::DType dtype, tensor::Device device) const {
  DIFFLAB_CHECK(!shape.empty(), "NoiseSource::normal: shape must have a batch dim, got []");
  DIFFLAB_CHECK(stream <= 0xffffffffull, "NoiseSource::normal: stream ", stream,
                " does not fit the 32-bit counter word");
  tensor::Tensor t = Tensor::empty(shape, dtype);
  const int64_t rows = shape[0];
  const int64_t per_row = rows == 0 ? 0 : t.numel() / rows;
  DIFFLAB_CHECK(per_row <= (int64_t(1) << 33), "NoiseSource::normal: ", per_row,
                " elements per sample exceed the 2^33 the 32-bit block counter covers");
  DIFFLAB_DISPATCH_FLOAT(dtype, "NoiseSource::normal", [&] {
    fill_rows(t.data<scalar_t>(), rows, per_row, seed_, first_index_, stream);
  });
  return t.to(device);
}

tensor::Tensor NoiseSource::initial(const tensor::Shape& shape, tensor::DType dtype,
                                    double scale, tensor::Device device) const {
  tensor::Tensor t = normal(shape, kInitialStream, dtype, device);
  if (scale != 1.0) t = tensor::affine(t, scale, 0.0);
  return t;
}

}  // namespace difflab::diffusion
