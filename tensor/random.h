// Counter-based Philox4x32-10 random numbers. A Generator is (seed, offset): element i of a
// draw uses counter (offset + i), so results do not depend on the thread count.
#pragma once
#include <array>
#include <cstdint>

#include "tensor/tensor.h"

namespace difflab::tensor {

// One Philox4x32-10 block: 4 x 32-bit outputs for a 128-bit counter and 64-bit key.
std::array<uint32_t, 4> philox4x32_10(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t o) { offset_ = o; }
  // Reserves n counters and returns the first; each counter yields 4 uint32 values.
  uint64_t advance(uint64_t n) {
    uint64_t o = offset_;
    offset_ += n;
    return o;
  }

 private:
  uint64_t seed_, offset_;
};

// The process-wide default generator (seed 0 until manual_seed).
Generator& default_generator();
void manual_seed(uint64_t seed);

// Fills: uniform in [lo, hi), normal(mean, std) (Box-Muller), integers in [lo, hi). On a CUDA
// device the numbers are generated there, the same as on the CPU for the same generator state
// (randn up to an ulp of the device's log/sin/cos), and the generator advances the same.
Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr,
            Device device = Device::cpu());
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr,
             Device device = Device::cpu());
Tensor randint(int64_t lo, int64_t hi, const Shape& shape, Generator* gen = nullptr,
               Device device = Device::cpu());
Tensor uniform(const Shape& shape, double lo, double hi, DType dtype = DType::f32,
               Generator* gen = nullptr, Device device = Device::cpu());

}  // namespace difflab::tensor
