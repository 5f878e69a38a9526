// Fused Adam/AdamW, SGD and EMA-lerp kernels (grid-stride, one element per iteration).
#include "tensor/cuda/common.cuh"
#include "tensor/cuda/optim.h"

namespace difflab::tensor::cuda {

namespace {

template <typename T>
__global__ void adam_kernel(int64_t n, T* pp, const T* gp, T* mp, T* vp, T* vmaxp, AdamStep c) {
  const T b1 = T(c.beta1), b2 = T(c.beta2), one_minus_b1 = T(1 - c.beta1),
          one_minus_b2 = T(1 - c.beta2), eps = T(c.eps), wd = T(c.weight_decay),
          shrink = T(c.shrink), neg_step = T(-c.step_size), bc2_sqrt = T(c.bias_correction2_sqrt);
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n;
       j += int64_t(gridDim.x) * blockDim.x) {
    T pj = pp[j], gj = gp[j];
    if (c.decoupled) pj = pj * shrink;
    if (c.l2) gj = gj + wd * pj;
    const T mj = mp[j] * b1 + one_minus_b1 * gj;
    const T vj = vp[j] * b2 + one_minus_b2 * gj * gj;
    mp[j] = mj;
    vp[j] = vj;
    T vd = vj;
    if (vmaxp) {
      vd = vmaxp[j] > vj ? vmaxp[j] : vj;
      vmaxp[j] = vd;
    }
    const T denom = sqrt(vd) / bc2_sqrt + eps;
    pp[j] = pj + neg_step * (mj / denom);
  }
}

template <typename T>
__global__ void sgd_kernel(int64_t n, T* pp, const T* gp, T* bp, SgdStep o) {
  const T wd = T(o.weight_decay), mu = T(o.momentum), one_minus_damp = T(1 - o.dampening),
          neg_lr = T(-o.lr);
  const bool decay = o.weight_decay != 0;
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n;
       j += int64_t(gridDim.x) * blockDim.x) {
    T d = gp[j];
    if (decay) d = d + wd * pp[j];
    if (bp) {
      const T buf = o.first ? d : bp[j] * mu + one_minus_damp * d;
      bp[j] = buf;
      d = o.nesterov ? d + mu * buf : buf;
    }
    pp[j] = pp[j] + neg_lr * d;
  }
}

// torch.lerp's two forms, as nn/ema.cpp: exact at w = 1.
template <typename T>
__global__ void lerp_kernel(int64_t n, T* s, const T* p, T w) {
  const bool low = w < T(0.5);
  for (int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; j < n;
       j += int64_t(gridDim.x) * blockDim.x) {
    const T diff = p[j] - s[j];
    s[j] = low ? s[j] + w * diff : p[j] - diff * (T(1) - w);
  }
}

void check_like(const char* op, const Tensor& p, const Tensor& t, const char* what) {
  DIFFLAB_CHECK(t.defined() && t.device() == p.device() && t.dtype() == p.dtype() &&
                    t.shape() == p.shape() && t.is_contiguous(),
                op, ": ", what, " ", t.defined() ? t.desc() : std::string("undefined"),
                " does not match the parameter ", p.desc(), " (or is not contiguous)");
}

}  // namespace

void adam_step(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& vmax, const AdamStep& s) {
  DIFFLAB_CHECK(p.is_contiguous(), "Adam (cuda): parameter ", p.desc(), " is not contiguous");
  check_like("Adam (cuda)", p, g, "gradient");
  check_like("Adam (cuda)", p, m, "exp_avg");
  check_like("Adam (cuda)", p, v, "exp_avg_sq");
  if (vmax.defined()) check_like("Adam (cuda)", p, vmax, "max_exp_avg_sq");
  const int64_t n = p.numel();
  if (n == 0) return;
  cudaStream_t st = prepare(p);
  DIFFLAB_DISPATCH_FLOAT(p.dtype(), "Adam (cuda)", [&] {
    using T = scalar_t;
    adam_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(n, p.data<T>(), g.data<T>(), m.data<T>(),
                                                       v.data<T>(),
                                                       vmax.defined() ? vmax.data<T>() : nullptr,
                                                       s);
  });
  DIFFLAB_CUDA_LAUNCHED("Adam (cuda)");
}

void sgd_step(const Tensor& p, const Tensor& g, const Tensor& buf, const SgdStep& s) {
  DIFFLAB_CHECK(p.is_contiguous(), "SGD (cuda): parameter ", p.desc(), " is not contiguous");
  check_like("SGD (cuda)", p, g, "gradient");
  if (buf.defined()) check_like("SGD (cuda)", p, buf, "momentum_buffer");
  const int64_t n = p.numel();
  if (n == 0) return;
  cudaStream_t st = prepare(p);
  DIFFLAB_DISPATCH_FLOAT(p.dtype(), "SGD (cuda)", [&] {
    using T = scalar_t;
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(
        n, p.data<T>(), g.data<T>(), buf.defined() ? buf.data<T>() : nullptr, s);
  });
  DIFFLAB_CUDA_LAUNCHED("SGD (cuda)");
}

void lerp_(const Tensor& shadow, const Tensor& p, double w) {
  DIFFLAB_CHECK(shadow.is_contiguous(), "Ema (cuda): shadow ", shadow.desc(),
                " is not contiguous");
  Tensor pc = p.contiguous();
  check_like("Ema (cuda)", shadow, pc, "parameter");
  const int64_t n = shadow.numel();
  if (n == 0) return;
  cudaStream_t st = prepare(shadow);
  DIFFLAB_DISPATCH_FLOAT(shadow.dtype(), "Ema (cuda)", [&] {
    using T = scalar_t;
    lerp_kernel<T><<<blocks_for(n), kThreads, 0, st>>>(n, shadow.data<T>(), pc.data<T>(), T(w));
  });
  DIFFLAB_CUDA_LAUNCHED("Ema (cuda)");
}

}  // namespace difflab::tensor::cuda
