#include "nn/clip.h"

#include <cmath>

#include "tensor/error.h"
#include "tensor/ops.h"

namespace difflab::nn {

namespace {

using tensor::Tensor;

// Partial sums over fixed blocks, combined in block order: the same bits at any thread count.
constexpr int64_t kBlock = 8192;

// NaN-propagating maximum (a NaN gradient must give a NaN norm, as in PyTorch).
inline double nan_max(double m, double a) { return (a > m || a != a) ? a : m; }

// Sum of |g|^p over one contiguous gradient, or its max |g| when p is infinite.
template <typename T>
double reduce_grad(const T* g, int64_t n, double p) {
  const int64_t nblocks = (n + kBlock - 1) / kBlock;
  std::vector<double> part(size_t(nblocks), 0.0);
  const bool inf = std::isinf(p), two = p == 2.0, one = p == 1.0;
#pragma omp parallel for schedule(static) if (nblocks > 4)
  for (int64_t b = 0; b < nblocks; ++b) {
    const int64_t lo = b * kBlock, hi = std::min(n, lo + kBlock);
    double acc = 0;
    for (int64_t j = lo; j < hi; ++j) {
      const double a = std::abs(double(g[j]));
      if (inf)
        acc = nan_max(acc, a);
      else if (two)
        acc += a * a;
      else if (one)
        acc += a;
      else
        acc += std::pow(a, p);
    }
    part[size_t(b)] = acc;
  }
  double total = 0;
  for (double v : part) total = inf ? nan_max(total, v) : total + v;
  return total;
}

// On a device: the same quantity through tensor ops, accumulated in f64.
double reduce_grad_on_device(const Tensor& g, double p) {
  namespace T = tensor;
  Tensor a = T::unary(T::UnaryOp::abs, g.to(T::DType::f64)).reshape({-1});
  if (a.numel() == 0) return 0.0;
  if (std::isinf(p)) {
    // amax skips nothing, but a NaN must win as on the CPU: count them first.
    const double nans = T::sum(T::binary(T::BinaryOp::ne, a, a).to(T::DType::f64), {}).item();
    return nans > 0 ? NAN : T::amax(a, 0).item();
  }
  return T::sum(p == 1.0 ? a : T::pow_scalar(a, p), {}).item();
}

// The gradient of params[i] as a contiguous floating tensor, or undefined.
Tensor grad_of(const ag::Var& p, size_t i, const char* op) {
  ag::Var g = p.grad();
  if (!g.defined()) return Tensor();
  const Tensor& t = g.value();
  DIFFLAB_CHECK(tensor::is_floating(t.dtype()), op, ": gradient of parameter ", i, " has dtype ",
                t.dtype(), "; expected f32 or f64");
  return t.contiguous();
}

template <typename T, typename F>
void map_kernel(const T* src, T* dst, int64_t n, T s, F fn) {
#pragma omp parallel for schedule(static) if (n >= 32768)
  for (int64_t j = 0; j < n; ++j) dst[j] = fn(src[j], s);
}

// Sets params[i]'s gradient to fn(g, scalar) elementwise, in a fresh tensor.
template <bool Scale, typename F>
void map_grad(const ag::Var& p, const Tensor& g, double scalar, F fn) {
  if (!g.device().is_cpu()) {
    // Only the two maps used below: scale (clip by norm) and clamp (clip by value).
    ag::Var handle = p;
    handle.set_grad(ag::Var(Scale ? tensor::affine(g, scalar, 0.0)
                                  : tensor::clamp(g, -scalar, scalar)));
    return;
  }
  Tensor out = Tensor::empty(g.shape(), g.dtype());
  DIFFLAB_DISPATCH_FLOAT(g.dtype(), "clip_grad", [&] {
    using T = scalar_t;
    map_kernel<T>(g.data<T>(), out.data<T>(), g.numel(), T(scalar), fn);
  });
  ag::Var handle = p;  // shares the parameter's impl
  handle.set_grad(ag::Var(out));
}

}  // namespace

double clip_grad_norm_(const std::vector<ag::Var>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  DIFFLAB_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive or infinite, got ",
                norm_type);
  DIFFLAB_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be non-negative, got ", max_norm);
  const bool inf = std::isinf(norm_type);
  std::vector<Tensor> grads(params.size());
  double acc = 0;
  bool any = false;
  for (size_t i = 0; i < params.size(); ++i) {
    grads[i] = grad_of(params[i], i, "clip_grad_norm_");
    if (!grads[i].defined()) continue;
    any = true;
    const Tensor& g = grads[i];
    double r = !g.device().is_cpu() ? reduce_grad_on_device(g, norm_type)
                                     : DIFFLAB_DISPATCH_FLOAT(g.dtype(), "clip_grad_norm_", [&] {
      return reduce_grad(g.data<scalar_t>(), g.numel(), norm_type);
    });
    acc = inf ? nan_max(acc, r) : acc + r;
  }
  if (!any) return 0.0;
  const double total = inf                ? acc
                       : norm_type == 2.0 ? std::sqrt(acc)
                       : norm_type == 1.0 ? acc
                                          : std::pow(acc, 1.0 / norm_type);
  DIFFLAB_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm ",
                "of order ", norm_type, " of the gradients is ", total,
                ", so they cannot be clipped");
  // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1.
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0 || std::isnan(coef))
    for (size_t i = 0; i < params.size(); ++i)
      if (grads[i].defined())
        map_grad<true>(params[i], grads[i], coef, [](auto g, auto c) { return g * c; });
  return total;
}

void clip_grad_value_(const std::vector<ag::Var>& params, double clip_value) {
  DIFFLAB_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be non-negative, got ",
                clip_value);
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = grad_of(params[i], i, "clip_grad_value_");
    if (!g.defined()) continue;
    map_grad<false>(params[i], g, clip_value, [](auto x, auto c) {
      // NaN stays NaN, as torch.clamp_ does.
      return x > c ? c : (x < -c ? -c : x);
    });
  }
}

}  // namespace difflab::nn
