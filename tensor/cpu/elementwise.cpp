// Elementwise kernels: unary maps, scalar maps, broadcasting binary ops, where.
#include <cmath>
#include <type_traits>

#include "tensor/checks/elementwise.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/fast_exp.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

using cpu::check_cpu;

// out = f(x) elementwise, out contiguous with x's shape.
template <typename T, typename F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return out;
  Shape xs = cpu::broadcast_byte_strides(x, x.shape());
  Shape os = cpu::broadcast_byte_strides(out, x.shape());
  cpu::strided_loop<2>(x.shape(), {static_cast<char*>(out.raw_data()),
                                   static_cast<char*>(x.raw_data())},
                       {os, xs}, [f](char** p, const int64_t* s, int64_t n) {
                         T* o = reinterpret_cast<T*>(p[0]);
                         if (s[1] == sizeof(T)) {
                           const T* a = reinterpret_cast<const T*>(p[1]);
#pragma omp simd
                           for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
                         } else {
                           for (int64_t i = 0; i < n; ++i)
                             o[i] = f(*reinterpret_cast<const T*>(p[1] + i * s[1]));
                         }
                       });
  return out;
}

// float takes the vectorizable exp (within 2 ulp; its clamped ends are far beyond where the
// logistic function saturates); double keeps std::exp for the gradient checks.
using cpu::sigmoid_of;

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

}  // namespace

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::abs: return "abs";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::rsqrt: return "rsqrt";
    case UnaryOp::sin: return "sin";
    case UnaryOp::cos: return "cos";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::relu: return "relu";
    case UnaryOp::silu: return "silu";
    case UnaryOp::gelu: return "gelu";
    case UnaryOp::square: return "square";
    case UnaryOp::sign: return "sign";
    case UnaryOp::reciprocal: return "reciprocal";
    case UnaryOp::silu_grad: return "silu_grad";
    case UnaryOp::gelu_grad: return "gelu_grad";
    case UnaryOp::gelu_grad2: return "gelu_grad2";
    case UnaryOp::step: return "step";
  }
  return "?";
}

Tensor unary(UnaryOp op, const Tensor& x) {
  OpLabel label_(unary_name(op));
  const char* name = unary_name(op);
  DIFFLAB_CUDA_ROUTE(x, cuda::unary(op, x));
  check_cpu(name, x);
  return DIFFLAB_DISPATCH_FLOAT(x.dtype(), name, [&]() -> Tensor {
    using T = scalar_t;
    switch (op) {
      case UnaryOp::neg: return map_unary<T>(x, [](T v) { return -v; });
      case UnaryOp::abs: return map_unary<T>(x, [](T v) { return std::abs(v); });
      case UnaryOp::exp: return map_unary<T>(x, [](T v) { return std::exp(v); });
      case UnaryOp::log: return map_unary<T>(x, [](T v) { return std::log(v); });
      case UnaryOp::sqrt: return map_unary<T>(x, [](T v) { return std::sqrt(v); });
      case UnaryOp::rsqrt: return map_unary<T>(x, [](T v) { return T(1) / std::sqrt(v); });
      case UnaryOp::sin: return map_unary<T>(x, [](T v) { return std::sin(v); });
      case UnaryOp::cos: return map_unary<T>(x, [](T v) { return std::cos(v); });
      case UnaryOp::tanh: return map_unary<T>(x, [](T v) { return std::tanh(v); });
      case UnaryOp::sigmoid: return map_unary<T>(x, [](T v) { return sigmoid_of(v); });
      case UnaryOp::relu: return map_unary<T>(x, [](T v) { return v > T(0) ? v : T(0); });
      case UnaryOp::silu: return map_unary<T>(x, [](T v) { return v * sigmoid_of(v); });
      case UnaryOp::gelu:
        return map_unary<T>(x, [](T v) {
          return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2)));
        });
      case UnaryOp::square: return map_unary<T>(x, [](T v) { return v * v; });
      case UnaryOp::sign:
        return map_unary<T>(x, [](T v) { return T((v > T(0)) - (v < T(0))); });
      case UnaryOp::reciprocal: return map_unary<T>(x, [](T v) { return T(1) / v; });
      case UnaryOp::silu_grad:
        return map_unary<T>(x, [](T v) {
          T s = sigmoid_of(v);
          return s * (T(1) + v * (T(1) - s));
        });
      case UnaryOp::gelu_grad:
        return map_unary<T>(x, [](T v) {
          return T(0.5) * (T(1) + std::erf(v * T(kInvSqrt2))) +
                 v * T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
        });
      case UnaryOp::gelu_grad2:
        return map_unary<T>(x, [](T v) {
          return T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v) * (T(2) - v * v);
        });
      case UnaryOp::step: return map_unary<T>(x, [](T v) { return v > T(0) ? T(1) : T(0); });
    }
    DIFFLAB_FAIL("unary: unknown op");
  });
}

Tensor pow_scalar(const Tensor& x, double p) {
  OpLabel label_("pow");
  DIFFLAB_CUDA_ROUTE(x, cuda::pow_scalar(x, p));
  check_cpu("pow", x);
  return DIFFLAB_DISPATCH_FLOAT(x.dtype(), "pow", [&]() -> Tensor {
    using T = scalar_t;
    const T e = T(p);
    if (p == 2.0) return map_unary<T>(x, [](T v) { return v * v; });
    if (p == 1.0) return map_unary<T>(x, [](T v) { return v; });
    if (p == 0.5) return map_unary<T>(x, [](T v) { return std::sqrt(v); });
    return map_unary<T>(x, [e](T v) { return std::pow(v, e); });
  });
}

Tensor clamp(const Tensor& x, double lo, double hi) {
  OpLabel label_("clamp");
  DIFFLAB_CUDA_ROUTE(x, cuda::clamp(x, lo, hi));
  check_cpu("clamp", x);
  checks::check_clamp_bounds(lo, hi);
  return DIFFLAB_DISPATCH_FLOAT(x.dtype(), "clamp", [&]() -> Tensor {
    using T = scalar_t;
    const T l = T(lo), h = T(hi);
    return map_unary<T>(x, [l, h](T v) { return v < l ? l : (v > h ? h : v); });
  });
}

Tensor in_range_mask(const Tensor& x, double lo, double hi) {
  OpLabel label_("in_range_mask");
  DIFFLAB_CUDA_ROUTE(x, cuda::in_range_mask(x, lo, hi));
  check_cpu("clamp_mask", x);
  return DIFFLAB_DISPATCH_FLOAT(x.dtype(), "clamp_mask", [&]() -> Tensor {
    using T = scalar_t;
    const T l = T(lo), h = T(hi);
    return map_unary<T>(x, [l, h](T v) { return (v >= l && v <= h) ? T(1) : T(0); });
  });
}

Tensor affine(const Tensor& x, double scale, double shift) {
  OpLabel label_("affine");
  DIFFLAB_CUDA_ROUTE(x, cuda::affine(x, scale, shift));
  check_cpu("affine", x);
  return DIFFLAB_DISPATCH_FLOAT(x.dtype(), "affine", [&]() -> Tensor {
    using T = scalar_t;
    const T a = T(scale), b = T(shift);
    return map_unary<T>(x, [a, b](T v) { return a * v + b; });
  });
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::pow: return "pow";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
    case BinaryOp::eq: return "eq";
    case BinaryOp::ne: return "ne";
    case BinaryOp::lt: return "lt";
    case BinaryOp::le: return "le";
    case BinaryOp::gt: return "gt";
    case BinaryOp::ge: return "ge";
  }
  return "?";
}

namespace {

template <typename T, typename R, typename F>
void map_binary(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  const Shape& shape = out.shape();
  if (out.numel() == 0) return;
  if (a.is_contiguous() && b.is_contiguous() && a.shape() == shape && b.shape() == shape) {
    R* o = out.data<R>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    const int64_t n = out.numel();
#pragma omp parallel for simd schedule(static) if (n >= cpu::kParallelGrain)
    for (int64_t i = 0; i < n; ++i) o[i] = f(pa[i], pb[i]);
    return;
  }
  Shape as = cpu::broadcast_byte_strides(a, shape);
  Shape bs = cpu::broadcast_byte_strides(b, shape);
  Shape os = cpu::broadcast_byte_strides(out, shape);
  cpu::strided_loop<3>(shape, {static_cast<char*>(out.raw_data()),
                               static_cast<char*>(a.raw_data()),
                               static_cast<char*>(b.raw_data())},
                       {os, as, bs}, [f](char** p, const int64_t* s, int64_t n) {
                         R* o = reinterpret_cast<R*>(p[0]);
                         if (s[1] == sizeof(T) && s[2] == sizeof(T)) {
                           const T* x = reinterpret_cast<const T*>(p[1]);
                           const T* y = reinterpret_cast<const T*>(p[2]);
#pragma omp simd
                           for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                         } else if (s[1] == sizeof(T) && s[2] == 0) {
                           const T* x = reinterpret_cast<const T*>(p[1]);
                           const T y = *reinterpret_cast<const T*>(p[2]);
#pragma omp simd
                           for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y);
                         } else if (s[1] == 0 && s[2] == sizeof(T)) {
                           const T x = *reinterpret_cast<const T*>(p[1]);
                           const T* y = reinterpret_cast<const T*>(p[2]);
#pragma omp simd
                           for (int64_t i = 0; i < n; ++i) o[i] = f(x, y[i]);
                         } else {
                           for (int64_t i = 0; i < n; ++i)
                             o[i] = f(*reinterpret_cast<const T*>(p[1] + i * s[1]),
                                      *reinterpret_cast<const T*>(p[2] + i * s[2]));
                         }
                       });
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  OpLabel label_(binary_name(op));
  const char* name = binary_name(op);
  DIFFLAB_CUDA_ROUTE(a, cuda::binary(op, a, b));
  check_cpu(name, a);
  check_cpu(name, b);
  checks::check_same_dtype(name, a, b);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  const bool cmp = op >= BinaryOp::eq;
  Tensor out = Tensor::empty(shape, cmp ? DType::u8 : a.dtype(), a.device());
  DIFFLAB_DISPATCH_ALL(a.dtype(), name, [&] {
    using T = scalar_t;
    if constexpr (std::is_floating_point_v<T>) {
      switch (op) {
        case BinaryOp::add: return map_binary<T, T>(out, a, b, [](T x, T y) { return x + y; });
        case BinaryOp::sub: return map_binary<T, T>(out, a, b, [](T x, T y) { return x - y; });
        case BinaryOp::mul: return map_binary<T, T>(out, a, b, [](T x, T y) { return x * y; });
        case BinaryOp::div: return map_binary<T, T>(out, a, b, [](T x, T y) { return x / y; });
        case BinaryOp::pow:
          return map_binary<T, T>(out, a, b, [](T x, T y) { return std::pow(x, y); });
        case BinaryOp::maximum:
          return map_binary<T, T>(out, a, b, [](T x, T y) { return x >= y ? x : y; });
        case BinaryOp::minimum:
          return map_binary<T, T>(out, a, b, [](T x, T y) { return x <= y ? x : y; });
        default: break;
      }
    } else {
      checks::check_binary_dtype(name, op, a.dtype());
      switch (op) {
        case BinaryOp::add: return map_binary<T, T>(out, a, b, [](T x, T y) { return T(x + y); });
        case BinaryOp::sub: return map_binary<T, T>(out, a, b, [](T x, T y) { return T(x - y); });
        case BinaryOp::mul: return map_binary<T, T>(out, a, b, [](T x, T y) { return T(x * y); });
        default: break;
      }
    }
    using U = uint8_t;
    switch (op) {
      case BinaryOp::eq: return map_binary<T, U>(out, a, b, [](T x, T y) { return U(x == y); });
      case BinaryOp::ne: return map_binary<T, U>(out, a, b, [](T x, T y) { return U(x != y); });
      case BinaryOp::lt: return map_binary<T, U>(out, a, b, [](T x, T y) { return U(x < y); });
      case BinaryOp::le: return map_binary<T, U>(out, a, b, [](T x, T y) { return U(x <= y); });
      case BinaryOp::gt: return map_binary<T, U>(out, a, b, [](T x, T y) { return U(x > y); });
      case BinaryOp::ge: return map_binary<T, U>(out, a, b, [](T x, T y) { return U(x >= y); });
      default: break;
    }
  });
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  OpLabel label_("where");
  DIFFLAB_CUDA_ROUTE(a, cuda::where(cond, a, b));
  check_cpu("where", cond);
  check_cpu("where", a);
  check_cpu("where", b);
  const Shape shape = checks::check_where(cond, a, b);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  if (out.numel() == 0) return out;
  DIFFLAB_DISPATCH_ALL(a.dtype(), "where", [&] {
    using T = scalar_t;
    cpu::strided_loop<4>(
        shape,
        {static_cast<char*>(out.raw_data()), static_cast<char*>(cond.raw_data()),
         static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())},
        {cpu::broadcast_byte_strides(out, shape), cpu::broadcast_byte_strides(cond, shape),
         cpu::broadcast_byte_strides(a, shape), cpu::broadcast_byte_strides(b, shape)},
        [](char** p, const int64_t* s, int64_t n) {
          for (int64_t i = 0; i < n; ++i)
            *reinterpret_cast<T*>(p[0] + i * s[0]) =
                *reinterpret_cast<const uint8_t*>(p[1] + i * s[1])
                    ? *reinterpret_cast<const T*>(p[2] + i * s[2])
                    : *reinterpret_cast<const T*>(p[3] + i * s[3]);
        });
  });
  return out;
}

}  // namespace difflab::tensor
