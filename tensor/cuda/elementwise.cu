// Elementwise kernels over arbitrary strides with broadcasting: unary maps, scalar maps,
// binary ops (comparisons give u8) and where. Contiguous same-shape operands take a fast path
// with no index arithmetic, in float4 loads and stores for aligned f32.
#include <cmath>

#include "tensor/checks/elementwise.h"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

// The scalar maps: a unary op, or one of the parameterised maps below.
enum class Map : int { unary, pow, clamp, affine, in_range };

struct MapArgs {
  Map kind;
  UnaryOp op;
  double a, b;
};

template <typename T>
__device__ T sigmoid_of(T v) {
  return T(1) / (T(1) + exp(-v));
}

template <typename T>
__device__ T apply_unary(UnaryOp op, T v) {
  switch (op) {
    case UnaryOp::neg: return -v;
    case UnaryOp::abs: return fabs(v);
    case UnaryOp::exp: return exp(v);
    case UnaryOp::log: return log(v);
    case UnaryOp::sqrt: return sqrt(v);
    case UnaryOp::rsqrt: return T(1) / sqrt(v);
    case UnaryOp::sin: return sin(v);
    case UnaryOp::cos: return cos(v);
    case UnaryOp::tanh: return tanh(v);
    case UnaryOp::sigmoid: return sigmoid_of(v);
    case UnaryOp::relu: return v > T(0) ? v : T(0);
    case UnaryOp::silu: return v * sigmoid_of(v);
    case UnaryOp::gelu: return T(0.5) * v * (T(1) + erf(v * T(kInvSqrt2)));
    case UnaryOp::square: return v * v;
    case UnaryOp::sign: return T((v > T(0)) - (v < T(0)));
    case UnaryOp::reciprocal: return T(1) / v;
    case UnaryOp::silu_grad: {
      T s = sigmoid_of(v);
      return s * (T(1) + v * (T(1) - s));
    }
    case UnaryOp::gelu_grad:
      return T(0.5) * (T(1) + erf(v * T(kInvSqrt2))) +
             v * T(kInvSqrt2Pi) * exp(T(-0.5) * v * v);
    case UnaryOp::gelu_grad2: return T(kInvSqrt2Pi) * exp(T(-0.5) * v * v) * (T(2) - v * v);
    case UnaryOp::step: return v > T(0) ? T(1) : T(0);
  }
  return v;
}

template <typename T>
__device__ T apply_map(const MapArgs& m, T v) {
  switch (m.kind) {
    case Map::unary: return apply_unary(m.op, v);
    case Map::pow:
      if (m.a == 2.0) return v * v;
      if (m.a == 1.0) return v;
      if (m.a == 0.5) return sqrt(v);
      return pow(v, T(m.a));
    case Map::clamp: return v < T(m.a) ? T(m.a) : (v > T(m.b) ? T(m.b) : v);
    case Map::affine: return T(m.a) * v + T(m.b);
    case Map::in_range: return (v >= T(m.a) && v <= T(m.b)) ? T(1) : T(0);
  }
  return v;
}

template <typename T>
__global__ void map_contiguous(int64_t n, T* out, const T* x, MapArgs m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply_map(m, x[i]);
}

// The vectorised fast path: f32 in 16-byte float4 loads and stores (n4 = n / 4 groups; the
// caller runs the scalar kernel on the tail).
__global__ void map_contiguous_f4(int64_t n4, float4* out, const float4* x, MapArgs m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x) {
    float4 v = x[i];
    v.x = apply_map(m, v.x);
    v.y = apply_map(m, v.y);
    v.z = apply_map(m, v.z);
    v.w = apply_map(m, v.w);
    out[i] = v;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T>
__global__ void map_strided(int64_t n, T* out, const T* x, StridedIndex xi, MapArgs m) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply_map(m, x[xi(i)]);
}

Tensor run_map(const char* name, const Tensor& x, MapArgs m) {
  OpLabel label_(name);
  DIFFLAB_CHECK(x.defined(), name, ": input is undefined");
  cudaStream_t s = prepare(x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.numel();
  if (n == 0) return out;
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), name, [&] {
    using T = scalar_t;
    if (x.is_contiguous() && std::is_same_v<T, float> && aligned16(x.raw_data()) && n >= 4) {
      const int64_t n4 = n / 4, done = 4 * n4;
      map_contiguous_f4<<<blocks_for(n4), kThreads, 0, s>>>(
          n4, static_cast<float4*>(out.raw_data()), static_cast<const float4*>(x.raw_data()), m);
      if (done < n)
        map_contiguous<T><<<1, kThreads, 0, s>>>(n - done, out.data<T>() + done,
                                                 x.data<T>() + done, m);
    } else if (x.is_contiguous())
      map_contiguous<T><<<blocks_for(n), kThreads, 0, s>>>(n, out.data<T>(), x.data<T>(), m);
    else
      map_strided<T><<<blocks_for(n), kThreads, 0, s>>>(
          n, out.data<T>(), static_cast<const T*>(x.storage()->data), make_index(x, x.shape()),
          m);
  });
  DIFFLAB_CUDA_LAUNCHED(name);
  return out;
}

template <typename T, typename R>
__device__ R apply_binary(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add: return R(x + y);
    case BinaryOp::sub: return R(x - y);
    case BinaryOp::mul: return R(x * y);
    case BinaryOp::div: return R(x / y);
    case BinaryOp::pow: return R(pow(double(x), double(y)));
    case BinaryOp::maximum: return R(x >= y ? x : y);
    case BinaryOp::minimum: return R(x <= y ? x : y);
    case BinaryOp::eq: return R(x == y);
    case BinaryOp::ne: return R(x != y);
    case BinaryOp::lt: return R(x < y);
    case BinaryOp::le: return R(x <= y);
    case BinaryOp::gt: return R(x > y);
    case BinaryOp::ge: return R(x >= y);
  }
  return R(0);
}

template <typename T, typename R>
__global__ void binary_contiguous(int64_t n, R* out, const T* a, const T* b, BinaryOp op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply_binary<T, R>(op, a[i], b[i]);
}

// f32 arithmetic in float4 loads and stores (the caller runs the scalar kernel on the tail).
__global__ void binary_contiguous_f4(int64_t n4, float4* out, const float4* a, const float4* b,
                                     BinaryOp op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n4;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float4 x = a[i], y = b[i];
    out[i] = make_float4(apply_binary<float, float>(op, x.x, y.x),
                         apply_binary<float, float>(op, x.y, y.y),
                         apply_binary<float, float>(op, x.z, y.z),
                         apply_binary<float, float>(op, x.w, y.w));
  }
}

template <typename T, typename R>
__global__ void binary_strided(int64_t n, R* out, const T* a, StridedIndex ai, const T* b,
                               StridedIndex bi, BinaryOp op) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = apply_binary<T, R>(op, a[ai(i)], b[bi(i)]);
}

template <typename T>
__global__ void where_kernel(int64_t n, T* out, const uint8_t* c, StridedIndex ci, const T* a,
                             StridedIndex ai, const T* b, StridedIndex bi) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = c[ci(i)] ? a[ai(i)] : b[bi(i)];
}

void check_same_device(const char* name, const Tensor& a, const Tensor& b) {
  DIFFLAB_CHECK(a.defined() && b.defined(), name, ": input is undefined");
  DIFFLAB_CHECK(a.device() == b.device(), name, ": inputs on different devices, ", a.desc(),
                " and ", b.desc());
}

}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  return run_map(unary_name(op), x, {Map::unary, op, 0, 0});
}
Tensor pow_scalar(const Tensor& x, double p) {
  return run_map("pow", x, {Map::pow, UnaryOp::neg, p, 0});
}
Tensor clamp(const Tensor& x, double lo, double hi) {
  checks::check_clamp_bounds(lo, hi);
  return run_map("clamp", x, {Map::clamp, UnaryOp::neg, lo, hi});
}
Tensor affine(const Tensor& x, double scale, double shift) {
  return run_map("affine", x, {Map::affine, UnaryOp::neg, scale, shift});
}
Tensor in_range_mask(const Tensor& x, double lo, double hi) {
  return run_map("in_range_mask", x, {Map::in_range, UnaryOp::neg, lo, hi});
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  OpLabel label_(name);
  check_same_device(name, a, b);
  checks::check_same_dtype(name, a, b);
  checks::check_binary_dtype(name, op, a.dtype());
  const bool cmp = op >= BinaryOp::eq;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, cmp ? DType::u8 : a.dtype(), a.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  cudaStream_t s = prepare(a);
  const bool fast = a.is_contiguous() && b.is_contiguous() && a.shape() == shape &&
                    b.shape() == shape;
  DIFFLAB_DISPATCH_ALL(a.dtype(), name, [&] {
    using T = scalar_t;
    auto launch = [&](auto* o) {
      using R = std::remove_pointer_t<decltype(o)>;
      if constexpr (std::is_same_v<T, float> && std::is_same_v<R, float>) {
        if (fast && n >= 4 && aligned16(a.raw_data()) && aligned16(b.raw_data())) {
          const int64_t n4 = n / 4, done = 4 * n4;
          binary_contiguous_f4<<<blocks_for(n4), kThreads, 0, s>>>(
              n4, reinterpret_cast<float4*>(o), static_cast<const float4*>(a.raw_data()),
              static_cast<const float4*>(b.raw_data()), op);
          if (done < n)
            binary_contiguous<T, R><<<1, kThreads, 0, s>>>(n - done, o + done, a.data<T>() + done,
                                                           b.data<T>() + done, op);
          return;
        }
      }
      if (fast)
        binary_contiguous<T, R><<<blocks_for(n), kThreads, 0, s>>>(n, o, a.data<T>(),
                                                                    b.data<T>(), op);
      else
        binary_strided<T, R><<<blocks_for(n), kThreads, 0, s>>>(
            n, o, static_cast<const T*>(a.storage()->data), make_index(a, shape),
            static_cast<const T*>(b.storage()->data), make_index(b, shape), op);
    };
    if (cmp)
      launch(out.data<uint8_t>());
    else
      launch(out.data<T>());
  });
  DIFFLAB_CUDA_LAUNCHED(name);
  return out;
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  OpLabel label_("where");
  check_same_device("where", cond, a);
  check_same_device("where", a, b);
  const Shape shape = checks::check_where(cond, a, b);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  cudaStream_t s = prepare(a);
  DIFFLAB_DISPATCH_ALL(a.dtype(), "where", [&] {
    using T = scalar_t;
    where_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
        n, out.data<T>(), static_cast<const uint8_t*>(cond.storage()->data),
        make_index(cond, shape), static_cast<const T*>(a.storage()->data), make_index(a, shape),
        static_cast<const T*>(b.storage()->data), make_index(b, shape));
  });
  DIFFLAB_CUDA_LAUNCHED("where");
  return out;
}

}  // namespace difflab::tensor::cuda
