// Improved precision and recall for generative models (Kynkäänniemi et al. 2019): each set's
// manifold is the union of balls around its points with radius the distance to the point's k-th
// nearest neighbour in the same set; precision is the share of generated points inside the real
// manifold, recall the share of real points inside the generated one. N = min(#generated,
// #real) points of each (the first rows), k = 3, in whatever feature space the caller uses
// (raw coordinates for vectors, LeNet features for images). Blocked: memory O(block · N).
#pragma once
#include <cstdint>

#include "tensor/tensor.h"

namespace difflab::experiments {

struct PrecisionRecall {
  double precision = 0, recall = 0;
};

PrecisionRecall precision_recall(const tensor::Tensor& generated, const tensor::Tensor& real,
                                 int64_t k = 3);

}  // namespace difflab::experiments
