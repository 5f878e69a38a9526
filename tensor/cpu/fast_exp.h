// A branch-free float exp that the compiler vectorizes (std::exp is a libm call per element),
// for the logistic function of sigmoid and SiLU. Cody–Waite reduction x = n ln2 + r, |r| <= ln2/2,
// and Cephes's degree-6 polynomial for e^r: within 2 ulp of std::exp on [-87, 88]. Inputs are
// clamped to [-87.3, 88.3] (results 1.2e-38 and 2.2e38 instead of denormals and infinity), so
// it serves where those ends do not matter; NaN stays NaN.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace difflab::tensor::cpu {

inline float exp_clamped(float x) {
  float xc = x >= -87.3f ? x : -87.3f;  // NaN takes the lower bound here and is restored below
  xc = xc <= 88.3f ? xc : 88.3f;
  const float n = __builtin_rintf(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const float scale = std::bit_cast<float>(uint32_t(int32_t(n) + 127) << 23);
  const float y = p * scale;
  return x == x ? y : x;
}

// The logistic function: exp_clamped in f32, std::exp in f64.
template <typename T>
inline T sigmoid_of(T x) {
  if constexpr (std::is_same_v<T, float>)
    return 1.0f / (1.0f + exp_clamped(-x));
  else
    return T(1) / (T(1) + std::exp(-x));
}

}  // namespace difflab::tensor::cpu
