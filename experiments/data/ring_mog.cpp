#include "experiments/data/ring_mog.h"

#include <cmath>
#include <vector>

#include "tensor/factory.h"
#include "tensor/random.h"

namespace difflab::experiments {

using tensor::DType;
using tensor::Tensor;

Tensor random_plane(int64_t dim, uint64_t seed) {
  DIFFLAB_CHECK(dim >= 2, "random_plane: dim must be >= 2, got ", dim);
  tensor::Generator gen(seed);
  std::vector<double> a = tensor::randn({2, dim}, DType::f64, &gen).to_vector<double>();
  double* u1 = a.data();
  double* u2 = a.data() + dim;
  auto dot = [dim](const double* x, const double* y) {
    double s = 0;
    for (int64_t i = 0; i < dim; ++i) s += x[i] * y[i];
    return s;
  };
  // Modified Gram–Schmidt, twice on u₂ for orthogonality to round-off.
  const double n1 = std::sqrt(dot(u1, u1));
  for (int64_t i = 0; i < dim; ++i) u1[i] /= n1;
  for (int pass = 0; pass < 2; ++pass) {
    const double c = dot(u1, u2);
    for (int64_t i = 0; i < dim; ++i) u2[i] -= c * u1[i];
  }
  const double n2 = std::sqrt(dot(u2, u2));
  for (int64_t i = 0; i < dim; ++i) u2[i] /= n2;
  std::vector<double> out(static_cast<size_t>(2 * dim));
  for (int64_t i = 0; i < dim; ++i) {
    out[size_t(2 * i)] = u1[i];
    out[size_t(2 * i + 1)] = u2[i];
  }
  return tensor::from_vector<double>(out, {dim, 2});
}

GaussianMixture ring_mog(const RingMogParams& p) {
  DIFFLAB_CHECK(p.dim >= 2, "ring_mog: dim must be >= 2, got ", p.dim);
  DIFFLAB_CHECK(p.components >= 1, "ring_mog: components must be >= 1, got ", p.components);
  DIFFLAB_CHECK(p.std > 0, "ring_mog: std must be > 0, got ", p.std);
  std::vector<double> plane(static_cast<size_t>(2 * p.dim), 0.0);
  if (p.random_plane) {
    plane = random_plane(p.dim, p.plane_seed).to_vector<double>();
  } else {
    plane[0] = 1.0;  // u₁ = e₁
    plane[3] = 1.0;  // u₂ = e₂
  }
  std::vector<double> means(static_cast<size_t>(p.components * p.dim));
  for (int64_t k = 0; k < p.components; ++k) {
    const double a = p.phase + 2 * M_PI * double(k) / double(p.components);
    const double c = p.radius * std::cos(a), s = p.radius * std::sin(a);
    for (int64_t i = 0; i < p.dim; ++i)
      means[size_t(k * p.dim + i)] = c * plane[size_t(2 * i)] + s * plane[size_t(2 * i + 1)];
  }
  return make_isotropic_mixture(tensor::from_vector<double>(means, {p.components, p.dim}), p.std);
}

GaussianMixture raw_mog(const RawMogParams& p) {
  DIFFLAB_CHECK(p.dim >= 1, "raw_mog: dim must be >= 1, got ", p.dim);
  DIFFLAB_CHECK(p.components >= 1, "raw_mog: components must be >= 1, got ", p.components);
  DIFFLAB_CHECK(p.std > 0, "raw_mog: std must be > 0, got ", p.std);
  tensor::Generator gen(p.seed);
  const double scale = p.radius / std::sqrt(double(p.dim));
  Tensor means = tensor::randn({p.components, p.dim}, DType::f64, &gen);
  double* m = means.data<double>();
  for (int64_t i = 0; i < means.numel(); ++i) m[i] *= scale;
  return make_isotropic_mixture(means, p.std);
}

}  // namespace difflab::experiments
