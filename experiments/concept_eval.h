// Concept discovery's judges on ColorMNIST benchmark A (spec_mlgdf_concepts §3.10): the digit of
// a generated image is the MNIST LeNet's class of its luminance (color_compositions.h), its
// colour the nearest palette entry of the mean colour under the digit's mask; joint accuracy
// needs both right. Distribution metrics compare the samples' LeNet features (of the luminance)
// with those of the real images of the target composition (about 100 per composition): KID,
// improved precision/recall (k = 3) and the Fréchet distance, which at this sample size is
// dominated by its bias (report it only with its spread).
#pragma once
#include <string>

#include "experiments/data/color_compositions.h"
#include "experiments/lenet.h"

namespace difflab::experiments {

struct CompositionScores {
  int64_t n = 0;
  double digit = 0, color = 0, joint = 0;  // accuracies for the target composition
  double kid = 0, precision = 0, recall = 0, frechet = 0;
};

class CompositionJudge {
 public:
  // The MNIST LeNet (trained and cached on the grayscale train split when missing).
  explicit CompositionJudge(const MnistData& mnist);
  // Scores images f32 [N, 3, 28, 28] against `target` and the real images `real` [M, 3, 28, 28]
  // of it (N, M ≥ 2). KID and precision/recall use min(N, M) rows of each.
  CompositionScores score(const tensor::Tensor& images, const Composition& target,
                          const tensor::Tensor& real) const;
  // Digit (MNIST LeNet on luminance) of each image, i64 [N].
  tensor::Tensor digits(const tensor::Tensor& images) const;
  // LeNet features [N, 84] of the luminance.
  tensor::Tensor features(const tensor::Tensor& images) const;
  double classifier_accuracy() const { return lenet_.test_accuracy; }

 private:
  Classifier lenet_;
};

}  // namespace difflab::experiments
