// Class-level helpers for evaluating classifiers and class-conditional generators: predictions
// from logits, accuracy, per-class accuracy, confusion matrix, and the class histogram of
// generated samples (mode coverage and its KL divergence from uniform).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace difflab::experiments {

// argmax over the last dim of logits [N, C] → i64 [N].
tensor::Tensor predict_classes(const tensor::Tensor& logits);
// Fraction of predictions (i64 [N]) equal to labels (i64 [N]).
double accuracy(const tensor::Tensor& predictions, const tensor::Tensor& labels);
// Per class c: correct / count of label c (NaN when class c has no items).
std::vector<double> per_class_accuracy(const tensor::Tensor& predictions,
                                       const tensor::Tensor& labels, int64_t num_classes);
// counts[label][prediction], row-major C×C.
std::vector<int64_t> confusion_matrix(const tensor::Tensor& predictions,
                                      const tensor::Tensor& labels, int64_t num_classes);

struct ClassHistogram {
  std::vector<double> fractions;  // per class, summing to 1
  int64_t classes_covered = 0;    // classes with at least one sample
  double kl_from_uniform = 0;     // Σ p_c log(p_c · C) ≥ 0; 0 for perfectly balanced samples
};
ClassHistogram class_histogram(const tensor::Tensor& predictions, int64_t num_classes);

// The smallest and largest ratio share[c] / reference[c] over the classes with reference[c] > 0:
// how under- and over-drawn the rarest and the commonest class are (1, 1 when they match).
std::pair<double, double> class_share_ratio_range(const std::vector<double>& share,
                                                  const std::vector<double>& reference);

}  // namespace difflab::experiments
