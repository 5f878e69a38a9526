// Element types (f32, f64, i64, u8) and the compile-time mapping to C++ types.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>

namespace difflab::tensor {

enum class DType : uint8_t { f32, f64, i64, u8 };

constexpr size_t dtype_size(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

constexpr const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

constexpr bool is_floating(DType d) { return d == DType::f32 || d == DType::f64; }

inline std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }

template <typename T> struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };

}  // namespace difflab::tensor

// Runs the body with `scalar_t` bound to the C++ type of a floating dtype.
#define DIFFLAB_DISPATCH_FLOAT(dtype, opname, ...)                                     \
  [&] {                                                                                \
    switch (dtype) {                                                                   \
      case ::difflab::tensor::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }  \
      case ::difflab::tensor::DType::f64: { using scalar_t = double; return __VA_ARGS__(); } \
      default:                                                                         \
        DIFFLAB_FAIL(opname, ": expected a floating dtype (f32 or f64), got ", dtype); \
    }                                                                                  \
  }()

#define DIFFLAB_DISPATCH_ALL(dtype, opname, ...)                                        \
  [&] {                                                                                 \
    switch (dtype) {                                                                    \
      case ::difflab::tensor::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }   \
      case ::difflab::tensor::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }  \
      case ::difflab::tensor::DType::i64: { using scalar_t = int64_t; return __VA_ARGS__(); } \
      case ::difflab::tensor::DType::u8: { using scalar_t = uint8_t; return __VA_ARGS__(); }  \
    }                                                                                   \
    DIFFLAB_FAIL(opname, ": unknown dtype");                                            \
  }()
