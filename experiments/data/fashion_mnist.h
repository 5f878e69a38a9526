// Fashion-MNIST from Debian's `dataset-fashion-mnist` package: the standard 60,000 train and
// 10,000 test images (28×28, 10 classes) as gzip IDX files under
// /usr/share/datasets/fashion-mnist/, read in place with zlib. The official test split is kept
// as the held-out set (the reference set for Fréchet distances).
#pragma once
#include <string>
#include <vector>

#include "experiments/data/image_set.h"

namespace difflab::experiments {

struct FashionMnistData {
  ImageSet train, test;  // images f32 [N, 1, 28, 28] in [−1, 1], labels i64 0..9
  static constexpr int64_t num_classes = 10;
};

// $DIFFLAB_FASHION_MNIST if set, else /usr/share/datasets/fashion-mnist.
std::string default_fashion_mnist_dir();
// True when all four IDX files exist in `dir`.
bool fashion_mnist_available(const std::string& dir = default_fashion_mnist_dir());
// "T-shirt/top", "Trouser", ..., "Ankle boot" (label order).
std::vector<std::string> fashion_mnist_class_names();

// Reads one IDX pair (gzip or plain): images magic 0x00000803 [N, rows, cols] u8 and labels
// magic 0x00000801 [N] u8; checks magics, sizes and that the counts agree.
ImageSet read_idx_images(const std::string& images_path, const std::string& labels_path);

// Loads both splits; a missing directory or file names it and the Debian package to install.
FashionMnistData load_fashion_mnist(const std::string& dir = default_fashion_mnist_dir());

}  // namespace difflab::experiments
