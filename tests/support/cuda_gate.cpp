#include "tests/support/cuda_gate.h"

#include <algorithm>
#include <cmath>

#include "tensor/ops.h"

namespace difflab::testing {

using tensor::Device;
using tensor::DType;

std::string cuda_skip_reason() {
  if (!tensor::cuda_built()) return tensor::cuda_unavailable_reason();
  if (tensor::cuda_device_count() == 0)
    return "no CUDA device can be used: " + tensor::cuda_unavailable_reason();
  return "";
}

boost::test_tools::assertion_result CudaAvailable::operator()(
    boost::unit_test::test_unit_id) const {
  std::string why = cuda_skip_reason();
  boost::test_tools::assertion_result r(why.empty());
  if (!why.empty()) r.message() << "skipped, no GPU: " << why;
  return r;
}

double scaled_max_diff(const Tensor& a, const Tensor& b) {
  Tensor x = a.to(Device::cpu()).to(DType::f64), y = b.to(Device::cpu()).to(DType::f64);
  if (x.shape() != y.shape()) return INFINITY;
  if (x.numel() == 0) return 0.0;
  double scale =
      std::max(1.0, tensor::amax(tensor::unary(tensor::UnaryOp::abs, y).reshape({-1}), 0).item());
  Tensor d = tensor::unary(tensor::UnaryOp::abs, tensor::binary(tensor::BinaryOp::sub, x, y));
  double m = tensor::amax(d.reshape({-1}), 0).item();
  return std::isnan(m) ? INFINITY : m / scale;
}

}  // namespace difflab::testing
