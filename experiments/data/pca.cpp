#include "experiments/data/pca.h"

#include <cmath>

#include "experiments/metrics/sym_eigen.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::experiments {

using tensor::BinaryOp;
using tensor::DType;
using tensor::Tensor;

namespace {

Tensor flat_f64(const Tensor& images, const tensor::Shape& image_shape, const char* who) {
  DIFFLAB_CHECK(images.defined() && images.dim() == 4 &&
                    tensor::Shape(images.shape().begin() + 1, images.shape().end()) == image_shape,
                who, ": expects images [N, ", image_shape[0], ", ", image_shape[1], ", ",
                image_shape[2], "], got ", images.defined() ? images.desc() : "undefined");
  return images.contiguous().reshape({images.size(0), -1}).to(DType::f64);
}

}  // namespace

Pca fit_pca(const Tensor& images, int64_t k) {
  DIFFLAB_CHECK(images.defined() && images.dim() == 4 && images.size(0) >= 2,
                "fit_pca: expects at least 2 images [N, C, H, W], got ",
                images.defined() ? images.desc() : "undefined");
  Pca p;
  p.image_shape = tensor::Shape(images.shape().begin() + 1, images.shape().end());
  const int64_t n = images.size(0), D = images.numel() / n;
  DIFFLAB_CHECK(k >= 1 && k <= D, "fit_pca: k = ", k, " components of ", D, "-dimensional images");
  Tensor x = flat_f64(images, p.image_shape, "fit_pca");
  p.mean = tensor::mean(x, {0});
  Tensor xc = tensor::binary(BinaryOp::sub, x, p.mean.unsqueeze(0));
  Tensor cov = tensor::affine(tensor::matmul(xc.transpose(0, 1), xc), 1.0 / double(n - 1), 0.0);
  SymEigen e = sym_eigen(cov.contiguous().to_vector<double>(), D);
  // Eigenvalues ascend: the last k, largest first.
  std::vector<double> comp(static_cast<size_t>(k * D)), var(static_cast<size_t>(k));
  double total = 0, kept = 0;
  for (double v : e.values) total += std::max(v, 0.0);
  for (int64_t j = 0; j < k; ++j) {
    const int64_t col = D - 1 - j;
    var[size_t(j)] = std::max(e.values[size_t(col)], 0.0);
    kept += var[size_t(j)];
    for (int64_t i = 0; i < D; ++i) comp[size_t(j * D + i)] = e.vectors[size_t(i * D + col)];
  }
  p.components = tensor::from_vector(comp, {k, D});
  p.variances = tensor::from_vector(var, {k});
  p.scale = std::sqrt(kept / double(k));
  DIFFLAB_CHECK(p.scale > 0, "fit_pca: the images do not vary (every kept variance is 0)");
  p.explained = total > 0 ? kept / total : 0.0;
  return p;
}

Tensor Pca::encode(const Tensor& images) const {
  Tensor xc = tensor::binary(BinaryOp::sub, flat_f64(images, image_shape, "Pca::encode"),
                             mean.unsqueeze(0));
  return tensor::affine(tensor::matmul(xc, components.transpose(0, 1)), 1.0 / scale, 0.0)
      .to(DType::f32);
}

Tensor Pca::decode(const Tensor& coords) const {
  DIFFLAB_CHECK(coords.defined() && coords.dim() == 2 && coords.size(1) == components.size(0),
                "Pca::decode: expects coordinates [N, ", components.size(0), "], got ",
                coords.defined() ? coords.desc() : "undefined");
  Tensor x = tensor::binary(
      BinaryOp::add,
      tensor::matmul(tensor::affine(coords.to(DType::f64), scale, 0.0), components),
      mean.unsqueeze(0));
  tensor::Shape s{coords.size(0)};
  s.insert(s.end(), image_shape.begin(), image_shape.end());
  return tensor::clamp(x, -1.0, 1.0).reshape(s).to(DType::f32);
}

}  // namespace difflab::experiments
