// The CPU kernels of tensor/optim.h, one element at a time (every element is updated on its own,
// so the result is the same at any thread count); CUDA tensors go to tensor/cuda/optim.cu.
#include "tensor/optim.h"

#include <cmath>

#include "tensor/cpu/check.h"
#include "tensor/dtype.h"
#if DIFFLAB_HAVE_CUDA
#include "tensor/cuda/optim.h"
#endif

namespace difflab::tensor {

namespace {

// Elementwise loops below this size stay serial.
constexpr int64_t kParallelGrain = 32768;

// torch/optim/{adam,adamw}.py, _single_tensor_adam(w).
template <typename T>
void adam_kernel(T* pp, const T* gp, T* mp, T* vp, T* vmaxp, int64_t n, const AdamStep& c) {
  const T b1 = T(c.beta1), b2 = T(c.beta2), one_minus_b1 = T(1 - c.beta1),
          one_minus_b2 = T(1 - c.beta2), eps = T(c.eps), wd = T(c.weight_decay),
          shrink = T(c.shrink), neg_step = T(-c.step_size), bc2_sqrt = T(c.bias_correction2_sqrt);
  const bool l2 = c.l2, decoupled = c.decoupled;
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t j = 0; j < n; ++j) {
    T pj = pp[j], gj = gp[j];
    if (decoupled) pj = pj * shrink;                   // AdamW: param.mul_(1 - lr * weight_decay)
    if (l2) gj = gj + wd * pj;                         // Adam: grad.add(param, alpha=weight_decay)
    const T mj = mp[j] * b1 + one_minus_b1 * gj;       // exp_avg.mul_(b1).add_(g, alpha=1-b1)
    const T vj = vp[j] * b2 + one_minus_b2 * gj * gj;  // exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2)
    mp[j] = mj;
    vp[j] = vj;
    T vd = vj;
    if (vmaxp) {  // amsgrad: normalise by the running maximum of the second moment
      vd = vmaxp[j] > vj ? vmaxp[j] : vj;
      vmaxp[j] = vd;
    }
    const T denom = std::sqrt(vd) / bc2_sqrt + eps;  // eps outside the root, after correction
    pp[j] = pj + neg_step * (mj / denom);            // param.addcdiv_(exp_avg, denom, -step_size)
  }
}

// torch/optim/sgd.py, _single_tensor_sgd.
template <typename T>
void sgd_kernel(T* pp, const T* gp, T* bp, int64_t n, const SgdStep& o) {
  const T wd = T(o.weight_decay), mu = T(o.momentum), one_minus_damp = T(1 - o.dampening),
          neg_lr = T(-o.lr);
  const bool nesterov = o.nesterov, decay = o.weight_decay != 0, first = o.first;
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t j = 0; j < n; ++j) {
    T d = gp[j];
    if (decay) d = d + wd * pp[j];  // d_p.add(param, alpha=weight_decay)
    if (bp) {
      // PyTorch clones the first step's gradient into the buffer rather than decaying zeros.
      const T buf = first ? d : bp[j] * mu + one_minus_damp * d;
      bp[j] = buf;
      d = nesterov ? d + mu * buf : buf;
    }
    pp[j] = pp[j] + neg_lr * d;  // param.add_(d_p, alpha=-lr)
  }
}

template <typename T>
void lerp_kernel(T* sp, const T* pp, int64_t n, T w) {
  const bool low = w < T(0.5);
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t j = 0; j < n; ++j) {
    const T diff = pp[j] - sp[j];
    sp[j] = low ? sp[j] + w * diff : pp[j] - diff * (T(1) - w);
  }
}

// The checks every update makes: `t` is a float tensor shaped, typed and placed like p.
void check_like(const char* op, const Tensor& t, const Tensor& p, const char* what) {
  DIFFLAB_CHECK(t.defined(), op, ": ", what, " is undefined");
  DIFFLAB_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype() && t.device() == p.device(),
                op, ": ", what, " is ", t.desc(), " but the parameter is ", p.desc());
  DIFFLAB_CHECK(t.is_contiguous(), op, ": ", what, " is not contiguous");
}

void check_param(const char* op, const Tensor& p) {
  DIFFLAB_CHECK(p.defined() && is_floating(p.dtype()), op, ": the parameter must be f32 or f64");
  check_like(op, p, p, "the parameter");
}

}  // namespace

void adam_step(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v,
               const Tensor& vmax, const AdamStep& s) {
  check_param("adam_step", p);
  for (auto [t, what] : {std::pair{&g, "grad"}, {&m, "exp_avg"}, {&v, "exp_avg_sq"}})
    check_like("adam_step", *t, p, what);
  if (vmax.defined()) check_like("adam_step", vmax, p, "max_exp_avg_sq");
  DIFFLAB_CUDA_ROUTE(p, cuda::adam_step(p, g, m, v, vmax, s));
  cpu::check_cpu("adam_step", p, "the parameter");
  DIFFLAB_DISPATCH_FLOAT(p.dtype(), "adam_step", [&] {
    using T = scalar_t;
    adam_kernel<T>(p.data<T>(), g.data<T>(), m.data<T>(), v.data<T>(),
                   vmax.defined() ? vmax.data<T>() : nullptr, p.numel(), s);
  });
}

void sgd_step(const Tensor& p, const Tensor& g, const Tensor& buf, const SgdStep& s) {
  check_param("sgd_step", p);
  check_like("sgd_step", g, p, "grad");
  if (buf.defined()) check_like("sgd_step", buf, p, "momentum_buffer");
  DIFFLAB_CUDA_ROUTE(p, cuda::sgd_step(p, g, buf, s));
  cpu::check_cpu("sgd_step", p, "the parameter");
  DIFFLAB_DISPATCH_FLOAT(p.dtype(), "sgd_step", [&] {
    using T = scalar_t;
    sgd_kernel<T>(p.data<T>(), g.data<T>(), buf.defined() ? buf.data<T>() : nullptr, p.numel(),
                  s);
  });
}

void lerp_(const Tensor& shadow, const Tensor& p, double w) {
  check_param("lerp_", shadow);
  check_like("lerp_", p, shadow, "the end point");
  DIFFLAB_CUDA_ROUTE(p, cuda::lerp_(shadow, p, w));
  cpu::check_cpu("lerp_", p, "the end point");
  DIFFLAB_DISPATCH_FLOAT(p.dtype(), "lerp_", [&] {
    using T = scalar_t;
    lerp_kernel<T>(shadow.data<T>(), p.data<T>(), p.numel(), T(w));
  });
}

}  // namespace difflab::tensor
