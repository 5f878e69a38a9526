// Tensor factories: zeros, ones, full, arange, linspace, from_vector, scalar.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace difflab::tensor {

Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
            Device device = Device::cpu());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, DType dtype = DType::f32);  // shape []
// [start, end) with step, like numpy.arange.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor linspace(double start, double end, int64_t steps, DType dtype = DType::f32);

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  DIFFLAB_CHECK(int64_t(values.size()) == shape_numel(shape), "from_vector: ", values.size(),
                " values do not fill shape ", shape);
  Tensor t = Tensor::empty(shape, DTypeOf<T>::value);
  T* p = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}
// Converts the values to `dtype`.
Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype);

}  // namespace difflab::tensor
