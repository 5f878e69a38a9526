// Principal-component coordinates of an image set: fitted on the training images, it turns
// images into k-dimensional vectors (for the vector-data models: flux matching's PCA-50 MNIST)
// and vectors back into images for the image metrics.
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct Pca {
  tensor::Tensor mean;        // f64 [D], D = C·H·W
  tensor::Tensor components;  // f64 [k, D], orthonormal rows, by decreasing variance
  tensor::Tensor variances;   // f64 [k], the variance along each component
  // Coordinates are divided by this (the root of the mean kept variance), so they have unit
  // variance per dimension on average.
  double scale = 1.0;
  tensor::Shape image_shape;  // [C, H, W]
  double explained = 0.0;     // fraction of the total pixel variance the k components keep

  // Images [N, C, H, W] -> f32 [N, k].
  tensor::Tensor encode(const tensor::Tensor& images) const;
  // f32 [N, k] -> images f32 [N, C, H, W], clamped to the data range [−1, 1].
  tensor::Tensor decode(const tensor::Tensor& coords) const;
};

// The top k principal components of `images` (f32 [N, C, H, W], N >= 2, 1 <= k <= C·H·W).
Pca fit_pca(const tensor::Tensor& images, int64_t k);

}  // namespace difflab::experiments
