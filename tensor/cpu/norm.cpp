// Group and layer normalisation: forward (y, mean, rstd) and fused first-order backward.
// Statistics are accumulated in double, two-pass (mean, then centred sum of squares), one
// (sample, group) or row per thread in a fixed order; the weight/bias gradients are reduced over
// the batch serially per channel. Results are bit-identical for any thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tensor/checks/norm.h"
#include "tensor/cpu/check.h"
#include "tensor/cpu/fast_exp.h"
#include "tensor/cpu/loops.h"
#include "tensor/op_label.h"
#include "tensor/ops.h"

namespace difflab::tensor {

namespace {

using checks::GroupDims;
using checks::RowDims;

// The device rule of the shared checks (tensor/checks/norm.h): every operand on the CPU.
void on_cpu(const char* op, const Tensor&, const char*, const Tensor& t, const char* what) {
  DIFFLAB_CHECK(
      t.device().is_cpu(), op, ": ", what, " on ", t.device(),
      DIFFLAB_HAVE_CUDA ? " while the input is on cpu" : " but the CUDA backend is not built");
}

// Fixed-order sums over n contiguous elements: 8 interleaved double accumulators (element i
// goes to lane i mod 8, the tail to lane 0), combined as a tree. The lanes are one vector, so
// the loops compile to packed double arithmetic (GCC does not vectorize the scalar form).
using V8d = double __attribute__((vector_size(64)));

template <typename T>
V8d load8(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    using V8f = float __attribute__((vector_size(32)));
    V8f f;
    std::memcpy(&f, p, sizeof f);
    return __builtin_convertvector(f, V8d);
  } else {
    V8d d;
    std::memcpy(&d, p, sizeof d);
    return d;
  }
}

double lane_tree(const V8d& a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

template <typename T>
double sum_of(const T* p, int64_t n) {
  V8d a = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) a += load8(p + i);
  for (; i < n; ++i) a[0] += double(p[i]);
  return lane_tree(a);
}

template <typename T>
double centred_sq_sum(const T* p, int64_t n, double m) {
  V8d a = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V8d d = load8(p + i) - m;
    a += d * d;
  }
  for (; i < n; ++i) {
    const double d = double(p[i]) - m;
    a[0] += d * d;
  }
  return lane_tree(a);
}

// Σ g and Σ g·(x − m) over n contiguous elements.
template <typename T>
void grad_sums(const T* g, const T* x, int64_t n, double m, double& sg, double& sgx) {
  V8d a = {}, b = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const V8d gv = load8(g + i);
    a += gv;
    b += gv * (load8(x + i) - m);
  }
  for (; i < n; ++i) {
    const double gv = double(g[i]);
    a[0] += gv;
    b[0] += gv * (double(x[i]) - m);
  }
  sg = lane_tree(a);
  sgx = lane_tree(b);
}

// Mean and 1/sqrt(biased var + eps) of `rows` contiguous rows of length D, kept in double for
// the output pass and also stored in the tensor dtype.
template <typename T>
void row_stats(const T* x, std::vector<double>& mean, std::vector<double>& rstd, T* mean_out,
               T* rstd_out, int64_t rows, int64_t D, double eps) {
  mean.resize(size_t(rows));
  rstd.resize(size_t(rows));
#pragma omp parallel for schedule(static) if (rows * D >= cpu::kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = x + r * D;
    double m = D > 0 ? sum_of(p, D) / double(D) : 0.0;
    double v = D > 0 ? centred_sq_sum(p, D, m) / double(D) : 0.0;
    mean[r] = m;
    rstd[r] = 1.0 / std::sqrt(v + eps);
    mean_out[r] = T(m);
    rstd_out[r] = T(rstd[r]);
  }
}

// ---- group norm ----
// One (sample, group) per iteration: its statistics, then its channels' planes, so the group's
// data is read from memory once and re-read from cache.

// x − m in T's precision. For f32, m = hi + lo (hi = float(m)): x − hi is exact where x is close
// to m, where cancellation would otherwise cost accuracy, and subtracting lo restores the bits m
// lost in rounding. So f32 planes are normalised in f32 arithmetic (twice the lanes of f64)
// without the error of centring on a rounded mean when |mean| is large against the spread.
template <typename T>
struct Centre {
  T hi, lo;
  explicit Centre(double m) : hi(T(m)), lo(T(m - double(T(m)))) {}
  T operator()(T x) const { return (x - hi) - lo; }
};

// y = (x − mean)·a + s over one plane; with `silu`, y = h·σ(h) of that h.
template <typename T>
void norm_plane(const T* px, T* py, int64_t HW, double m, double a, double s, bool silu) {
  const Centre<T> c(m);
  const T af = T(a), sf = T(s);
  if (silu) {
#pragma omp simd
    for (int64_t i = 0; i < HW; ++i) {
      const T h = c(px[i]) * af + sf;
      py[i] = h * cpu::sigmoid_of(h);
    }
  } else {
#pragma omp simd
    for (int64_t i = 0; i < HW; ++i) py[i] = c(px[i]) * af + sf;
  }
}

template <typename T>
void group_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t N,
                        int64_t C, int64_t HW, int64_t G, double eps, bool silu) {
  const int64_t cpg = C / G, D = cpg * HW;
#pragma omp parallel for schedule(static) if (N * C * HW >= cpu::kParallelGrain && N * G > 1)
  for (int64_t ng = 0; ng < N * G; ++ng) {
    const T* p = x + ng * D;
    const double m = D > 0 ? sum_of(p, D) / double(D) : 0.0;
    const double v = D > 0 ? centred_sq_sum(p, D, m) / double(D) : 0.0;
    const double rs = 1.0 / std::sqrt(v + eps);
    mean[ng] = T(m);
    rstd[ng] = T(rs);
    const int64_t c0 = (ng % G) * cpg;
    for (int64_t k = 0; k < cpg; ++k) {
      const int64_t c = c0 + k;
      norm_plane(p + k * HW, y + ng * D + k * HW, HW, m, rs * (w ? double(w[c]) : 1.0),
                 b ? double(b[c]) : 0.0, silu);
    }
  }
}

// With `silu` (group_norm_silu's backward), gy is the gradient of silu(h), h the group norm's
// output recomputed from x and the bias b: the gradient of h, gy·σ(h)(1 + h(1 − σ(h))), is
// written into dx by the first pass and read back by the second.
template <typename T>
void group_norm_backward_impl(const T* gy, const T* x, const T* rstd, const T* w,
                              const T* b, bool silu, T* dx, T* dw, T* db, int64_t N, int64_t C,
                              int64_t HW, int64_t G) {
  const int64_t cpg = C / G, D = cpg * HW;
  // Per (sample, channel): Σ g and Σ g·(x − mean), kept for the parameter gradients.
  std::vector<double> sg(static_cast<size_t>(N * C)), sgx(static_cast<size_t>(N * C));
#pragma omp parallel for schedule(static) if (N * C * HW >= cpu::kParallelGrain && N * G > 1)
  for (int64_t ng = 0; ng < N * G; ++ng) {
    const int64_t n = ng / G, c0 = (ng % G) * cpg;
    // The mean again from x, in double as the forward had it: rounded to f32, the saved mean
    // would be off by up to half its ulp, all of the spread when |mean| dwarfs it.
    const double m = D > 0 ? sum_of(x + ng * D, D) / double(D) : 0.0, rs = double(rstd[ng]);
    const Centre<T> ctr(m);
    const T* gsrc = silu ? dx : gy;  // where the second pass reads the gradient of h
    for (int64_t k = 0; k < cpg; ++k) {
      const int64_t c = c0 + k, off = ng * D + k * HW;
      const T* pg = gy + off;
      const T* px = x + off;
      if (silu) {
        const T a = T(rs * (w ? double(w[c]) : 1.0)), s = T(b ? double(b[c]) : 0.0);
        T* pd = dx + off;
#pragma omp simd
        for (int64_t i = 0; i < HW; ++i) {
          const T h = ctr(px[i]) * a + s;
          const T sig = cpu::sigmoid_of(h);
          pd[i] = pg[i] * (sig * (T(1) + h * (T(1) - sig)));
        }
        pg = pd;
      }
      grad_sums(pg, px, HW, m, sg[n * C + c], sgx[n * C + c]);
    }
    // dx = rstd·(w g − mean(w g) − x̂·mean(w g x̂)) over the group, written as
    // dx = A_c·g + B·(x − mean) + K per channel.
    double s1 = 0, s2 = 0;  // Σ w g, Σ w g (x − mean) over the group, in channel order
    for (int64_t c = c0; c < c0 + cpg; ++c) {
      const double wc = w ? double(w[c]) : 1.0;
      s1 += wc * sg[n * C + c];
      s2 += wc * sgx[n * C + c];
    }
    const double B = -rs * rs * rs * s2 / double(D);
    const double K = -rs * s1 / double(D);
    const T Bt = T(B), Kt = T(K);
    for (int64_t k = 0; k < cpg; ++k) {
      const int64_t c = c0 + k, off = ng * D + k * HW;
      const T A = T(rs * (w ? double(w[c]) : 1.0));
      const T* pg = gsrc + off;
      const T* px = x + off;
      T* pd = dx + off;
#pragma omp simd
      for (int64_t i = 0; i < HW; ++i) pd[i] = A * pg[i] + Bt * ctr(px[i]) + Kt;
    }
  }
  // dweight[c] = Σ_n rstd·Σ g (x − mean), dbias[c] = Σ_n Σ g, in sample order.
  if (!dw && !db) return;
  for (int64_t c = 0; c < C; ++c) {
    double a = 0, bsum = 0;
    for (int64_t n = 0; n < N; ++n) {
      a += double(rstd[n * G + c / cpg]) * sgx[n * C + c];
      bsum += sg[n * C + c];
    }
    if (dw) dw[c] = T(a);
    if (db) db[c] = T(bsum);
  }
}

// ---- layer norm ----

template <typename T>
void layer_norm_forward(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, int64_t rows,
                        int64_t D, double eps) {
  std::vector<double> m64, r64;
  row_stats(x, m64, r64, mean, rstd, rows, D, eps);
#pragma omp parallel for schedule(static) if (rows * D >= cpu::kParallelGrain && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const double m = m64[r], rs = r64[r];
    const T* px = x + r * D;
    T* py = y + r * D;
    if (w && b) {
#pragma omp simd
      for (int64_t i = 0; i < D; ++i)
        py[i] = T((double(px[i]) - m) * rs * double(w[i]) + double(b[i]));
    } else if (w) {
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) py[i] = T((double(px[i]) - m) * rs * double(w[i]));
    } else if (b) {
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) py[i] = T((double(px[i]) - m) * rs + double(b[i]));
    } else {
#pragma omp simd
      for (int64_t i = 0; i < D; ++i) py[i] = T((double(px[i]) - m) * rs);
    }
  }
}

template <typename T>
void layer_norm_backward_impl(const T* gy, const T* x, const T* rstd, const T* w, T* dx, T* dw,
                              T* db, int64_t rows, int64_t D) {
  const bool par = rows * D >= cpu::kParallelGrain;
  // The means again from x, in double as the forward had them (as in the group norm backward).
  std::vector<double> mean(static_cast<size_t>(rows));
#pragma omp parallel for schedule(static) if (par && rows > 1)
  for (int64_t r = 0; r < rows; ++r)
    mean[size_t(r)] = D > 0 ? sum_of(x + r * D, D) / double(D) : 0.0;
  // dx = rstd·(w g − mean(w g) − x̂·mean(w g x̂)) per row.
#pragma omp parallel for schedule(static) if (par && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const double m = mean[size_t(r)], rs = double(rstd[r]);
    const T* pg = gy + r * D;
    const T* px = x + r * D;
    double a[4] = {0, 0, 0, 0}, b[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < D; ++i) {
      const double gw = double(pg[i]) * (w ? double(w[i]) : 1.0);
      a[i & 3] += gw;
      b[i & 3] += gw * (double(px[i]) - m);
    }
    const double s1 = (a[0] + a[1]) + (a[2] + a[3]);
    const double s2 = (b[0] + b[1]) + (b[2] + b[3]);
    const double B = -rs * rs * rs * s2 / double(D);
    const double K = -rs * s1 / double(D);
    T* pd = dx + r * D;
    for (int64_t i = 0; i < D; ++i) {
      const double gw = double(pg[i]) * (w ? double(w[i]) : 1.0);
      pd[i] = T(rs * gw + B * (double(px[i]) - m) + K);
    }
  }
  if (!dw) return;
  // dweight[i] = Σ_r g x̂, dbias[i] = Σ_r g: each column block summed over rows in order.
  constexpr int64_t kCols = 256;
  const int64_t nblocks = (D + kCols - 1) / kCols;
#pragma omp parallel for schedule(static) if (par && nblocks > 1)
  for (int64_t blk = 0; blk < nblocks; ++blk) {
    const int64_t i0 = blk * kCols, i1 = std::min(D, i0 + kCols);
    double aw[kCols], ab[kCols];
    for (int64_t i = i0; i < i1; ++i) aw[i - i0] = ab[i - i0] = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const double m = mean[size_t(r)], rs = double(rstd[r]);
      const T* pg = gy + r * D;
      const T* px = x + r * D;
      for (int64_t i = i0; i < i1; ++i) {
        aw[i - i0] += double(pg[i]) * ((double(px[i]) - m) * rs);
        ab[i - i0] += double(pg[i]);
      }
    }
    for (int64_t i = i0; i < i1; ++i) {
      dw[i] = T(aw[i - i0]);
      db[i] = T(ab[i - i0]);
    }
  }
}

template <typename T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

NormOutput group_norm_cpu(const char* op, const Tensor& x, int64_t groups, const Tensor& weight,
                          const Tensor& bias, double eps, bool silu) {
  GroupDims d = checks::check_group_norm(op, x, groups, weight, bias, on_cpu);
  Tensor xc = x.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  NormOutput out;
  out.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.mean = Tensor::empty({d.N, groups}, x.dtype(), x.device());
  out.rstd = Tensor::empty({d.N, groups}, x.dtype(), x.device());
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    group_norm_forward<T>(xc.data<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc), out.y.data<T>(),
                          out.mean.data<T>(), out.rstd.data<T>(), d.N, d.C, d.HW, groups, eps,
                          silu);
  });
  return out;
}

// {dx, dweight, dbias}; the parameter gradients are computed where want_dw / want_db.
std::vector<Tensor> group_norm_backward_cpu(const char* op, const Tensor& grad_out,
                                            const Tensor& x, int64_t groups, const Tensor& mean,
                                            const Tensor& rstd, const Tensor& weight,
                                            const Tensor& bias, bool silu, bool want_dw,
                                            bool want_db) {
  GroupDims d = checks::check_group_norm(op, x, groups, weight, bias, on_cpu);
  checks::check_norm_backward(op, grad_out, x, mean, rstd, {d.N, groups}, on_cpu);
  Tensor gc = grad_out.contiguous(), xc = x.contiguous();
  Tensor rc = rstd.contiguous();  // the mean is recomputed from x (group_norm_backward_impl)
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dw = want_dw ? Tensor::empty({d.C}, x.dtype(), x.device()) : Tensor();
  Tensor db = want_db ? Tensor::empty({d.C}, x.dtype(), x.device()) : Tensor();
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    group_norm_backward_impl<T>(gc.data<T>(), xc.data<T>(), rc.data<T>(),
                                ptr_or_null<T>(wc), ptr_or_null<T>(bc), silu, dx.data<T>(),
                                ptr_or_null<T>(dw), ptr_or_null<T>(db), d.N, d.C, d.HW, groups);
  });
  return {dx, dw, db};
}

}  // namespace

NormOutput group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                      double eps) {
  OpLabel label_("group_norm");
  DIFFLAB_CUDA_ROUTE(x, cuda::group_norm(x, groups, weight, bias, eps));
  return group_norm_cpu("group_norm", x, groups, weight, bias, eps, false);
}

std::vector<Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups,
                                        const Tensor& mean, const Tensor& rstd,
                                        const Tensor& weight) {
  OpLabel label_("group_norm_backward");
  DIFFLAB_CUDA_ROUTE(x, cuda::group_norm_backward(grad_out, x, groups, mean, rstd, weight));
  const bool w = weight.defined();
  return group_norm_backward_cpu("group_norm_backward", grad_out, x, groups, mean, rstd, weight,
                                 Tensor(), false, w, w);
}

// CPU only: there is no CUDA kernel yet (ag::group_norm_silu composes group_norm and silu there).
void cpu_only(const char* op, const Tensor& x) {
  DIFFLAB_CHECK(!x.defined() || x.device().is_cpu(), op, ": input on ", x.device(),
                ": there is no CUDA kernel yet (ag::group_norm_silu composes group_norm and silu "
                "on CUDA)");
}

NormOutput group_norm_silu(const Tensor& x, int64_t groups, const Tensor& weight,
                           const Tensor& bias, double eps) {
  OpLabel label_("group_norm_silu");
  cpu_only("group_norm_silu", x);
  return group_norm_cpu("group_norm_silu", x, groups, weight, bias, eps, true);
}

std::vector<Tensor> group_norm_silu_backward(const Tensor& grad_out, const Tensor& x,
                                             int64_t groups, const Tensor& mean,
                                             const Tensor& rstd, const Tensor& weight,
                                             const Tensor& bias) {
  OpLabel label_("group_norm_silu_backward");
  cpu_only("group_norm_silu_backward", x);
  return group_norm_backward_cpu("group_norm_silu_backward", grad_out, x, groups, mean, rstd,
                                 weight, bias, true, weight.defined(), bias.defined());
}

NormOutput layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                      const Tensor& bias, double eps) {
  OpLabel label_("layer_norm");
  DIFFLAB_CUDA_ROUTE(x, cuda::layer_norm(x, normalized_ndim, weight, bias, eps));
  const char* op = "layer_norm";
  RowDims d = checks::check_layer_norm(op, x, normalized_ndim, weight, bias, on_cpu);
  Tensor xc = x.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  NormOutput out;
  out.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.mean = Tensor::empty({d.rows}, x.dtype(), x.device());
  out.rstd = Tensor::empty({d.rows}, x.dtype(), x.device());
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    layer_norm_forward<T>(xc.data<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc), out.y.data<T>(),
                          out.mean.data<T>(), out.rstd.data<T>(), d.rows, d.D, eps);
  });
  return out;
}

std::vector<Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x,
                                        int64_t normalized_ndim, const Tensor& mean,
                                        const Tensor& rstd, const Tensor& weight) {
  OpLabel label_("layer_norm_backward");
  DIFFLAB_CUDA_ROUTE(x,
                     cuda::layer_norm_backward(grad_out, x, normalized_ndim, mean, rstd, weight));
  const char* op = "layer_norm_backward";
  RowDims d = checks::check_layer_norm(op, x, normalized_ndim, weight, Tensor(), on_cpu);
  checks::check_norm_backward(op, grad_out, x, mean, rstd, {d.rows}, on_cpu);
  Tensor gc = grad_out.contiguous(), xc = x.contiguous();
  Tensor rc = rstd.contiguous();  // the means are recomputed from x (layer_norm_backward_impl)
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dw, db;
  if (weight.defined()) {
    dw = Tensor::empty(d.trailing, x.dtype(), x.device());
    db = Tensor::empty(d.trailing, x.dtype(), x.device());
  }
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    layer_norm_backward_impl<T>(gc.data<T>(), xc.data<T>(), rc.data<T>(), ptr_or_null<T>(wc),
                                dx.data<T>(), ptr_or_null<T>(dw), ptr_or_null<T>(db), d.rows,
                                d.D);
  });
  return {dx, dw, db};
}

}  // namespace difflab::tensor
