#include "matching/bandwidth.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "autograd/grad_mode.h"
#include "matching/divergence.h"
#include "matching/sample_sets.h"
#include "tensor/ops.h"

namespace difflab::matching {

Bandwidth parse_bandwidth(const std::string& text) {
  if (text == "median") return Bandwidth::median();
  if (text == "multi") return Bandwidth::multi();
  char* end = nullptr;
  const double h = text.empty() ? 0.0 : std::strtod(text.c_str(), &end);
  const bool number = !text.empty() && end == text.c_str() + text.size();
  DIFFLAB_CHECK(number && std::isfinite(h) && h > 0, "bad bandwidth '", text,
                "' (expected median, multi or a positive number)");
  return Bandwidth::fixed(h);
}

std::string bandwidth_to_string(const Bandwidth& b) {
  if (b.mode == BandwidthMode::median) return "median";
  if (b.mode == BandwidthMode::multi) return "multi";
  std::ostringstream s;
  s.precision(17);
  s << b.value;
  return s.str();
}

double multi_bandwidth_scale(const tensor::Tensor& x, const tensor::Tensor& y) {
  ag::NoGradGuard no_grad;
  auto [fx, fy] = as_features(ag::Var(x), ag::Var(y), "multi_bandwidth_scale");
  tensor::Tensor z = tensor::cat({fx.value(), fy.value()}, 0);
  const int64_t n = z.size(0);
  DIFFLAB_CHECK(n >= 2, "multi_bandwidth_scale: needs at least 2 points in [X; Y], got ", n);
  // The diagonal of cdist2(Z, Z) is exactly 0, so the full sum is the off-diagonal sum.
  const double total = tensor::sum(tensor::cdist2(z, z), {}).item();
  const double b = total / double(n * n - n);
  DIFFLAB_CHECK(b > 0,
                "multi_bandwidth_scale: every point of [X; Y] is the same; give a bandwidth");
  return b;
}

std::vector<double> multi_bandwidths(double b) {
  std::vector<double> h;
  for (int j = 0; j <= 4; ++j) h.push_back(std::sqrt(b * std::ldexp(1.0, j - 2) / 2.0));
  return h;
}

std::vector<double> resolve_bandwidths(const Bandwidth& b, const tensor::Tensor& x,
                                       const tensor::Tensor& y) {
  switch (b.mode) {
    case BandwidthMode::fixed:
      DIFFLAB_CHECK(b.value > 0 && std::isfinite(b.value), "bandwidth ", b.value, " is not > 0");
      return {b.value};
    case BandwidthMode::median:
      return {median_bandwidth(x, y)};
    case BandwidthMode::multi:
      return multi_bandwidths(multi_bandwidth_scale(x, y));
  }
  DIFFLAB_FAIL("resolve_bandwidths: unknown bandwidth mode");
}

}  // namespace difflab::matching
