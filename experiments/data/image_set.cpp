#include "experiments/data/image_set.h"

#include <vector>

#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

ImageSet subset(const ImageSet& set, const Tensor& index) {
  DIFFLAB_CHECK(set.images.defined() && set.labels.defined(), "subset: empty image set");
  DIFFLAB_CHECK(index.dtype() == DType::i64 && index.dim() == 1,
                "subset: index must be i64 1-D, got ", index.desc());
  return {tensor::index_select(set.images, 0, index), tensor::index_select(set.labels, 0, index)};
}

Tensor pixels_to_images(const Tensor& pixels_u8) {
  DIFFLAB_CHECK(pixels_u8.dtype() == DType::u8 && pixels_u8.dim() == 3,
                "pixels_to_images: expected u8 [N, H, W], got ", pixels_u8.desc());
  Tensor src = pixels_u8.contiguous();
  const int64_t n = src.size(0), h = src.size(1), w = src.size(2);
  Tensor out = Tensor::empty({n, 1, h, w}, DType::f32);
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  for (int64_t i = 0; i < src.numel(); ++i) d[i] = float(s[i]) / 127.5f - 1.0f;
  return out;
}

std::vector<int64_t> class_counts(const Tensor& labels, int64_t num_classes) {
  DIFFLAB_CHECK(labels.dtype() == DType::i64 && labels.dim() == 1,
                "class_counts: labels must be i64 1-D, got ", labels.desc());
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (int64_t v : labels.to_vector<int64_t>()) {
    DIFFLAB_CHECK(v >= 0 && v < num_classes, "class_counts: label ", v, " outside [0, ",
                  num_classes, ")");
    ++counts[size_t(v)];
  }
  return counts;
}

}  // namespace difflab::experiments
