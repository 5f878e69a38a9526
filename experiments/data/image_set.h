// ImageSet: images as f32 [N, C, H, W] scaled to [−1, 1] with i64 class labels [N]; the common
// currency of the image data sets (MNIST, ColorMNIST, Fashion-MNIST).
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct ImageSet {
  tensor::Tensor images;  // f32 [N, C, H, W] in [−1, 1]
  tensor::Tensor labels;  // i64 [N]
  int64_t size() const { return labels.defined() ? labels.numel() : 0; }
};

// The rows of `set` at `index` (i64 1-D), in that order (copies).
ImageSet subset(const ImageSet& set, const tensor::Tensor& index);

// u8 pixels [N, H, W] (0..255) to f32 [N, 1, H, W] in [−1, 1] (v/127.5 − 1).
tensor::Tensor pixels_to_images(const tensor::Tensor& pixels_u8);

// Number of items of each class 0..num_classes−1 (labels i64); throws on a label out of range.
std::vector<int64_t> class_counts(const tensor::Tensor& labels, int64_t num_classes);

}  // namespace difflab::experiments
