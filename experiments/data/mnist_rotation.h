// MNIST rotation, the joint P(X, Y) of MLGD-F's image benchmark (spec
// spec_mlgdf_concepts_drifting.md §2.9): X a rotated digit, Y the angle of its upright
// orientation as (cos θ, sin θ).
//
// Angles are in degrees, counter-clockwise as the image is displayed (row 0 at the top). An
// image rotated by u has angle u; a digit that a classifier still reads as itself, with
// confidence above a threshold, after a rotation by a ∈ {90°, 180°, 270°} also has the "logical
// angle" a (a 1 or an 8 looks upright at 0° and at 180°). The conditional data keep one row per
// (digit, logical angle a): the digit rotated by a fresh uniform u with label (a + u) mod 360, so
// P(Y | X) is multimodal for rotationally ambiguous digits. The spec's dataset redraws u at every
// access; here each row is drawn `copies` times when the set is built (a fixed set, as the rest
// of difflab's data).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "experiments/data/image_set.h"
#include "tensor/random.h"
#include "tensor/tensor.h"

namespace difflab::experiments {

// images f32 [N, C, H, W] in [−1, 1], each rotated about its centre by degrees[i]
// (counter-clockwise), bilinear, with −1 (black) outside the source.
tensor::Tensor rotate_images(const tensor::Tensor& images, const std::vector<double>& degrees);

// Class probabilities [N, classes] of images [N, C, H, W] (a trained classifier, softmaxed).
using DigitProbabilities = std::function<tensor::Tensor(const tensor::Tensor& images)>;

// Each digit's logical angles: 0, plus every a ∈ {90, 180, 270} at which `probs` of the digit
// rotated by a gives its own label a probability above `threshold`.
std::vector<std::vector<double>> logical_angles(const ImageSet& digits,
                                                const DigitProbabilities& probs, double threshold);

struct RotationPairs {
  tensor::Tensor images;        // f32 [M, C, H, W]: the rotated digits
  tensor::Tensor angles;        // f32 [M, 2]: (cos θ, sin θ) of the label θ = (a + u) mod 360
  tensor::Tensor labels;        // i64 [M]: the digit's class
  std::vector<double> degrees;  // θ of every row
  std::vector<std::vector<double>> all_angles;  // every θ the row's image could have: {a' + u}
};

// `copies` rows per (digit, logical angle), u ~ U[0, 360) drawn from gen.
RotationPairs rotation_pairs(const ImageSet& digits, const std::vector<std::vector<double>>& angles,
                             int64_t copies, tensor::Generator& gen);

// `copies` rotations per digit by u ~ U[0, 360) (the prior's data: digits at any angle).
ImageSet rotated_copies(const ImageSet& digits, int64_t copies, tensor::Generator& gen);

// (cos, sin) rows [n, 2] of degrees, f32.
tensor::Tensor angle_features(const std::vector<double>& degrees);
// atan2 of (cos, sin) rows back to degrees in [0, 360).
std::vector<double> feature_angles(const tensor::Tensor& features);
// The smallest absolute difference between two angles on the circle, in [0, 180].
double angle_gap(double a, double b);

}  // namespace difflab::experiments
