#include "diffusion/drifting.h"

#include <cmath>

#include "autograd/functions.h"
#include "tensor/error.h"
#include "tensor/factory.h"
#include "tensor/ops.h"

namespace difflab::diffusion {

using tensor::BinaryOp;
using tensor::DType;

namespace {

Tensor bin(BinaryOp op, const Tensor& a, const Tensor& b) { return tensor::binary(op, a, b); }

// Distance added to excluded pairs: their weight underflows to exactly 0 in the softmax.
constexpr double kExcluded = 1e30;

void check_points(const char* who, const Tensor& x, const Tensor& y) {
  DIFFLAB_CHECK(x.defined() && y.defined() && x.dim() == 2 && y.dim() == 2 &&
                    x.size(1) == y.size(1) && x.size(0) >= 1 && y.size(0) >= 1,
                who, ": expects points x [N, D] and samples y [M, D] with the same D, got ",
                x.defined() ? x.desc() : std::string("undefined"), " and ",
                y.defined() ? y.desc() : std::string("undefined"));
  DIFFLAB_CHECK(x.dtype() == y.dtype(), who, ": dtype mismatch, ", x.desc(), " vs ", y.desc());
}

// ‖x_i − y_j‖ [N, M] (cdist2 clamped at 0 against rounding, then sqrt).
Tensor distances(const Tensor& x, const Tensor& y) {
  return tensor::unary(tensor::UnaryOp::sqrt, tensor::clamp(tensor::cdist2(x, y), 0.0, INFINITY));
}

// A copy of d [N, M] with v added to its diagonal (written in place, not as N tensor ops).
Tensor add_to_diagonal(const Tensor& d, double v) {
  Tensor out = tensor::affine(d, 1.0, 0.0);  // a fresh contiguous copy
  const int64_t n = std::min(out.size(0), out.size(1)), m = out.size(1);
  if (!out.device().is_cpu()) {  // the diagonal as a strided view, updated on the device
    Tensor diag = out.as_strided({n}, {m + 1}, out.offset());
    diag.copy_(tensor::affine(diag, 1.0, v));
    return out;
  }
  if (out.dtype() == DType::f64) {
    double* p = out.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i * m + i] += v;
  } else {
    DIFFLAB_CHECK(out.dtype() == DType::f32, "drifting: distances must be f32 or f64, got ",
                  out.desc());
    float* p = out.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i * m + i] = float(double(p[i * m + i]) + v);
  }
  return out;
}

// −φ(d) for the kernel.
Tensor neg_phi(const Tensor& d, DriftKernel k, double tau) {
  if (k == DriftKernel::laplace) return tensor::affine(d, -1.0 / tau, 0.0);
  return tensor::affine(bin(BinaryOp::mul, d, d), -0.5 / (tau * tau), 0.0);
}

}  // namespace

const char* drift_kernel_name(DriftKernel k) {
  return k == DriftKernel::laplace ? "laplace" : "gaussian";
}

DriftKernel parse_drift_kernel(const std::string& s) {
  if (s == "laplace") return DriftKernel::laplace;
  if (s == "gaussian") return DriftKernel::gaussian;
  DIFFLAB_FAIL("unknown drift kernel '", s, "' (laplace, gaussian)");
}

KernelStats kernel_stats(const Tensor& x, const Tensor& y, DriftKernel kernel, double tau,
                         bool exclude_self) {
  check_points("kernel_stats", x, y);
  DIFFLAB_CHECK(tau > 0 && std::isfinite(tau), "kernel_stats: temperature tau = ", tau,
                " must be positive and finite");
  DIFFLAB_CHECK(!exclude_self || x.size(0) == y.size(0), "kernel_stats: exclude_self needs x and "
                "y of the same size, got ", x.desc(), " and ", y.desc());
  Tensor d = distances(x, y);
  if (exclude_self) d = add_to_diagonal(d, kExcluded);
  Tensor w = tensor::softmax(neg_phi(d, kernel, tau), 1);  // [N, M]
  KernelStats s;
  s.mean_shift = bin(BinaryOp::sub, tensor::matmul(w, y), x);
  // α(r_j) per pair; the Laplace kernel's 1/(τ r) at r = 0 (x on a sample) is infinite.
  Tensor a = kernel == DriftKernel::laplace
                 ? tensor::affine(tensor::pow_scalar(d, -1.0), 1.0 / tau, 0.0)
                 : tensor::full(d.shape(), 1.0 / (tau * tau), d.dtype(), d.device());
  Tensor wa = bin(BinaryOp::mul, w, a);
  s.alpha_bar = tensor::sum(wa, {1});
  // Σ w α (y − x) = (wα) y − ᾱ x
  s.score = bin(BinaryOp::sub, tensor::matmul(wa, y),
                bin(BinaryOp::mul, s.alpha_bar.unsqueeze(1), x));
  s.residual = bin(BinaryOp::sub, s.score, bin(BinaryOp::mul, s.alpha_bar.unsqueeze(1), s.mean_shift));
  return s;
}

DriftDecomposition drift_decomposition(const Tensor& x, const Tensor& y_p, const Tensor& y_q,
                                       DriftKernel kernel, double tau) {
  KernelStats p = kernel_stats(x, y_p, kernel, tau), q = kernel_stats(x, y_q, kernel, tau);
  DriftDecomposition r;
  r.field = bin(BinaryOp::sub, p.mean_shift, q.mean_shift);
  r.score_diff = bin(BinaryOp::sub, p.score, q.score);
  Tensor ap = p.alpha_bar.unsqueeze(1), aq = q.alpha_bar.unsqueeze(1);
  r.preconditioned = bin(BinaryOp::sub, bin(BinaryOp::div, p.score, ap), bin(BinaryOp::div, q.score, aq));
  r.gap = bin(BinaryOp::sub, bin(BinaryOp::div, q.residual, aq), bin(BinaryOp::div, p.residual, ap));
  r.alpha_bar_p = p.alpha_bar, r.alpha_bar_q = q.alpha_bar;
  return r;
}

Tensor drifting_field(const Tensor& x, const Tensor& y_pos, const DriftFieldOptions& opt) {
  check_points("drifting_field", x, y_pos);
  DIFFLAB_CHECK(!opt.temperatures.empty(), "drifting_field: no temperatures");
  DIFFLAB_CHECK(x.size(0) >= 2, "drifting_field: needs at least 2 generated samples (the batch "
                "is its own negatives), got ", x.desc());
  const int64_t N = x.size(0), P = y_pos.size(0);
  Tensor d_pos = distances(x, y_pos), d_neg = distances(x, x);
  double scale = 1;  // the mean distance, with normalize
  if (opt.normalize) {
    // Mean distance over every (generated, target) pair, self pairs excluded.
    const double total = tensor::sum(d_pos, {}).item() + tensor::sum(d_neg, {}).item();
    scale = total / double(N * P + N * (N - 1));
    DIFFLAB_CHECK(scale > 0, "drifting_field: every distance is zero (collapsed samples)");
    d_pos = tensor::affine(d_pos, 1.0 / scale, 0.0);
    d_neg = tensor::affine(d_neg, 1.0 / scale, 0.0);
  }
  d_neg = add_to_diagonal(d_neg, kExcluded);
  Tensor d = tensor::cat({d_pos, d_neg}, 1);  // [N, P + N]
  Tensor ys = tensor::cat({y_pos, x}, 0);     // [P + N, D]
  Tensor total;
  for (double tau : opt.temperatures) {
    DIFFLAB_CHECK(tau > 0 && std::isfinite(tau), "drifting_field: temperature ", tau,
                  " must be positive and finite");
    Tensor logit = neg_phi(d, opt.kernel, tau);
    Tensor A = tensor::softmax(logit, 1);
    if (opt.double_softmax) {
      Tensor both = bin(BinaryOp::mul, A, tensor::softmax(logit, 0));
      if (opt.normalize) both = tensor::clamp(both, 1e-6, INFINITY);  // drift_loss.py's floor
      A = tensor::unary(tensor::UnaryOp::sqrt, both);
    }
    Tensor a_pos = A.slice(1, 0, P), a_neg = A.slice(1, P, P + N);
    Tensor s_pos = tensor::sum(a_pos, {1}, true), s_neg = tensor::sum(a_neg, {1}, true);
    Tensor w = tensor::cat({bin(BinaryOp::mul, a_pos, s_neg),
                            tensor::affine(bin(BinaryOp::mul, a_neg, s_pos), -1.0, 0.0)},
                           1);
    // Σ_j c_j y_j − (Σ_j c_j) x: the x terms cancel exactly in exact arithmetic.
    Tensor v = bin(BinaryOp::sub, tensor::matmul(w, ys),
                   bin(BinaryOp::mul, tensor::sum(w, {1}, true), x));
    if (opt.normalize) {
      const double rms = std::sqrt(tensor::mean(bin(BinaryOp::mul, v, v), {}).item());
      if (rms > 0) v = tensor::affine(v, 1.0 / rms, 0.0);
    }
    total = total.defined() ? bin(BinaryOp::add, total, v) : v;
  }
  // drift_loss.py works in coordinates scaled by √D/scale (mean distance √D), where each V_τ has
  // unit RMS; in the caller's coordinates that field is scale/√D times as long.
  if (opt.normalize) total = tensor::affine(total, scale / std::sqrt(double(x.size(1))), 0.0);
  return total;
}

Var drifting_loss(const Var& x, const Tensor& field) {
  DIFFLAB_CHECK(x.defined() && field.defined() && x.shape() == field.shape(),
                "drifting_loss: field ", field.defined() ? field.desc() : std::string("undefined"),
                " does not match the generated batch ", x.value().desc());
  Tensor target = bin(BinaryOp::add, x.value(), field);  // frozen: no gradient
  return ag::mean(ag::square(ag::sub(x, Var(target))));
}

}  // namespace difflab::diffusion
