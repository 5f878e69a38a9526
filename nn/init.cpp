#include "nn/init.h"

#include <cmath>

#include "tensor/ops.h"

namespace difflab::nn {

int64_t fan_in(const tensor::Shape& weight_shape) {
  DIFFLAB_CHECK(weight_shape.size() >= 2, "fan_in: weight must have at least 2 dims, got ",
                weight_shape);
  int64_t f = 1;
  for (size_t d = 1; d < weight_shape.size(); ++d) f *= weight_shape[d];
  return f;
}

tensor::Tensor kaiming_uniform(const tensor::Shape& shape, int64_t fan_in, tensor::Generator* gen) {
  DIFFLAB_CHECK(fan_in > 0, "kaiming_uniform: fan_in must be positive, got ", fan_in, " for shape ",
                shape);
  // kaiming_uniform_(a=√5): gain √(2/(1+5)) = √(1/3), bound = gain·√(3/fan_in) = 1/√fan_in.
  const double bound = 1.0 / std::sqrt(double(fan_in));
  return tensor::uniform(shape, -bound, bound, tensor::DType::f32, gen);
}

tensor::Tensor normal_init(const tensor::Shape& shape, double std, tensor::Generator* gen) {
  tensor::Tensor t = tensor::randn(shape, tensor::DType::f32, gen);
  return std == 1.0 ? t : tensor::affine(t, std, 0.0);
}

}  // namespace difflab::nn
