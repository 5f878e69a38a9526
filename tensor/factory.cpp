#include "tensor/factory.h"
#include "tensor/op_label.h"

#include <cmath>

#include "tensor/ops.h"

namespace difflab::tensor {

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  OpLabel label_("full");
  Tensor t = Tensor::empty(shape, dtype, device);
  t.fill_(value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, t.dtype(), t.device()); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  OpLabel label_("arange");
  DIFFLAB_CHECK(step != 0, "arange: step must be non-zero");
  int64_t n = std::max<int64_t>(0, int64_t(std::ceil((end - start) / step)));
  Tensor t = Tensor::empty({n}, dtype);
  DIFFLAB_DISPATCH_ALL(dtype, "arange", [&] {
    scalar_t* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = scalar_t(start + double(i) * step);
  });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  OpLabel label_("linspace");
  DIFFLAB_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  Tensor t = Tensor::empty({steps}, dtype);
  DIFFLAB_DISPATCH_FLOAT(dtype, "linspace", [&] {
    scalar_t* p = t.data<scalar_t>();
    double h = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
    for (int64_t i = 0; i < steps; ++i) p[i] = scalar_t(start + double(i) * h);
    if (steps > 1) p[steps - 1] = scalar_t(end);
  });
  return t;
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return from_vector<double>(values, shape).to(dtype);
}

}  // namespace difflab::tensor
