// Group and layer normalisation on the GPU: forward (y, mean, rstd) and the fused first-order
// backward, with the CPU's formulas and checks. Statistics are Welford sums in double, one
// group of threads per (sample, group) or row, merged with a fixed tree; the weight/bias
// gradients are per-channel sums over the batch in a fixed order (layer norm: fixed row chunks
// whose partials are added in order). No atomics, so results are deterministic.
#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/checks/norm.h"
#include "tensor/cuda/block_reduce.cuh"
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/ops.h"
#include "tensor/op_label.h"

namespace difflab::tensor::cuda {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

using checks::GroupDims;
using checks::RowDims;

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// ---- forward ----

// Rows of D contiguous elements. Group norm (GN): row r is (sample, group) r / G, r % G and
// element j belongs to channel (r % G) * cpg + j / HW.
struct RowGeom {
  int64_t rows, D, HW, cpg, G;
  int gs;
};

template <typename T, bool GN>
__global__ void norm_forward(RowGeom g, double eps, const T* x, const T* w, const T* b, T* y,
                             T* mean, T* rstd) {
  __shared__ Welford smem[kThreads / 32];
  const int gs = g.gs, upb = int(blockDim.x) / gs;
  const int lane = int(threadIdx.x) % gs, grp = int(threadIdx.x) / gs;
  for (int64_t base = int64_t(blockIdx.x) * upb; base < g.rows; base += int64_t(gridDim.x) * upb) {
    const int64_t row = base + grp;
    const bool live = row < g.rows;
    const T* px = x + row * g.D;
    Welford acc = WelfordOp::identity();
    if (live)
      for (int64_t j = lane; j < g.D; j += gs) WelfordOp::add(acc, double(px[j]));
    acc = group_reduce<WelfordOp>(acc, smem, gs);
    if (!live) continue;
    // Mean and 1/sqrt(biased var + eps); an empty row has mean 0, var 0.
    const double m = acc.mean;
    const double v = g.D > 0 ? acc.m2 / double(g.D) : 0.0;
    const double rs = 1.0 / sqrt(v + eps);
    if (lane == 0) {
      mean[row] = T(m);
      rstd[row] = T(rs);
    }
    T* py = y + row * g.D;
    if constexpr (GN) {
      // y = (x − mean)·a + s per channel, a = rstd·w, s = bias.
      const int64_t c0 = (row % g.G) * g.cpg;
      for (int64_t j = lane; j < g.D; j += gs) {
        const int64_t c = c0 + j / g.HW;
        const double a = rs * (w ? double(w[c]) : 1.0);
        const double s = b ? double(b[c]) : 0.0;
        py[j] = T((double(px[j]) - m) * a + s);
      }
    } else {
      for (int64_t j = lane; j < g.D; j += gs) {
        double t = (double(px[j]) - m) * rs;
        if (w) t = t * double(w[j]);
        if (b) t = t + double(b[j]);
        py[j] = T(t);
      }
    }
  }
}

template <bool GN>
void launch_forward(const char* op, const RowGeom& g, double eps, const Tensor& xc,
                    const Tensor& wc, const Tensor& bc, const NormOutput& out) {
  if (g.rows == 0) return;
  cudaStream_t s = prepare(xc);
  DIFFLAB_DISPATCH_FLOAT(xc.dtype(), op, [&] {
    using T = scalar_t;
    norm_forward<T, GN><<<blocks_for(g.rows, kThreads / g.gs), kThreads, 0, s>>>(
        g, eps, xc.data<T>(), ptr_or_null<T>(wc), ptr_or_null<T>(bc), out.y.data<T>(),
        out.mean.data<T>(), out.rstd.data<T>());
  });
  DIFFLAB_CUDA_LAUNCHED(op);
}

// ---- group norm backward ----

// Per (sample, channel) plane of HW elements: Σ g and Σ g·(x − mean).
template <typename T>
__global__ void gn_plane_sums(int64_t NC, int64_t C, int64_t HW, int64_t G, int64_t cpg, int gs,
                              const T* gy, const T* x, const T* mean, double* sg, double* sgx) {
  __shared__ PairSum smem[kThreads / 32];
  const int upb = int(blockDim.x) / gs;
  const int lane = int(threadIdx.x) % gs, grp = int(threadIdx.x) / gs;
  for (int64_t base = int64_t(blockIdx.x) * upb; base < NC; base += int64_t(gridDim.x) * upb) {
    const int64_t nc = base + grp;
    const bool live = nc < NC;
    PairSum acc = PairSumOp::identity();
    if (live) {
      const int64_t n = nc / C, c = nc % C;
      const double m = double(mean[n * G + c / cpg]);
      const T* pg = gy + nc * HW;
      const T* px = x + nc * HW;
      for (int64_t i = lane; i < HW; i += gs) {
        const double gv = double(pg[i]);
        acc.a += gv;
        acc.b += gv * (double(px[i]) - m);
      }
    }
    acc = group_reduce<PairSumOp>(acc, smem, gs);
    if (live && lane == 0) {
      sg[nc] = acc.a;
      sgx[nc] = acc.b;
    }
  }
}

// Per (sample, group): dx = A_c·g + B·(x − mean) + K with B = −rstd³·Σ w g (x − mean) / D and
// K = −rstd·Σ w g / D, the sums over the group's channels in channel order.
template <typename T>
__global__ void gn_coefs(int64_t NG, int64_t C, int64_t G, int64_t cpg, double D, const T* rstd,
                         const T* w, const double* sg, const double* sgx, double* coef) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < NG;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = t / G, g = t % G;
    const double rs = double(rstd[t]);
    double s1 = 0, s2 = 0;
    for (int64_t k = g * cpg; k < (g + 1) * cpg; ++k) {
      const double wk = w ? double(w[k]) : 1.0;
      s1 += wk * sg[n * C + k];
      s2 += wk * sgx[n * C + k];
    }
    coef[2 * t] = -rs * rs * rs * s2 / D;
    coef[2 * t + 1] = -rs * s1 / D;
  }
}

template <typename T>
__global__ void gn_dx(int64_t total, int64_t C, int64_t HW, int64_t G, int64_t cpg, const T* gy,
                      const T* x, const T* mean, const T* rstd, const T* w, const double* coef,
                      T* dx) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < total;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t nc = t / HW, n = nc / C, c = nc % C, gi = n * G + c / cpg;
    const double m = double(mean[gi]), rs = double(rstd[gi]);
    const double A = rs * (w ? double(w[c]) : 1.0);
    dx[t] = T(A * double(gy[t]) + coef[2 * gi] * (double(x[t]) - m) + coef[2 * gi + 1]);
  }
}

// dweight[c] = Σ_n rstd·Σ g (x − mean), dbias[c] = Σ_n Σ g, over samples in order.
template <typename T>
__global__ void gn_param_grads(int64_t N, int64_t C, int64_t G, int64_t cpg, const T* rstd,
                               const double* sg, const double* sgx, T* dw, T* db) {
  for (int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    double a = 0, bsum = 0;
    for (int64_t n = 0; n < N; ++n) {
      a += double(rstd[n * G + c / cpg]) * sgx[n * C + c];
      bsum += sg[n * C + c];
    }
    dw[c] = T(a);
    db[c] = T(bsum);
  }
}

// ---- layer norm backward ----

// Per row: dx = rstd·w g + B·(x − mean) + K with B = −rstd³·Σ w g (x − mean) / D and
// K = −rstd·Σ w g / D.
template <typename T>
__global__ void ln_dx(int64_t rows, int64_t D, int gs, const T* gy, const T* x, const T* mean,
                      const T* rstd, const T* w, T* dx) {
  __shared__ PairSum smem[kThreads / 32];
  const int upb = int(blockDim.x) / gs;
  const int lane = int(threadIdx.x) % gs, grp = int(threadIdx.x) / gs;
  for (int64_t base = int64_t(blockIdx.x) * upb; base < rows; base += int64_t(gridDim.x) * upb) {
    const int64_t row = base + grp;
    const bool live = row < rows;
    const T* pg = gy + row * D;
    const T* px = x + row * D;
    double m = 0, rs = 0;
    PairSum acc = PairSumOp::identity();
    if (live) {
      m = double(mean[row]);
      rs = double(rstd[row]);
      for (int64_t i = lane; i < D; i += gs) {
        const double gw = double(pg[i]) * (w ? double(w[i]) : 1.0);
        acc.a += gw;
        acc.b += gw * (double(px[i]) - m);
      }
    }
    acc = group_reduce<PairSumOp>(acc, smem, gs);
    if (!live) continue;
    const double B = -rs * rs * rs * acc.b / double(D);
    const double K = -rs * acc.a / double(D);
    T* pd = dx + row * D;
    for (int64_t i = lane; i < D; i += gs) {
      const double gw = double(pg[i]) * (w ? double(w[i]) : 1.0);
      pd[i] = T(rs * gw + B * (double(px[i]) - m) + K);
    }
  }
}

// dweight[i] = Σ_r g x̂, dbias[i] = Σ_r g: thread (chunk, column) sums its rows in order; with
// one chunk it writes the result, else partials [nchunk, D] that ln_param_combine adds in order.
template <typename T>
__global__ void ln_param_grads(int64_t rows, int64_t D, int64_t nchunk, int64_t clen, const T* gy,
                               const T* x, const T* mean, const T* rstd, T* dw, T* db,
                               double* part) {
  const int64_t n = nchunk * D;
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < n;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = t / D, i = t % D;
    const int64_t r1 = rows < (c + 1) * clen ? rows : (c + 1) * clen;
    double aw = 0, ab = 0;
    for (int64_t r = c * clen; r < r1; ++r) {
      const double m = double(mean[r]), rs = double(rstd[r]);
      const double gv = double(gy[r * D + i]);
      aw += gv * ((double(x[r * D + i]) - m) * rs);
      ab += gv;
    }
    if (nchunk == 1) {
      dw[i] = T(aw);
      db[i] = T(ab);
    } else {
      part[2 * t] = aw;
      part[2 * t + 1] = ab;
    }
  }
}

template <typename T>
__global__ void ln_param_combine(int64_t D, int64_t nchunk, const double* part, T* dw, T* db) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < D;
       i += int64_t(gridDim.x) * blockDim.x) {
    double aw = 0, ab = 0;
    for (int64_t c = 0; c < nchunk; ++c) {
      aw += part[2 * (c * D + i)];
      ab += part[2 * (c * D + i) + 1];
    }
    dw[i] = T(aw);
    db[i] = T(ab);
  }
}

// A device scratch buffer of n doubles (at least one element).
Tensor scratch(int64_t n, const Tensor& like) {
  return Tensor::empty({std::max<int64_t>(1, n)}, DType::f64, like.device());
}

}  // namespace

NormOutput group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                      double eps) {
  OpLabel label_("group_norm");
  const char* op = "group_norm";
  GroupDims d = checks::check_group_norm(op, x, groups, weight, bias, checks::norm_same_device);
  Tensor xc = x.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  NormOutput out;
  out.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.mean = Tensor::empty({d.N, groups}, x.dtype(), x.device());
  out.rstd = Tensor::empty({d.N, groups}, x.dtype(), x.device());
  const int64_t cpg = d.C / groups, D = cpg * d.HW;
  const RowGeom g{d.N * groups, D, d.HW, cpg, groups, group_size_for(D)};
  launch_forward<true>(op, g, eps, xc, wc, bc, out);
  return out;
}

std::vector<Tensor> group_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t groups,
                                        const Tensor& mean, const Tensor& rstd,
                                        const Tensor& weight) {
  OpLabel label_("group_norm_backward");
  const char* op = "group_norm_backward";
  GroupDims d = checks::check_group_norm(op, x, groups, weight, Tensor(), checks::norm_same_device);
  checks::check_norm_backward(op, grad_out, x, mean, rstd, {d.N, groups}, checks::norm_same_device);
  Tensor gc = grad_out.contiguous(), xc = x.contiguous();
  Tensor mc = mean.contiguous(), rc = rstd.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dw, db;
  if (weight.defined()) {
    dw = Tensor::empty({d.C}, x.dtype(), x.device());
    db = Tensor::empty({d.C}, x.dtype(), x.device());
  }
  const int64_t NC = d.N * d.C, NG = d.N * groups, cpg = d.C / groups;
  const int64_t total = NC * d.HW;
  if (NC == 0 && !weight.defined()) return {dx, dw, db};
  Tensor sums = scratch(2 * NC, x);  // [Σ g | Σ g (x − mean)] per (sample, channel)
  Tensor coef = scratch(2 * NG, x);  // (B, K) per (sample, group)
  cudaStream_t s = prepare(x);
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    double* sg = sums.data<double>();
    double* sgx = sg + NC;
    const T* w = ptr_or_null<T>(wc);
    if (NC > 0) {
      const int gs = group_size_for(d.HW);
      gn_plane_sums<T><<<blocks_for(NC, kThreads / gs), kThreads, 0, s>>>(
          NC, d.C, d.HW, groups, cpg, gs, gc.data<T>(), xc.data<T>(), mc.data<T>(), sg, sgx);
      DIFFLAB_CUDA_LAUNCHED(op);
    }
    if (total > 0) {
      gn_coefs<T><<<blocks_for(NG), kThreads, 0, s>>>(
          NG, d.C, groups, cpg, double(cpg * d.HW), rc.data<T>(), w, sg, sgx, coef.data<double>());
      DIFFLAB_CUDA_LAUNCHED(op);
      gn_dx<T><<<blocks_for(total), kThreads, 0, s>>>(total, d.C, d.HW, groups, cpg, gc.data<T>(),
                                                      xc.data<T>(), mc.data<T>(), rc.data<T>(), w,
                                                      coef.data<double>(), dx.data<T>());
      DIFFLAB_CUDA_LAUNCHED(op);
    }
    if (weight.defined() && d.C > 0) {
      gn_param_grads<T><<<blocks_for(d.C), kThreads, 0, s>>>(d.N, d.C, groups, cpg, rc.data<T>(),
                                                             sg, sgx, dw.data<T>(), db.data<T>());
      DIFFLAB_CUDA_LAUNCHED(op);
    }
  });
  return {dx, dw, db};
}

NormOutput layer_norm(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                      const Tensor& bias, double eps) {
  OpLabel label_("layer_norm");
  const char* op = "layer_norm";
  RowDims d =
      checks::check_layer_norm(op, x, normalized_ndim, weight, bias, checks::norm_same_device);
  Tensor xc = x.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.contiguous() : Tensor();
  NormOutput out;
  out.y = Tensor::empty(x.shape(), x.dtype(), x.device());
  out.mean = Tensor::empty({d.rows}, x.dtype(), x.device());
  out.rstd = Tensor::empty({d.rows}, x.dtype(), x.device());
  const RowGeom g{d.rows, d.D, 0, 0, 1, group_size_for(d.D)};
  launch_forward<false>(op, g, eps, xc, wc, bc, out);
  return out;
}

std::vector<Tensor> layer_norm_backward(const Tensor& grad_out, const Tensor& x,
                                        int64_t normalized_ndim, const Tensor& mean,
                                        const Tensor& rstd, const Tensor& weight) {
  OpLabel label_("layer_norm_backward");
  const char* op = "layer_norm_backward";
  RowDims d =
      checks::check_layer_norm(op, x, normalized_ndim, weight, Tensor(), checks::norm_same_device);
  checks::check_norm_backward(op, grad_out, x, mean, rstd, {d.rows}, checks::norm_same_device);
  Tensor gc = grad_out.contiguous(), xc = x.contiguous();
  Tensor mc = mean.contiguous(), rc = rstd.contiguous();
  Tensor wc = weight.defined() ? weight.contiguous() : Tensor();
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor dw, db;
  if (weight.defined()) {
    dw = Tensor::empty(d.trailing, x.dtype(), x.device());
    db = Tensor::empty(d.trailing, x.dtype(), x.device());
  }
  if (d.D == 0) return {dx, dw, db};  // nothing to write: dx and the parameters are empty
  // Row chunks for the parameter gradients: enough (column, chunk) threads to fill the GPU.
  int64_t nchunk = 1, clen = d.rows;
  if (d.D < 65536 && d.rows > 64) {
    nchunk = std::min({ceil_div(65536, d.D), ceil_div(d.rows, 64), int64_t(1024)});
    clen = ceil_div(d.rows, nchunk);
    nchunk = ceil_div(d.rows, clen);
  }
  Tensor part = scratch(nchunk > 1 ? 2 * nchunk * d.D : 0, x);
  cudaStream_t s = prepare(x);
  DIFFLAB_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    if (d.rows > 0) {
      const int gs = group_size_for(d.D);
      ln_dx<T><<<blocks_for(d.rows, kThreads / gs), kThreads, 0, s>>>(
          d.rows, d.D, gs, gc.data<T>(), xc.data<T>(), mc.data<T>(), rc.data<T>(),
          ptr_or_null<T>(wc), dx.data<T>());
      DIFFLAB_CUDA_LAUNCHED(op);
    }
    if (!weight.defined()) return;
    ln_param_grads<T><<<blocks_for(nchunk * d.D), kThreads, 0, s>>>(
        d.rows, d.D, nchunk, clen, gc.data<T>(), xc.data<T>(), mc.data<T>(), rc.data<T>(),
        dw.data<T>(), db.data<T>(), part.data<double>());
    DIFFLAB_CUDA_LAUNCHED(op);
    if (nchunk > 1) {
      ln_param_combine<T><<<blocks_for(d.D), kThreads, 0, s>>>(d.D, nchunk, part.data<double>(),
                                                               dw.data<T>(), db.data<T>());
      DIFFLAB_CUDA_LAUNCHED(op);
    }
  });
  return {dx, dw, db};
}

}  // namespace difflab::tensor::cuda
