#include "experiments/data/mnist_rotation.h"

#include <cmath>
#include <numbers>

#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

namespace {

constexpr double kRadian = std::numbers::pi / 180.0;

// One plane of h×w pixels rotated counter-clockwise (as displayed) by `deg`: output pixel (r, c)
// reads the source at the inverse rotation of its offset from the centre.
void rotate_plane(const float* src, float* dst, int64_t h, int64_t w, double deg) {
  const double cy = 0.5 * double(h - 1), cx = 0.5 * double(w - 1);
  const double cs = std::cos(deg * kRadian), sn = std::sin(deg * kRadian);
  auto at = [&](int64_t r, int64_t c) -> double {
    return r < 0 || r >= h || c < 0 || c >= w ? -1.0 : double(src[r * w + c]);
  };
  for (int64_t r = 0; r < h; ++r)
    for (int64_t c = 0; c < w; ++c) {
      // Display coordinates (x right, y up) of the output pixel, rotated back by −deg.
      const double x = double(c) - cx, y = cy - double(r);
      const double sx = cs * x + sn * y, sy = -sn * x + cs * y;
      const double fc = sx + cx, fr = cy - sy;
      const double r0 = std::floor(fr), c0 = std::floor(fc);
      const double dr = fr - r0, dc = fc - c0;
      const int64_t ir = int64_t(r0), ic = int64_t(c0);
      const double v = (1 - dr) * ((1 - dc) * at(ir, ic) + dc * at(ir, ic + 1)) +
                       dr * ((1 - dc) * at(ir + 1, ic) + dc * at(ir + 1, ic + 1));
      dst[r * w + c] = float(v);
    }
}

void check_images(const Tensor& images, const char* fn) {
  DIFFLAB_CHECK(images.defined() && images.dtype() == DType::f32 && images.dim() == 4, fn,
                ": expected images f32 [N, C, H, W], got ",
                images.defined() ? images.desc() : std::string("undefined"));
}

}  // namespace

Tensor rotate_images(const Tensor& images, const std::vector<double>& degrees) {
  check_images(images, "rotate_images");
  DIFFLAB_CHECK(int64_t(degrees.size()) == images.size(0), "rotate_images: ", degrees.size(),
                " angles for ", images.size(0), " images");
  const Tensor src = images.contiguous();
  Tensor out = Tensor::empty(src.shape(), DType::f32);
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);
  const float* in = src.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < src.size(0); ++i) {
    DIFFLAB_CHECK(std::isfinite(degrees[size_t(i)]), "rotate_images: angle ", i, " is not finite");
    for (int64_t k = 0; k < c; ++k) {
      const int64_t off = (i * c + k) * h * w;
      rotate_plane(in + off, o + off, h, w, degrees[size_t(i)]);
    }
  }
  return out;
}

std::vector<std::vector<double>> logical_angles(const ImageSet& digits,
                                                const DigitProbabilities& probs, double threshold) {
  check_images(digits.images, "logical_angles");
  DIFFLAB_CHECK(threshold > 0 && threshold < 1, "logical_angles: threshold ", threshold,
                " must be in (0, 1)");
  const int64_t n = digits.size();
  std::vector<std::vector<double>> out(size_t(n), std::vector<double>{0.0});
  const std::vector<int64_t> label = digits.labels.to_vector<int64_t>();
  for (double a : {90.0, 180.0, 270.0}) {
    const Tensor p = probs(rotate_images(digits.images, std::vector<double>(size_t(n), a)))
                         .to(DType::f64)
                         .contiguous();
    DIFFLAB_CHECK(p.dim() == 2 && p.size(0) == n, "logical_angles: the classifier returned ",
                  p.desc(), " for ", n, " images");
    const double* pp = p.data<double>();
    for (int64_t i = 0; i < n; ++i) {
      DIFFLAB_CHECK(label[size_t(i)] >= 0 && label[size_t(i)] < p.size(1), "logical_angles: label ",
                    label[size_t(i)], " outside the classifier's ", p.size(1), " classes");
      if (pp[i * p.size(1) + label[size_t(i)]] > threshold) out[size_t(i)].push_back(a);
    }
  }
  return out;
}

RotationPairs rotation_pairs(const ImageSet& digits, const std::vector<std::vector<double>>& angles,
                             int64_t copies, tensor::Generator& gen) {
  check_images(digits.images, "rotation_pairs");
  DIFFLAB_CHECK(int64_t(angles.size()) == digits.size() && copies >= 1,
                "rotation_pairs: ", angles.size(), " angle lists for ", digits.size(),
                " digits, copies ", copies);
  std::vector<int64_t> source;
  std::vector<double> logical;
  for (int64_t i = 0; i < digits.size(); ++i)
    for (double a : angles[size_t(i)])
      for (int64_t k = 0; k < copies; ++k) source.push_back(i), logical.push_back(a);
  const int64_t m = int64_t(source.size());
  const std::vector<double> u =
      tensor::uniform({m}, 0.0, 360.0, DType::f64, &gen).to_vector<double>();
  RotationPairs out;
  const Tensor index = tensor::from_vector<int64_t>(source, {m});
  out.images = rotate_images(tensor::index_select(digits.images, 0, index), u);
  out.labels = tensor::index_select(digits.labels, 0, index);
  for (int64_t j = 0; j < m; ++j) {
    out.degrees.push_back(std::fmod(logical[size_t(j)] + u[size_t(j)], 360.0));
    std::vector<double> all;
    for (double a : angles[size_t(source[size_t(j)])])
      all.push_back(std::fmod(a + u[size_t(j)], 360.0));
    out.all_angles.push_back(all);
  }
  out.angles = angle_features(out.degrees);
  return out;
}

ImageSet rotated_copies(const ImageSet& digits, int64_t copies, tensor::Generator& gen) {
  std::vector<std::vector<double>> upright(size_t(digits.size()), std::vector<double>{0.0});
  RotationPairs p = rotation_pairs(digits, upright, copies, gen);
  return {p.images, p.labels};
}

Tensor angle_features(const std::vector<double>& degrees) {
  std::vector<float> v;
  for (double d : degrees)
    v.push_back(float(std::cos(d * kRadian))), v.push_back(float(std::sin(d * kRadian)));
  return tensor::from_vector(v, {int64_t(degrees.size()), 2});
}

std::vector<double> feature_angles(const Tensor& features) {
  DIFFLAB_CHECK(features.defined() && features.dim() == 2 && features.size(1) == 2,
                "feature_angles: expected [n, 2] (cos, sin) rows, got ",
                features.defined() ? features.desc() : std::string("undefined"));
  const std::vector<double> v = features.to(DType::f64).contiguous().to_vector<double>();
  std::vector<double> out;
  for (size_t i = 0; i + 1 < v.size(); i += 2) {
    double d = std::atan2(v[i + 1], v[i]) / kRadian;
    out.push_back(d < 0 ? d + 360.0 : d);
  }
  return out;
}

double angle_gap(double a, double b) {
  const double d = std::fmod(std::abs(a - b), 360.0);
  return d > 180.0 ? 360.0 - d : d;
}

}  // namespace difflab::experiments
