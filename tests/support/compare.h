// Comparisons of a result with a reference that several tensor tests share.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/tensor.h"

namespace difflab::testing {

// max |a - ref| / max |ref|.
inline double rel_diff(const tensor::Tensor& a, const tensor::Tensor& ref) {
  const auto va = a.to_vector<double>(), vr = ref.to_vector<double>();
  double d = 0, m = 1e-30;
  for (size_t i = 0; i < va.size(); ++i)
    d = std::max(d, std::abs(va[i] - vr[i])), m = std::max(m, std::abs(vr[i]));
  return d / m;
}

// The same shape and the same bytes.
inline bool bit_equal(const tensor::Tensor& a, const tensor::Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

}  // namespace difflab::testing
