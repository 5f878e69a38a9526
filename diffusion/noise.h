// Noise keyed by global sample index (DESIGN.md practice 7). Row b of a draw for stream k is a
// function of (seed, first_index + b, k) only: Philox4x32-10 with key = seed and counter =
// (element block, stream, global index lo, global index hi). So sampling a batch of 8 equals 8
// batches of 1 (each with first_index = its global index) bit for bit, whatever the batch split
// or thread count. Samplers take a NoiseSource argument; nothing reads a hidden generator.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace difflab::diffusion {

using tensor::Tensor;

class NoiseSource {
 public:
  // Stream 0 is the initial noise z_T; sampler step k (0-based) draws from stream k + 1.
  static constexpr uint64_t kInitialStream = 0;
  static uint64_t step_stream(int64_t step) { return uint64_t(step) + 1; }

  explicit NoiseSource(uint64_t seed, uint64_t first_index = 0)
      : seed_(seed), first_index_(first_index) {}
  uint64_t seed() const { return seed_; }
  uint64_t first_index() const { return first_index_; }
  // The source for the sub-batch starting at row `start` of this one's batches.
  NoiseSource offset_by(uint64_t start) const { return NoiseSource(seed_, first_index_ + start); }

  // Standard normal noise of shape [B, ...] (Box-Muller in f64, then cast: f32 and f64 draws of
  // the same key agree to f32 rounding). Rows are samples first_index .. first_index + B − 1.
  // Drawn on the host and copied to `device`, so every device sees the same noise.
  tensor::Tensor normal(const tensor::Shape& shape, uint64_t stream,
                        tensor::DType dtype = tensor::DType::f32,
                        tensor::Device device = tensor::Device::cpu()) const;
  // normal(shape, kInitialStream, dtype) scaled by `scale` (σ_max for EDM samplers).
  tensor::Tensor initial(const tensor::Shape& shape, tensor::DType dtype = tensor::DType::f32,
                         double scale = 1.0, tensor::Device device = tensor::Device::cpu()) const;

 private:
  uint64_t seed_, first_index_;
};

}  // namespace difflab::diffusion
